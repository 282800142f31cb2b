// Runs a source's SplitEnumerator for the job and carries its split assignments to the
// reader subtasks. Readers call request_split() from their task threads; the enumerator
// is only ever entered under the coordinator's lock, so it needs none of its own.
//
// Checkpoints: trigger_checkpoint() takes the enumerator's part of the checkpoint (the
// splits it has not handed out) and posts the trigger to every reader in one step under
// the lock, so every split is in exactly one of the two parts.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "eddy/source.h"
#include "runtime/task_inbox.h"

namespace eddy::runtime {

class SourceCoordinator final : public SplitEnumeratorContext {
 public:
  // `restored_splits`: the serialized unassigned splits of the checkpoint restored from
  // (none: a fresh start). `name` is the source operator's, for messages.
  SourceCoordinator(const SourceBase& source, std::string name, std::vector<TaskInbox*> inboxes,
                    std::optional<std::vector<std::string>> restored_splits = std::nullopt);
  void start();
  void request_split(int subtask);
  // Returns the serialized unassigned splits after posting the trigger to every reader.
  // Throws Error (naming the source) when the source cannot checkpoint its splits.
  std::vector<std::string> trigger_checkpoint(const internal::CheckpointBarrier& barrier);

  int parallelism() const override { return static_cast<int>(inboxes_.size()); }
  void assign_split(int subtask, std::unique_ptr<SourceSplit> split) override;
  void signal_no_more_splits(int subtask) override;

 private:
  const SourceBase& source_;
  std::string name_;
  std::vector<TaskInbox*> inboxes_;
  std::optional<std::vector<std::string>> restored_splits_;
  std::mutex mutex_;
  std::unique_ptr<SplitEnumerator> enumerator_;
};

}  // namespace eddy::runtime
