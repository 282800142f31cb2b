#include "bench_common.h"

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace eddy::bench {

Options parse_options(int argc, const char* const* argv, const std::string& benchmark,
                      int64_t default_events, const std::string& usage) {
  Options options;
  options.argc = argc;
  options.argv = argv;
  try {
    options.args = Args::parse(argc, argv);
    if (options.args.has("help")) {
      std::fprintf(stdout,
                   "usage: %s [--events N] [--parallelism P] [--repeat R] [--json]%s%s\n"
                   "  and the runtime options of StreamEnvironment::from_args\n",
                   benchmark.c_str(), usage.empty() ? "" : " ", usage.c_str());
      std::exit(0);
    }
    options.events = options.args.get_int("events", default_events);
    options.parallelism = static_cast<int>(options.args.get_int("parallelism", 1));
    options.repeat = static_cast<int>(options.args.get_int("repeat", 1));
    options.json = options.args.get_bool("json", false);
    if (options.events < 1) throw InvalidJobError("option --events must be at least 1");
    if (options.parallelism < 1) throw InvalidJobError("option --parallelism must be at least 1");
    if (options.repeat < 1) throw InvalidJobError("option --repeat must be at least 1");
    // Validates the runtime options now rather than in the middle of the measurements.
    (void)options.make_environment();
  } catch (const Error& e) {
    std::fprintf(
        stderr, "%s: %s\nusage: %s [--events N] [--parallelism P] [--repeat R] [--json]%s%s\n",
        benchmark.c_str(), e.what(), benchmark.c_str(), usage.empty() ? "" : " ", usage.c_str());
    std::exit(2);
  }
  return options;
}

void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5" << std::flush;
}

namespace {

int64_t status_field_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      int64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

std::string rate(double events_per_second) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f M events/s", events_per_second / 1e6);
  return text;
}

}  // namespace

int64_t peak_rss_bytes() { return status_field_bytes("VmHWM"); }
int64_t current_rss_bytes() { return status_field_bytes("VmRSS"); }

double Report::events_per_second() const {
  return engine.seconds > 0 ? static_cast<double>(events) / engine.seconds : 0;
}
double Report::baseline_events_per_second() const {
  return baseline.seconds > 0 ? static_cast<double>(events) / baseline.seconds : 0;
}
double Report::ratio() const {
  double base = baseline_events_per_second();
  return base > 0 ? events_per_second() / base : 0;
}

nlohmann::ordered_json Report::to_json() const {
  nlohmann::ordered_json j = {
      {"benchmark", benchmark},
      {"events", events},
      {"parallelism", parallelism},
      {"repeat", repeat},
      {"seconds", engine.seconds},
      {"events_per_second", events_per_second()},
      {"baseline_seconds", baseline.seconds},
      {"baseline_events_per_second", baseline_events_per_second()},
      {"ratio", ratio()},
      {"peak_rss_bytes", engine.peak_rss_bytes},
      {"baseline_peak_rss_bytes", baseline.peak_rss_bytes},
  };
  for (const auto& [key, value] : extra.items()) j[key] = value;
  return j;
}

void print_report(const Report& report, bool json) {
  if (json) {
    std::cout << report.to_json().dump() << std::endl;
    return;
  }
  std::printf("%s: %lld events, parallelism %d, best of %d\n", report.benchmark.c_str(),
              static_cast<long long>(report.events), report.parallelism, report.repeat);
  std::printf("  baseline: %8.3f s  %18s  peak RSS %s\n", report.baseline.seconds,
              rate(report.baseline_events_per_second()).c_str(),
              mib(report.baseline.peak_rss_bytes).c_str());
  std::printf("  engine:   %8.3f s  %18s  peak RSS %s\n", report.engine.seconds,
              rate(report.events_per_second()).c_str(), mib(report.engine.peak_rss_bytes).c_str());
  std::printf("  ratio (engine / baseline throughput): %.3f\n", report.ratio());
  for (const auto& [key, value] : report.extra.items()) {
    std::printf("  %s: %s\n", key.c_str(), value.dump().c_str());
  }
  std::fflush(stdout);
}

void fail(const std::string& benchmark, const std::string& message) {
  std::fprintf(stderr, "%s: FAILED: %s\n", benchmark.c_str(), message.c_str());
  std::exit(1);
}

}  // namespace eddy::bench
