#include "runtime/channel.h"

#include "eddy/error.h"

namespace eddy::runtime {

bool Channel::try_push(internal::ChannelMessage& message) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= capacity_) return false;
    was_empty = queue_.empty();
    queue_.push_back(std::move(message));
    if (queue_.size() > peak_size_.load(std::memory_order_relaxed)) {
      peak_size_.store(queue_.size(), std::memory_order_relaxed);
    }
  }
  if (was_empty) consumer_.notify();
  return true;
}

bool Channel::try_pop(internal::ChannelMessage& out) {
  bool was_full;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) return false;
    was_full = queue_.size() >= capacity_;
    out = std::move(queue_.front());
    queue_.pop_front();
  }
  if (was_full) producer_.notify();
  return true;
}

void BlockingChannelWriter::write(internal::ChannelMessage&& message) {
  bool waited = false;
  while (!channel_.try_push(message)) {
    if (cancelled_.load(std::memory_order_acquire)) throw TaskCancelled();
    producer_.wait();
    waited = true;
  }
  // The task has one notifier for everything (input arrived, space freed, splits, timers):
  // a wake-up meant for its input may have been spent here. Signal again, so the task's
  // next wait returns at once and it looks at its inputs before sleeping.
  if (waited) producer_.notify();
}

}  // namespace eddy::runtime
