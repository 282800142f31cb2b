// Triggers decide when a window is evaluated (fired) and when its contents are dropped
// (purged), as Flink's Trigger does. A window operator asks its trigger on every element
// added to a window and on every timer the trigger registered for it; the trigger keeps
// whatever it needs in partitioned state (scoped to the current key and window) and
// cleans up its state and timers in clear().
//
// Built in (semantics exactly Flink's):
//   EventTimeTrigger                 fires when the watermark passes the window's end
//   ProcessingTimeTrigger            fires when processing time passes the window's end
//   CountTrigger::of(n)              fires every n elements
//   PurgingTrigger::of(trigger)      turns the nested trigger's FIRE into FIRE_AND_PURGE
//   ContinuousEventTimeTrigger::of(interval)       fires every interval of event time
//   ContinuousProcessingTimeTrigger::of(interval)  fires every interval of processing time
//   NeverTrigger                     never fires (GlobalWindows' default)
//
// A custom trigger derives from Trigger<T, W> (T the element type, W the window type).
// The built-in ones are not tied to an element or window type: their member functions are
// templates, and WindowedStream::trigger() adapts them (as it does any class with the
// members of Trigger<T, W>, templates or not).
//
// A trigger object is shared by the subtasks of its operator and by all keys and windows:
// its member functions are const; per-window state goes into partitioned state.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/keyed_state_store.h"
#include "eddy/state.h"
#include "eddy/time.h"

namespace eddy {

enum class TriggerResult {
  kContinue,      // do nothing
  kFire,          // evaluate the window, keep its contents
  kPurge,         // drop the window's contents without evaluating it
  kFireAndPurge,  // evaluate the window, then drop its contents
};

constexpr bool is_fire(TriggerResult result) {
  return result == TriggerResult::kFire || result == TriggerResult::kFireAndPurge;
}
constexpr bool is_purge(TriggerResult result) {
  return result == TriggerResult::kPurge || result == TriggerResult::kFireAndPurge;
}
inline const char* to_string(TriggerResult result) {
  switch (result) {
    case TriggerResult::kContinue:
      return "CONTINUE";
    case TriggerResult::kFire:
      return "FIRE";
    case TriggerResult::kPurge:
      return "PURGE";
    case TriggerResult::kFireAndPurge:
      return "FIRE_AND_PURGE";
  }
  return "?";
}

// What a trigger sees of the operator, for the current key and window.
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  virtual Timestamp current_processing_time() const = 0;
  // kNoTimestamp before the first watermark.
  virtual Timestamp current_watermark() const = 0;
  // Timers of the current key and window; the trigger's on_event_time / on_processing_time
  // is called when they fire. Registering the same time twice keeps one timer.
  virtual void register_event_time_timer(Timestamp time) = 0;
  virtual void register_processing_time_timer(Timestamp time) = 0;
  virtual void delete_event_time_timer(Timestamp time) = 0;
  virtual void delete_processing_time_timer(Timestamp time) = 0;

  // State of the current key and window (Flink's getPartitionedState).
  template <class S>
  ValueState<S>& get_partitioned_state(const ValueStateDescriptor<S>& descriptor) {
    return partitioned_state().get_state(descriptor);
  }
  template <class S>
  ReducingState<S>& get_partitioned_state(const ReducingStateDescriptor<S>& descriptor) {
    return partitioned_state().get_reducing_state(descriptor);
  }
  template <class S>
  ListState<S>& get_partitioned_state(const ListStateDescriptor<S>& descriptor) {
    return partitioned_state().get_list_state(descriptor);
  }
  template <class K, class V>
  MapState<K, V>& get_partitioned_state(const MapStateDescriptor<K, V>& descriptor) {
    return partitioned_state().get_map_state(descriptor);
  }
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT>& get_partitioned_state(
      const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
    return partitioned_state().get_aggregating_state(descriptor);
  }

 protected:
  virtual KeyedStateStore& partitioned_state() = 0;
};

// The context of Trigger::on_merge: the current window is the result of merging windows
// (session windows), whose partitioned state the trigger merges into it.
class OnMergeContext : public TriggerContext {
 public:
  // Folds the state of every merged window into the current window's (and clears it
  // there), with the descriptor's reduce function: the merged windows' values in order,
  // then the result into the current window's value.
  template <class S>
  void merge_partitioned_state(const ReducingStateDescriptor<S>& descriptor);
  // Appends the lists of the merged windows to the current window's list.
  template <class S>
  void merge_partitioned_state(const ListStateDescriptor<S>& descriptor);

 protected:
  virtual KeyedStateBackend& backend() = 0;
  // Serialized namespaces of the windows being merged, and of the window they merge into.
  virtual const std::vector<std::string>& merged_namespaces() const = 0;
  virtual const std::string& target_namespace() const = 0;
};

template <class T, class W>
class Trigger {
 public:
  using element_type = T;
  using window_type = W;
  virtual ~Trigger() = default;

  // An element was added to `window` (the element's event time is `timestamp`).
  virtual TriggerResult on_element(const T& element, Timestamp timestamp, const W& window,
                                   TriggerContext& context) const = 0;
  // An event-time / processing-time timer of this window fired at `time`.
  virtual TriggerResult on_event_time(Timestamp time, const W& window,
                                      TriggerContext& context) const = 0;
  virtual TriggerResult on_processing_time(Timestamp time, const W& window,
                                           TriggerContext& context) const = 0;
  // Whether the trigger supports merging windows (on_merge); merging window assigners
  // (session windows) need one that does.
  virtual bool can_merge() const { return false; }
  // Windows were merged into `window`: merge partitioned state, re-register timers.
  virtual void on_merge(const W& window, OnMergeContext& context) const {
    throw InvalidJobError("this trigger does not support merging windows");
  }
  // The window is being dropped: remove its partitioned state and timers.
  virtual void clear(const W& window, TriggerContext& context) const = 0;
  virtual std::string to_string() const { return "Trigger"; }
};

namespace internal {

inline int64_t to_millis(std::chrono::milliseconds ms) { return ms.count(); }
template <class Rep, class Period>
int64_t to_millis(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace internal

// Fires once the watermark passes the end of the window (at its max_timestamp()); fires
// at once for an element that arrives when the watermark is already past it (late but
// within the allowed lateness).
class EventTimeTrigger {
 public:
  static EventTimeTrigger create() { return {}; }

  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp, const W& window, TriggerContext& context) const {
    if (window.max_timestamp() <= context.current_watermark()) return TriggerResult::kFire;
    context.register_event_time_timer(window.max_timestamp());
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp time, const W& window, TriggerContext&) const {
    return time == window.max_timestamp() ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  bool can_merge() const { return true; }
  template <class W>
  void on_merge(const W& window, OnMergeContext& context) const {
    // As in on_element: with the watermark past the merged window, the next element fires
    // it; a timer as well would fire it twice.
    if (window.max_timestamp() > context.current_watermark()) {
      context.register_event_time_timer(window.max_timestamp());
    }
  }
  template <class W>
  void clear(const W& window, TriggerContext& context) const {
    context.delete_event_time_timer(window.max_timestamp());
  }
  std::string to_string() const { return "EventTimeTrigger()"; }
};

// Fires once processing time passes the end of the window.
class ProcessingTimeTrigger {
 public:
  static ProcessingTimeTrigger create() { return {}; }

  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp, const W& window, TriggerContext& context) const {
    context.register_processing_time_timer(window.max_timestamp());
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kFire;
  }
  bool can_merge() const { return true; }
  template <class W>
  void on_merge(const W& window, OnMergeContext& context) const {
    if (window.max_timestamp() > context.current_processing_time()) {
      context.register_processing_time_timer(window.max_timestamp());
    }
  }
  template <class W>
  void clear(const W& window, TriggerContext& context) const {
    context.delete_processing_time_timer(window.max_timestamp());
  }
  std::string to_string() const { return "ProcessingTimeTrigger()"; }
};

// Fires when the window has received `max_count` elements since it last fired; the count
// is partitioned state ("count"), summed when windows merge.
class CountTrigger {
 public:
  static CountTrigger of(int64_t max_count) {
    if (max_count <= 0) throw InvalidJobError("CountTrigger::of() needs a count above 0");
    return CountTrigger(max_count);
  }

  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp, const W&, TriggerContext& context) const {
    ReducingState<int64_t>& count = context.get_partitioned_state(descriptor_);
    count.add(1);
    if (count.get().value_or(0) >= max_count_) {
      count.clear();
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  bool can_merge() const { return true; }
  template <class W>
  void on_merge(const W&, OnMergeContext& context) const {
    context.merge_partitioned_state(descriptor_);
  }
  template <class W>
  void clear(const W&, TriggerContext& context) const {
    context.get_partitioned_state(descriptor_).clear();
  }
  int64_t max_count() const { return max_count_; }
  std::string to_string() const { return "CountTrigger(" + std::to_string(max_count_) + ")"; }

 private:
  explicit CountTrigger(int64_t max_count)
      : max_count_(max_count),
        descriptor_("count", [](const int64_t& a, const int64_t& b) { return a + b; }) {}
  int64_t max_count_;
  ReducingStateDescriptor<int64_t> descriptor_;
};

// Never fires; GlobalWindows' default (windows there fire only with a custom trigger).
class NeverTrigger {
 public:
  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  bool can_merge() const { return false; }
  template <class W>
  void clear(const W&, TriggerContext&) const {}
  std::string to_string() const { return "NeverTrigger()"; }
};

// A trigger that purges the window whenever the nested trigger fires it.
template <class Nested>
class PurgingTriggerOf {
 public:
  explicit PurgingTriggerOf(Nested nested) : nested_(std::move(nested)) {}

  template <class T, class W>
  TriggerResult on_element(const T& element, Timestamp timestamp, const W& window,
                           TriggerContext& context) const {
    return purge_on_fire(nested_.on_element(element, timestamp, window, context));
  }
  template <class W>
  TriggerResult on_event_time(Timestamp time, const W& window, TriggerContext& context) const {
    return purge_on_fire(nested_.on_event_time(time, window, context));
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp time, const W& window, TriggerContext& context) const {
    return purge_on_fire(nested_.on_processing_time(time, window, context));
  }
  bool can_merge() const { return nested_.can_merge(); }
  template <class W>
  void on_merge(const W& window, OnMergeContext& context) const {
    nested_.on_merge(window, context);
  }
  template <class W>
  void clear(const W& window, TriggerContext& context) const {
    nested_.clear(window, context);
  }
  const Nested& nested() const { return nested_; }
  std::string to_string() const { return "PurgingTrigger(" + nested_.to_string() + ")"; }

 private:
  static TriggerResult purge_on_fire(TriggerResult result) {
    return is_fire(result) ? TriggerResult::kFireAndPurge : result;
  }
  Nested nested_;
};

struct PurgingTrigger {
  template <class Nested>
  static PurgingTriggerOf<Nested> of(Nested nested) {
    return PurgingTriggerOf<Nested>(std::move(nested));
  }
};

// Fires every `interval` of event time (at multiples of it, counted from the epoch) while
// the window is open, and at the window's end. The next fire time is partitioned state
// ("fire-time"); merged windows keep the earliest.
class ContinuousEventTimeTrigger {
 public:
  template <class Rep, class Period>
  static ContinuousEventTimeTrigger of(std::chrono::duration<Rep, Period> interval) {
    int64_t ms = internal::to_millis(interval);
    if (ms <= 0)
      throw InvalidJobError("ContinuousEventTimeTrigger::of() needs an interval above 0 ms");
    return ContinuousEventTimeTrigger(ms);
  }

  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp timestamp, const W& window,
                           TriggerContext& context) const {
    if (window.max_timestamp() <= context.current_watermark()) return TriggerResult::kFire;
    context.register_event_time_timer(window.max_timestamp());
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    if (!fire_time.get())
      register_next(timestamp - (timestamp % interval_), window, context, fire_time);
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp time, const W& window, TriggerContext& context) const {
    if (time == window.max_timestamp()) return TriggerResult::kFire;
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    std::optional<int64_t> next = fire_time.get();
    if (next && *next == time) {
      fire_time.clear();
      register_next(time, window, context, fire_time);
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  bool can_merge() const { return true; }
  template <class W>
  void on_merge(const W&, OnMergeContext& context) const {
    context.merge_partitioned_state(descriptor_);
    if (auto next = context.get_partitioned_state(descriptor_).get())
      context.register_event_time_timer(*next);
  }
  template <class W>
  void clear(const W&, TriggerContext& context) const {
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    if (auto next = fire_time.get()) {
      context.delete_event_time_timer(*next);
      fire_time.clear();
    }
  }
  int64_t interval() const { return interval_; }
  std::string to_string() const {
    return "ContinuousEventTimeTrigger(" + std::to_string(interval_) + ")";
  }

 private:
  explicit ContinuousEventTimeTrigger(int64_t interval)
      : interval_(interval), descriptor_("fire-time", [](const int64_t& a, const int64_t& b) {
          return std::min(a, b);
        }) {}
  template <class W>
  void register_next(Timestamp time, const W& window, TriggerContext& context,
                     ReducingState<int64_t>& fire_time) const {
    Timestamp next = std::min(time + interval_, window.max_timestamp());
    fire_time.add(next);
    context.register_event_time_timer(next);
  }
  int64_t interval_;
  ReducingStateDescriptor<int64_t> descriptor_;
};

// Fires every `interval` of processing time (at multiples of it) while the window is open,
// and at its end.
class ContinuousProcessingTimeTrigger {
 public:
  template <class Rep, class Period>
  static ContinuousProcessingTimeTrigger of(std::chrono::duration<Rep, Period> interval) {
    int64_t ms = internal::to_millis(interval);
    if (ms <= 0) {
      throw InvalidJobError("ContinuousProcessingTimeTrigger::of() needs an interval above 0 ms");
    }
    return ContinuousProcessingTimeTrigger(ms);
  }

  template <class T, class W>
  TriggerResult on_element(const T&, Timestamp, const W& window, TriggerContext& context) const {
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    Timestamp now = context.current_processing_time();
    if (!fire_time.get()) register_next(now - (now % interval_), window, context, fire_time);
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_event_time(Timestamp, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <class W>
  TriggerResult on_processing_time(Timestamp time, const W& window, TriggerContext& context) const {
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    std::optional<int64_t> next = fire_time.get();
    if (next && *next == time) {
      fire_time.clear();
      register_next(time, window, context, fire_time);
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  bool can_merge() const { return true; }
  template <class W>
  void on_merge(const W&, OnMergeContext& context) const {
    context.merge_partitioned_state(descriptor_);
    if (auto next = context.get_partitioned_state(descriptor_).get()) {
      context.register_processing_time_timer(*next);
    }
  }
  template <class W>
  void clear(const W&, TriggerContext& context) const {
    ReducingState<int64_t>& fire_time = context.get_partitioned_state(descriptor_);
    if (auto next = fire_time.get()) {
      context.delete_processing_time_timer(*next);
      fire_time.clear();
    }
  }
  int64_t interval() const { return interval_; }
  std::string to_string() const {
    return "ContinuousProcessingTimeTrigger(" + std::to_string(interval_) + ")";
  }

 private:
  explicit ContinuousProcessingTimeTrigger(int64_t interval)
      : interval_(interval), descriptor_("fire-time", [](const int64_t& a, const int64_t& b) {
          return std::min(a, b);
        }) {}
  template <class W>
  void register_next(Timestamp time, const W& window, TriggerContext& context,
                     ReducingState<int64_t>& fire_time) const {
    Timestamp next = std::min(time + interval_, window.max_timestamp());
    fire_time.add(next);
    context.register_processing_time_timer(next);
  }
  int64_t interval_;
  ReducingStateDescriptor<int64_t> descriptor_;
};

template <class S>
void OnMergeContext::merge_partitioned_state(const ReducingStateDescriptor<S>& descriptor) {
  const std::vector<std::string>& sources = merged_namespaces();
  if (sources.empty()) return;
  KeyedStateBackend& states = backend();
  ReducingState<S>& state = states.get_reducing_state(descriptor);
  std::optional<S> merged;
  for (const std::string& ns : sources) {
    states.set_current_namespace(ns);
    std::optional<S> value = state.get();
    if (!value) continue;
    state.clear();
    merged = merged ? descriptor.reduce_function(*merged, *value) : std::move(value);
  }
  states.set_current_namespace(target_namespace());
  if (merged) state.add(std::move(*merged));
}

template <class S>
void OnMergeContext::merge_partitioned_state(const ListStateDescriptor<S>& descriptor) {
  const std::vector<std::string>& sources = merged_namespaces();
  if (sources.empty()) return;
  KeyedStateBackend& states = backend();
  ListState<S>& state = states.get_list_state(descriptor);
  std::vector<S> merged;
  for (const std::string& ns : sources) {
    states.set_current_namespace(ns);
    std::vector<S> values = state.get();
    if (values.empty()) continue;
    state.clear();
    for (S& value : values) merged.push_back(std::move(value));
  }
  states.set_current_namespace(target_namespace());
  if (!merged.empty()) state.add_all(std::move(merged));
}

namespace internal {

// A Trigger<T, W> that forwards to a trigger object not tied to T and W (the built-in
// ones): what WindowedStream::trigger() makes of those.
template <class T, class W, class G>
class TriggerAdapter final : public Trigger<T, W> {
 public:
  explicit TriggerAdapter(G impl) : impl_(std::move(impl)) {}
  TriggerResult on_element(const T& element, Timestamp timestamp, const W& window,
                           TriggerContext& context) const override {
    return impl_.on_element(element, timestamp, window, context);
  }
  TriggerResult on_event_time(Timestamp time, const W& window,
                              TriggerContext& context) const override {
    return impl_.on_event_time(time, window, context);
  }
  TriggerResult on_processing_time(Timestamp time, const W& window,
                                   TriggerContext& context) const override {
    return impl_.on_processing_time(time, window, context);
  }
  bool can_merge() const override {
    if constexpr (requires { impl_.can_merge(); }) {
      return impl_.can_merge();
    } else {
      return false;
    }
  }
  void on_merge(const W& window, OnMergeContext& context) const override {
    if constexpr (requires { impl_.on_merge(window, context); }) {
      impl_.on_merge(window, context);
    } else {
      Trigger<T, W>::on_merge(window, context);
    }
  }
  void clear(const W& window, TriggerContext& context) const override {
    impl_.clear(window, context);
  }
  std::string to_string() const override {
    if constexpr (requires { impl_.to_string(); }) {
      return impl_.to_string();
    } else {
      return "Trigger";
    }
  }

 private:
  G impl_;
};

// A shared Trigger<T, W> from a trigger object, a subclass of Trigger<T, W>, or a
// shared_ptr to one.
template <class T, class W, class X>
std::shared_ptr<const Trigger<T, W>> make_trigger(X trigger) {
  if constexpr (requires { std::shared_ptr<const Trigger<T, W>>(trigger); }) {
    if (trigger == nullptr) throw InvalidJobError("trigger(): the trigger is null");
    return std::shared_ptr<const Trigger<T, W>>(std::move(trigger));
  } else if constexpr (std::is_base_of_v<Trigger<T, W>, X>) {
    return std::make_shared<const X>(std::move(trigger));
  } else {
    return std::make_shared<const TriggerAdapter<T, W, X>>(std::move(trigger));
  }
}

}  // namespace internal
}  // namespace eddy
