// The DataStream API: streams of records of type T and the transformations on them.
// Every call records a transformation in the environment; nothing runs until
// StreamEnvironment::execute(). Semantics follow Flink's DataStream API.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/functions.h"
#include "eddy/key.h"
#include "eddy/sink.h"
#include "eddy/sinks.h"
#include "eddy/process_functions.h"
#include "eddy/timers.h"
#include "eddy/watermark.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/process_operators.h"
#include "eddy/internal/transformation.h"

namespace eddy {

template <class T>
class DataStream;
template <class T, class KeySelector>
class KeyedStream;
template <class A, class B>
class ConnectedStreams;
template <class A, class KS1, class B, class KS2>
class KeyedConnectedStreams;
template <class B>
class BroadcastStream;
template <class A, class B>
class BroadcastConnectedStream;
template <class A, class KS, class B>
class KeyedBroadcastConnectedStream;

namespace internal {

void check_parallelism(int parallelism, const std::string& what);
void check_max_parallelism(int max_parallelism, const std::string& what);
[[noreturn]] void throw_not_an_operator(const Transformation& t, const char* call);

// Settings shared by operators and sinks (Flink's SingleOutputStreamOperator / DataStreamSink).
template <class Self>
class OperatorSettings {
 public:
  // Shown in explain(), metrics and error messages.
  Self& name(std::string name) {
    self().transformation().name = std::move(name);
    return self();
  }
  // Stable identity of the operator's state across job versions (savepoints match by uid).
  Self& uid(std::string uid) {
    self().operator_transformation("uid()").uid = std::move(uid);
    return self();
  }
  Self& set_parallelism(int parallelism) {
    Transformation& t = self().operator_transformation("set_parallelism()");
    check_parallelism(parallelism, "operator '" + t.name + "'");
    if (t.source != nullptr) {
      auto max = t.source->max_source_parallelism();
      if (max && parallelism > *max) {
        throw InvalidJobError("source '" + t.name + "' cannot run in parallel: its parallelism " +
                              std::to_string(parallelism) + " is above its maximum " +
                              std::to_string(*max));
      }
    }
    t.parallelism = parallelism;
    return self();
  }
  Self& set_max_parallelism(int max_parallelism) {
    Transformation& t = self().operator_transformation("set_max_parallelism()");
    check_max_parallelism(max_parallelism, "operator '" + t.name + "'");
    t.max_parallelism = max_parallelism;
    return self();
  }
  // Run this operator in a task of its own, chained to neither neighbour.
  Self& disable_chaining() {
    self().operator_transformation("disable_chaining()").chaining = ChainingStrategy::kNever;
    return self();
  }
  // Start a new chain here: not chained to the upstream operator.
  Self& start_new_chain() {
    self().operator_transformation("start_new_chain()").chaining = ChainingStrategy::kHead;
    return self();
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

template <class T, class KeySelector>
class HashRouterFactory final : public RouterFactory<T> {
 public:
  explicit HashRouterFactory(KeySelector selector) : selector_(std::move(selector)) {}
  std::unique_ptr<RecordRouter<T>> create(int max_parallelism, int parallelism) const override {
    return std::make_unique<Router>(selector_, max_parallelism, parallelism);
  }

 private:
  class Router final : public RecordRouter<T> {
   public:
    Router(KeySelector selector, int max_parallelism, int parallelism)
        : selector_(std::move(selector)),
          max_parallelism_(static_cast<uint32_t>(max_parallelism)),
          group_mask_(std::has_single_bit(max_parallelism_) ? max_parallelism_ - 1 : 0) {
      // Per-record divisions are the cost of routing: look the subtask up instead.
      subtask_of_group_.resize(max_parallelism_);
      for (int group = 0; group < max_parallelism; ++group) {
        subtask_of_group_[static_cast<size_t>(group)] =
            subtask_for_key_group(group, max_parallelism, parallelism);
      }
    }
    int route(const T& value) override {
      using K = ResultOf<KeySelector, const T&>;
      const auto& key = selector_(value);
      uint32_t hash = KeyHash<K>{}(key);
      // Same as key_group_of(hash, max_parallelism).
      uint32_t group = group_mask_ != 0 ? hash & group_mask_ : hash % max_parallelism_;
      return subtask_of_group_[group];
    }

   private:
    KeySelector selector_;
    uint32_t max_parallelism_;
    uint32_t group_mask_;
    std::vector<int> subtask_of_group_;
  };
  KeySelector selector_;
};

[[noreturn]] void throw_bad_custom_partition(int partition, int num_partitions);

template <class T, class Partitioner, class KeySelector>
class CustomRouterFactory final : public RouterFactory<T> {
 public:
  CustomRouterFactory(Partitioner partitioner, KeySelector selector)
      : partitioner_(std::move(partitioner)), selector_(std::move(selector)) {}
  std::unique_ptr<RecordRouter<T>> create(int, int parallelism) const override {
    return std::make_unique<Router>(partitioner_, selector_, parallelism);
  }

 private:
  class Router final : public RecordRouter<T> {
   public:
    Router(Partitioner partitioner, KeySelector selector, int parallelism)
        : partitioner_(std::move(partitioner)), selector_(std::move(selector)), parallelism_(parallelism) {}
    int route(const T& value) override {
      int partition = static_cast<int>(partitioner_(selector_(value), parallelism_));
      if (partition < 0 || partition >= parallelism_) throw_bad_custom_partition(partition, parallelism_);
      return partition;
    }

   private:
    Partitioner partitioner_;
    KeySelector selector_;
    int parallelism_;
  };
  Partitioner partitioner_;
  KeySelector selector_;
};

template <class Out, class F>
struct FlatMapOutput {
  using type = Out;
};
template <class F>
struct FlatMapOutput<void, F> {
  using type = typename CollectorValue<ArgType<F, 1>>::type;
};

template <class Out, class F>
struct ProcessOutput {
  using type = Out;
};
template <class F>
struct ProcessOutput<void, F> {
  using type = typename CollectorValue<ArgType<F, 2>>::type;
};

}  // namespace internal

// The result of sink_to(): lets the sink be named, given a uid and a parallelism.
template <class T>
class DataStreamSink : public internal::OperatorSettings<DataStreamSink<T>> {
 public:
  DataStreamSink(internal::Pipeline* pipeline, int id) : pipeline_(pipeline), id_(id) {}
  int id() const { return id_; }

 private:
  friend class internal::OperatorSettings<DataStreamSink<T>>;
  internal::Transformation& transformation() const { return pipeline_->at(id_); }
  internal::Transformation& operator_transformation(const char*) const { return transformation(); }

  internal::Pipeline* pipeline_;
  int id_;
};

template <class T>
class DataStream : public internal::OperatorSettings<DataStream<T>> {
 public:
  using value_type = T;

  DataStream(internal::Pipeline* pipeline, int id) : pipeline_(pipeline), id_(id) {}

  // One output record per input record.
  template <class F>
  auto map(F fn) {
    return map_with(no_key(), false, std::move(fn));
  }

  // Keeps the records for which fn(record) is true.
  template <class F>
  DataStream<T> filter(F fn) {
    return filter_with(no_key(), false, std::move(fn));
  }

  // fn(record, Collector<R>&) emits any number of records. R is deduced from the
  // collector parameter; name it (flat_map<R>(...)) for generic lambdas.
  template <class Out = void, class F>
  auto flat_map(F fn) {
    return flat_map_with<Out>(no_key(), false, std::move(fn));
  }

  // A ProcessFunction<T, R> subclass (copied for each subtask), or a lambda
  // (const T&, ProcessContext<T, R>&, Collector<R>&).
  template <class Out = void, class P>
  auto process(P fn) {
    return process_with<Out>(no_key(), false, std::move(fn));
  }

  // Records get their event time from `strategy`'s timestamp assigner, and watermarks from
  // its generator (Flink's assignTimestampsAndWatermarks). Watermarks from upstream are
  // replaced, except the one that ends bounded input.
  DataStream<T> assign_timestamps_and_watermarks(WatermarkStrategy<T> strategy) {
    return add_operator<T>("Timestamps/Watermarks", [strategy] {
      return std::make_unique<internal::TimestampsAndWatermarksOperator<T>>(strategy);
    });
  }

  // Partitions by key: records with equal keys go to the same subtask (by key group).
  template <class F>
  KeyedStream<T, F> key_by(F key_selector) {
    using K = internal::ResultOf<F, const T&>;
    static_assert(Key<K>,
                  "key_by(): the key type needs operator== and eddy::KeyHash (see eddy/key.h)");
    internal::PartitionSpec spec{internal::PartitionKind::kHash,
                                 std::make_shared<internal::HashRouterFactory<T, F>>(key_selector)};
    return KeyedStream<T, F>(pipeline_, add_partition(spec, "Key By"), std::move(key_selector));
  }

  // --- Windows over the whole stream (defined in eddy/windowed_stream.h) ---
  // Flink's windowAll / countWindowAll: one window operator at parallelism 1.
  template <class Assigner>
  auto window_all(Assigner assigner);
  auto count_window_all(int64_t size);
  auto count_window_all(int64_t size, int64_t slide);
  // --- end windows ---

  // The records of this stream and of `others` in one stream.
  template <class... Streams>
  DataStream<T> union_with(const Streams&... others) {
    static_assert((std::is_same_v<typename Streams::value_type, T> && ...),
                  "union_with() needs streams of the same type");
    internal::Transformation& t = pipeline_->add(internal::Transformation::Kind::kUnion, "Union");
    t.inputs = {id_, others.id()...};
    t.output_type = internal::type_info_of<T>();
    return DataStream<T>(pipeline_, t.id);
  }

  // Both streams into one operator with a method for each (eddy/connected_streams.h).
  template <class U>
  ConnectedStreams<T, U> connect(const DataStream<U>& other);
  // The broadcast state pattern: `other` reaches every subtask (eddy/connected_streams.h).
  template <class U>
  BroadcastConnectedStream<T, U> connect(const BroadcastStream<U>& other);
  // This stream sent to every subtask of the operator it connects to, which keeps the
  // broadcast states `descriptors` name (MapStateDescriptor) for it.
  template <class D, class... Ds>
  BroadcastStream<T> broadcast(const D& descriptor, const Ds&... descriptors);

  // --- Joins (defined in eddy/joins.h) ---
  // Window join and coGroup with `other`: where(key).equal_to(key).window(assigner).apply(fn).
  template <class U>
  auto join(const DataStream<U>& other);
  template <class U>
  auto co_group(const DataStream<U>& other);
  // --- end joins ---

  // The records the operator producing this stream emitted into side output `tag`
  // (Flink's getSideOutput).
  template <class S>
  DataStream<S> side_output(const OutputTag<S>& tag) {
    internal::Transformation& producer = operator_transformation("side_output()");
    internal::Transformation& t = pipeline_->add(internal::Transformation::Kind::kSideOutput,
                                                 "Side Output '" + tag.id() + "'");
    t.inputs = {producer.id};
    t.side_tag = tag.id();
    t.output_type = internal::type_info_of<S>();
    return DataStream<S>(pipeline_, t.id);
  }

  DataStream<T> forward() { return partition(internal::PartitionKind::kForward, "Forward"); }
  DataStream<T> rebalance() { return partition(internal::PartitionKind::kRebalance, "Rebalance"); }
  DataStream<T> rescale() { return partition(internal::PartitionKind::kRescale, "Rescale"); }
  DataStream<T> shuffle() { return partition(internal::PartitionKind::kShuffle, "Shuffle"); }
  DataStream<T> broadcast() { return partition(internal::PartitionKind::kBroadcast, "Broadcast"); }

  // Sends each record to partitioner(key_selector(record), num_partitions).
  template <class P, class F>
  DataStream<T> partition_custom(P partitioner, F key_selector) {
    internal::PartitionSpec spec{
        internal::PartitionKind::kCustom,
        std::make_shared<internal::CustomRouterFactory<T, P, F>>(std::move(partitioner),
                                                                 std::move(key_selector))};
    return DataStream<T>(pipeline_, add_partition(spec, "Custom Partition"));
  }

  DataStreamSink<T> sink_to(std::shared_ptr<const Sink<T>> sink, std::string name = "Sink") {
    internal::Transformation& t = pipeline_->add(internal::Transformation::Kind::kSink, std::move(name));
    t.inputs = {id_};
    t.create_operator = [sink] { return std::make_unique<internal::SinkOperator<T>>(sink); };
    t.prepare_run = [sink](const std::vector<OperatorStateSnapshot>& restored) { sink->prepare_run(restored); };
    return DataStreamSink<T>(pipeline_, t.id);
  }

  // A sink description such as sinks::print() or sinks::discard().
  template <class Spec>
    requires requires(const Spec& spec) { spec.template make<T>(); }
  DataStreamSink<T> sink_to(const Spec& spec, std::string name = "Sink") {
    return sink_to(std::shared_ptr<const Sink<T>>(spec.template make<T>()), std::move(name));
  }

  // Flink's print(): each record on stdout, prefixed with "N> " when the sink is parallel.
  DataStreamSink<T> print(std::string identifier = "") {
    return sink_to(sinks::print(std::move(identifier)), "Print to Std. Out");
  }

  int id() const { return id_; }

 protected:
  friend class internal::OperatorSettings<DataStream<T>>;

  internal::Transformation& transformation() const { return pipeline_->at(id_); }
  internal::Transformation& operator_transformation(const char* call) const {
    internal::Transformation& t = transformation();
    if (t.is_virtual()) internal::throw_not_an_operator(t, call);
    return t;
  }

  // `keyed`: the operator runs on a keyed stream and gets a keyed state backend.
  template <class R, class Factory>
  DataStream<R> add_operator(std::string name, Factory factory, bool keyed = false) {
    internal::Transformation& t =
        pipeline_->add(internal::Transformation::Kind::kOperator, std::move(name));
    t.keyed = keyed;
    t.inputs = {id_};
    t.output_type = internal::type_info_of<R>();
    t.create_operator = std::move(factory);
    return DataStream<R>(pipeline_, t.id);
  }

  // The transformations, made per subtask with the key policy `key()` returns: NoKey on a
  // plain stream, the record's key on a keyed one (`keyed` then also gives the operator a
  // keyed state backend).
  static auto no_key() {
    return [] { return internal::NoKey{}; };
  }

  template <class MakeKey, class F>
  auto map_with(MakeKey key, bool keyed, F fn) {
    using R = internal::ResultOf<F, T>;
    using KP = decltype(key());
    static_assert(!std::is_void_v<R>, "map() needs a function that returns the new record");
    return add_operator<R>(
        "Map", [fn, key] { return std::make_unique<internal::MapOperator<T, R, F, KP>>(fn, key()); }, keyed);
  }

  template <class MakeKey, class F>
  DataStream<T> filter_with(MakeKey key, bool keyed, F fn) {
    using KP = decltype(key());
    return add_operator<T>(
        "Filter", [fn, key] { return std::make_unique<internal::FilterOperator<T, F, KP>>(fn, key()); }, keyed);
  }

  template <class Out, class MakeKey, class F>
  auto flat_map_with(MakeKey key, bool keyed, F fn) {
    using R = typename internal::FlatMapOutput<Out, F>::type;
    using KP = decltype(key());
    return add_operator<R>(
        "Flat Map", [fn, key] { return std::make_unique<internal::FlatMapOperator<T, R, F, KP>>(fn, key()); },
        keyed);
  }

  template <class Out, class MakeKey, class P>
  auto process_with(MakeKey key, bool keyed, P fn) {
    using KP = decltype(key());
    if constexpr (requires { typename P::output_type; }) {
      using R = typename P::output_type;
      static_assert(std::is_base_of_v<ProcessFunction<T, R>, P>,
                    "process() takes a ProcessFunction<In, Out> whose In is the stream's type");
      return add_operator<R>(
          "Process", [fn, key] { return std::make_unique<internal::ProcessOperator<T, R, P, KP>>(fn, key()); },
          keyed);
    } else {
      using R = typename internal::ProcessOutput<Out, P>::type;
      using PF = internal::LambdaProcessFunction<T, R, P>;
      return add_operator<R>(
          "Process",
          [fn, key] { return std::make_unique<internal::ProcessOperator<T, R, PF, KP>>(PF(fn), key()); }, keyed);
    }
  }

  int add_partition(internal::PartitionSpec spec, std::string name) {
    internal::Transformation& t =
        pipeline_->add(internal::Transformation::Kind::kPartition, std::move(name));
    t.inputs = {id_};
    t.output_type = internal::type_info_of<T>();
    t.partition = std::move(spec);
    return t.id;
  }

  DataStream<T> partition(internal::PartitionKind kind, std::string name) {
    return DataStream<T>(pipeline_, add_partition(internal::PartitionSpec{kind, nullptr}, std::move(name)));
  }

  internal::Pipeline* pipeline_;
  int id_;
};

// A stream partitioned by key (Flink's KeyedStream). Rolling aggregations keep one value
// per key and emit the updated value for every record (streaming mode) or the final one
// per key at the end of bounded input (batch mode).
//
// Fields are named by a member pointer (sum(&Bid::price)), a tuple/pair index (sum<1>()),
// or, for a stream of numbers, not at all (sum()). min()/max() update only the field,
// keeping the other fields of the first record of the key; min_by()/max_by() keep the
// whole record with the smallest/largest field (the first one on ties), as in Flink.
template <class T, class KeySelector>
class KeyedStream : public DataStream<T> {
 public:
  using key_type = internal::ResultOf<KeySelector, const T&>;

  KeyedStream(internal::Pipeline* pipeline, int id, KeySelector selector)
      : DataStream<T>(pipeline, id), selector_(std::move(selector)) {}

  // The stateless transformations of DataStream, run as keyed operators: their functions
  // may use keyed state (RuntimeContext::get_state and friends, in open()), scoped to the
  // key of the record being processed.
  template <class F>
  auto map(F fn) {
    return this->map_with(key_of_record(), true, std::move(fn));
  }
  template <class F>
  DataStream<T> filter(F fn) {
    return this->filter_with(key_of_record(), true, std::move(fn));
  }
  template <class Out = void, class F>
  auto flat_map(F fn) {
    return this->template flat_map_with<Out>(key_of_record(), true, std::move(fn));
  }
  // A KeyedProcessFunction<K, T, R> (with timers), a ProcessFunction<T, R>, or a lambda
  // (const T&, ProcessContext<T, R>&, Collector<R>&).
  template <class Out = void, class P>
  auto process(P fn) {
    if constexpr (requires { typename P::key_type; }) {
      using R = typename P::output_type;
      static_assert(std::is_base_of_v<KeyedProcessFunction<key_type, T, R>, P>,
                    "process() takes a KeyedProcessFunction<K, In, Out> whose K and In match the stream");
      KeySelector selector = selector_;
      return this->template add_operator<R>(
          "Keyed Process",
          [fn, selector] {
            return std::make_unique<internal::KeyedProcessOperator<key_type, T, R, P, KeySelector>>(fn, selector);
          },
          true);
    } else {
      return this->template process_with<Out>(key_of_record(), true, std::move(fn));
    }
  }

  // Connects two keyed streams with keys of the same type (eddy/connected_streams.h).
  template <class U, class KS2>
  KeyedConnectedStreams<T, KeySelector, U, KS2> connect(const KeyedStream<U, KS2>& other);
  // The broadcast state pattern on a keyed stream.
  template <class U>
  KeyedBroadcastConnectedStream<T, KeySelector, U> connect(const BroadcastStream<U>& other);
  using DataStream<T>::connect;

  // --- Joins (defined in eddy/joins.h) ---
  // Joins `other` by key over an interval of event time: call between() on the result.
  template <class U, class KS2>
  auto interval_join(const KeyedStream<U, KS2>& other);
  // --- end joins ---

  // --- Windows (defined in eddy/windowed_stream.h) ---
  // Windows of each key by `assigner` (e.g. TumblingEventTimeWindows::of(...)): a
  // WindowedStream to reduce, aggregate or process.
  template <class Assigner>
  auto window(Assigner assigner);
  // Windows of `size` elements per key; with a slide, one every `slide` elements.
  auto count_window(int64_t size);
  auto count_window(int64_t size, int64_t slide);
  // --- end windows ---

  // fn(accumulated, record) -> new accumulated value.
  template <class F>
  DataStream<T> reduce(F fn) {
    return rolling("Reduce", std::move(fn));
  }

  DataStream<T> sum() requires std::is_arithmetic_v<T> { return sum_of("Sum", self_field()); }
  template <class Member>
    requires std::is_member_object_pointer_v<Member>
  DataStream<T> sum(Member field) { return sum_of("Sum", member_field(field)); }
  template <size_t I>
  DataStream<T> sum() { return sum_of("Sum", tuple_field<I>()); }

  DataStream<T> min() requires std::is_arithmetic_v<T> { return min_of("Min", self_field()); }
  template <class Member>
    requires std::is_member_object_pointer_v<Member>
  DataStream<T> min(Member field) { return min_of("Min", member_field(field)); }
  template <size_t I>
  DataStream<T> min() { return min_of("Min", tuple_field<I>()); }

  DataStream<T> max() requires std::is_arithmetic_v<T> { return max_of("Max", self_field()); }
  template <class Member>
    requires std::is_member_object_pointer_v<Member>
  DataStream<T> max(Member field) { return max_of("Max", member_field(field)); }
  template <size_t I>
  DataStream<T> max() { return max_of("Max", tuple_field<I>()); }

  template <class Member>
    requires std::is_member_object_pointer_v<Member>
  DataStream<T> min_by(Member field) { return min_by_of("MinBy", member_field(field)); }
  template <size_t I>
  DataStream<T> min_by() { return min_by_of("MinBy", tuple_field<I>()); }

  template <class Member>
    requires std::is_member_object_pointer_v<Member>
  DataStream<T> max_by(Member field) { return max_by_of("MaxBy", member_field(field)); }
  template <size_t I>
  DataStream<T> max_by() { return max_by_of("MaxBy", tuple_field<I>()); }

  const KeySelector& key_selector() const { return selector_; }

 private:
  static auto self_field() {
    return [](auto& record) -> auto& { return record; };
  }
  template <class Member>
  static auto member_field(Member field) {
    return [field](auto& record) -> auto& { return record.*field; };
  }
  template <size_t I>
  static auto tuple_field() {
    return [](auto& record) -> auto& { return std::get<I>(record); };
  }

  template <class Field>
  DataStream<T> sum_of(const char* name, Field field) {
    return rolling(name, [field](T acc, const T& record) {
      field(acc) += field(record);
      return acc;
    });
  }
  template <class Field>
  DataStream<T> min_of(const char* name, Field field) {
    return rolling(name, [field](T acc, const T& record) {
      if (field(record) < field(acc)) field(acc) = field(record);
      return acc;
    });
  }
  template <class Field>
  DataStream<T> max_of(const char* name, Field field) {
    return rolling(name, [field](T acc, const T& record) {
      if (field(acc) < field(record)) field(acc) = field(record);
      return acc;
    });
  }
  template <class Field>
  DataStream<T> min_by_of(const char* name, Field field) {
    return rolling(name, [field](T acc, const T& record) { return field(record) < field(acc) ? record : acc; });
  }
  template <class Field>
  DataStream<T> max_by_of(const char* name, Field field) {
    return rolling(name, [field](T acc, const T& record) { return field(acc) < field(record) ? record : acc; });
  }

  template <class F>
  DataStream<T> rolling(const char* name, F fn) {
    KeySelector selector = selector_;
    return this->template add_operator<T>(
        name,
        [selector, fn] { return std::make_unique<internal::KeyedReduceOperator<T, KeySelector, F>>(selector, fn); },
        true);
  }

  // Makes the key policy of a keyed operator: the key of each record, by the selector.
  auto key_of_record() const {
    return [selector = selector_] { return internal::KeyContext<T, KeySelector>(selector); };
  }

  KeySelector selector_;
};

}  // namespace eddy

#include "eddy/connected_streams.h"
#include "eddy/joins.h"
#include "eddy/windowed_stream.h"  // windows (KeyedStream::window, DataStream::window_all)
