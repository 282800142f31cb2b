// The `eddy` command. Today it reports its version and runs a self-check job; `eddy sql`
// and the cluster commands arrive with their issues.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "eddy/eddy.h"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: eddy <command>\n"
      "\n"
      "commands:\n"
      "  version      print the version\n"
      "  selfcheck    run a small job on this machine and check its result\n"
      "  help         this text\n",
      out);
}

int selfcheck(int argc, const char* const* argv) {
  auto env = eddy::StreamEnvironment::from_args(argc, argv);
  std::vector<std::pair<int64_t, int64_t>> out;
  env.from_sequence(1, 100000)
      .map([](int64_t i) { return std::pair<int64_t, int64_t>{i % 7, i}; })
      .key_by([](const auto& p) { return p.first; })
      .sum<1>()
      .sink_to(eddy::sinks::collect(out), "collect");
  std::fputs(env.explain().c_str(), stdout);
  eddy::JobResult result = env.execute("selfcheck");
  std::fputs(result.summary().c_str(), stdout);
  if (!result.ok()) return 1;
  int64_t total = 0;
  std::vector<int64_t> last(7, 0);
  for (const auto& [key, sum] : out) last[static_cast<size_t>(key)] = std::max(last[static_cast<size_t>(key)], sum);
  for (int64_t v : last) total += v;
  bool good = out.size() == 100000 && total == 100000LL * 100001 / 2;
  std::puts(good ? "selfcheck passed" : "selfcheck FAILED: wrong result");
  return good ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  try {
    if (command == "version" || command == "--version") {
      std::printf("eddy %s\n", EDDY_VERSION);
      return 0;
    }
    if (command == "selfcheck") return selfcheck(argc - 1, argv + 1);
  } catch (const eddy::Error& e) {
    std::fprintf(stderr, "eddy %s: %s\n", command.c_str(), e.what());
    return 2;
  }
  std::fprintf(stderr, "eddy: unknown command '%s'\n\n", command.c_str());
  usage(stderr);
  return 2;
}
