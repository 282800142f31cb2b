#include "eddy/environment.h"

#include <cstdio>
#include <mutex>

#include "graph/job_graph.h"
#include "runtime/local_executor.h"

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

void StreamEnvironment::cancel() {
  std::lock_guard<std::mutex> lock(control_->mutex);
  if (control_->running != nullptr) {
    control_->running->request_cancel();
  } else {
    control_->cancel_pending = true;
  }
}

}  // namespace eddy
