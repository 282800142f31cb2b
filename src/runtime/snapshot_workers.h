// Threads that run the asynchronous part of checkpoints (writing state files) while the
// tasks go on processing.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eddy::runtime {

class SnapshotWorkers {
 public:
  explicit SnapshotWorkers(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  // Drops the jobs not started yet and waits for the running ones.
  ~SnapshotWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }
  SnapshotWorkers(const SnapshotWorkers&) = delete;
  SnapshotWorkers& operator=(const SnapshotWorkers&) = delete;

  // `job` must not throw.
  void submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace eddy::runtime
