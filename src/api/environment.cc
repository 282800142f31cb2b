#include "eddy/environment.h"

#include <cstdio>
#include <mutex>

#include <limits>

#include "graph/job_graph.h"
#include "runtime/local_executor.h"
#include "runtime/restart_strategy.h"

namespace eddy {

struct StreamEnvironment::Control {
  std::mutex mutex;
  runtime::JobControl* running = nullptr;
  bool cancel_pending = false;
};

StreamEnvironment::StreamEnvironment() : StreamEnvironment(ExecutionConfig{}) {}

StreamEnvironment::StreamEnvironment(ExecutionConfig config)
    : pipeline_(std::make_unique<internal::Pipeline>()), control_(std::make_shared<Control>()) {
  internal::check_parallelism(config.parallelism, "the job");
  internal::check_max_parallelism(config.max_parallelism, "the job");
  pipeline_->config = config;
  pipeline_->clock = std::make_shared<SystemClock>();
}

StreamEnvironment::~StreamEnvironment() = default;
StreamEnvironment::StreamEnvironment(StreamEnvironment&&) noexcept = default;
StreamEnvironment& StreamEnvironment::operator=(StreamEnvironment&&) noexcept = default;

namespace {

std::chrono::milliseconds non_negative_ms(const Args& args, const std::string& key, std::chrono::milliseconds fallback) {
  int64_t value = args.get_int(key, fallback.count());
  if (value < 0) throw InvalidJobError("option --" + key + " must not be negative");
  return std::chrono::milliseconds(value);
}

// Checkpointing, restart strategy and restore options (docs/checkpoints.md).
void parse_fault_tolerance(const Args& args, ExecutionConfig& config) {
  CheckpointConfig& cp = config.checkpoints;
  cp.interval = non_negative_ms(args, "checkpoint-interval-ms", cp.interval);
  cp.directory = args.get("checkpoint-dir", cp.directory);
  std::string mode = args.get("checkpointing-mode", "exactly-once");
  if (mode == "exactly-once") {
    cp.mode = CheckpointingMode::kExactlyOnce;
  } else if (mode == "at-least-once") {
    cp.mode = CheckpointingMode::kAtLeastOnce;
  } else {
    throw InvalidJobError("option --checkpointing-mode needs 'exactly-once' or 'at-least-once', not '" + mode + "'");
  }
  cp.timeout = non_negative_ms(args, "checkpoint-timeout-ms", cp.timeout);
  cp.min_pause = non_negative_ms(args, "min-pause-between-checkpoints-ms", cp.min_pause);
  cp.max_concurrent = static_cast<int>(args.get_int("max-concurrent-checkpoints", cp.max_concurrent));
  if (cp.max_concurrent < 1) throw InvalidJobError("option --max-concurrent-checkpoints must be at least 1");
  cp.tolerable_failures = static_cast<int>(args.get_int("tolerable-failed-checkpoints", cp.tolerable_failures));
  if (cp.tolerable_failures < 0) throw InvalidJobError("option --tolerable-failed-checkpoints must not be negative");
  cp.unaligned = args.get_bool("unaligned-checkpoints", cp.unaligned);
  cp.aligned_timeout = non_negative_ms(args, "aligned-checkpoint-timeout-ms", cp.aligned_timeout);
  cp.retained = static_cast<int>(args.get_int("checkpoints-retained", cp.retained));
  if (cp.retained < 1) throw InvalidJobError("option --checkpoints-retained must be at least 1");
  if (cp.enabled() && cp.directory.empty()) {
    throw InvalidJobError("option --checkpoint-interval-ms needs --checkpoint-dir DIR: where checkpoints go");
  }
  config.restart = runtime::parse_restart_strategy(args);
  // As Flink, a job with checkpointing restarts by default (fixed delay).
  if (!args.has("restart-strategy") && cp.enabled()) {
    config.restart.kind = RestartStrategyConfig::Kind::kFixedDelay;
    config.restart.max_attempts = std::numeric_limits<int>::max();
  }
  config.restore.path = args.get("restore", config.restore.path);
  config.restore.allow_non_restored_state = args.get_bool("allow-non-restored-state", false);
}

}  // namespace

StreamEnvironment StreamEnvironment::from_args(int argc, const char* const* argv) {
  Args args = Args::parse(argc, argv);
  ExecutionConfig config;
  config.parallelism = static_cast<int>(args.get_int("parallelism", config.parallelism));
  config.max_parallelism = static_cast<int>(args.get_int("max-parallelism", config.max_parallelism));
  std::string mode = args.get("runtime-mode", "streaming");
  if (mode == "streaming") {
    config.runtime_mode = RuntimeMode::kStreaming;
  } else if (mode == "batch") {
    config.runtime_mode = RuntimeMode::kBatch;
  } else {
    throw InvalidJobError("option --runtime-mode needs 'streaming' or 'batch', not '" + mode + "'");
  }
  config.buffer_timeout = std::chrono::milliseconds(
      args.get_int("buffer-timeout-ms", config.buffer_timeout.count()));
  int64_t capacity = args.get_int("channel-capacity", static_cast<int64_t>(config.channel_capacity));
  int64_t batch_bytes = args.get_int("batch-bytes", static_cast<int64_t>(config.batch_bytes));
  if (capacity < 1) throw InvalidJobError("option --channel-capacity must be at least 1");
  if (batch_bytes < 1) throw InvalidJobError("option --batch-bytes must be at least 1");
  if (config.buffer_timeout.count() < 0) throw InvalidJobError("option --buffer-timeout-ms must not be negative");
  config.auto_watermark_interval = std::chrono::milliseconds(
      args.get_int("auto-watermark-interval-ms", config.auto_watermark_interval.count()));
  if (config.auto_watermark_interval.count() < 0) {
    throw InvalidJobError("option --auto-watermark-interval-ms must not be negative");
  }
  config.channel_capacity = static_cast<size_t>(capacity);
  config.batch_bytes = static_cast<size_t>(batch_bytes);
  config.state_backend.kind = args.get("state-backend", config.state_backend.kind);
  if (config.state_backend.kind != "heap" && config.state_backend.kind != "rocksdb") {
    throw InvalidJobError("option --state-backend needs 'heap' or 'rocksdb', not '" + config.state_backend.kind + "'");
  }
  config.state_backend.rocksdb_dir = args.get("rocksdb-dir", config.state_backend.rocksdb_dir);
  config.state_backend.rocksdb_block_cache_bytes = static_cast<size_t>(
      args.get_int("rocksdb-block-cache-mb", static_cast<int64_t>(config.state_backend.rocksdb_block_cache_bytes >> 20)))
      << 20;
  config.state_backend.rocksdb_write_buffer_bytes = static_cast<size_t>(
      args.get_int("rocksdb-write-buffer-mb", static_cast<int64_t>(config.state_backend.rocksdb_write_buffer_bytes >> 20)))
      << 20;
  int64_t entry_cache_mb = args.get_int("rocksdb-entry-cache-mb",
                                        static_cast<int64_t>(config.state_backend.rocksdb_entry_cache_bytes >> 20));
  if (entry_cache_mb < 0) throw InvalidJobError("option --rocksdb-entry-cache-mb must not be negative");
  config.state_backend.rocksdb_entry_cache_bytes = static_cast<size_t>(entry_cache_mb) << 20;
  config.state_backend.incremental_checkpoints =
      args.get_bool("incremental-checkpoints", config.state_backend.incremental_checkpoints);
  parse_fault_tolerance(args, config);
  config.handle_signals = true;
  StreamEnvironment env(config);
  env.pipeline_->args = std::move(args);
  return env;
}

ExecutionConfig& StreamEnvironment::config() { return pipeline_->config; }
const Args& StreamEnvironment::args() const { return pipeline_->args; }

StreamEnvironment& StreamEnvironment::set_parallelism(int parallelism) {
  internal::check_parallelism(parallelism, "the job");
  pipeline_->config.parallelism = parallelism;
  return *this;
}

StreamEnvironment& StreamEnvironment::set_max_parallelism(int max_parallelism) {
  internal::check_max_parallelism(max_parallelism, "the job");
  pipeline_->config.max_parallelism = max_parallelism;
  return *this;
}

StreamEnvironment& StreamEnvironment::set_runtime_mode(RuntimeMode mode) {
  pipeline_->config.runtime_mode = mode;
  return *this;
}

StreamEnvironment& StreamEnvironment::set_clock(std::shared_ptr<const Clock> clock) {
  pipeline_->clock = std::move(clock);
  return *this;
}

DataStream<int64_t> StreamEnvironment::from_sequence(int64_t from, int64_t to) {
  if (to < from) {
    throw InvalidJobError("from_sequence(" + std::to_string(from) + ", " + std::to_string(to) +
                          "): the end is before the start");
  }
  return from_source(sources::sequence(from, to), "Sequence Source");
}

DataStream<std::string> StreamEnvironment::read_text_file(std::string path) {
  std::string name = "File Source: " + path;
  return from_source(sources::text_file(std::move(path)), std::move(name));
}

std::string StreamEnvironment::explain() const {
  return graph::explain(graph::build_job_graph(graph::build_stream_graph(*pipeline_)));
}

JobResult StreamEnvironment::execute(const std::string& job_name) {
  graph::JobGraph job = graph::build_job_graph(graph::build_stream_graph(*pipeline_));
  runtime::JobControl control;
  {
    std::lock_guard<std::mutex> lock(control_->mutex);
    control_->running = &control;
    if (control_->cancel_pending) control.request_cancel();
    control_->cancel_pending = false;
  }
  runtime::LocalExecutor executor(job, pipeline_->config, *pipeline_->clock);
  JobResult result = executor.run(job_name, control, pipeline_->config.handle_signals);
  {
    std::lock_guard<std::mutex> lock(control_->mutex);
    control_->running = nullptr;
  }
  if (pipeline_->config.handle_signals && result.status == JobStatus::kCancelled) {
    std::fputs(result.summary().c_str(), stderr);
  }
  return result;
}

StreamEnvironment& StreamEnvironment::enable_checkpointing(std::chrono::milliseconds interval, CheckpointingMode mode) {
  if (interval.count() <= 0) throw InvalidJobError("enable_checkpointing: the interval must be positive");
  pipeline_->config.checkpoints.interval = interval;
  pipeline_->config.checkpoints.mode = mode;
  return *this;
}

CheckpointConfig& StreamEnvironment::checkpoint_config() { return pipeline_->config.checkpoints; }

std::future<std::string> StreamEnvironment::trigger_savepoint(bool stop) {
  std::lock_guard<std::mutex> lock(control_->mutex);
  if (control_->running == nullptr) {
    std::promise<std::string> failed;
    failed.set_exception(std::make_exception_ptr(Error("cannot take a savepoint: no job is running")));
    return failed.get_future();
  }
  return control_->running->trigger_savepoint(stop);
}

void StreamEnvironment::cancel() {
  std::lock_guard<std::mutex> lock(control_->mutex);
  if (control_->running != nullptr) {
    control_->running->request_cancel();
  } else {
    control_->cancel_pending = true;
  }
}

}  // namespace eddy
