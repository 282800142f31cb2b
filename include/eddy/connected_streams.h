// Two streams processed together by one operator (Flink's ConnectedStreams): connect()
// two streams of possibly different types and give each its own method. Keyed streams
// connect by key (KeyedCoProcessFunction, with keyed state and timers shared by both
// sides); a broadcast stream connects to any stream for the broadcast state pattern.
// Included at the end of eddy/data_stream.h.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "eddy/data_stream.h"
#include "eddy/process_functions.h"
#include "eddy/internal/process_operators.h"

namespace eddy {

namespace internal {

// Adds the operator of a connected stream: `first` feeds input 0, `second` input 1.
template <class R, class Factory>
DataStream<R> add_two_input_operator(Pipeline* pipeline, int first, int second, std::string name,
                                     Factory factory, bool keyed) {
  Transformation& t = pipeline->add(Transformation::Kind::kOperator, std::move(name));
  t.keyed = keyed;
  t.inputs = {first, second};
  t.inputs_by_position = true;
  t.output_type = type_info_of<R>();
  t.create_operator = std::move(factory);
  return DataStream<R>(pipeline, t.id);
}

// CoMap / CoFlatMap: two functions as a CoProcessFunction.
template <class A, class B, class R, class F1, class F2, bool kFlat>
class CoFunctionAdapter final : public CoProcessFunction<A, B, R> {
 public:
  CoFunctionAdapter(F1 first, F2 second) : first_(std::move(first)), second_(std::move(second)) {}
  void open(RuntimeContext& context) override {
    open_function(first_, context);
    open_function(second_, context);
  }
  void process_element1(const A& value, ProcessContextBase&, Collector<R>& out) override {
    if constexpr (kFlat) {
      first_(value, out);
    } else {
      out.collect(first_(value));
    }
  }
  void process_element2(const B& value, ProcessContextBase&, Collector<R>& out) override {
    if constexpr (kFlat) {
      second_(value, out);
    } else {
      out.collect(second_(value));
    }
  }
  void close() override {
    close_function(first_);
    close_function(second_);
  }

 private:
  F1 first_;
  F2 second_;
};

}  // namespace internal

template <class A, class B>
class ConnectedStreams {
 public:
  ConnectedStreams(internal::Pipeline* pipeline, int first, int second)
      : pipeline_(pipeline), first_(first), second_(second) {}

  // A CoProcessFunction<A, B, R> subclass.
  template <class P>
  DataStream<typename P::output_type> process(P fn) {
    using R = typename P::output_type;
    static_assert(std::is_base_of_v<CoProcessFunction<A, B, R>, P>,
                  "process() on connected streams takes a CoProcessFunction<A, B, R> matching both streams");
    return internal::add_two_input_operator<R>(
        pipeline_, first_, second_, "Co-Process",
        [fn] { return std::make_unique<internal::CoProcessOperator<A, B, R, P>>(fn); }, false);
  }
  // fn1(const A&) and fn2(const B&) both return R.
  template <class F1, class F2>
  auto map(F1 fn1, F2 fn2) {
    using R = internal::ResultOf<F1, const A&>;
    return process(internal::CoFunctionAdapter<A, B, R, F1, F2, false>(std::move(fn1), std::move(fn2)));
  }
  // fn1(const A&, Collector<R>&) and fn2(const B&, Collector<R>&).
  template <class R, class F1, class F2>
  DataStream<R> flat_map(F1 fn1, F2 fn2) {
    return process(internal::CoFunctionAdapter<A, B, R, F1, F2, true>(std::move(fn1), std::move(fn2)));
  }
  // Partitions both inputs by key, so equal keys meet in one subtask.
  template <class KS1, class KS2>
  auto key_by(KS1 first_key, KS2 second_key) {
    return DataStream<A>(pipeline_, first_).key_by(std::move(first_key)).connect(
        DataStream<B>(pipeline_, second_).key_by(std::move(second_key)));
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
};

template <class A, class KS1, class B, class KS2>
class KeyedConnectedStreams {
 public:
  using key_type = internal::ResultOf<KS1, const A&>;
  static_assert(std::is_same_v<key_type, internal::ResultOf<KS2, const B&>>,
                "connected keyed streams need keys of the same type");

  KeyedConnectedStreams(internal::Pipeline* pipeline, int first, KS1 first_key, int second, KS2 second_key)
      : pipeline_(pipeline),
        first_(first),
        second_(second),
        first_key_(std::move(first_key)),
        second_key_(std::move(second_key)) {}

  // A KeyedCoProcessFunction<K, A, B, R> subclass.
  template <class P>
  DataStream<typename P::output_type> process(P fn) {
    using R = typename P::output_type;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<key_type, A, B, R>, P>,
                  "process() on connected keyed streams takes a KeyedCoProcessFunction<K, A, B, R>");
    return internal::add_two_input_operator<R>(
        pipeline_, first_, second_, "Keyed Co-Process",
        [fn, k1 = first_key_, k2 = second_key_] {
          return std::make_unique<internal::KeyedCoProcessOperator<key_type, A, B, R, P, KS1, KS2>>(fn, k1, k2);
        },
        true);
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS1 first_key_;
  KS2 second_key_;
};

// A stream broadcast to every subtask of the operator it connects to, with the broadcast
// state that operator keeps (DataStream::broadcast(descriptor...)).
template <class B>
class BroadcastStream {
 public:
  BroadcastStream(internal::Pipeline* pipeline, int id) : pipeline_(pipeline), id_(id) {}
  int id() const { return id_; }
  internal::Pipeline* pipeline() const { return pipeline_; }

 private:
  internal::Pipeline* pipeline_;
  int id_;
};

template <class A, class B>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(internal::Pipeline* pipeline, int first, int second)
      : pipeline_(pipeline), first_(first), second_(second) {}

  // A BroadcastProcessFunction<A, B, R> subclass.
  template <class P>
  DataStream<typename P::output_type> process(P fn) {
    using R = typename P::output_type;
    static_assert(std::is_base_of_v<BroadcastProcessFunction<A, B, R>, P>,
                  "process() on a stream connected to a broadcast stream takes a BroadcastProcessFunction<A, B, R>");
    return internal::add_two_input_operator<R>(
        pipeline_, first_, second_, "Broadcast Process",
        [fn] { return std::make_unique<internal::CoProcessOperator<A, B, R, P>>(fn); }, false);
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
};

template <class A, class KS, class B>
class KeyedBroadcastConnectedStream {
 public:
  using key_type = internal::ResultOf<KS, const A&>;
  KeyedBroadcastConnectedStream(internal::Pipeline* pipeline, int first, KS key, int second)
      : pipeline_(pipeline), first_(first), second_(second), key_(std::move(key)) {}

  // A KeyedBroadcastProcessFunction<K, A, B, R> subclass.
  template <class P>
  DataStream<typename P::output_type> process(P fn) {
    using R = typename P::output_type;
    static_assert(std::is_base_of_v<KeyedBroadcastProcessFunction<key_type, A, B, R>, P>,
                  "process() on a keyed stream connected to a broadcast stream takes a "
                  "KeyedBroadcastProcessFunction<K, A, B, R>");
    return internal::add_two_input_operator<R>(
        pipeline_, first_, second_, "Keyed Broadcast Process",
        [fn, key = key_] {
          return std::make_unique<internal::KeyedBroadcastProcessOperator<key_type, A, B, R, P, KS>>(fn, key);
        },
        true);
  }

 private:
  internal::Pipeline* pipeline_;
  int first_;
  int second_;
  KS key_;
};

// DataStream and KeyedStream members declared in data_stream.h.
template <class T>
template <class U>
ConnectedStreams<T, U> DataStream<T>::connect(const DataStream<U>& other) {
  return ConnectedStreams<T, U>(pipeline_, id_, other.id());
}

template <class T>
template <class U>
BroadcastConnectedStream<T, U> DataStream<T>::connect(const BroadcastStream<U>& other) {
  return BroadcastConnectedStream<T, U>(pipeline_, id_, other.id());
}

template <class T>
template <class D, class... Ds>
BroadcastStream<T> DataStream<T>::broadcast(const D&, const Ds&...) {
  return BroadcastStream<T>(pipeline_, add_partition(internal::PartitionSpec{internal::PartitionKind::kBroadcast, nullptr},
                                                     "Broadcast"));
}

template <class T, class KS>
template <class U, class KS2>
KeyedConnectedStreams<T, KS, U, KS2> KeyedStream<T, KS>::connect(const KeyedStream<U, KS2>& other) {
  return KeyedConnectedStreams<T, KS, U, KS2>(this->pipeline_, this->id_, selector_, other.id(), other.key_selector());
}

template <class T, class KS>
template <class U>
KeyedBroadcastConnectedStream<T, KS, U> KeyedStream<T, KS>::connect(const BroadcastStream<U>& other) {
  return KeyedBroadcastConnectedStream<T, KS, U>(this->pipeline_, this->id_, selector_, other.id());
}

}  // namespace eddy
