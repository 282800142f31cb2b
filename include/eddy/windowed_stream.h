// Windows on streams (Flink's WindowedStream and AllWindowedStream):
//
//   stream.key_by([](const Bid& b) { return b.auction; })
//       .window(eddy::TumblingEventTimeWindows::of(std::chrono::seconds(10)))
//       .allowed_lateness(std::chrono::seconds(5))      // optional
//       .side_output_late_data(late_tag)                // optional
//       .trigger(...) / .evictor(...)                   // optional
//       .reduce(fn) | .aggregate(agg) | .process(window_fn) | .sum(&Bid::price) ...
//
// KeyedStream::window(assigner), count_window(size[, slide]) and DataStream::window_all,
// count_window_all are declared in eddy/data_stream.h, which includes this header at its
// end. The window operator runs on the keyed stream (its state is keyed state, per key and
// window); window_all keys every record alike and runs at parallelism 1. Results carry the
// window's max_timestamp(). See docs/windows.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/data_stream.h"
#include "eddy/error.h"
#include "eddy/evictors.h"
#include "eddy/functions.h"
#include "eddy/internal/window_operator.h"
#include "eddy/timers.h"
#include "eddy/triggers.h"
#include "eddy/window_functions.h"
#include "eddy/windows.h"

namespace eddy {

namespace internal {

// window_all() keys every record alike.
struct AllWindowKey {
  template <class T>
  uint8_t operator()(const T&) const {
    return 0;
  }
};

// Collector<R>& is the 4th parameter of a window-function lambda.
template <class Out, class F>
struct WindowFunctionOutput {
  using type = Out;
};
template <class F>
struct WindowFunctionOutput<void, F> {
  using type = typename CollectorValue<ArgType<F, 3>>::type;
};

// A window function given to reduce/aggregate/process: a ProcessWindowFunction subclass,
// or a lambda (key, context, elements, out) made into one. `Out` names the output type
// where the lambda's collector parameter cannot tell it (generic lambdas).
template <class In, class K, class W, class Out, class P>
auto as_window_function(P fn) {
  if constexpr (requires { typename P::output_type; }) {
    using R = typename P::output_type;
    static_assert(
        std::is_base_of_v<ProcessWindowFunction<In, R, K, W>, P>,
        "the window function must be a ProcessWindowFunction<In, Out, K, W> with the window's "
        "input, key and window types (or a lambda (key, context, elements, out))");
    return fn;
  } else {
    using R = typename WindowFunctionOutput<Out, P>::type;
    return LambdaProcessWindowFunction<In, R, K, W, P>(std::move(fn));
  }
}

// The same for window_all: a ProcessAllWindowFunction subclass or a lambda (context,
// elements, out), run as a keyed window function.
template <class In, class W, class Out, class P>
auto as_all_window_function(P fn) {
  if constexpr (requires { typename P::output_type; }) {
    using R = typename P::output_type;
    static_assert(
        std::is_base_of_v<ProcessAllWindowFunction<In, R, W>, P>,
        "the window function must be a ProcessAllWindowFunction<In, Out, W> with the window's "
        "input and window types (or a lambda (context, elements, out))");
    return AllWindowFunctionAdapter<uint8_t, P>(std::move(fn));
  } else {
    using R = typename ProcessOutput<Out, P>::type;
    using F = LambdaProcessAllWindowFunction<In, R, W, P>;
    return AllWindowFunctionAdapter<uint8_t, F>(F(std::move(fn)));
  }
}

}  // namespace internal

template <class T, class KeySelector, class W>
class WindowedStream {
 public:
  using value_type = T;
  using key_type = internal::ResultOf<KeySelector, const T&>;
  using window_type = W;
  using Builder = internal::WindowOperatorBuilder<T, KeySelector, W>;

  // `parallelism` > 0 fixes the window operator's parallelism (window_all: 1).
  WindowedStream(internal::Pipeline* pipeline, int input, Builder builder, int parallelism = 0)
      : pipeline_(pipeline),
        input_(input),
        builder_(std::move(builder)),
        parallelism_(parallelism) {}

  // When windows fire (default: the assigner's). A Trigger<T, W> subclass, a built-in
  // trigger, or a shared_ptr to a trigger. Merging windows need one that can merge.
  template <class X>
  WindowedStream trigger(X trigger) const {
    WindowedStream copy = *this;
    copy.builder_.set_trigger(std::move(trigger));
    return copy;
  }
  // Removes elements when the window fires (the window then keeps all its elements).
  template <class X>
  WindowedStream evictor(X evictor) const {
    WindowedStream copy = *this;
    copy.builder_.set_evictor(std::move(evictor));
    return copy;
  }
  // How long after the watermark passed a window's end it still takes late elements (each
  // one fires it again, with the default trigger); its state is kept until then. Event
  // time only (processing-time windows ignore it). Default 0.
  template <class Rep, class Period>
  WindowedStream allowed_lateness(std::chrono::duration<Rep, Period> lateness) const {
    WindowedStream copy = *this;
    copy.builder_.set_allowed_lateness(internal::to_millis(lateness));
    return copy;
  }
  // Elements too late for every window go to this side output (read it with
  // side_output(tag) on the result) instead of being dropped.
  WindowedStream side_output_late_data(const OutputTag<T>& tag) const {
    WindowedStream copy = *this;
    copy.builder_.set_late_data_tag(tag.id());
    return copy;
  }

  // fn(accumulated, element) -> accumulated, incrementally as elements arrive; emits the
  // window's reduction.
  template <class F>
  DataStream<T> reduce(F fn) {
    return add<T>("Reduce", [builder = builder_, fn] { return builder.reduce(fn); });
  }
  // The reduction goes to `window_fn` (a ProcessWindowFunction<T, R, K, W> or a lambda
  // (key, context, elements, out)) with the window.
  template <class Out = void, class F, class P>
  auto reduce(F fn, P window_fn) {
    auto pwf = internal::as_window_function<T, key_type, W, Out>(std::move(window_fn));
    using R = typename decltype(pwf)::output_type;
    return add<R>("Reduce", [builder = builder_, fn, pwf] { return builder.reduce(fn, pwf); });
  }
  // An AggregateFunction<T, ACC, R> (eddy/state.h), incrementally; emits get_result().
  template <class A>
  auto aggregate(A agg) {
    using R = internal::AggregateResultOf<A>;
    return add<R>("Aggregate", [builder = builder_, agg] { return builder.aggregate(agg); });
  }
  template <class Out = void, class A, class P>
  auto aggregate(A agg, P window_fn) {
    using AggOut = internal::AggregateResultOf<A>;
    auto pwf = internal::as_window_function<AggOut, key_type, W, Out>(std::move(window_fn));
    using R = typename decltype(pwf)::output_type;
    return add<R>("Aggregate",
                  [builder = builder_, agg, pwf] { return builder.aggregate(agg, pwf); });
  }
  // All the window's elements at once (kept in list state until the window fires).
  template <class Out = void, class P>
  auto process(P window_fn) {
    auto pwf = internal::as_window_function<T, key_type, W, Out>(std::move(window_fn));
    using R = typename decltype(pwf)::output_type;
    return add<R>("Process", [builder = builder_, pwf] { return builder.process(pwf); });
  }

  // Aggregations of a field (a member pointer, or a tuple index), as KeyedStream's: sum,
  // min and max update the field of the window's first element; min_by and max_by keep
  // the whole element with the smallest / largest field (the first on ties).
  DataStream<T> sum() requires std::is_arithmetic_v<T> { return sum_of(self_field()); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> sum(M field) {
    return sum_of(member_field(field));
  }
  template <size_t I>
  DataStream<T> sum() {
    return sum_of(tuple_field<I>());
  }
  DataStream<T> min() requires std::is_arithmetic_v<T> { return min_of(self_field()); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> min(M field) {
    return min_of(member_field(field));
  }
  template <size_t I>
  DataStream<T> min() {
    return min_of(tuple_field<I>());
  }
  DataStream<T> max() requires std::is_arithmetic_v<T> { return max_of(self_field()); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> max(M field) {
    return max_of(member_field(field));
  }
  template <size_t I>
  DataStream<T> max() {
    return max_of(tuple_field<I>());
  }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> min_by(M field) {
    return min_by_of(member_field(field));
  }
  template <size_t I>
  DataStream<T> min_by() {
    return min_by_of(tuple_field<I>());
  }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> max_by(M field) {
    return max_by_of(member_field(field));
  }
  template <size_t I>
  DataStream<T> max_by() {
    return max_by_of(tuple_field<I>());
  }

  const Builder& builder() const { return builder_; }

 private:
  template <class R, class Factory>
  DataStream<R> add(const char* function, Factory factory) {
    internal::Transformation& t =
        pipeline_->add(internal::Transformation::Kind::kOperator, builder_.name(function));
    t.keyed = true;
    t.inputs = {input_};
    t.output_type = internal::type_info_of<R>();
    t.create_operator = std::move(factory);
    if (parallelism_ > 0) t.parallelism = parallelism_;
    return DataStream<R>(pipeline_, t.id);
  }

  static auto self_field() {
    return [](auto& record) -> auto& { return record; };
  }
  template <class M>
  static auto member_field(M field) {
    return [field](auto& record) -> auto& { return record.*field; };
  }
  template <size_t I>
  static auto tuple_field() {
    return [](auto& record) -> auto& { return std::get<I>(record); };
  }
  // The built-in reductions are associative, so the window operator may pre-aggregate
  // them (internal/window_preaggregation.h).
  template <class F>
  static internal::AssociativeReduce<F> associative(F fn) {
    return internal::AssociativeReduce<F>{std::move(fn)};
  }
  template <class Field>
  DataStream<T> sum_of(Field field) {
    return reduce(associative([field](T acc, const T& record) {
      field(acc) += field(record);
      return acc;
    }));
  }
  template <class Field>
  DataStream<T> min_of(Field field) {
    return reduce(associative([field](T acc, const T& record) {
      if (field(record) < field(acc)) field(acc) = field(record);
      return acc;
    }));
  }
  template <class Field>
  DataStream<T> max_of(Field field) {
    return reduce(associative([field](T acc, const T& record) {
      if (field(acc) < field(record)) field(acc) = field(record);
      return acc;
    }));
  }
  template <class Field>
  DataStream<T> min_by_of(Field field) {
    return reduce(
        associative([field](T acc, const T& record) { return field(record) < field(acc) ? record : acc; }));
  }
  template <class Field>
  DataStream<T> max_by_of(Field field) {
    return reduce(
        associative([field](T acc, const T& record) { return field(acc) < field(record) ? record : acc; }));
  }

  internal::Pipeline* pipeline_;
  int input_;
  Builder builder_;
  int parallelism_;
};

// Windows over a whole stream (DataStream::window_all): every record in one key, one
// subtask. Window functions take no key: ProcessAllWindowFunction<In, Out, W>, or a lambda
// (context, elements, out).
template <class T, class W>
class AllWindowedStream {
 public:
  using value_type = T;
  using window_type = W;
  using Keyed = WindowedStream<T, internal::AllWindowKey, W>;

  explicit AllWindowedStream(Keyed windowed) : windowed_(std::move(windowed)) {}

  template <class X>
  AllWindowedStream trigger(X trigger) const {
    return AllWindowedStream(windowed_.trigger(std::move(trigger)));
  }
  template <class X>
  AllWindowedStream evictor(X evictor) const {
    return AllWindowedStream(windowed_.evictor(std::move(evictor)));
  }
  template <class Rep, class Period>
  AllWindowedStream allowed_lateness(std::chrono::duration<Rep, Period> lateness) const {
    return AllWindowedStream(windowed_.allowed_lateness(lateness));
  }
  AllWindowedStream side_output_late_data(const OutputTag<T>& tag) const {
    return AllWindowedStream(windowed_.side_output_late_data(tag));
  }

  template <class F>
  DataStream<T> reduce(F fn) {
    return windowed_.reduce(std::move(fn));
  }
  template <class Out = void, class F, class P>
  auto reduce(F fn, P window_fn) {
    return windowed_.reduce(std::move(fn), all_function<T, Out>(std::move(window_fn)));
  }
  template <class A>
  auto aggregate(A agg) {
    return windowed_.aggregate(std::move(agg));
  }
  template <class Out = void, class A, class P>
  auto aggregate(A agg, P window_fn) {
    return windowed_.aggregate(
        std::move(agg), all_function<internal::AggregateResultOf<A>, Out>(std::move(window_fn)));
  }
  template <class Out = void, class P>
  auto process(P window_fn) {
    return windowed_.process(all_function<T, Out>(std::move(window_fn)));
  }

  DataStream<T> sum() requires std::is_arithmetic_v<T> { return windowed_.sum(); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> sum(M field) {
    return windowed_.sum(field);
  }
  template <size_t I>
  DataStream<T> sum() {
    return windowed_.template sum<I>();
  }
  DataStream<T> min() requires std::is_arithmetic_v<T> { return windowed_.min(); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> min(M field) {
    return windowed_.min(field);
  }
  template <size_t I>
  DataStream<T> min() {
    return windowed_.template min<I>();
  }
  DataStream<T> max() requires std::is_arithmetic_v<T> { return windowed_.max(); }
  template <class M>
  requires std::is_member_object_pointer_v<M> DataStream<T> max(M field) {
    return windowed_.max(field);
  }
  template <size_t I>
  DataStream<T> max() {
    return windowed_.template max<I>();
  }

 private:
  template <class In, class Out, class P>
  static auto all_function(P fn) {
    return internal::as_all_window_function<In, W, Out>(std::move(fn));
  }

  Keyed windowed_;
};

// ---- KeyedStream and DataStream entry points (declared in eddy/data_stream.h) ----

template <class T, class KeySelector>
template <class Assigner>
auto KeyedStream<T, KeySelector>::window(Assigner assigner) {
  auto shared = internal::make_assigner<T>(std::move(assigner));
  using W = typename decltype(shared)::element_type::window_type;
  return WindowedStream<T, KeySelector, W>(
      this->pipeline_, this->id_,
      internal::WindowOperatorBuilder<T, KeySelector, W>(std::move(shared), selector_));
}

template <class T, class KeySelector>
auto KeyedStream<T, KeySelector>::count_window(int64_t size) {
  return window(GlobalWindows::create()).trigger(PurgingTrigger::of(CountTrigger::of(size)));
}

template <class T, class KeySelector>
auto KeyedStream<T, KeySelector>::count_window(int64_t size, int64_t slide) {
  return window(GlobalWindows::create())
      .evictor(CountEvictor::of(size))
      .trigger(CountTrigger::of(slide));
}

template <class T>
template <class Assigner>
auto DataStream<T>::window_all(Assigner assigner) {
  KeyedStream<T, internal::AllWindowKey> keyed = key_by(internal::AllWindowKey{});
  auto shared = internal::make_assigner<T>(std::move(assigner));
  using W = typename decltype(shared)::element_type::window_type;
  return AllWindowedStream<T, W>(WindowedStream<T, internal::AllWindowKey, W>(
      pipeline_, keyed.id(),
      internal::WindowOperatorBuilder<T, internal::AllWindowKey, W>(std::move(shared), {}),
      /*parallelism=*/1));
}

template <class T>
auto DataStream<T>::count_window_all(int64_t size) {
  return window_all(GlobalWindows::create()).trigger(PurgingTrigger::of(CountTrigger::of(size)));
}

template <class T>
auto DataStream<T>::count_window_all(int64_t size, int64_t slide) {
  return window_all(GlobalWindows::create())
      .evictor(CountEvictor::of(size))
      .trigger(CountTrigger::of(slide));
}

}  // namespace eddy
