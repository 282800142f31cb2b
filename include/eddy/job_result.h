// What execute() returns: how the job ended, and what each operator did.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eddy {

enum class JobStatus {
  kFinished,   // all input was processed (bounded job)
  kCancelled,  // cancel() or SIGINT/SIGTERM stopped it cleanly
  kFailed,     // a task failed; error() says which and why
};

const char* job_status_name(JobStatus status);

struct OperatorStats {
  std::string name;
  std::string uid;
  int parallelism = 1;
  uint64_t records_in = 0;   // summed over subtasks
  uint64_t records_out = 0;  // summed over subtasks
  // Records that arrived behind the watermark and were dropped (windows, joins) rather
  // than sent to a late-data side output; summed over subtasks.
  uint64_t records_dropped_late = 0;
};

struct JobResult {
  std::string job_name;
  JobStatus status = JobStatus::kFinished;
  // For kFailed: the operator, the subtask and the cause, e.g.
  // "operator 'parse' (subtask 2/4) failed: stoi: no conversion".
  std::string error;
  std::string failed_operator;
  int failed_subtask = -1;  // 0-based
  std::chrono::nanoseconds wall_time{0};
  std::vector<OperatorStats> operators;  // in the order the job defined them
  // The most batches any channel held at once (never above the channel capacity).
  size_t peak_channel_batches = 0;

  // Fault tolerance (docs/checkpoints.md). Restarts after task failures, in-process.
  int restarts = 0;
  int64_t checkpoints_completed = 0;  // over all runs, including the final checkpoint
  int64_t checkpoints_failed = 0;
  std::string latest_checkpoint;      // folder of the last completed checkpoint
  std::string restored_from;          // folder the last run restored from; empty if none
  std::string savepoint_path;         // set when the job stopped with a savepoint
  // The longest checkpoint (trigger to completion), and the longest synchronous part in
  // any task (the time a task stops processing for a checkpoint).
  std::chrono::nanoseconds max_checkpoint_duration{0};
  std::chrono::nanoseconds max_checkpoint_sync_pause{0};

  // True unless the job failed (a cancelled job stopped cleanly).
  bool ok() const { return status != JobStatus::kFailed; }
  // The first operator with this name, or null.
  const OperatorStats* find_operator(std::string_view name) const;
  // A table: status, wall time, and records in/out per operator (and late records
  // dropped, when any operator dropped some), and checkpoint figures when the job took
  // or restored any.
  std::string summary() const;
};

}  // namespace eddy
