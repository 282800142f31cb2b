// Processing time comes from a Clock that the environment owns, so tests can drive it.
#pragma once

#include <atomic>

#include "eddy/time.h"

namespace eddy {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current processing time in milliseconds since the epoch. Thread-safe.
  virtual Timestamp now_ms() const = 0;
};

// The wall clock (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  Timestamp now_ms() const override;
};

// A clock that moves only when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start_ms = 0) : now_(start_ms) {}
  Timestamp now_ms() const override { return now_.load(std::memory_order_acquire); }
  void set(Timestamp ms) { now_.store(ms, std::memory_order_release); }
  void advance(Timestamp delta_ms) { now_.fetch_add(delta_ms, std::memory_order_acq_rel); }

 private:
  std::atomic<Timestamp> now_;
};

}  // namespace eddy
