// Not API: points where tests inject failures into checkpointing and recovery. Each hook
// is empty unless a test sets it; one that throws fails what it is called from, exactly
// as a real failure there would. Process-wide; set before a job runs, clear after.
#pragma once

#include <cstdint>
#include <functional>

namespace eddy::runtime {

struct TaskId;

struct FaultInjection {
  // A task's asynchronous checkpoint part, before it writes its state files (a failure
  // here declines the checkpoint, as a failed upload does).
  std::function<void(int64_t checkpoint_id, int vertex, int subtask)> before_upload;
  // The coordinator, after the checkpoint's metadata is durable and before the tasks are
  // told it completed (a failure here fails the job over: "crash before commit").
  std::function<void(int64_t checkpoint_id)> after_complete;
  // Before a run restores from checkpoint `checkpoint_id` (a failure fails the restore).
  std::function<void(int64_t checkpoint_id)> before_restore;

  void clear() { *this = FaultInjection(); }
};

FaultInjection& fault_injection();

}  // namespace eddy::runtime
