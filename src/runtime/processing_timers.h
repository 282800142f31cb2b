// The processing-time callbacks of one task: a queue ordered by time that the task's
// mailbox loop runs once the job's clock reaches them. Each operator sees it through an
// OperatorTimerService, which attributes a failing callback to that operator.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "eddy/clock.h"
#include "eddy/operator.h"

namespace eddy::runtime {

class ProcessingTimerQueue {
 public:
  explicit ProcessingTimerQueue(const Clock& clock) : clock_(clock) {}

  const Clock& clock() const { return clock_; }
  void add(Timestamp time, std::function<void(Timestamp)> callback) {
    heap_.push(Entry{time, next_sequence_++, std::move(callback)});
  }
  bool empty() const { return heap_.empty(); }

  // Runs the callbacks that are due (also those that become due while running them).
  void run_due() {
    if (heap_.empty()) return;
    Timestamp now = clock_.now_ms();
    while (!heap_.empty() && heap_.top().time <= now) {
      Entry entry = heap_.top();
      heap_.pop();
      entry.callback(now);
    }
  }

  // How long the task may sleep before the next callback is due; none when the queue is
  // empty. Capped, so that a clock that does not follow the wall clock (a test's
  // ManualClock) is looked at again soon.
  std::optional<std::chrono::milliseconds> time_to_next() const {
    if (heap_.empty()) return std::nullopt;
    Timestamp delay = heap_.top().time - clock_.now_ms();
    return std::chrono::milliseconds(std::clamp<Timestamp>(delay, 0, 50));
  }

 private:
  struct Entry {
    Timestamp time;
    uint64_t sequence;  // equal times run in registration order
    std::function<void(Timestamp)> callback;
    bool operator>(const Entry& other) const {
      return time != other.time ? time > other.time : sequence > other.sequence;
    }
  };
  const Clock& clock_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  uint64_t next_sequence_ = 0;
};

}  // namespace eddy::runtime
