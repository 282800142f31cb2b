// Runs a job graph embedded in this process: one thread per task, channels between them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/job_result.h"
#include "graph/job_graph.h"

namespace eddy::runtime {

// Lets another thread cancel a running job. Thread-safe.
class JobControl {
 public:
  void request_cancel();
  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_acquire); }

 private:
  friend class LocalExecutor;
  std::atomic<bool> cancel_requested_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
};

class LocalExecutor {
 public:
  LocalExecutor(const graph::JobGraph& job, const ExecutionConfig& config, const Clock& clock)
      : job_(job), config_(config), clock_(clock) {}

  // Runs the job to its end, failure or cancellation. With `watch_signals`, SIGINT and
  // SIGTERM cancel the job (the previous handlers are restored afterwards).
  JobResult run(const std::string& job_name, JobControl& control, bool watch_signals);

 private:
  const graph::JobGraph& job_;
  const ExecutionConfig& config_;
  const Clock& clock_;
};

}  // namespace eddy::runtime
