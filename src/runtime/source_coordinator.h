// Runs a source's SplitEnumerator for the job and carries its split assignments to the
// reader subtasks. Readers call request_split() from their task threads; the enumerator
// is only ever entered under the coordinator's lock, so it needs none of its own.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "eddy/source.h"
#include "runtime/task_notifier.h"

namespace eddy::runtime {

// Splits on their way to one reader subtask.
class SplitInbox {
 public:
  explicit SplitInbox(TaskNotifier& notifier) : notifier_(notifier) {}
  void add(std::unique_ptr<SourceSplit> split);
  void signal_no_more_splits();
  // Moves what arrived into `splits`; `no_more_splits` becomes true once signalled.
  void drain(SplitList& splits, bool& no_more_splits);

 private:
  TaskNotifier& notifier_;
  std::mutex mutex_;
  SplitList splits_;
  bool no_more_splits_ = false;
  bool no_more_delivered_ = false;
};

class SourceCoordinator final : public SplitEnumeratorContext {
 public:
  SourceCoordinator(const SourceBase& source, std::vector<SplitInbox*> inboxes);
  void start();
  void request_split(int subtask);

  int parallelism() const override { return static_cast<int>(inboxes_.size()); }
  void assign_split(int subtask, std::unique_ptr<SourceSplit> split) override;
  void signal_no_more_splits(int subtask) override;

 private:
  const SourceBase& source_;
  std::vector<SplitInbox*> inboxes_;
  std::mutex mutex_;
  std::unique_ptr<SplitEnumerator> enumerator_;
};

}  // namespace eddy::runtime
