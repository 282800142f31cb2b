// bench-window: a keyed tumbling event-time window sum, against a hand-written
// single-threaded loop doing the same work.
//
//   bench-window [--events N] [--parallelism P] [--repeat R] [--json] [--keys K] [--verify]
//
// Records are (key = i % K, value = i) for i in [0, N) with event time i / 1000 ms (a
// million records per second of event time), K = 10000 by default. The job assigns
// timestamps and monotonous watermarks at the source, keys by key, sums the values in
// 1-second tumbling event-time windows, and counts the window results in a discard sink.
// The baseline generates the same records and keeps one sum per (window, key) in a hash
// map, emitting and erasing a window's sums once the watermark (highest time - 1) passes
// the window's end, as the engine does.
//
// Checks: the engine must emit exactly one result per key and window. With --verify an
// extra (unmeasured) run collects the results and compares them with the baseline's.
#include <cstdint>
#include <exception>
#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench_common.h"

namespace {

using Record = std::pair<int64_t, int64_t>;  // (key, value)

constexpr const char* kName = "bench-window";
constexpr const char* kSinkName = "Discard";
constexpr int64_t kWindowMs = 1000;

inline Record generate(int64_t i, int64_t keys) { return {i % keys, i}; }
inline eddy::Timestamp event_time(int64_t value) { return value / 1000; }

struct BaselineResult {
  int64_t emitted = 0;
  uint64_t checksum = 0;
  std::map<std::pair<int64_t, int64_t>, int64_t> results;  // (window start, key) -> sum, with --verify
};

BaselineResult run_baseline(int64_t events, int64_t keys, bool keep_results) {
  BaselineResult out;
  // Open windows by start; within a window, the sum per key.
  std::map<int64_t, std::unordered_map<int64_t, int64_t>> windows;
  auto fire = [&](std::map<int64_t, std::unordered_map<int64_t, int64_t>>::iterator it) {
    for (const auto& [key, sum] : it->second) {
      std::pair<int64_t, int64_t> result{key, sum};
      eddy::bench::do_not_optimize(result);
      out.checksum += static_cast<uint64_t>(sum);
      ++out.emitted;
      if (keep_results) out.results[{it->first, key}] = sum;
    }
    windows.erase(it);
  };
  eddy::Timestamp watermark = eddy::kNoTimestamp;
  for (int64_t i = 0; i < events; ++i) {
    Record r = generate(i, keys);
    eddy::Timestamp t = event_time(r.second);
    int64_t start = t - t % kWindowMs;
    auto& sums = windows[start];
    auto [it, inserted] = sums.try_emplace(r.first, r.second);
    if (!inserted) it->second += r.second;
    if (t - 1 > watermark) {
      watermark = t - 1;
      while (!windows.empty() && windows.begin()->first + kWindowMs - 1 <= watermark) fire(windows.begin());
    }
  }
  while (!windows.empty()) fire(windows.begin());  // end of input
  return out;
}


void build_job(eddy::StreamEnvironment& env, int64_t events, int64_t keys, std::vector<std::pair<Record, eddy::Timestamp>>* collect) {
  eddy::sources::GeneratorOptions options;
  options.count = events;
  auto source = eddy::sources::generator([keys](int64_t i) { return generate(i, keys); }, options);
  auto strategy = eddy::WatermarkStrategy<Record>::for_monotonous_timestamps().with_timestamp_assigner(
      [](const Record& r) { return event_time(r.second); });
  auto sums = env.from_source(source, strategy, "Generator")
                  .key_by([](const Record& r) { return r.first; })
                  .window(eddy::TumblingEventTimeWindows::of(std::chrono::milliseconds(kWindowMs)))
                  .sum<1>()
                  .name("Window Sum");
  if (collect != nullptr) {
    sums.template process<std::pair<Record, eddy::Timestamp>>(
            [](const Record& r, eddy::ProcessContext<Record, std::pair<Record, eddy::Timestamp>>& context,
               eddy::Collector<std::pair<Record, eddy::Timestamp>>& out) { out.collect({r, context.timestamp()}); })
        .sink_to(eddy::sinks::collect(*collect), "Collect");
  } else {
    sums.sink_to(eddy::sinks::discard(), kSinkName);
  }
}

int64_t expected_results(int64_t events, int64_t keys) {
  int64_t total = 0;
  int64_t per_window = kWindowMs * 1000;  // records per window
  for (int64_t start = 0; start < events; start += per_window) {
    total += std::min(keys, std::min(per_window, events - start));
  }
  return total;
}

void run_engine(const eddy::bench::Options& options, int64_t keys, eddy::bench::Measurement& measurement) {
  auto env = options.make_environment();
  build_job(env, options.events, keys, nullptr);
  eddy::JobResult result;
  measurement = eddy::bench::measure([&] { result = env.execute(kName); });
  if (result.status != eddy::JobStatus::kFinished) {
    eddy::bench::fail(kName, std::string("the job did not finish (") + eddy::job_status_name(result.status) +
                                 "): " + result.error);
  }
  const eddy::OperatorStats* sink = result.find_operator(kSinkName);
  if (sink == nullptr) eddy::bench::fail(kName, "no operator metrics for the sink");
  auto expected = static_cast<uint64_t>(expected_results(options.events, keys));
  if (sink->records_in != expected) {
    eddy::bench::fail(kName, "the sink received " + std::to_string(sink->records_in) + " window results, expected " +
                                 std::to_string(expected) + "\n" + result.summary());
  }
}

void verify(const eddy::bench::Options& options, int64_t keys) {
  BaselineResult baseline = run_baseline(options.events, keys, true);
  std::vector<std::pair<Record, eddy::Timestamp>> results;
  auto env = options.make_environment();
  build_job(env, options.events, keys, &results);
  eddy::JobResult result = env.execute(std::string(kName) + " (verify)");
  if (result.status != eddy::JobStatus::kFinished) eddy::bench::fail(kName, "the verification job failed: " + result.error);
  if (results.size() != baseline.results.size()) {
    eddy::bench::fail(kName, "verify: " + std::to_string(results.size()) + " results, expected " +
                                 std::to_string(baseline.results.size()));
  }
  for (const auto& [record, timestamp] : results) {
    int64_t start = timestamp + 1 - kWindowMs;  // results carry the window's max timestamp
    auto it = baseline.results.find({start, record.first});
    if (it == baseline.results.end() || it->second != record.second) {
      eddy::bench::fail(kName, "verify: key " + std::to_string(record.first) + " window " + std::to_string(start) +
                                   " has sum " + std::to_string(record.second) + ", expected " +
                                   (it == baseline.results.end() ? "no such result" : std::to_string(it->second)));
    }
  }
}

int run_benchmark(int argc, char** argv) {
  auto options = eddy::bench::parse_options(argc, argv, kName, 20'000'000, "[--keys K] [--verify]");
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
    baseline_best.add(eddy::bench::measure([&] { baseline = run_baseline(options.events, keys, false); }));
    if (baseline.emitted != expected_results(options.events, keys)) {
      eddy::bench::fail(kName, "the baseline emitted " + std::to_string(baseline.emitted) + " results, expected " +
                                   std::to_string(expected_results(options.events, keys)));
    }
    eddy::bench::Measurement engine;
    run_engine(options, keys, engine);
    engine_best.add(engine);
  }
  if (do_verify) verify(options, keys);

  eddy::bench::Report report;
  report.benchmark = kName;
  report.events = options.events;
  report.parallelism = options.parallelism;
  report.repeat = options.repeat;
  report.engine = engine_best.best;
  report.baseline = baseline_best.best;
  report.extra["keys"] = keys;
  report.extra["window_ms"] = kWindowMs;
  report.extra["window_results"] = expected_results(options.events, keys);
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
