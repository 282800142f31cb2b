// Stream joins (Flink's "Joining" in the DataStream API).
//
// Interval join: two keyed streams, keys of one type; each left record `l` joins the right
// records `r` of the same key with  l.ts + lower <= r.ts <= l.ts + upper  (bounds inclusive
// unless made exclusive). Both sides wait in keyed state until the watermark has passed the
// last time a partner could arrive; records behind the watermark are late and are dropped
// (counted in OperatorMetrics::records_dropped_late) or sent to a side output. Event time
// only: every record needs a timestamp.
//
//   orders.key_by(&Order::user)
//       .interval_join(payments.key_by(&Payment::user))
//       .between(std::chrono::minutes(-5), std::chrono::minutes(10))
//       .process([](const Order& o, const Payment& p, eddy::Collector<Paid>& out) { ... });
//
// Results carry the larger timestamp of the two records. See docs/joins.md.
//
// Included at the end of eddy/data_stream.h.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eddy/data_stream.h"
#include "eddy/error.h"
#include "eddy/functions.h"
#include "eddy/connected_streams.h"
#include "eddy/join_functions.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/timers.h"
#include "eddy/internal/join_operators.h"

namespace eddy {

// ---------------------------------------------------------------------------------------
// Interval join

template <class A, class KS1, class B, class KS2>
class IntervalJoined {
 public:
  using key_type = internal::ResultOf<KS1, const A&>;

  IntervalJoined(internal::Pipeline* pipeline, int first, KS1 first_key, int second, KS2 second_key,
                 Timestamp lower, Timestamp upper)
      : pipeline_(pipeline),
        first_(first),
        second_(second),
        first_key_(std::move(first_key)),
        second_key_(std::move(second_key)) {
    bounds_.lower = lower;
    bounds_.upper = upper;
  }

  // A right record at exactly left.ts + lower does not join.
  IntervalJoined& lower_bound_exclusive() {
    bounds_.lower_inclusive = false;
    return *this;
  }
  // A right record at exactly left.ts + upper does not join.
  IntervalJoined& upper_bound_exclusive() {
    bounds_.upper_inclusive = false;
    return *this;
  }
  // Late left records (timestamp behind the watermark) go to `tag` instead of being
  // dropped; read them with result.side_output(tag) (Flink's sideOutputLeftLateData).
  IntervalJoined& side_output_left_late_data(const OutputTag<A>& tag) {
    bounds_.left_late_tag = tag.id();
    return *this;
  }
  // Late right records go to `tag` (Flink's sideOutputRightLateData).
  IntervalJoined& side_output_right_late_data(const OutputTag<B>& tag) {
    bounds_.right_late_tag = tag.id();
    return *this;
  }

  // A ProcessJoinFunction<A, B, R> subclass (copied per subtask), or a lambda
  // (const A&, const B&, Collector<R>&) or (const A&, const B&, Context&, Collector<R>&),
  // Context being ProcessJoinFunction<A, B, R>::Context. R is deduced from the collector
  // parameter; name it (process<R>(...)) for generic lambdas.
  template <class Out = void, class P>
  auto process(P fn) {
    if constexpr (requires { typename P::output_type; }) {
      using R = typename P::output_type;
      static_assert(std::is_base_of_v<ProcessJoinFunction<A, B, R>, P>,
                    "process() on an interval join takes a ProcessJoinFunction<A, B, R> whose A and B match "
                    "the joined streams");
      return add(std::move(fn));
    } else {
      using R = typename internal::JoinLambdaOutput<Out, P>::type;
      return add(internal::LambdaProcessJoinFunction<A, B, R, P>(std::move(fn)));
    }
  }

 private:
  template <class PF>
  DataStream<typename PF::output_type> add(PF fn) {
    using R = typename PF::output_type;
    using Op = internal::IntervalJoinOperator<A, B, R, PF, KS1, KS2>;
    return internal::add_two_input_operator<R>(
        pipeline_, first_, second_, "Interval Join",
        [fn = std::move(fn), k1 = first_key_, k2 = second_key_, bounds = bounds_] {
          return std::make_unique<Op>(fn, k1, k2, bounds);
        },
        true);
  }

  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS1 first_key_;
  KS2 second_key_;
  internal::IntervalJoinSettings bounds_;
};

// keyed_a.interval_join(keyed_b): set the bounds with between().
template <class A, class KS1, class B, class KS2>
class IntervalJoin {
 public:
  using key_type = internal::ResultOf<KS1, const A&>;
  static_assert(std::is_same_v<key_type, internal::ResultOf<KS2, const B&>>,
                "interval_join() needs keyed streams with keys of the same type");

  IntervalJoin(internal::Pipeline* pipeline, int first, KS1 first_key, int second, KS2 second_key)
      : pipeline_(pipeline),
        first_(first),
        second_(second),
        first_key_(std::move(first_key)),
        second_key_(std::move(second_key)) {}

  // Right records r join left record l when l.ts + lower <= r.ts <= l.ts + upper. Bounds
  // are std::chrono durations or milliseconds, and may be negative; lower <= upper.
  template <class L, class U>
  IntervalJoined<A, KS1, B, KS2> between(L lower, U upper) const {
    Timestamp lo = internal::bound_millis(lower);
    Timestamp up = internal::bound_millis(upper);
    if (lo > up) {
      throw InvalidJobError("interval_join().between(" + std::to_string(lo) + " ms, " + std::to_string(up) +
                            " ms): the lower bound must not be above the upper bound");
    }
    return IntervalJoined<A, KS1, B, KS2>(pipeline_, first_, first_key_, second_, second_key_, lo, up);
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS1 first_key_;
  KS2 second_key_;
};

// KeyedStream member declared in data_stream.h.
template <class T, class KS>
template <class U, class KS2>
auto KeyedStream<T, KS>::interval_join(const KeyedStream<U, KS2>& other) {
  return IntervalJoin<T, KS, U, KS2>(this->pipeline_, this->id_, selector_, other.id(), other.key_selector());
}

}  // namespace eddy
