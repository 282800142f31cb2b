// A bounded single-producer single-consumer queue of messages between two subtasks.
// Its capacity, in messages (batches), is the producer's credit: a full channel makes
// the producer wait, which is how backpressure travels upstream.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>

#include "eddy/internal/channel_message.h"
#include "runtime/task_notifier.h"

namespace eddy::runtime {

class Channel {
 public:
  Channel(size_t capacity, TaskNotifier& consumer, TaskNotifier& producer)
      : capacity_(capacity < 1 ? 1 : capacity), consumer_(consumer), producer_(producer) {}

  // Moves `message` in and returns true, or returns false (leaving it) when full.
  bool try_push(internal::ChannelMessage& message);
  // Moves the oldest message into `out` and returns true, or returns false when empty.
  bool try_pop(internal::ChannelMessage& out);

  size_t capacity() const { return capacity_; }
  size_t peak_size() const { return peak_size_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  TaskNotifier& consumer_;
  TaskNotifier& producer_;
  std::mutex mutex_;
  std::deque<internal::ChannelMessage> queue_;
  std::atomic<size_t> peak_size_{0};
};

// The producer's end: blocks while the channel is full, waking on the producer task's
// notifier, and throws TaskCancelled when the job is cancelled meanwhile.
class BlockingChannelWriter final : public internal::ChannelWriter {
 public:
  BlockingChannelWriter(Channel& channel, TaskNotifier& producer, const std::atomic<bool>& cancelled)
      : channel_(channel), producer_(producer), cancelled_(cancelled) {}
  void write(internal::ChannelMessage&& message) override;

 private:
  Channel& channel_;
  TaskNotifier& producer_;
  const std::atomic<bool>& cancelled_;
};

}  // namespace eddy::runtime
