// StreamEnvironment: where a job is defined and executed (Flink's
// StreamExecutionEnvironment). The embedded runtime runs every subtask as a thread of
// this process.
//
// Not thread-safe, except cancel(), which may be called from any thread while execute()
// runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/args.h"
#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/data_stream.h"
#include "eddy/job_result.h"
#include "eddy/source.h"
#include "eddy/sources.h"

namespace eddy {

class StreamEnvironment {
 public:
  StreamEnvironment();
  explicit StreamEnvironment(ExecutionConfig config);
  ~StreamEnvironment();
  StreamEnvironment(StreamEnvironment&&) noexcept;
  StreamEnvironment& operator=(StreamEnvironment&&) noexcept;

  // Reads the runtime options (--parallelism N, --max-parallelism N, --runtime-mode
  // streaming|batch, --buffer-timeout-ms N, --channel-capacity N, --batch-bytes N) and
  // keeps every option for the program in args(). Handles SIGINT/SIGTERM by cancelling
  // the job cleanly. Throws InvalidJobError on a malformed or invalid option.
  static StreamEnvironment from_args(int argc, const char* const* argv);

  ExecutionConfig& config();
  const Args& args() const;

  StreamEnvironment& set_parallelism(int parallelism);
  StreamEnvironment& set_max_parallelism(int max_parallelism);
  StreamEnvironment& set_runtime_mode(RuntimeMode mode);
  // Processing time for the job's operators (default: the system clock).
  StreamEnvironment& set_clock(std::shared_ptr<const Clock> clock);

  template <class T>
  DataStream<T> from_source(std::shared_ptr<const Source<T>> source, std::string name) {
    internal::Transformation& t =
        pipeline_->add(internal::Transformation::Kind::kSource, std::move(name));
    t.output_type = internal::type_info_of<T>();
    t.source = source;
    t.create_operator = [source] { return std::make_unique<internal::SourceOperator<T>>(source); };
    return DataStream<T>(pipeline_.get(), t.id);
  }
  template <class S>
    requires std::is_base_of_v<SourceBase, S>
  DataStream<typename S::value_type> from_source(std::shared_ptr<S> source, std::string name) {
    return from_source<typename S::value_type>(
        std::shared_ptr<const Source<typename S::value_type>>(std::move(source)), std::move(name));
  }
  // A source whose records get timestamps and watermarks from `strategy`, per split.
  template <class T>
  DataStream<T> from_source(std::shared_ptr<const Source<T>> source, WatermarkStrategy<T> strategy,
                            std::string name) {
    DataStream<T> stream = from_source(source, std::move(name));
    pipeline_->at(stream.id()).create_operator = [source, strategy] {
      return std::make_unique<internal::SourceOperator<T>>(source, strategy);
    };
    return stream;
  }
  template <class S>
    requires std::is_base_of_v<SourceBase, S>
  DataStream<typename S::value_type> from_source(std::shared_ptr<S> source,
                                                 WatermarkStrategy<typename S::value_type> strategy,
                                                 std::string name) {
    return from_source<typename S::value_type>(
        std::shared_ptr<const Source<typename S::value_type>>(std::move(source)), std::move(strategy),
        std::move(name));
  }

  // The values in order; not parallel (Flink's fromData / fromCollection).
  template <class T>
  DataStream<T> from_collection(std::vector<T> values, std::string name = "Collection Source") {
    return from_source(sources::collection(std::move(values)), std::move(name));
  }
  template <class T, class... Rest>
  DataStream<T> from_elements(T first, Rest... rest) {
    return from_collection(std::vector<T>{std::move(first), T(std::move(rest))...}, "Elements Source");
  }
  // fn(0) ... fn(count - 1), split over the source's subtasks; count = sources::kUnbounded
  // for an endless source.
  template <class F>
  auto from_generator(F fn, int64_t count, std::string name = "Generator Source") {
    sources::GeneratorOptions options;
    options.count = count;
    return from_source(sources::generator(std::move(fn), options), std::move(name));
  }
  // from, from + 1, ..., to (Flink's fromSequence).
  DataStream<int64_t> from_sequence(int64_t from, int64_t to);
  // Lines of a text file (or of the files in a directory).
  DataStream<std::string> read_text_file(std::string path);

  // The job graph: tasks (operator chains) with their parallelism, and the edges between
  // them with their partitioning. Throws InvalidJobError if the job is invalid.
  std::string explain() const;

  // Runs the job and returns when it has finished, failed or been cancelled. Throws
  // InvalidJobError if the job is invalid; runtime failures are reported in the result.
  JobResult execute(const std::string& job_name = "Eddy Job");

  // Cancels the job that execute() is running (or the next one, if none runs yet).
  void cancel();

  // Periodic checkpoints every `interval` (docs/checkpoints.md); set the directory with
  // checkpoint_config().directory or --checkpoint-dir. From the command line:
  // --checkpoint-interval-ms N and the options of docs/configuration.md.
  StreamEnvironment& enable_checkpointing(std::chrono::milliseconds interval,
                                          CheckpointingMode mode = CheckpointingMode::kExactlyOnce);
  CheckpointConfig& checkpoint_config();
  // Takes a savepoint of the job execute() is running, from any thread; with `stop`, the
  // job is cancelled once it is complete (stop-with-savepoint). The future gets the
  // savepoint's folder, or the reason it failed. A running job also takes one on SIGUSR1
  // (and stops with one on SIGUSR2) when it handles signals.
  std::future<std::string> trigger_savepoint(bool stop = false);

 private:
  std::unique_ptr<internal::Pipeline> pipeline_;
  struct Control;
  std::shared_ptr<Control> control_;
};

}  // namespace eddy
