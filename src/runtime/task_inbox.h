// Events for one task from outside its channels, in the order they were posted: splits
// from its source's enumerator, checkpoint triggers (source tasks), and notifications
// that a checkpoint completed or was aborted. The order matters: a split assigned after
// the enumerator's part of checkpoint n was taken arrives after the trigger of n, so it
// is in the reader's part of checkpoint n+1 and not in both.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "eddy/source.h"
#include "eddy/internal/channel_message.h"
#include "runtime/task_notifier.h"

namespace eddy::runtime {

struct TaskEvent {
  enum class Kind { kSplit, kNoMoreSplits, kTriggerCheckpoint, kCheckpointComplete, kCheckpointAborted };
  Kind kind = Kind::kSplit;
  std::unique_ptr<SourceSplit> split;  // kSplit
  internal::CheckpointBarrier barrier; // kTriggerCheckpoint
  int64_t checkpoint_id = 0;           // kCheckpointComplete, kCheckpointAborted
  // kCheckpointComplete / kCheckpointAborted: the job's final checkpoint (all tasks had
  // finished): a finished task may exit after it.
  bool final = false;
};

class TaskInbox {
 public:
  explicit TaskInbox(TaskNotifier& notifier) : notifier_(notifier) {}
  void post(TaskEvent event) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(std::move(event));
    }
    notifier_.notify();
  }
  void add_split(std::unique_ptr<SourceSplit> split) {
    TaskEvent event;
    event.kind = TaskEvent::Kind::kSplit;
    event.split = std::move(split);
    post(std::move(event));
  }
  void signal_no_more_splits() {
    TaskEvent event;
    event.kind = TaskEvent::Kind::kNoMoreSplits;
    post(std::move(event));
  }
  // Moves every posted event, oldest first, to the end of `out`.
  void drain(std::deque<TaskEvent>& out) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (TaskEvent& event : events_) out.push_back(std::move(event));
    events_.clear();
  }

 private:
  TaskNotifier& notifier_;
  std::mutex mutex_;
  std::deque<TaskEvent> events_;
};

}  // namespace eddy::runtime
