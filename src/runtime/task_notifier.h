// A task's single wake-up point: input arriving, space freed in an output channel, a
// split assigned, cancellation. Signals are sticky, so one sent between a task's check
// and its wait() is not lost.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace eddy::runtime {

class TaskNotifier {
 public:
  void notify() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      signaled_ = true;
    }
    cv_.notify_one();
  }

  // Returns when notified (possibly before this call, since the last wait returned).
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return signaled_; });
    signaled_ = false;
  }

  // As wait(), but gives up at `deadline`.
  void wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return signaled_; });
    signaled_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool signaled_ = false;
};

}  // namespace eddy::runtime
