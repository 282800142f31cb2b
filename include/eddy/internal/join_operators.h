// Not API: the operators behind eddy/joins.h.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/functions.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/timer_service.h"
#include "eddy/join_functions.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "eddy/window_functions.h"

namespace eddy::internal {

// A join bound in milliseconds: a std::chrono duration, or a number of milliseconds.
template <class D>
Timestamp bound_millis(const D& bound) {
  if constexpr (std::is_arithmetic_v<D>) {
    return static_cast<Timestamp>(bound);
  } else {
    return std::chrono::duration_cast<std::chrono::milliseconds>(bound).count();
  }
}

// Interval join bounds beyond this are rejected, so negating them cannot overflow.
inline constexpr Timestamp kMaxJoinBound = std::numeric_limits<Timestamp>::max() / 2;

// time + delta, held within the range of timestamps (bounds at the extremes must not wrap).
inline Timestamp offset_time(Timestamp time, Timestamp delta) {
  Timestamp sum;
  if (__builtin_add_overflow(time, delta, &sum)) {
    return delta > 0 ? std::numeric_limits<Timestamp>::max()
                     : std::numeric_limits<Timestamp>::min() + 1;
  }
  return sum;
}

// The output type of a join lambda: named (Out), or the collector's, which is the last
// parameter.
template <class Out, class F>
struct JoinLambdaOutput {
  using type = Out;
};
template <class F>
struct JoinLambdaOutput<void, F> {
  using type = typename CollectorValue<
      ArgType<F, std::tuple_size_v<typename CallableTraits<F>::args> - 1>>::type;
};

// A ProcessJoinFunction made of a lambda (const A&, const B&, Collector<R>&), with or
// without a Context& before the collector.
template <class A, class B, class R, class F>
class LambdaProcessJoinFunction final : public ProcessJoinFunction<A, B, R> {
 public:
  using Context = typename ProcessJoinFunction<A, B, R>::Context;
  static_assert(std::is_invocable_v<F&, const A&, const B&, Collector<R>&> ||
                    std::is_invocable_v<F&, const A&, const B&, Context&, Collector<R>&>,
                "a join lambda takes (const A&, const B&, Collector<R>&) or "
                "(const A&, const B&, ProcessJoinFunction<A, B, R>::Context&, Collector<R>&)");

  explicit LambdaProcessJoinFunction(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override { open_function(fn_, context); }
  void process_element(const A& left, const B& right, Context& context,
                       Collector<R>& out) override {
    if constexpr (std::is_invocable_v<F&, const A&, const B&, Collector<R>&>) {
      fn_(left, right, out);
    } else {
      fn_(left, right, context, out);
    }
  }
  void close() override { close_function(fn_); }

 private:
  F fn_;
};

// What interval_join().between() and its options decided.
struct IntervalJoinSettings {
  Timestamp lower = 0;
  Timestamp upper = 0;
  bool lower_inclusive = true;
  bool upper_inclusive = true;
  std::optional<std::string> left_late_tag;
  std::optional<std::string> right_late_tag;
};

// Flink's IntervalJoinOperator. Each side is buffered in keyed map state, timestamp ->
// the records of that timestamp, in the state's default namespace. Every buffered bucket
// has an event-time cleanup timer, in namespace "left" or "right", at the last time a
// partner from the other side may still arrive on time; the timer removes the bucket.
//
// With inclusive bounds [lower, upper] (an exclusive bound moves inward by 1 ms), left
// record l and right record r join iff l.ts + lower <= r.ts <= l.ts + upper. A left
// record at t is kept until the watermark reaches t + upper (t if upper <= 0), a right
// record at t until it reaches t - lower (t if lower >= 0). A record is late when its
// timestamp is behind the current watermark: it neither joins nor is buffered.
template <class A, class B, class R, class PF, class KS1, class KS2>
class IntervalJoinOperator final : public TwoInputOperator<A, B, R>, public Triggerable {
 public:
  using K = ResultOf<KS1, const A&>;
  static constexpr std::string_view kLeftNamespace = "left";
  static constexpr std::string_view kRightNamespace = "right";
  static constexpr const char* kLeftBuffer = "interval-join/left";
  static constexpr const char* kRightBuffer = "interval-join/right";

  IntervalJoinOperator(PF fn, KS1 first_key, KS2 second_key, IntervalJoinSettings settings)
      : fn_(std::move(fn)),
        key1_(std::move(first_key)),
        key2_(std::move(second_key)),
        lower_(settings.lower_inclusive ? settings.lower : offset_time(settings.lower, 1)),
        upper_(settings.upper_inclusive ? settings.upper : offset_time(settings.upper, -1)),
        left_late_tag_(std::move(settings.left_late_tag)),
        right_late_tag_(std::move(settings.right_late_tag)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key1_.open(context);
    key2_.open(context);
    backend_ = &context.keyed_state();
    left_ = &backend_->get_map_state(MapStateDescriptor<Timestamp, std::vector<A>>(kLeftBuffer));
    right_ = &backend_->get_map_state(MapStateDescriptor<Timestamp, std::vector<B>>(kRightBuffer));
    timers_ = std::make_unique<InternalTimerService>("interval-join-cleanup", *backend_,
                                                     context.processing_time_service(), *this);
    collector_.reset(&this->out(), kNoTimestamp);
    fn_.open(context);
  }

  bool prefetches_first() const override { return key1_.prefetches(); }
  bool prefetches_second() const override { return key2_.prefetches(); }
  void prefetch_first(const A& value) override { key1_.prefetch(value); }
  void prefetch_second(const B& value) override { key2_.prefetch(value); }
  void process_first(A&& value, Timestamp timestamp) override {
    check_timestamp(timestamp, "left");
    if (is_late(timestamp)) {
      late(left_late_tag_, std::move(value), timestamp);
      return;
    }
    key1_.set(value);
    use_default_namespace();
    for (const Timestamp bucket : right_->keys()) {
      if (bucket < offset_time(timestamp, lower_) || bucket > offset_time(timestamp, upper_))
        continue;
      for (const B& other : right_->get(bucket).value_or(std::vector<B>{})) {
        emit(value, other, timestamp, bucket);
      }
    }
    Timestamp cleanup = upper_ > 0 ? offset_time(timestamp, upper_) : timestamp;
    add_to_buffer(*left_, std::move(value), timestamp);
    timers_->register_event_time_timer(kLeftNamespace, cleanup);
  }

  void process_second(B&& value, Timestamp timestamp) override {
    check_timestamp(timestamp, "right");
    if (is_late(timestamp)) {
      late(right_late_tag_, std::move(value), timestamp);
      return;
    }
    key2_.set(value);
    use_default_namespace();
    // Relative to a right record, the left partners lie in [ts - upper, ts - lower].
    for (const Timestamp bucket : left_->keys()) {
      if (bucket < offset_time(timestamp, -upper_) || bucket > offset_time(timestamp, -lower_))
        continue;
      for (const A& other : left_->get(bucket).value_or(std::vector<A>{})) {
        emit(other, value, bucket, timestamp);
      }
    }
    Timestamp cleanup = lower_ < 0 ? offset_time(timestamp, -lower_) : timestamp;
    add_to_buffer(*right_, std::move(value), timestamp);
    timers_->register_event_time_timer(kRightNamespace, cleanup);
  }

  void process_watermark(Timestamp watermark, int) override {
    timers_->advance_watermark(watermark);
    this->out().emit_watermark(watermark);
  }

  void close() override { fn_.close(); }

  // For tests: cleanup timers not yet fired.
  size_t num_cleanup_timers() const {
    return timers_ == nullptr ? 0 : timers_->num_event_time_timers();
  }

 private:
  class ContextImpl final : public ProcessJoinFunction<A, B, R>::Context {
   public:
    explicit ContextImpl(IntervalJoinOperator& op) : op_(op) {}
    Timestamp left_timestamp() const override { return left; }
    Timestamp right_timestamp() const override { return right; }
    Timestamp timestamp() const override { return std::max(left, right); }
    Timestamp left = kNoTimestamp;
    Timestamp right = kNoTimestamp;

   protected:
    OperatorBase& side_output_target() override { return op_; }

   private:
    IntervalJoinOperator& op_;
  };

  void check_timestamp(Timestamp timestamp, const char* side) const {
    if (timestamp != kNoTimestamp) [[likely]] {
      return;
    }
    throw Error(
        "interval join '" + this->context().operator_name() +
        "' got a record without a timestamp on its " + side +
        " input: interval joins work in event time, so give the source a WatermarkStrategy with a "
        "timestamp assigner (or call assign_timestamps_and_watermarks() before key_by())");
  }

  // As in Flink: behind the watermark, once there is one.
  bool is_late(Timestamp timestamp) const {
    Timestamp watermark = timers_->current_watermark();
    return watermark != kNoTimestamp && timestamp < watermark;
  }

  template <class T>
  void late(const std::optional<std::string>& tag, T&& value, Timestamp timestamp) {
    if (tag && this->side_output(*tag) != nullptr) {
      this->emit_side(*tag, std::move(value), timestamp);
    } else {
      ++this->metrics().records_dropped_late;
    }
  }

  // A timer that fired left the backend in its namespace; the buffers live in the default one.
  void use_default_namespace() {
    if (!backend_->current_namespace().empty()) backend_->set_current_namespace({});
  }

  template <class T>
  static void add_to_buffer(MapState<Timestamp, std::vector<T>>& buffer, T&& value,
                            Timestamp timestamp) {
    std::vector<T> bucket = buffer.get(timestamp).value_or(std::vector<T>{});
    bucket.push_back(std::move(value));
    buffer.put(timestamp, std::move(bucket));
  }

  void emit(const A& left, const B& right, Timestamp left_ts, Timestamp right_ts) {
    context_.left = left_ts;
    context_.right = right_ts;
    collector_.set_timestamp(std::max(left_ts, right_ts));
    fn_.process_element(left, right, context_, collector_);
  }

  void on_event_time(const InternalTimer& timer) override {
    use_default_namespace();
    if (timer.ns == kLeftNamespace) {
      left_->remove(upper_ > 0 ? offset_time(timer.time, -upper_) : timer.time);
    } else if (timer.ns == kRightNamespace) {
      right_->remove(lower_ < 0 ? offset_time(timer.time, lower_) : timer.time);
    }
  }
  void on_processing_time(const InternalTimer&) override {}

  PF fn_;
  KeyContext<A, KS1> key1_;
  KeyContext<B, KS2> key2_;
  const Timestamp lower_;
  const Timestamp upper_;
  std::optional<std::string> left_late_tag_;
  std::optional<std::string> right_late_tag_;
  KeyedStateBackend* backend_ = nullptr;
  MapState<Timestamp, std::vector<A>>* left_ = nullptr;
  MapState<Timestamp, std::vector<B>>* right_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  TimestampedCollector<R> collector_;
  ContextImpl context_{*this};
};

// ---------------------------------------------------------------------------------------
// Window join and coGroup: a window function over TaggedUnion<A, B>.

// The key of a tagged record, by the key selector of its input.
template <class A, class B, class KA, class KB>
struct UnionKey {
  using key_type = ResultOf<KA, const A&>;
  KA first;
  KB second;
  key_type operator()(const TaggedUnion<A, B>& value) const {
    return value.is_first() ? key_type(first(value.first())) : key_type(second(value.second()));
  }
};

// How a join function is called: (a, b) -> R, or (a, b, Collector<R>&) (Flink's
// JoinFunction and FlatJoinFunction). `Out` names R where it cannot be deduced.
template <class Out, class A, class B, class F>
struct JoinFunctionTraits {
  static constexpr bool kFlat = std::is_invocable_v<F&, const A&, const B&, Collector<Out>&>;
  using type = Out;
};
template <class A, class B, class F, bool kFlat>
struct DeducedJoinOutput {
  using type = std::decay_t<std::invoke_result_t<F&, const A&, const B&>>;
};
template <class A, class B, class F>
struct DeducedJoinOutput<A, B, F, true> {
  using type = typename CollectorValue<ArgType<F, 2>>::type;
};
template <class A, class B, class F>
struct JoinFunctionTraits<void, A, B, F> {
  static constexpr bool kFlat = !std::is_invocable_v<F&, const A&, const B&>;
  using type = typename DeducedJoinOutput<A, B, F, kFlat>::type;
};

// The output type of a coGroup function (const std::vector<A>&, const std::vector<B>&,
// Collector<R>&).
template <class Out, class F>
struct CoGroupFunctionOutput {
  using type = Out;
};
template <class F>
struct CoGroupFunctionOutput<void, F> {
  using type = typename CollectorValue<ArgType<F, 2>>::type;
};

// A join function as a coGroup function: every pair of the window, first input outer
// (Flink's FlatJoinCoGroupFunction / JoinCoGroupFunction).
template <class A, class B, class R, class F, bool kFlat>
class JoinAsCoGroup {
 public:
  explicit JoinAsCoGroup(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) { open_function(fn_, context); }
  void close() { close_function(fn_); }
  void operator()(const std::vector<A>& first, const std::vector<B>& second, Collector<R>& out) {
    for (const A& a : first) {
      for (const B& b : second) {
        if constexpr (kFlat) {
          fn_(a, b, out);
        } else {
          out.collect(fn_(a, b));
        }
      }
    }
  }

 private:
  F fn_;
};

// The window function of a coGroup (Flink's CoGroupWindowFunction): splits the window's
// elements by input, in arrival order, and calls fn(first, second, out) once per key and
// window, also when one side has no element.
template <class A, class B, class R, class K, class W, class F>
class CoGroupWindowFunction final : public ProcessWindowFunction<TaggedUnion<A, B>, R, K, W> {
 public:
  using Context = typename ProcessWindowFunction<TaggedUnion<A, B>, R, K, W>::Context;

  explicit CoGroupWindowFunction(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override { open_function(fn_, context); }
  void process(const K&, Context&, std::span<const TaggedUnion<A, B>> elements,
               Collector<R>& out) override {
    std::vector<A> first;
    std::vector<B> second;
    for (const TaggedUnion<A, B>& element : elements) {
      if (element.is_first()) {
        first.push_back(element.first());
      } else {
        second.push_back(element.second());
      }
    }
    fn_(std::as_const(first), std::as_const(second), out);
  }
  void close() override { close_function(fn_); }

 private:
  F fn_;
};

}  // namespace eddy::internal
