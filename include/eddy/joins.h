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
// Results carry the larger timestamp of the two records.
//
// Window join and coGroup: the records of two streams with equal keys that fall into the
// same window (Flink's JoinedStreams / CoGroupedStreams). As in Flink, both inputs are
// tagged into one stream of TaggedUnion<A, B>, keyed, windowed and given to a window
// function, so everything windows offer (event or processing time, sliding and session
// windows, triggers, evictors, allowed lateness) applies:
//
//   clicks.join(buys)
//       .where([](const Click& c) { return c.user; })
//       .equal_to([](const Buy& b) { return b.user; })
//       .window(eddy::TumblingEventTimeWindows::of(std::chrono::minutes(1)))
//       .apply([](const Click& c, const Buy& b) { return Pair{c, b}; });      // every pair
//   clicks.co_group(buys) ... .apply(  // once per key and window; a side may be empty
//       [](const std::vector<Click>& cs, const std::vector<Buy>& bs,
//          eddy::Collector<Summary>& out) { ... });
//
// Results carry the window's max_timestamp(). See docs/joins.md.
//
// Included at the end of eddy/data_stream.h.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/connected_streams.h"
#include "eddy/data_stream.h"
#include "eddy/error.h"
#include "eddy/functions.h"
#include "eddy/internal/join_operators.h"
#include "eddy/join_functions.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/timers.h"
#include "eddy/window_functions.h"
#include "eddy/windowed_stream.h"

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
    settings_.lower = lower;
    settings_.upper = upper;
  }

  // A right record at exactly left.ts + lower does not join.
  IntervalJoined& lower_bound_exclusive() {
    settings_.lower_inclusive = false;
    return *this;
  }
  // A right record at exactly left.ts + upper does not join.
  IntervalJoined& upper_bound_exclusive() {
    settings_.upper_inclusive = false;
    return *this;
  }
  // Late left records (timestamp behind the watermark) go to `tag` instead of being
  // dropped; read them with result.side_output(tag) (Flink's sideOutputLeftLateData).
  IntervalJoined& side_output_left_late_data(const OutputTag<A>& tag) {
    settings_.left_late_tag = tag.id();
    return *this;
  }
  // Late right records go to `tag` (Flink's sideOutputRightLateData).
  IntervalJoined& side_output_right_late_data(const OutputTag<B>& tag) {
    settings_.right_late_tag = tag.id();
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
      static_assert(
          std::is_base_of_v<ProcessJoinFunction<A, B, R>, P>,
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
        [fn = std::move(fn), k1 = first_key_, k2 = second_key_, settings = settings_] {
          return std::make_unique<Op>(fn, k1, k2, settings);
        },
        true);
  }

  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS1 first_key_;
  KS2 second_key_;
  internal::IntervalJoinSettings settings_;
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
    std::string call =
        "interval_join().between(" + std::to_string(lo) + " ms, " + std::to_string(up) + " ms)";
    if (lo > up)
      throw InvalidJobError(call + ": the lower bound must not be above the upper bound");
    if (lo < -internal::kMaxJoinBound || up > internal::kMaxJoinBound) {
      throw InvalidJobError(call + ": bounds must lie within +-" +
                            std::to_string(internal::kMaxJoinBound) + " ms");
    }
    return IntervalJoined<A, KS1, B, KS2>(pipeline_, first_, first_key_, second_, second_key_, lo,
                                          up);
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS1 first_key_;
  KS2 second_key_;
};

// ---------------------------------------------------------------------------------------
// Window join and coGroup

namespace internal {

// What join() and co_group() share: both inputs, their key selectors, the window assigner
// and the window options; build() makes the keyed, windowed union of the tagged inputs.
template <class A, class B, class KA, class KB, class Assigner>
class TwoInputWindowing {
 public:
  using Union = TaggedUnion<A, B>;
  using Key = UnionKey<A, B, KA, KB>;
  using key_type = typename Key::key_type;
  using Windowed =
      decltype(std::declval<KeyedStream<Union, Key>&>().window(std::declval<Assigner>()));
  using window_type = typename Windowed::window_type;

  TwoInputWindowing(Pipeline* pipeline, int first, int second, KA first_key, KB second_key,
                    Assigner assigner)
      : pipeline_(pipeline),
        first_(first),
        second_(second),
        key_{std::move(first_key), std::move(second_key)},
        assigner_(std::move(assigner)) {}

  void add_option(std::function<Windowed(const Windowed&)> option) {
    options_.push_back(std::move(option));
  }

  Windowed build() const {
    auto first = DataStream<A>(pipeline_, first_).map([](A&& value) {
      return Union::of_first(std::move(value));
    });
    tagger(first, first_, "Tag First Input");
    auto second = DataStream<B>(pipeline_, second_).map([](B&& value) {
      return Union::of_second(std::move(value));
    });
    tagger(second, second_, "Tag Second Input");
    Windowed windowed = first.union_with(second).key_by(key_).window(assigner_);
    for (const auto& option : options_) windowed = option(windowed);
    return windowed;
  }

  // The tagging map runs with its input's parallelism, as in Flink, so that it chains to
  // its input instead of adding an exchange.
  void tagger(DataStream<Union>& map, int input, const char* name) const {
    map.name(name);
    const Transformation& in = pipeline_->at(input);
    if (in.is_virtual()) return;
    int parallelism = in.parallelism;
    if (parallelism == 0 && in.source != nullptr) {
      // A source that cannot run at the default parallelism (a collection) runs at its maximum.
      auto max = in.source->max_source_parallelism();
      if (max && pipeline_->config.parallelism > *max) parallelism = *max;
    }
    if (parallelism > 0) map.set_parallelism(parallelism);
  }

  // Runs the coGroup function `fn` (const std::vector<A>&, const std::vector<B>&,
  // Collector<R>&) on the windows; `what` names the operator ("Join", "CoGroup").
  template <class R, class F>
  DataStream<R> apply(F fn, const char* what) const {
    Windowed windowed = build();
    DataStream<R> result =
        windowed.process(CoGroupWindowFunction<A, B, R, key_type, window_type, F>(std::move(fn)));
    if constexpr (requires { windowed.builder().name(std::string(what)); }) {
      result.name(windowed.builder().name(what));
    }
    return result;
  }

 private:
  Pipeline* pipeline_;
  int first_;
  int second_;
  Key key_;
  Assigner assigner_;
  std::vector<std::function<Windowed(const Windowed&)>> options_;
};

// The window options of join() and co_group() (Flink's WithWindow): trigger, evictor and
// allowed lateness, as on a WindowedStream.
template <class Self, class Windowing>
class TwoInputWindowOptions {
 public:
  using Windowed = typename Windowing::Windowed;

  // When windows fire (default: the assigner's); see WindowedStream::trigger.
  template <class X>
  Self& trigger(X trigger) {
    windowing().add_option([trigger](const Windowed& w) { return w.trigger(trigger); });
    return self();
  }
  // Removes records of either input before the window is evaluated; see WindowedStream::evictor.
  template <class X>
  Self& evictor(X evictor) {
    windowing().add_option([evictor](const Windowed& w) { return w.evictor(evictor); });
    return self();
  }
  // How long windows still take late records (each one evaluates the window again).
  template <class Rep, class Period>
  Self& allowed_lateness(std::chrono::duration<Rep, Period> lateness) {
    windowing().add_option([lateness](const Windowed& w) { return w.allowed_lateness(lateness); });
    return self();
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
  Windowing& windowing() { return self().windowing_; }
};

template <class A, class B, class KA, class KB>
void check_join_keys() {
  static_assert(std::is_same_v<ResultOf<KA, const A&>, ResultOf<KB, const B&>>,
                "where() and equal_to() need key selectors that return the same key type");
  static_assert(Key<ResultOf<KA, const A&>>,
                "the join key type needs operator== and eddy::KeyHash (see eddy/key.h)");
}

// where(key_a).equal_to(key_b).window(assigner), shared by join() and co_group():
// window() returns Streams::WithWindow<KA, KB, Assigner>.
template <class A, class B, class Streams>
class TwoInputKeySelection {
 public:
  TwoInputKeySelection(Pipeline* pipeline, int first, int second)
      : pipeline_(pipeline), first_(first), second_(second) {}

  template <class KA, class KB>
  class EqualTo {
   public:
    EqualTo(Pipeline* pipeline, int first, int second, KA first_key, KB second_key)
        : pipeline_(pipeline),
          first_(first),
          second_(second),
          first_key_(std::move(first_key)),
          second_key_(std::move(second_key)) {}
    // The windows both inputs are put into together (any window assigner).
    template <class Assigner>
    auto window(Assigner assigner) const {
      using WithWindow = typename Streams::template WithWindow<KA, KB, Assigner>;
      return WithWindow(TwoInputWindowing<A, B, KA, KB, Assigner>(pipeline_, first_, second_, first_key_,
                                                                   second_key_, std::move(assigner)));
    }

   private:
    Pipeline* pipeline_;
    int first_;
    int second_;
    KA first_key_;
    KB second_key_;
  };

  template <class KA>
  class Where {
   public:
    Where(Pipeline* pipeline, int first, int second, KA first_key)
        : pipeline_(pipeline), first_(first), second_(second), first_key_(std::move(first_key)) {}
    // The key of the second input's records, of the same type as where()'s.
    template <class KB>
    EqualTo<KA, KB> equal_to(KB second_key) const {
      check_join_keys<A, B, KA, KB>();
      return EqualTo<KA, KB>(pipeline_, first_, second_, first_key_, std::move(second_key));
    }

   private:
    Pipeline* pipeline_;
    int first_;
    int second_;
    KA first_key_;
  };

  // The key of the first input's records.
  template <class KA>
  Where<KA> where(KA first_key) const {
    return Where<KA>(pipeline_, first_, second_, std::move(first_key));
  }

 private:
  Pipeline* pipeline_;
  int first_;
  int second_;
};

}  // namespace internal

// a.join(b).where(key_a).equal_to(key_b).window(assigner).apply(fn): every pair of records
// with equal keys in the same window (Flink's JoinedStreams). An inner join: a window with
// records of one input only produces nothing.
template <class A, class B>
class JoinedStreams : public internal::TwoInputKeySelection<A, B, JoinedStreams<A, B>> {
 public:
  using internal::TwoInputKeySelection<A, B, JoinedStreams<A, B>>::TwoInputKeySelection;

  template <class KA, class KB, class Assigner>
  class WithWindow
      : public internal::TwoInputWindowOptions<
            WithWindow<KA, KB, Assigner>, internal::TwoInputWindowing<A, B, KA, KB, Assigner>> {
   public:
    using Windowing = internal::TwoInputWindowing<A, B, KA, KB, Assigner>;
    explicit WithWindow(Windowing windowing) : windowing_(std::move(windowing)) {}

    // fn(const A&, const B&) -> R for every pair, or fn(const A&, const B&, Collector<R>&)
    // emitting any number of results per pair (Flink's JoinFunction / FlatJoinFunction).
    // Name R (apply<R>(...)) for a generic flat lambda.
    template <class Out = void, class F>
    auto apply(F fn) const {
      using Traits = internal::JoinFunctionTraits<Out, A, B, F>;
      using R = typename Traits::type;
      static_assert(Traits::kFlat ? std::is_invocable_v<F&, const A&, const B&, Collector<R>&>
                                  : std::is_invocable_v<F&, const A&, const B&>,
                    "join apply() takes fn(const A&, const B&) -> R or fn(const A&, const B&, "
                    "Collector<R>&)");
      using Fn = internal::JoinAsCoGroup<A, B, R, F, Traits::kFlat>;
      return windowing_.template apply<R>(Fn(std::move(fn)), "Join");
    }

   private:
    friend class internal::TwoInputWindowOptions<WithWindow, Windowing>;
    Windowing windowing_;
  };
};

// a.co_group(b).where(key_a).equal_to(key_b).window(assigner).apply(fn): once per key and
// window, fn gets the records of both inputs (Flink's CoGroupedStreams); one of the two
// may be empty.
template <class A, class B>
class CoGroupedStreams : public internal::TwoInputKeySelection<A, B, CoGroupedStreams<A, B>> {
 public:
  using internal::TwoInputKeySelection<A, B, CoGroupedStreams<A, B>>::TwoInputKeySelection;

  template <class KA, class KB, class Assigner>
  class WithWindow
      : public internal::TwoInputWindowOptions<
            WithWindow<KA, KB, Assigner>, internal::TwoInputWindowing<A, B, KA, KB, Assigner>> {
   public:
    using Windowing = internal::TwoInputWindowing<A, B, KA, KB, Assigner>;
    explicit WithWindow(Windowing windowing) : windowing_(std::move(windowing)) {}

    // fn(const std::vector<A>&, const std::vector<B>&, Collector<R>&): the window's records
    // of each input, in arrival order (Flink's CoGroupFunction). Name R (apply<R>(...)) for
    // a generic lambda.
    template <class Out = void, class F>
    auto apply(F fn) const {
      using R = typename internal::CoGroupFunctionOutput<Out, F>::type;
      static_assert(
          std::is_invocable_v<F&, const std::vector<A>&, const std::vector<B>&, Collector<R>&>,
          "co_group apply() takes fn(const std::vector<A>&, const std::vector<B>&, Collector<R>&)");
      return windowing_.template apply<R>(std::move(fn), "CoGroup");
    }

   private:
    friend class internal::TwoInputWindowOptions<WithWindow, Windowing>;
    Windowing windowing_;
  };
};

// DataStream members declared in data_stream.h.
template <class T>
template <class U>
auto DataStream<T>::join(const DataStream<U>& other) {
  return JoinedStreams<T, U>(pipeline_, id_, other.id());
}

template <class T>
template <class U>
auto DataStream<T>::co_group(const DataStream<U>& other) {
  return CoGroupedStreams<T, U>(pipeline_, id_, other.id());
}

// KeyedStream member declared in data_stream.h.
template <class T, class KS>
template <class U, class KS2>
auto KeyedStream<T, KS>::interval_join(const KeyedStream<U, KS2>& other) {
  return IntervalJoin<T, KS, U, KS2>(this->pipeline_, this->id_, selector_, other.id(),
                                     other.key_selector());
}

}  // namespace eddy
