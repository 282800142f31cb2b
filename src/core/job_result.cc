#include "eddy/job_result.h"

#include <cstdio>

namespace eddy {

const char* job_status_name(JobStatus status) {
  switch (status) {
    case JobStatus::kFinished:
      return "FINISHED";
    case JobStatus::kCancelled:
      return "CANCELLED";
    case JobStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

const OperatorStats* JobResult::find_operator(std::string_view name) const {
  for (const OperatorStats& op : operators) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

std::string JobResult::summary() const {
  char line[512];
  std::string out;
  double seconds = std::chrono::duration<double>(wall_time).count();
  std::snprintf(line, sizeof(line), "Job '%s' %s after %.3f s\n", job_name.c_str(),
                job_status_name(status), seconds);
  out += line;
  if (status == JobStatus::kFailed) out += "  error: " + error + "\n";
  bool late = false;
  for (const OperatorStats& op : operators) late |= op.records_dropped_late > 0;
  std::snprintf(line, sizeof(line), "  %-40s %11s %15s %15s%s\n", "operator", "parallelism", "records in",
                "records out", late ? "    late dropped" : "");
  out += line;
  for (const OperatorStats& op : operators) {
    std::snprintf(line, sizeof(line), "  %-40.40s %11d %15llu %15llu", op.name.c_str(), op.parallelism,
                  static_cast<unsigned long long>(op.records_in), static_cast<unsigned long long>(op.records_out));
    out += line;
    if (late) {
      std::snprintf(line, sizeof(line), " %16llu", static_cast<unsigned long long>(op.records_dropped_late));
      out += line;
    }
    out += "\n";
  }
  if (checkpoints_completed > 0 || checkpoints_failed > 0 || restarts > 0 || !restored_from.empty()) {
    std::snprintf(line, sizeof(line),
                  "  checkpoints: %lld completed, %lld failed; longest %.1f ms, longest synchronous pause %.3f ms; "
                  "restarts: %d\n",
                  static_cast<long long>(checkpoints_completed), static_cast<long long>(checkpoints_failed),
                  std::chrono::duration<double, std::milli>(max_checkpoint_duration).count(),
                  std::chrono::duration<double, std::milli>(max_checkpoint_sync_pause).count(), restarts);
    out += line;
    if (!restored_from.empty()) out += "  restored from: " + restored_from + "\n";
    if (!latest_checkpoint.empty()) out += "  latest checkpoint: " + latest_checkpoint + "\n";
    if (!savepoint_path.empty()) out += "  stopped with savepoint: " + savepoint_path + "\n";
  }
  return out;
}

}  // namespace eddy
