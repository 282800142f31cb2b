// bench-pipeline: generator -> map -> key_by -> rolling sum -> discard, against a
// hand-written single-threaded loop doing the same work.
//
//   bench-pipeline [--events N] [--parallelism P] [--repeat R] [--json] [--keys K] [--verify]
//
// Records are (key = i % K, value = i) for i in [0, N), K = 10000 by default; the map
// makes value * 3 + 1; the keyed rolling sum (streaming mode) emits the updated
// (key, sum) for every record, and the sink drops them. The baseline generates the same
// records, applies the same map, keeps the sums in a std::unordered_map and "emits" every
// updated record into a sink the optimiser cannot remove.
//
// Checks: the engine's sink must have received exactly N records (operator metrics).
// With --verify, an extra (unmeasured) run in batch mode collects the final sum of every
// key and compares them with the baseline's.
#include <cstdint>
#include <exception>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench_common.h"

namespace {

using Record = std::pair<int64_t, int64_t>;  // (key, value)

constexpr const char* kName = "bench-pipeline";
constexpr const char* kSinkName = "Discard";

struct BaselineResult {
  int64_t emitted = 0;
  uint64_t checksum = 0;
  std::unordered_map<int64_t, int64_t> sums;
};

inline Record generate(int64_t i, int64_t keys) { return {i % keys, i}; }
inline Record transform(Record r) { return {r.first, r.second * 3 + 1}; }

BaselineResult run_baseline(int64_t events, int64_t keys) {
  BaselineResult out;
  std::unordered_map<int64_t, int64_t> sums;
  int64_t emitted = 0;
  uint64_t checksum = 0;
  for (int64_t i = 0; i < events; ++i) {
    Record r = transform(generate(i, keys));
    auto [it, inserted] = sums.try_emplace(r.first, r.second);
    if (!inserted) it->second += r.second;
    // Emit the updated record.
    Record updated{r.first, it->second};
    eddy::bench::do_not_optimize(updated);
    checksum += static_cast<uint64_t>(updated.second);
    ++emitted;
  }
  out.emitted = emitted;
  out.checksum = checksum;
  out.sums = std::move(sums);
  return out;
}

// Builds the job; `batch_collect` (for --verify) replaces the discard sink by a collect
// sink in batch mode.
void build_job(eddy::StreamEnvironment& env, int64_t events, int64_t keys,
               std::vector<Record>* batch_collect) {
  auto stream =
      env.from_generator([keys](int64_t i) { return generate(i, keys); }, events, "Generator")
          .map([](Record r) { return transform(r); })
          .name("Map")
          .key_by([](const Record& r) { return r.first; })
          .sum<1>()
          .name("Sum");
  if (batch_collect != nullptr) {
    env.set_runtime_mode(eddy::RuntimeMode::kBatch);
    stream.sink_to(eddy::sinks::collect(*batch_collect), "Collect");
  } else {
    stream.sink_to(eddy::sinks::discard(), kSinkName);
  }
}

eddy::JobResult run_engine(const eddy::bench::Options& options, int64_t keys,
                           eddy::bench::Measurement& measurement) {
  auto env = options.make_environment();
  build_job(env, options.events, keys, nullptr);
  eddy::JobResult result;
  measurement = eddy::bench::measure([&] { result = env.execute(kName); });
  if (result.status != eddy::JobStatus::kFinished) {
    eddy::bench::fail(kName, std::string("the job did not finish (") +
                                 eddy::job_status_name(result.status) + "): " + result.error);
  }
  const eddy::OperatorStats* sink = result.find_operator(kSinkName);
  if (sink == nullptr) eddy::bench::fail(kName, "no operator metrics for the sink");
  if (sink->records_in != static_cast<uint64_t>(options.events)) {
    eddy::bench::fail(kName, "the sink received " + std::to_string(sink->records_in) +
                                 " records, expected " + std::to_string(options.events) + "\n" +
                                 result.summary());
  }
  return result;
}

void verify(const eddy::bench::Options& options, int64_t keys, const BaselineResult& baseline) {
  std::vector<Record> finals;
  auto env = options.make_environment();
  build_job(env, options.events, keys, &finals);
  eddy::JobResult result = env.execute(std::string(kName) + " (verify)");
  if (result.status != eddy::JobStatus::kFinished) {
    eddy::bench::fail(kName, "the verification job did not finish: " + result.error);
  }
  if (finals.size() != baseline.sums.size()) {
    eddy::bench::fail(kName, "verify: " + std::to_string(finals.size()) + " keys, expected " +
                                 std::to_string(baseline.sums.size()));
  }
  for (const auto& [key, sum] : finals) {
    auto it = baseline.sums.find(key);
    if (it == baseline.sums.end() || it->second != sum) {
      eddy::bench::fail(
          kName, "verify: key " + std::to_string(key) + " has sum " + std::to_string(sum) +
                     ", expected " +
                     (it == baseline.sums.end() ? "no such key" : std::to_string(it->second)));
    }
  }
}

int run_benchmark(int argc, char** argv) {
  auto options = eddy::bench::parse_options(argc, argv, kName, 10'000'000, "[--keys K] [--verify]");
  int64_t keys = 10'000;
  bool do_verify = false;
  try {
    keys = options.args.get_int("keys", keys);
    do_verify = options.args.get_bool("verify", false);
  } catch (const eddy::Error& e) {
    eddy::bench::fail(kName, e.what());
  }
  if (keys < 1) eddy::bench::fail(kName, "--keys must be at least 1");

  eddy::bench::Best baseline_best;
  eddy::bench::Best engine_best;
  BaselineResult baseline;
  for (int attempt = 0; attempt < options.repeat; ++attempt) {
    baseline = BaselineResult{};
    baseline_best.add(eddy::bench::measure([&] { baseline = run_baseline(options.events, keys); }));
    if (baseline.emitted != options.events) {
      eddy::bench::fail(kName, "the baseline emitted " + std::to_string(baseline.emitted) +
                                   " records, expected " + std::to_string(options.events));
    }
    eddy::bench::Measurement engine;
    run_engine(options, keys, engine);
    engine_best.add(engine);
  }
  if (do_verify) verify(options, keys, baseline);

  eddy::bench::Report report;
  report.benchmark = kName;
  report.events = options.events;
  report.parallelism = options.parallelism;
  report.repeat = options.repeat;
  report.engine = engine_best.best;
  report.baseline = baseline_best.best;
  report.extra["keys"] = keys;
  report.extra["baseline_checksum"] = baseline.checksum;
  report.extra["verified"] = do_verify;
  eddy::bench::print_report(report, options.json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_benchmark(argc, argv);
  } catch (const std::exception& e) {
    eddy::bench::fail(kName, e.what());
  }
}
