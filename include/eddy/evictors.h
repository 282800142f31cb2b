// Evictors remove elements from a window when it fires, before and/or after the window
// function sees them (Flink's Evictor). A window with an evictor keeps all its elements
// (with their timestamps) in list state, so reduce() and aggregate() on it are computed at
// fire time over what is left, not incrementally.
//
// Built in (semantics exactly Flink's):
//   CountEvictor::of(n)                   keeps the last n elements
//   TimeEvictor::of(interval)             keeps the elements within `interval` of the
//                                         window's newest element timestamp
//   DeltaEvictor::of(threshold, delta)    drops the elements whose delta(element, last
//                                         element) is >= threshold
// Each evicts before the window function by default; pass `true` as the last argument to
// evict after it instead.
//
// A custom evictor derives from Evictor<T, W>, or is any class with its two member
// functions (templates allowed). Like triggers, evictors are shared by the subtasks of
// their operator: their member functions are const.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/serializer.h"
#include "eddy/time.h"
#include "eddy/triggers.h"

namespace eddy {

// An element of a window with its event time (kNoTimestamp when it has none).
template <class T>
struct TimestampedValue {
  T value;
  Timestamp timestamp = kNoTimestamp;

  bool has_timestamp() const { return timestamp != kNoTimestamp; }
  bool operator==(const TimestampedValue&) const = default;
};

template <Serializable T>
struct Serializer<TimestampedValue<T>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const TimestampedValue<T>& v) {
    Serializer<T>::write(w, v.value);
    w.write_signed_varint(v.timestamp);
  }
  static TimestampedValue<T> read(ByteReader& r) {
    T value = Serializer<T>::read(r);
    Timestamp timestamp = r.read_signed_varint();
    return TimestampedValue<T>{std::move(value), timestamp};
  }
  static std::string signature() { return "timestamped<" + Serializer<T>::signature() + ">"; }
};

class EvictorContext {
 public:
  virtual ~EvictorContext() = default;
  virtual Timestamp current_processing_time() const = 0;
  virtual Timestamp current_watermark() const = 0;
};

template <class T, class W>
class Evictor {
 public:
  using element_type = T;
  using window_type = W;
  virtual ~Evictor() = default;
  // `elements` are the window's, in the order they were added; erase the evicted ones.
  virtual void evict_before(std::vector<TimestampedValue<T>>& elements, const W& window,
                            EvictorContext& context) const = 0;
  virtual void evict_after(std::vector<TimestampedValue<T>>& elements, const W& window,
                           EvictorContext& context) const = 0;
};

// Keeps at most `max_count` elements: evicts the oldest ones (those added first).
class CountEvictor {
 public:
  static CountEvictor of(int64_t max_count, bool do_evict_after = false) {
    if (max_count < 0) throw InvalidJobError("CountEvictor::of() needs a count of 0 or more");
    return CountEvictor(max_count, do_evict_after);
  }
  template <class T, class W>
  void evict_before(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (!after_) evict(elements);
  }
  template <class T, class W>
  void evict_after(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (after_) evict(elements);
  }
  int64_t max_count() const { return max_count_; }

 private:
  CountEvictor(int64_t max_count, bool after) : max_count_(max_count), after_(after) {}
  template <class E>
  void evict(std::vector<E>& elements) const {
    auto size = static_cast<int64_t>(elements.size());
    if (size <= max_count_) return;
    elements.erase(elements.begin(),
                   elements.begin() + static_cast<std::ptrdiff_t>(size - max_count_));
  }
  int64_t max_count_;
  bool after_;
};

// Keeps the elements whose timestamp is within `window_size` of the newest element's
// (evicts those at or before newest - window_size). Does nothing when the elements have
// no timestamps.
class TimeEvictor {
 public:
  template <class Rep, class Period>
  static TimeEvictor of(std::chrono::duration<Rep, Period> window_size,
                        bool do_evict_after = false) {
    return TimeEvictor(internal::to_millis(window_size), do_evict_after);
  }
  template <class T, class W>
  void evict_before(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (!after_) evict(elements);
  }
  template <class T, class W>
  void evict_after(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (after_) evict(elements);
  }
  int64_t window_size() const { return window_size_; }

 private:
  TimeEvictor(int64_t window_size, bool after) : window_size_(window_size), after_(after) {}
  template <class T>
  void evict(std::vector<TimestampedValue<T>>& elements) const {
    if (elements.empty() || !elements.front().has_timestamp()) return;
    Timestamp newest = kNoTimestamp;
    for (const auto& element : elements) newest = std::max(newest, element.timestamp);
    Timestamp cutoff = newest - window_size_;
    std::erase_if(elements, [cutoff](const auto& element) { return element.timestamp <= cutoff; });
  }
  int64_t window_size_;
  bool after_;
};

// Evicts the elements whose delta(element, last element) is at or above `threshold`;
// delta takes two values of the window's type and returns a number.
template <class DeltaFn>
class DeltaEvictorOf {
 public:
  DeltaEvictorOf(double threshold, DeltaFn delta, bool after)
      : threshold_(threshold), delta_(std::move(delta)), after_(after) {}
  template <class T, class W>
  void evict_before(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (!after_) evict(elements);
  }
  template <class T, class W>
  void evict_after(std::vector<TimestampedValue<T>>& elements, const W&, EvictorContext&) const {
    if (after_) evict(elements);
  }
  double threshold() const { return threshold_; }

 private:
  template <class T>
  void evict(std::vector<TimestampedValue<T>>& elements) const {
    if (elements.empty()) return;
    const T last = elements.back().value;
    std::erase_if(elements, [&](const auto& element) {
      return static_cast<double>(delta_(element.value, last)) >= threshold_;
    });
  }
  double threshold_;
  DeltaFn delta_;
  bool after_;
};

struct DeltaEvictor {
  template <class DeltaFn>
  static DeltaEvictorOf<DeltaFn> of(double threshold, DeltaFn delta, bool do_evict_after = false) {
    return DeltaEvictorOf<DeltaFn>(threshold, std::move(delta), do_evict_after);
  }
};

namespace internal {

template <class T, class W, class G>
class EvictorAdapter final : public Evictor<T, W> {
 public:
  explicit EvictorAdapter(G impl) : impl_(std::move(impl)) {}
  void evict_before(std::vector<TimestampedValue<T>>& elements, const W& window,
                    EvictorContext& context) const override {
    impl_.evict_before(elements, window, context);
  }
  void evict_after(std::vector<TimestampedValue<T>>& elements, const W& window,
                   EvictorContext& context) const override {
    impl_.evict_after(elements, window, context);
  }

 private:
  G impl_;
};

// A shared Evictor<T, W> from an evictor object, a subclass of Evictor<T, W>, or a
// shared_ptr to one.
template <class T, class W, class X>
std::shared_ptr<const Evictor<T, W>> make_evictor(X evictor) {
  if constexpr (requires { std::shared_ptr<const Evictor<T, W>>(evictor); }) {
    if (evictor == nullptr) throw InvalidJobError("evictor(): the evictor is null");
    return std::shared_ptr<const Evictor<T, W>>(std::move(evictor));
  } else if constexpr (std::is_base_of_v<Evictor<T, W>, X>) {
    return std::make_shared<const X>(std::move(evictor));
  } else {
    return std::make_shared<const EvictorAdapter<T, W, X>>(std::move(evictor));
  }
}

}  // namespace internal
}  // namespace eddy
