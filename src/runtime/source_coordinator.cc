#include "runtime/source_coordinator.h"

#include <stdexcept>
#include <string>

#include "eddy/error.h"

namespace eddy::runtime {

SourceCoordinator::SourceCoordinator(const SourceBase& source, std::string name, std::vector<TaskInbox*> inboxes,
                                     std::optional<std::vector<std::string>> restored_splits)
    : source_(source), name_(std::move(name)), inboxes_(std::move(inboxes)), restored_splits_(std::move(restored_splits)) {}

void SourceCoordinator::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (restored_splits_) {
    SplitList unassigned;
    try {
      for (const std::string& bytes : *restored_splits_) unassigned.push_back(source_.deserialize_split(bytes));
    } catch (const std::exception& e) {
      throw Error("source '" + name_ + "': cannot restore its unassigned splits: " + e.what());
    }
    enumerator_ = source_.restore_enumerator(*this, std::move(unassigned));
    restored_splits_.reset();
  } else {
    enumerator_ = source_.create_enumerator(*this);
  }
  enumerator_->start();
  for (int i = 0; i < parallelism(); ++i) enumerator_->add_reader(i);
}

void SourceCoordinator::request_split(int subtask) {
  std::lock_guard<std::mutex> lock(mutex_);
  enumerator_->handle_split_request(subtask);
}

std::vector<std::string> SourceCoordinator::trigger_checkpoint(const internal::CheckpointBarrier& barrier) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> unassigned;
  try {
    for (const auto& split : enumerator_->snapshot_state()) unassigned.push_back(source_.serialize_split(*split));
  } catch (const std::exception& e) {
    throw Error("source '" + name_ + "' cannot be checkpointed: " + e.what());
  }
  for (TaskInbox* inbox : inboxes_) {
    TaskEvent event;
    event.kind = TaskEvent::Kind::kTriggerCheckpoint;
    event.barrier = barrier;
    inbox->post(std::move(event));
  }
  return unassigned;
}

void SourceCoordinator::assign_split(int subtask, std::unique_ptr<SourceSplit> split) {
  if (subtask < 0 || subtask >= parallelism()) {
    throw std::out_of_range("split enumerator assigned split to subtask " + std::to_string(subtask) +
                            " of " + std::to_string(parallelism()));
  }
  inboxes_[static_cast<size_t>(subtask)]->add_split(std::move(split));
}

void SourceCoordinator::signal_no_more_splits(int subtask) {
  inboxes_.at(static_cast<size_t>(subtask))->signal_no_more_splits();
}

}  // namespace eddy::runtime
