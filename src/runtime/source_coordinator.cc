#include "runtime/source_coordinator.h"

#include <stdexcept>
#include <string>

namespace eddy::runtime {

void SplitInbox::add(std::unique_ptr<SourceSplit> split) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    splits_.push_back(std::move(split));
  }
  notifier_.notify();
}

void SplitInbox::signal_no_more_splits() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    no_more_splits_ = true;
  }
  notifier_.notify();
}

void SplitInbox::drain(SplitList& splits, bool& no_more_splits) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& split : splits_) splits.push_back(std::move(split));
  splits_.clear();
  // Report the end only once the splits before it have been taken.
  no_more_splits = no_more_splits_ && !no_more_delivered_;
  if (no_more_splits) no_more_delivered_ = true;
}

SourceCoordinator::SourceCoordinator(const SourceBase& source, std::vector<SplitInbox*> inboxes)
    : source_(source), inboxes_(std::move(inboxes)) {}

void SourceCoordinator::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  enumerator_ = source_.create_enumerator(*this);
  enumerator_->start();
  for (int i = 0; i < parallelism(); ++i) enumerator_->add_reader(i);
}

void SourceCoordinator::request_split(int subtask) {
  std::lock_guard<std::mutex> lock(mutex_);
  enumerator_->handle_split_request(subtask);
}

void SourceCoordinator::assign_split(int subtask, std::unique_ptr<SourceSplit> split) {
  if (subtask < 0 || subtask >= parallelism()) {
    throw std::out_of_range("split enumerator assigned split to subtask " + std::to_string(subtask) +
                            " of " + std::to_string(parallelism()));
  }
  inboxes_[static_cast<size_t>(subtask)]->add(std::move(split));
}

void SourceCoordinator::signal_no_more_splits(int subtask) {
  inboxes_.at(static_cast<size_t>(subtask))->signal_no_more_splits();
}

}  // namespace eddy::runtime
