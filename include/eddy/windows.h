// Windows and window assigners (Flink's windowing API): a window assigner puts each
// element of a keyed stream into zero or more windows; the window operator keeps each
// window's contents in keyed state (per key and window) and evaluates a window when its
// trigger fires (eddy/triggers.h), after an optional evictor (eddy/evictors.h).
//
//   TimeWindow {start, end}   event or processing time, end exclusive
//   GlobalWindow              the one window of GlobalWindows
//
// Built-in assigners (durations are any std::chrono duration, taken in milliseconds):
//   TumblingEventTimeWindows::of(size[, offset])         fixed, non-overlapping windows
//   TumblingProcessingTimeWindows::of(size[, offset])
//   SlidingEventTimeWindows::of(size, slide[, offset])    windows of `size` every `slide`
//   SlidingProcessingTimeWindows::of(size, slide[, offset])
//   EventTimeSessionWindows::with_gap(gap)               sessions closed by a gap;
//   EventTimeSessionWindows::with_dynamic_gap(fn)        fn(element) -> gap
//   ProcessingTimeSessionWindows::with_gap(gap) / ::with_dynamic_gap(fn)
//   GlobalWindows::create()                              one window per key, never fires
//                                                        unless given a trigger
// Window starts are aligned to the epoch plus the offset exactly as Flink's
// TimeWindow.getWindowStartWithOffset aligns them (also for negative timestamps).
//
// A custom assigner derives from WindowAssigner<T, W> (or MergingWindowAssigner<T, W>). A
// custom window type needs max_timestamp(), operator== and a Serializer (it is the
// namespace of the window's state).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/key.h"
#include "eddy/serializer.h"
#include "eddy/time.h"
#include "eddy/triggers.h"

namespace eddy {

// A window of time [start, end): the elements with start <= timestamp < end.
struct TimeWindow {
  Timestamp start = 0;
  Timestamp end = 0;

  // The largest timestamp in the window; results of the window carry it.
  constexpr Timestamp max_timestamp() const { return end - 1; }
  // Whether the windows overlap or touch (Flink's rule: touching session windows merge).
  constexpr bool intersects(const TimeWindow& other) const {
    return start <= other.end && end >= other.start;
  }
  // The smallest window covering both.
  constexpr TimeWindow cover(const TimeWindow& other) const {
    return TimeWindow{std::min(start, other.start), std::max(end, other.end)};
  }
  bool operator==(const TimeWindow&) const = default;
  auto operator<=>(const TimeWindow&) const = default;  // by start, then end
  auto key_fields() const { return std::tie(start, end); }

  // The start of the window of `window_size` that contains `timestamp`, windows being
  // aligned to `offset` from the epoch (Flink's getWindowStartWithOffset).
  static constexpr Timestamp window_start_with_offset(Timestamp timestamp, Timestamp offset,
                                                      Timestamp window_size) {
    const Timestamp remainder = (timestamp - offset) % window_size;
    return remainder < 0 ? timestamp - (remainder + window_size) : timestamp - remainder;
  }

  // Calls callback(merged, result) for every group of at least two of `windows` that
  // overlap or touch (transitively), with the window covering them (Flink's
  // TimeWindow.mergeWindows). Groups list their windows by start, without duplicates.
  static void merge_windows(
      const std::vector<TimeWindow>& windows,
      const std::function<void(const std::vector<TimeWindow>&, const TimeWindow&)>& callback);
};

inline std::string to_string(const TimeWindow& w) {
  return "TimeWindow{start=" + std::to_string(w.start) + ", end=" + std::to_string(w.end) + "}";
}
inline std::ostream& operator<<(std::ostream& os, const TimeWindow& w) {
  return os << to_string(w);
}

inline void TimeWindow::merge_windows(
    const std::vector<TimeWindow>& windows,
    const std::function<void(const std::vector<TimeWindow>&, const TimeWindow&)>& callback) {
  std::vector<TimeWindow> sorted = windows;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const TimeWindow& a, const TimeWindow& b) { return a.start < b.start; });
  std::vector<std::pair<TimeWindow, std::vector<TimeWindow>>> groups;
  for (const TimeWindow& candidate : sorted) {
    if (!groups.empty() && groups.back().first.intersects(candidate)) {
      auto& [cover, members] = groups.back();
      cover = cover.cover(candidate);
      if (std::find(members.begin(), members.end(), candidate) == members.end())
        members.push_back(candidate);
    } else {
      groups.push_back({candidate, {candidate}});
    }
  }
  for (const auto& [cover, members] : groups) {
    if (members.size() > 1) callback(members, cover);
  }
}

// The single window of GlobalWindows; it never ends.
struct GlobalWindow {
  static GlobalWindow get() { return {}; }
  constexpr Timestamp max_timestamp() const { return kMaxWatermark; }
  bool operator==(const GlobalWindow&) const = default;
  auto operator<=>(const GlobalWindow&) const = default;
  auto key_fields() const { return std::tuple<>(); }
};

inline std::string to_string(const GlobalWindow&) { return "GlobalWindow"; }
inline std::ostream& operator<<(std::ostream& os, const GlobalWindow& w) {
  return os << to_string(w);
}

// 16 bytes: start and end, fixed width (the namespace of every state of the window).
template <>
struct Serializer<TimeWindow> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const TimeWindow& window) {
    w.write_fixed(window.start);
    w.write_fixed(window.end);
  }
  static TimeWindow read(ByteReader& r) {
    TimeWindow window;
    window.start = r.read_fixed<int64_t>("window start");
    window.end = r.read_fixed<int64_t>("window end");
    return window;
  }
  static std::string signature() { return "time_window"; }
};

// One zero byte.
template <>
struct Serializer<GlobalWindow> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const GlobalWindow&) { w.write_fixed(uint8_t{0}); }
  static GlobalWindow read(ByteReader& r) {
    size_t at = r.position();
    if (r.read_fixed<uint8_t>("global window") != 0) r.fail("not a GlobalWindow", at);
    return {};
  }
  static std::string signature() { return "global_window"; }
};

// What an assigner may ask of the operator.
class WindowAssignerContext {
 public:
  virtual ~WindowAssignerContext() = default;
  virtual Timestamp current_processing_time() const = 0;
};

template <class T, class W>
class WindowAssigner {
 public:
  using element_type = T;
  using window_type = W;
  virtual ~WindowAssigner() = default;

  // Appends to `windows` the windows `element` (with event time `timestamp`, kNoTimestamp
  // when it has none) belongs to. (Flink returns a collection; appending to the operator's
  // vector spares an allocation per element.)
  virtual void assign_windows(const T& element, Timestamp timestamp, WindowAssignerContext& context,
                              std::vector<W>& windows) const = 0;
  // The trigger of windows that the user gives no trigger().
  virtual std::shared_ptr<const Trigger<T, W>> default_trigger() const = 0;
  // Event-time windows can be late (behind the watermark); processing-time ones cannot.
  virtual bool is_event_time() const = 0;
  virtual std::string to_string() const { return "WindowAssigner"; }
};

// Callback of MergingWindowAssigner::merge_windows: `merged` become `result`.
template <class W>
using MergeCallback = std::function<void(const std::vector<W>& merged, const W& result)>;

// An assigner whose windows merge (session windows): after an element's windows are
// assigned, the operator asks it which of the key's windows merge.
template <class T, class W>
class MergingWindowAssigner : public WindowAssigner<T, W> {
 public:
  virtual void merge_windows(const std::vector<W>& windows,
                             const MergeCallback<W>& callback) const = 0;
};

namespace internal {

[[noreturn]] inline void throw_no_timestamp(const char* assigner) {
  throw Error(
      std::string(assigner) +
      ": a record has no timestamp (kNoTimestamp). Event-time windows need event time: give the "
      "source a WatermarkStrategy or call assign_timestamps_and_watermarks(), or use "
      "processing-time windows");
}

inline std::string millis_string(int64_t ms) { return std::to_string(ms); }

template <class F, class T>
int64_t gap_millis(const F& extractor, const T& element) {
  auto gap = extractor(element);
  if constexpr (std::is_arithmetic_v<decltype(gap)>) {
    return static_cast<int64_t>(gap);
  } else {
    return to_millis(gap);
  }
}

}  // namespace internal

// Tumbling windows of `size` by event time: [start, start + size), start aligned to the
// epoch plus `offset`.
class TumblingEventTimeWindows {
 public:
  using window_type = TimeWindow;

  template <class R1, class P1, class R2 = int64_t, class P2 = std::milli>
  static TumblingEventTimeWindows of(
      std::chrono::duration<R1, P1> size,
      std::chrono::duration<R2, P2> offset = std::chrono::milliseconds(0)) {
    int64_t s = internal::to_millis(size);
    int64_t o = internal::to_millis(offset);
    if (s <= 0 || std::abs(o) >= s) {
      throw InvalidJobError("TumblingEventTimeWindows parameters must satisfy abs(offset) < size");
    }
    return TumblingEventTimeWindows(s, o);
  }

  template <class T>
  void assign_windows(const T&, Timestamp timestamp, WindowAssignerContext&,
                      std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp) internal::throw_no_timestamp("TumblingEventTimeWindows");
    Timestamp start = TimeWindow::window_start_with_offset(timestamp, offset_, size_);
    windows.push_back(TimeWindow{start, start + size_});
  }
  EventTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return true; }
  int64_t size() const { return size_; }
  int64_t offset() const { return offset_; }
  std::string to_string() const {
    return "TumblingEventTimeWindows(" + std::to_string(size_) + ")";
  }

 private:
  TumblingEventTimeWindows(int64_t size, int64_t offset) : size_(size), offset_(offset) {}
  int64_t size_;
  int64_t offset_;
};

// Tumbling windows of `size` by processing time (the operator's clock when the element
// arrives).
class TumblingProcessingTimeWindows {
 public:
  using window_type = TimeWindow;

  template <class R1, class P1, class R2 = int64_t, class P2 = std::milli>
  static TumblingProcessingTimeWindows of(
      std::chrono::duration<R1, P1> size,
      std::chrono::duration<R2, P2> offset = std::chrono::milliseconds(0)) {
    int64_t s = internal::to_millis(size);
    int64_t o = internal::to_millis(offset);
    if (s <= 0 || std::abs(o) >= s) {
      throw InvalidJobError(
          "TumblingProcessingTimeWindows parameters must satisfy abs(offset) < size");
    }
    return TumblingProcessingTimeWindows(s, o);
  }

  template <class T>
  void assign_windows(const T&, Timestamp, WindowAssignerContext& context,
                      std::vector<TimeWindow>& windows) const {
    Timestamp now = context.current_processing_time();
    Timestamp start = TimeWindow::window_start_with_offset(now, offset_, size_);
    windows.push_back(TimeWindow{start, start + size_});
  }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return false; }
  int64_t size() const { return size_; }
  int64_t offset() const { return offset_; }
  std::string to_string() const {
    return "TumblingProcessingTimeWindows(" + std::to_string(size_) + ")";
  }

 private:
  TumblingProcessingTimeWindows(int64_t size, int64_t offset) : size_(size), offset_(offset) {}
  int64_t size_;
  int64_t offset_;
};

namespace internal {

// Sliding windows containing `timestamp`, latest start first (Flink's order).
inline void sliding_windows(Timestamp timestamp, int64_t size, int64_t slide, int64_t offset,
                            std::vector<TimeWindow>& windows) {
  Timestamp last_start = TimeWindow::window_start_with_offset(timestamp, offset, slide);
  for (Timestamp start = last_start; start > timestamp - size; start -= slide) {
    windows.push_back(TimeWindow{start, start + size});
  }
}

}  // namespace internal

// Windows of `size` starting every `slide` by event time; an element belongs to
// size / slide of them (rounded up).
class SlidingEventTimeWindows {
 public:
  using window_type = TimeWindow;

  template <class R1, class P1, class R2, class P2, class R3 = int64_t, class P3 = std::milli>
  static SlidingEventTimeWindows of(
      std::chrono::duration<R1, P1> size, std::chrono::duration<R2, P2> slide,
      std::chrono::duration<R3, P3> offset = std::chrono::milliseconds(0)) {
    int64_t s = internal::to_millis(size);
    int64_t sl = internal::to_millis(slide);
    int64_t o = internal::to_millis(offset);
    if (sl <= 0 || std::abs(o) >= sl || s <= 0) {
      throw InvalidJobError(
          "SlidingEventTimeWindows parameters must satisfy abs(offset) < slide and size > 0");
    }
    return SlidingEventTimeWindows(s, sl, o);
  }

  template <class T>
  void assign_windows(const T&, Timestamp timestamp, WindowAssignerContext&,
                      std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp) internal::throw_no_timestamp("SlidingEventTimeWindows");
    internal::sliding_windows(timestamp, size_, slide_, offset_, windows);
  }
  EventTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return true; }
  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }
  std::string to_string() const {
    return "SlidingEventTimeWindows(" + std::to_string(size_) + ", " + std::to_string(slide_) + ")";
  }

 private:
  SlidingEventTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : size_(size), slide_(slide), offset_(offset) {}
  int64_t size_;
  int64_t slide_;
  int64_t offset_;
};

class SlidingProcessingTimeWindows {
 public:
  using window_type = TimeWindow;

  template <class R1, class P1, class R2, class P2, class R3 = int64_t, class P3 = std::milli>
  static SlidingProcessingTimeWindows of(
      std::chrono::duration<R1, P1> size, std::chrono::duration<R2, P2> slide,
      std::chrono::duration<R3, P3> offset = std::chrono::milliseconds(0)) {
    int64_t s = internal::to_millis(size);
    int64_t sl = internal::to_millis(slide);
    int64_t o = internal::to_millis(offset);
    if (sl <= 0 || std::abs(o) >= sl || s <= 0) {
      throw InvalidJobError(
          "SlidingProcessingTimeWindows parameters must satisfy abs(offset) < slide and size > 0");
    }
    return SlidingProcessingTimeWindows(s, sl, o);
  }

  template <class T>
  void assign_windows(const T&, Timestamp, WindowAssignerContext& context,
                      std::vector<TimeWindow>& windows) const {
    internal::sliding_windows(context.current_processing_time(), size_, slide_, offset_, windows);
  }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return false; }
  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }
  std::string to_string() const {
    return "SlidingProcessingTimeWindows(" + std::to_string(size_) + ", " + std::to_string(slide_) +
           ")";
  }

 private:
  SlidingProcessingTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : size_(size), slide_(slide), offset_(offset) {}
  int64_t size_;
  int64_t slide_;
  int64_t offset_;
};

// Session windows by event time with a gap from a function of the element (in ms, or a
// std::chrono duration), which must be above 0.
template <class GapFn>
class DynamicEventTimeSessionWindows {
 public:
  using window_type = TimeWindow;
  explicit DynamicEventTimeSessionWindows(GapFn gap) : gap_(std::move(gap)) {}

  template <class T>
  void assign_windows(const T& element, Timestamp timestamp, WindowAssignerContext&,
                      std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp) internal::throw_no_timestamp("DynamicEventTimeSessionWindows");
    int64_t gap = internal::gap_millis(gap_, element);
    if (gap <= 0) throw Error("Dynamic session time gap must satisfy 0 < gap");
    windows.push_back(TimeWindow{timestamp, timestamp + gap});
  }
  void merge_windows(const std::vector<TimeWindow>& windows,
                     const MergeCallback<TimeWindow>& callback) const {
    TimeWindow::merge_windows(windows, callback);
  }
  EventTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return true; }
  std::string to_string() const { return "DynamicEventTimeSessionWindows()"; }

 private:
  GapFn gap_;
};

// Session windows by event time: an element at t opens [t, t + gap); windows that overlap
// or touch merge, so a session ends after `gap` without elements.
class EventTimeSessionWindows {
 public:
  using window_type = TimeWindow;

  template <class Rep, class Period>
  static EventTimeSessionWindows with_gap(std::chrono::duration<Rep, Period> gap) {
    int64_t g = internal::to_millis(gap);
    if (g <= 0) throw InvalidJobError("EventTimeSessionWindows parameters must satisfy 0 < size");
    return EventTimeSessionWindows(g);
  }
  template <class GapFn>
  static DynamicEventTimeSessionWindows<GapFn> with_dynamic_gap(GapFn gap) {
    return DynamicEventTimeSessionWindows<GapFn>(std::move(gap));
  }

  template <class T>
  void assign_windows(const T&, Timestamp timestamp, WindowAssignerContext&,
                      std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp) internal::throw_no_timestamp("EventTimeSessionWindows");
    windows.push_back(TimeWindow{timestamp, timestamp + gap_});
  }
  void merge_windows(const std::vector<TimeWindow>& windows,
                     const MergeCallback<TimeWindow>& callback) const {
    TimeWindow::merge_windows(windows, callback);
  }
  EventTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return true; }
  int64_t gap() const { return gap_; }
  std::string to_string() const { return "EventTimeSessionWindows(" + std::to_string(gap_) + ")"; }

 private:
  explicit EventTimeSessionWindows(int64_t gap) : gap_(gap) {}
  int64_t gap_;
};

template <class GapFn>
class DynamicProcessingTimeSessionWindows {
 public:
  using window_type = TimeWindow;
  explicit DynamicProcessingTimeSessionWindows(GapFn gap) : gap_(std::move(gap)) {}

  template <class T>
  void assign_windows(const T& element, Timestamp, WindowAssignerContext& context,
                      std::vector<TimeWindow>& windows) const {
    Timestamp now = context.current_processing_time();
    int64_t gap = internal::gap_millis(gap_, element);
    if (gap <= 0) throw Error("Dynamic session time gap must satisfy 0 < gap");
    windows.push_back(TimeWindow{now, now + gap});
  }
  void merge_windows(const std::vector<TimeWindow>& windows,
                     const MergeCallback<TimeWindow>& callback) const {
    TimeWindow::merge_windows(windows, callback);
  }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return false; }
  std::string to_string() const { return "DynamicProcessingTimeSessionWindows()"; }

 private:
  GapFn gap_;
};

// Session windows by processing time.
class ProcessingTimeSessionWindows {
 public:
  using window_type = TimeWindow;

  template <class Rep, class Period>
  static ProcessingTimeSessionWindows with_gap(std::chrono::duration<Rep, Period> gap) {
    int64_t g = internal::to_millis(gap);
    if (g <= 0)
      throw InvalidJobError("ProcessingTimeSessionWindows parameters must satisfy 0 < size");
    return ProcessingTimeSessionWindows(g);
  }
  template <class GapFn>
  static DynamicProcessingTimeSessionWindows<GapFn> with_dynamic_gap(GapFn gap) {
    return DynamicProcessingTimeSessionWindows<GapFn>(std::move(gap));
  }

  template <class T>
  void assign_windows(const T&, Timestamp, WindowAssignerContext& context,
                      std::vector<TimeWindow>& windows) const {
    Timestamp now = context.current_processing_time();
    windows.push_back(TimeWindow{now, now + gap_});
  }
  void merge_windows(const std::vector<TimeWindow>& windows,
                     const MergeCallback<TimeWindow>& callback) const {
    TimeWindow::merge_windows(windows, callback);
  }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return false; }
  int64_t gap() const { return gap_; }
  std::string to_string() const {
    return "ProcessingTimeSessionWindows(" + std::to_string(gap_) + ")";
  }

 private:
  explicit ProcessingTimeSessionWindows(int64_t gap) : gap_(gap) {}
  int64_t gap_;
};

// Every element of a key in one GlobalWindow. Its default trigger never fires: give it a
// trigger (count_window() does).
class GlobalWindows {
 public:
  using window_type = GlobalWindow;
  static GlobalWindows create() { return {}; }

  template <class T>
  void assign_windows(const T&, Timestamp, WindowAssignerContext&,
                      std::vector<GlobalWindow>& windows) const {
    windows.push_back(GlobalWindow{});
  }
  NeverTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return false; }
  std::string to_string() const { return "GlobalWindows()"; }
};

namespace internal {

// A WindowAssigner<T, W> (or MergingWindowAssigner) made of an assigner object not tied to
// the element type (the built-in ones).
template <class T, class A, class Base>
class AssignerAdapterBase : public Base {
 public:
  using W = typename A::window_type;
  explicit AssignerAdapterBase(A impl) : impl_(std::move(impl)) {}
  void assign_windows(const T& element, Timestamp timestamp, WindowAssignerContext& context,
                      std::vector<W>& windows) const override {
    impl_.assign_windows(element, timestamp, context, windows);
  }
  std::shared_ptr<const Trigger<T, W>> default_trigger() const override {
    return make_trigger<T, W>(impl_.default_trigger());
  }
  bool is_event_time() const override { return impl_.is_event_time(); }
  std::string to_string() const override {
    if constexpr (requires { impl_.to_string(); }) {
      return impl_.to_string();
    } else {
      return "WindowAssigner";
    }
  }

 protected:
  A impl_;
};

template <class T, class A>
class AssignerAdapter final
    : public AssignerAdapterBase<T, A, WindowAssigner<T, typename A::window_type>> {
 public:
  using AssignerAdapterBase<T, A, WindowAssigner<T, typename A::window_type>>::AssignerAdapterBase;
};

template <class T, class A>
class MergingAssignerAdapter final
    : public AssignerAdapterBase<T, A, MergingWindowAssigner<T, typename A::window_type>> {
 public:
  using W = typename A::window_type;
  using AssignerAdapterBase<T, A, MergingWindowAssigner<T, W>>::AssignerAdapterBase;
  void merge_windows(const std::vector<W>& windows,
                     const MergeCallback<W>& callback) const override {
    this->impl_.merge_windows(windows, callback);
  }
};

template <class A>
concept MergingAssignerObject = requires(const A& a,
                                         const std::vector<typename A::window_type>& windows,
                                         const MergeCallback<typename A::window_type>& callback) {
  a.merge_windows(windows, callback);
};

template <class X>
struct IsSharedPtr : std::false_type {};
template <class X>
struct IsSharedPtr<std::shared_ptr<X>> : std::true_type {};

// A shared WindowAssigner<T, W> from an assigner object, a subclass of WindowAssigner<T, W>,
// or a shared_ptr to one.
template <class T, class A>
auto make_assigner(A assigner) {
  if constexpr (IsSharedPtr<A>::value) {
    using W = typename A::element_type::window_type;
    if (assigner == nullptr) throw InvalidJobError("window(): the window assigner is null");
    return std::shared_ptr<const WindowAssigner<T, W>>(std::move(assigner));
  } else {
    using W = typename A::window_type;
    if constexpr (std::is_base_of_v<WindowAssigner<T, W>, A>) {
      return std::shared_ptr<const WindowAssigner<T, W>>(
          std::make_shared<const A>(std::move(assigner)));
    } else if constexpr (MergingAssignerObject<A>) {
      return std::shared_ptr<const WindowAssigner<T, W>>(
          std::make_shared<const MergingAssignerAdapter<T, A>>(std::move(assigner)));
    } else {
      return std::shared_ptr<const WindowAssigner<T, W>>(
          std::make_shared<const AssignerAdapter<T, A>>(std::move(assigner)));
    }
  }
}

}  // namespace internal
}  // namespace eddy

template <>
struct std::hash<eddy::TimeWindow> {
  size_t operator()(const eddy::TimeWindow& w) const {
    return eddy::KeyHash<eddy::TimeWindow>{}(w);
  }
};
template <>
struct std::hash<eddy::GlobalWindow> {
  size_t operator()(const eddy::GlobalWindow&) const { return 0; }
};
