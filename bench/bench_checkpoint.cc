// bench-checkpoint: what checkpoints cost a keyed job with a lot of state. The same job
// runs without checkpoints (the baseline the issue asks for: "throughput with a checkpoint
// every second against none") and with a checkpoint every --interval-ms (default 1000),
// and the benchmark reports the ratio of their throughputs, the checkpoints taken, the
// longest checkpoint and the longest synchronous pause of any task.
//
//   bench-checkpoint [--events N] [--parallelism P] [--repeat R] [--json]
//                    [--state-backend heap|rocksdb] [--keys K] [--value-bytes V]
//                    [--interval-ms I] [--checkpoint-dir DIR]
//
// The job: generator -> key_by -> keyed map -> sink (drops records, notes the last). Event i has key
// reduce(splitmix64(i), K); the keyed map keeps, per key, a count (ValueState<int64_t>,
// read-modify-write on every event) and a payload of V bytes (ValueState<std::string>,
// written when the key is first seen). With the defaults (K = 1 000 000, V = 1000) the
// state grows to about 1 GB once every key was seen; N must be well above K for that
// (default N = 4 000 000). The map emits the new count; the sink drops it.
//
// Throughput is measured from the start of the job to the moment the sink has received
// the last record: the processing rate, which is what checkpoints every second may slow
// down. A bounded job with checkpointing then takes a final checkpoint of its whole state
// after the last record (the run without checkpoints does not), which costs the same
// whatever the interval; the report gives that end-to-end time separately
// ("job_seconds_with_final_checkpoint"), next to the baseline's ("baseline_job_seconds").
//
// Checks: the sink receives exactly N records in both runs, and the checkpointed run
// completes at least one checkpoint (else the figures mean nothing: raise N).
//
// Because the baseline here is the engine itself (without checkpoints), the "baseline_*"
// fields of the report are the run without checkpoints.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "bench_common.h"

namespace {

constexpr const char* kName = "bench-checkpoint";
constexpr const char* kSinkName = "Discard";

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t reduce(uint64_t r, int64_t n) {
  return static_cast<int64_t>((static_cast<unsigned __int128>(r) * static_cast<uint64_t>(n)) >> 64);
}

struct Event {
  int64_t key;
  int64_t value;
};

class KeyedUpdate {
 public:
  explicit KeyedUpdate(size_t value_bytes) : value_bytes_(value_bytes) {}
  void open(eddy::RuntimeContext& context) {
    count_ = &context.get_state(eddy::ValueStateDescriptor<int64_t>("count"));
    payload_ = &context.get_state(eddy::ValueStateDescriptor<std::string>("payload"));
  }
  int64_t operator()(const Event& e) {
    int64_t count = count_->value_or(0) + 1;
    count_->update(count);
    if (count == 1) payload_->update(std::string(value_bytes_, static_cast<char>('a' + e.key % 26)));
    return count;
  }

 private:
  size_t value_bytes_;
  eddy::ValueState<int64_t>* count_ = nullptr;
  eddy::ValueState<std::string>* payload_ = nullptr;
};

struct RunResult {
  eddy::bench::Measurement measurement;  // seconds: until the sink had the last record
  double job_seconds = 0;                // until the job finished
  eddy::JobResult job;
};

// When the sink received the last of `expected` records.
struct LastRecord {
  explicit LastRecord(int64_t n) : expected(n) {}
  const int64_t expected;
  std::atomic<int64_t> received{0};
  std::chrono::steady_clock::time_point at;
};

RunResult run(const eddy::bench::Options& options, int64_t keys, size_t value_bytes, int64_t interval_ms,
              const std::string& checkpoint_dir) {
  auto env = options.make_environment();
  auto last = std::make_shared<LastRecord>(options.events);
  if (interval_ms > 0) {
    std::filesystem::remove_all(checkpoint_dir);
    env.checkpoint_config().directory = checkpoint_dir;
    env.enable_checkpointing(std::chrono::milliseconds(interval_ms));
  }
  env.from_generator([keys](int64_t i) { return Event{reduce(splitmix64(static_cast<uint64_t>(i)), keys), i}; },
                     options.events, "Generator")
      .key_by([](const Event& e) { return e.key; })
      .map(KeyedUpdate(value_bytes))
      .name("Update")
      .sink_to(eddy::sinks::callback([last](int64_t) {
                 if (last->received.fetch_add(1, std::memory_order_relaxed) + 1 == last->expected) {
                   last->at = std::chrono::steady_clock::now();
                 }
               }),
               kSinkName);
  RunResult out;
  const auto start = std::chrono::steady_clock::now();
  out.measurement = eddy::bench::measure([&] { out.job = env.execute(kName); });
  out.job_seconds = out.measurement.seconds;
  if (last->received.load() == options.events) {
    out.measurement.seconds = std::chrono::duration<double>(last->at - start).count();
  }
  if (out.job.status != eddy::JobStatus::kFinished) {
    eddy::bench::fail(kName, std::string("the job did not finish (") + eddy::job_status_name(out.job.status) +
                                 "): " + out.job.error);
  }
  const eddy::OperatorStats* sink = out.job.find_operator(kSinkName);
  if (sink == nullptr || sink->records_in != static_cast<uint64_t>(options.events)) {
    eddy::bench::fail(kName, "the sink did not receive every record\n" + out.job.summary());
  }
  if (interval_ms > 0 && out.job.checkpoints_completed < 2) {
    // The final checkpoint always completes; a periodic one must have too.
    eddy::bench::fail(kName, "no periodic checkpoint completed: raise --events");
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = eddy::bench::parse_options(
      argc, argv, kName, 4'000'000,
      "[--state-backend heap|rocksdb] [--keys K] [--value-bytes V] [--interval-ms I] [--checkpoint-dir DIR]");
  const int64_t keys = options.args.get_int("keys", 1'000'000);
  const auto value_bytes = static_cast<size_t>(options.args.get_int("value-bytes", 1000));
  const int64_t interval_ms = options.args.get_int("interval-ms", 1000);
  const std::string checkpoint_dir = options.args.get(
      "checkpoint-dir", (std::filesystem::temp_directory_path() / ("eddy-bench-checkpoint-" + std::to_string(getpid())))
                            .string());
  if (keys < 1 || interval_ms < 1) eddy::bench::fail(kName, "--keys and --interval-ms must be positive");

  eddy::bench::Best without;
  eddy::bench::Best with;
  eddy::JobResult checkpointed;
  double without_job_seconds = 0;
  double with_job_seconds = 0;
  for (int r = 0; r < options.repeat; ++r) {
    RunResult plain = run(options, keys, value_bytes, 0, checkpoint_dir);
    if (r == 0 || plain.job_seconds < without_job_seconds) without_job_seconds = plain.job_seconds;
    without.add(plain.measurement);
    RunResult result = run(options, keys, value_bytes, interval_ms, checkpoint_dir);
    if (r == 0 || result.job_seconds < with_job_seconds) with_job_seconds = result.job_seconds;
    with.add(result.measurement);
    if (r == 0 || result.job.max_checkpoint_sync_pause > checkpointed.max_checkpoint_sync_pause) {
      checkpointed = result.job;
    }
  }
  std::filesystem::remove_all(checkpoint_dir);

  eddy::bench::Report report;
  report.benchmark = kName;
  report.events = options.events;
  report.parallelism = options.parallelism;
  report.repeat = options.repeat;
  report.engine = with.best;
  report.baseline = without.best;
  report.extra["state_backend"] = options.args.get("state-backend", "heap");
  report.extra["keys"] = keys;
  report.extra["value_bytes"] = value_bytes;
  report.extra["approx_state_bytes"] = keys * static_cast<int64_t>(value_bytes + 16);
  report.extra["interval_ms"] = interval_ms;
  report.extra["checkpoints_completed"] = checkpointed.checkpoints_completed;
  report.extra["checkpoints_failed"] = checkpointed.checkpoints_failed;
  report.extra["max_checkpoint_ms"] =
      std::chrono::duration<double, std::milli>(checkpointed.max_checkpoint_duration).count();
  report.extra["max_sync_pause_ms"] =
      std::chrono::duration<double, std::milli>(checkpointed.max_checkpoint_sync_pause).count();
  report.extra["job_seconds_with_final_checkpoint"] = with_job_seconds;
  report.extra["baseline_job_seconds"] = without_job_seconds;
  report.extra["baseline"] = "the same job without checkpoints";
  eddy::bench::print_report(report, options.json);
  return 0;
}
