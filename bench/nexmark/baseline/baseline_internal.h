// What the baselines share: the event loop, the watermark, and the result sink that
// counts rows and folds them into a checksum. Private to bench/nexmark/baseline/.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>

#include "baseline.h"
#include "eddy/nexmark.h"
#include "eddy/time.h"

namespace eddy::nexmark::baseline::internal {

// Keeps the compiler from dropping `value` (as bench_common.h's do_not_optimize).
template <class T>
inline void keep(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Receives the result rows: counts them and folds their fields into a checksum. Strings
// count by their size and first byte: the row exists, which is what a discarding sink sees.
class ResultSink {
 public:
  template <class... Fields>
  void emit(const Fields&... fields) {
    ++results_;
    (fold(fields), ...);
  }
  int64_t results() const { return results_; }
  uint64_t checksum() const { return checksum_; }

 private:
  void fold_word(uint64_t word) { checksum_ = (checksum_ ^ word) * 0x100000001b3ULL; }
  void fold(const std::string& s) {
    keep(s.data());
    fold_word(s.size() + (s.empty() ? 0 : static_cast<unsigned char>(s[0])));
  }
  template <class T>
  requires std::is_arithmetic_v<T>
  void fold(T value) {
    if constexpr (std::is_floating_point_v<T>) {
      fold_word(static_cast<uint64_t>(static_cast<int64_t>(value)));
    } else {
      fold_word(static_cast<uint64_t>(value));
    }
  }

  int64_t results_ = 0;
  uint64_t checksum_ = 0xcbf29ce484222325ULL;
};

// The bounded source's watermark: the highest timestamp so far minus the delay; after the
// last event, kMaxWatermark.
class Watermark {
 public:
  explicit Watermark(Timestamp delay) : delay_(delay) {}
  // Takes an event's timestamp; returns true when the watermark advanced.
  bool observe(Timestamp timestamp) {
    Timestamp candidate = timestamp - delay_;
    if (candidate <= current_) return false;
    current_ = candidate;
    return true;
  }
  void finish() { current_ = kMaxWatermark; }
  Timestamp current() const { return current_; }

 private:
  Timestamp delay_;
  Timestamp current_ = kNoTimestamp;
};

// Calls on_event(Event&) for event 0 .. config.events - 1, publishing progress every
// kProgressEvery events. Returns the number of events.
inline constexpr int64_t kProgressEvery = 1 << 14;

template <class OnEvent>
int64_t for_each_event(const GeneratorConfig& config, Progress* progress, OnEvent&& on_event) {
  Generator generator(config);
  const int64_t events = config.events;
  for (int64_t n = 0; n < events; ++n) {
    if (progress != nullptr && n % kProgressEvery == 0) {
      progress->store(n, std::memory_order_relaxed);
    }
    Event event = generator.event(n);
    on_event(event);
  }
  if (progress != nullptr) progress->store(events, std::memory_order_relaxed);
  return events;
}

// Result bookkeeping common to every baseline.
inline BaselineResult finish(int64_t events, const ResultSink& sink, int64_t final_rows) {
  BaselineResult result;
  result.events = events;
  result.results = sink.results();
  result.final_rows = final_rows;
  result.checksum = sink.checksum();
  return result;
}
inline BaselineResult finish(int64_t events, const ResultSink& sink) {
  return finish(events, sink, sink.results());
}

// Flink's window start for `timestamp` (windows aligned to the epoch, offset 0).
inline Timestamp window_start(Timestamp timestamp, int64_t size) {
  Timestamp rest = timestamp % size;
  return timestamp - (rest < 0 ? rest + size : rest);
}

}  // namespace eddy::nexmark::baseline::internal
