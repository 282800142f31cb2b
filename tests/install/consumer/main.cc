// Runs a small job through an installed Eddy: the public headers, the exported static
// libraries and their link order must all be usable from outside the source tree.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <eddy/eddy.h>

int main() {
  eddy::StreamEnvironment env;
  std::vector<int64_t> out;
  env.from_sequence(1, 10).map([](int64_t x) { return x * 2; }).sink_to(eddy::sinks::collect(out));
  auto result = env.execute("consumer");
  int64_t sum = 0;
  for (int64_t x : out) sum += x;
  if (!result.ok() || out.size() != 10 || sum != 110) {
    std::fprintf(stderr, "consumer: ok=%d records=%zu sum=%lld error=%s\n", result.ok() ? 1 : 0,
                 out.size(), static_cast<long long>(sum), result.error.c_str());
    return 1;
  }
  std::printf("consumer: ok, %zu records\n", out.size());
  return 0;
}
