// Runs a job graph embedded in this process: one thread per task, channels between them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <future>
#include <optional>
#include <string>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/job_result.h"
#include "graph/job_graph.h"

namespace eddy::checkpoint {
class CheckpointStorage;
}

namespace eddy::runtime {

class CheckpointCoordinator;
class SignalWatch;

// Lets another thread cancel a running job or take a savepoint of it. Thread-safe.
class JobControl {
 public:
  void request_cancel();
  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_acquire); }
  // A savepoint of the running job; the future gets its folder. With `stop`, the job is
  // cancelled once the savepoint is complete (stop-with-savepoint). Fails (through the
  // future) when the job has no checkpoint directory or is not running.
  std::future<std::string> trigger_savepoint(bool stop);

 private:
  friend class LocalExecutor;
  std::atomic<bool> cancel_requested_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  CheckpointCoordinator* coordinator_ = nullptr;        // under mutex_, while a run has one
  std::optional<std::shared_future<std::string>> stop_after_;  // under mutex_
};

class LocalExecutor {
 public:
  LocalExecutor(const graph::JobGraph& job, const ExecutionConfig& config, const Clock& clock)
      : job_(job), config_(config), clock_(clock) {}

  // Runs the job to its end, failure or cancellation. With `watch_signals`, SIGINT and
  // SIGTERM cancel the job (the previous handlers are restored afterwards).
  JobResult run(const std::string& job_name, JobControl& control, bool watch_signals);

 private:
  struct Attempt;
  // One run of the job's tasks, from `restore_folder` (empty: from the beginning).
  Attempt run_attempt(JobControl& control, SignalWatch& signals, checkpoint::CheckpointStorage* storage,
                      const std::string& restore_folder, JobResult& result);

  const graph::JobGraph& job_;
  const ExecutionConfig& config_;
  const Clock& clock_;
};

}  // namespace eddy::runtime
