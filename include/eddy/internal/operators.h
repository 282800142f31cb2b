// Not API: the operators behind the DataStream API calls.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "eddy/functions.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/operator_state.h"
#include "eddy/sink.h"
#include "eddy/source.h"
#include "eddy/timers.h"
#include "eddy/watermark.h"
#include "eddy/internal/watermarks.h"

namespace eddy::internal {

// Key policies: how an operator tells its keyed state backend the key of each record.
// Operators on a plain stream have no key.
struct NoKey {
  void open(RuntimeContext&) {}
  template <class T>
  void set(const T&) {}
  bool prefetches() const { return false; }
  template <class T>
  void prefetch(const T&) {}
};

// Operators on a keyed stream compute each record's key (Flink's setKeyContextElement)
// so that state accesses while processing it refer to that key.
template <class T, class KeySelector>
class KeyContext {
 public:
  using K = ResultOf<KeySelector, const T&>;
  explicit KeyContext(KeySelector selector) : selector_(std::move(selector)) {}
  void open(RuntimeContext& context) {
    backend_ = context.keyed_state_backend();
    max_parallelism_ = context.max_parallelism();
  }
  void set(const T& value) {
    if (backend_ == nullptr) return;
    key_.emplace(selector_(value));
    backend_->set_current_key(*key_, key_group_of(KeyHash<K>{}(*key_), max_parallelism_));
  }
  // The key of the last record set; valid after set().
  const K& key() const { return *key_; }
  // Whether the backend has a use for prefetch() (valid after open()).
  bool prefetches() const { return backend_ != nullptr && backend_->prefetches(); }
  // Asks the backend to start loading the state of `value`'s key (a record ahead). A key
  // selector that throws is ignored here: it throws again, and is reported, when that
  // record is processed.
  void prefetch(const T& value) {
    try {
      decltype(auto) key = selector_(value);
      backend_->prefetch(key, key_group_of(KeyHash<K>{}(key), max_parallelism_));
    } catch (...) {
    }
  }

 private:
  KeySelector selector_;
  KeyedStateBackend* backend_ = nullptr;
  int max_parallelism_ = kDefaultMaxParallelism;
  std::optional<K> key_;
};

template <class In, class Out, class F, class KeyPolicy = NoKey>
class MapOperator final : public OneInputOperator<In, Out> {
 public:
  explicit MapOperator(F fn, KeyPolicy key = {}) : fn_(std::move(fn)), key_(std::move(key)) {}
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    open_function(fn_, context);
  }
  bool prefetches() const override { return key_.prefetches(); }
  void prefetch(const In& value) override { key_.prefetch(value); }
  void process(In&& value, Timestamp timestamp) override {
    key_.set(value);
    this->out().emit(call_with_record(fn_, std::move(value)), timestamp);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { close_function(fn_); }

 private:
  F fn_;
  KeyPolicy key_;
};

template <class T, class F, class KeyPolicy = NoKey>
class FilterOperator final : public OneInputOperator<T, T> {
 public:
  explicit FilterOperator(F fn, KeyPolicy key = {}) : fn_(std::move(fn)), key_(std::move(key)) {}
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    open_function(fn_, context);
  }
  bool prefetches() const override { return key_.prefetches(); }
  void prefetch(const T& value) override { key_.prefetch(value); }
  void process(T&& value, Timestamp timestamp) override {
    key_.set(value);
    if (fn_(std::as_const(value))) this->out().emit(std::move(value), timestamp);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { close_function(fn_); }

 private:
  F fn_;
  KeyPolicy key_;
};

template <class In, class Out, class F, class KeyPolicy = NoKey>
class FlatMapOperator final : public OneInputOperator<In, Out> {
 public:
  explicit FlatMapOperator(F fn, KeyPolicy key = {}) : fn_(std::move(fn)), key_(std::move(key)) {}
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    open_function(fn_, context);
    collector_.reset(&this->out(), kNoTimestamp);
  }
  bool prefetches() const override { return key_.prefetches(); }
  void prefetch(const In& value) override { key_.prefetch(value); }
  void process(In&& value, Timestamp timestamp) override {
    key_.set(value);
    collector_.set_timestamp(timestamp);
    if constexpr (std::is_invocable_v<F&, In&&, Collector<Out>&>) {
      fn_(std::move(value), collector_);
    } else {
      fn_(value, collector_);
    }
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { close_function(fn_); }

 private:
  F fn_;
  KeyPolicy key_;
  TimestampedCollector<Out> collector_;
};

// The current watermark and processing time, for operators on streams that are not
// keyed: they have no timers.
class UnkeyedTimers final : public TimerService {
 public:
  void open(RuntimeContext& context) { processing_time_ = &context.processing_time_service(); }
  void set_watermark(Timestamp watermark) { watermark_ = watermark; }
  Timestamp current_processing_time() const override { return processing_time_->current_processing_time(); }
  Timestamp current_watermark() const override { return watermark_; }
  void register_event_time_timer(Timestamp) override { no_timers(); }
  void register_processing_time_timer(Timestamp) override { no_timers(); }
  void delete_event_time_timer(Timestamp) override { no_timers(); }
  void delete_processing_time_timer(Timestamp) override { no_timers(); }

 private:
  [[noreturn]] static void no_timers() {
    throw std::logic_error(
        "timers are only supported on keyed streams: key_by() the stream and use a KeyedProcessFunction "
        "(or KeyedCoProcessFunction)");
  }
  const ProcessingTimeService* processing_time_ = nullptr;
  Timestamp watermark_ = kNoTimestamp;
};

// Runs a ProcessFunction (a copy per subtask).
template <class In, class Out, class PF, class KeyPolicy = NoKey>
class ProcessOperator final : public OneInputOperator<In, Out>,
                              private ProcessFunction<In, Out>::Context {
 public:
  explicit ProcessOperator(PF fn, KeyPolicy key = {}) : fn_(std::move(fn)), key_(std::move(key)) {}
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    timers_.open(context);
    collector_.reset(&this->out(), kNoTimestamp);
    fn_.open(context);
  }
  bool prefetches() const override { return key_.prefetches(); }
  void prefetch(const In& value) override { key_.prefetch(value); }
  void process(In&& value, Timestamp timestamp) override {
    key_.set(value);
    timestamp_ = timestamp;
    collector_.set_timestamp(timestamp);
    fn_.process_element(value, *this, collector_);
  }
  void process_watermark(Timestamp watermark, int) override {
    timers_.set_watermark(watermark);
    this->out().emit_watermark(watermark);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { fn_.close(); }

 private:
  Timestamp timestamp() const override { return timestamp_; }
  const RuntimeContext& runtime() const override { return this->context(); }
  TimerService& timer_service() override { return timers_; }
  OperatorBase& side_output_target() override { return *this; }

  PF fn_;
  UnkeyedTimers timers_;
  KeyPolicy key_;
  TimestampedCollector<Out> collector_;
  Timestamp timestamp_ = kNoTimestamp;
};

// A ProcessFunction made of a lambda (const In&, ProcessContext<In, Out>&, Collector<Out>&).
template <class In, class Out, class F>
class LambdaProcessFunction final : public ProcessFunction<In, Out> {
 public:
  explicit LambdaProcessFunction(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override { open_function(fn_, context); }
  void process_element(const In& value, typename ProcessFunction<In, Out>::Context& context,
                       Collector<Out>& out) override {
    fn_(value, context, out);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { close_function(fn_); }

 private:
  F fn_;
};

// Rolling reduce per key (Flink's keyed reduce / sum / min / max / min_by / max_by).
// Streaming mode emits the new aggregate for every record; batch mode emits only the
// final aggregate of each key when the input ends.
//
// The aggregates are keyed state (ValueState "rolling-aggregate"), with a write-back
// cache in front: a key's aggregate is read from keyed state the first time the key
// comes (after a restore it is there), then updated in the operator's hash map, and
// written back to keyed state before a snapshot (prepare_snapshot_pre_barrier), which
// also empties the cache. So the per-record cost is a hash-map update, as in a
// hand-written loop, and the state still checkpoints and rescales by key group.
// Record types or keys without a Serializer keep their aggregates in the cache only
// (not checkpointable).
template <class T, class KeySelector, class ReduceFn>
class KeyedReduceOperator final : public OneInputOperator<T, T> {
 public:
  using K = ResultOf<KeySelector, const T&>;
  static constexpr bool kInState = Serializable<T> && Serializable<K>;

  KeyedReduceOperator(KeySelector key_selector, ReduceFn reduce)
      : key_selector_(std::move(key_selector)), reduce_(std::move(reduce)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    batch_ = context.config().runtime_mode == RuntimeMode::kBatch;
    if constexpr (kInState) {
      backend_ = context.keyed_state_backend();
      if (backend_ != nullptr) state_ = &backend_->get_state(ValueStateDescriptor<T>("rolling-aggregate"));
    }
    open_function(reduce_, context);
  }

  void process(T&& value, Timestamp timestamp) override {
    const auto& key = key_selector_(std::as_const(value));
    auto it = values_.find(key);
    if (it == values_.end()) {
      K stored_key(key);  // before `value` moves: the key may refer into it
      std::optional<T> previous = read_state(stored_key);
      if (!previous) {
        if (batch_) {
          values_.emplace(std::move(stored_key), Entry{std::move(value), timestamp});
        } else {
          values_.emplace(std::move(stored_key), Entry{value, timestamp});
          this->out().emit(std::move(value), timestamp);
        }
        return;
      }
      it = values_.emplace(std::move(stored_key), Entry{std::move(*previous), timestamp}).first;
    }
    Entry& entry = it->second;
    if constexpr (std::is_invocable_v<ReduceFn&, T&&, const T&>) {
      entry.value = reduce_(std::move(entry.value), std::as_const(value));
    } else {
      entry.value = reduce_(entry.value, std::as_const(value));
    }
    entry.timestamp = timestamp;
    if (!batch_) {
      T result(entry.value);
      this->out().emit(std::move(result), timestamp);
    }
  }

  // Writes the cached aggregates to keyed state and (streaming mode) empties the cache.
  // Batch mode keeps it: its final output comes from the cache.
  void prepare_snapshot_pre_barrier() override {
    if constexpr (kInState) {
      if (state_ == nullptr) return;
      for (auto& [key, entry] : values_) {
        backend_->set_current_key(key, key_group_of(KeyHash<K>{}(key), this->context().max_parallelism()));
        state_->update(entry.value);
      }
      if (!batch_) values_.clear();
    }
  }

  void finish() override {
    if (!batch_) return;
    for (auto& [key, entry] : values_) this->out().emit(std::move(entry.value), entry.timestamp);
    values_.clear();
  }

  void close() override { close_function(reduce_); }

 private:
  struct Entry {
    T value;
    Timestamp timestamp;
  };

  std::optional<T> read_state(const K& key) {
    if constexpr (kInState) {
      if (state_ == nullptr) return std::nullopt;
      backend_->set_current_key(key, key_group_of(KeyHash<K>{}(key), this->context().max_parallelism()));
      return state_->value();
    } else {
      return std::nullopt;
    }
  }

  KeySelector key_selector_;
  ReduceFn reduce_;
  bool batch_ = false;
  KeyedStateBackend* backend_ = nullptr;
  ValueState<T>* state_ = nullptr;
  // The map's hash need not be stable (only key groups must be): std::hash where the
  // key has one, as a hand-written loop would use.
  using MapHasher = std::conditional_t<std::is_default_constructible_v<std::hash<K>>, std::hash<K>,
                                       KeyHasher<K>>;
  std::unordered_map<K, Entry, MapHasher> values_;
};

template <class T>
class SinkOperator final : public OperatorBase, public Input<T> {
 public:
  explicit SinkOperator(std::shared_ptr<const Sink<T>> sink) : sink_(std::move(sink)) {}
  InputBase& input(int) override { return *this; }
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    writer_ = sink_->create_writer(context);
  }
  void process(T&& value, Timestamp timestamp) override { writer_->write(std::move(value), timestamp); }
  void process_watermark(Timestamp, int) override {}
  void snapshot_state(int64_t checkpoint_id) override { writer_->snapshot_state(checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override {
    writer_->notify_checkpoint_complete(checkpoint_id);
  }
  void notify_checkpoint_aborted(int64_t checkpoint_id) override { writer_->notify_checkpoint_aborted(checkpoint_id); }
  void finish() override { writer_->flush(true); }
  void close() override {
    if (writer_ != nullptr) writer_->close();
  }

 private:
  std::shared_ptr<const Sink<T>> sink_;
  std::unique_ptr<SinkWriter<T>> writer_;
};

// The task drives a source through this: it owns the reader of one subtask.
class SourceOperatorBase : public OperatorBase {
 public:
  int num_inputs() const override { return 0; }
  InputBase& input(int) override { throw std::logic_error("a source has no input"); }
  virtual void start_reader(SourceReaderContext& context) = 0;
  virtual InputStatus poll_next() = 0;
  virtual void add_splits(SplitList splits) = 0;
  virtual void notify_no_more_splits() = 0;
};

template <class T>
class SourceOperator final : public SourceOperatorBase {
 public:
  explicit SourceOperator(std::shared_ptr<const Source<T>> source,
                          std::optional<WatermarkStrategy<T>> strategy = std::nullopt)
      : source_(std::move(source)), strategy_(std::move(strategy)) {}

  void start_reader(SourceReaderContext& context) override {
    reader_ = source_->create_reader(context);
    auto& output = *static_cast<Output<T>*>(output_);
    if (strategy_) {
      watermarks_ = std::make_unique<SplitWatermarks<T>>(*strategy_, output, this->context().clock());
      schedule_periodic(this->context(), [this] { watermarks_->on_periodic_emit(); });
      source_output_.emplace(output, watermarks_.get(), 0);
    } else {
      source_output_.emplace(output);
    }
    // After a restore the reader goes on with the splits it had at the checkpoint (split
    // over the new subtasks when the parallelism changed).
    splits_state_ = &this->context().operator_state().get_list_state(ListStateDescriptor<std::string>(kSplitsState));
    SplitList restored;
    for (const std::string& bytes : splits_state_->get()) restored.push_back(source_->deserialize_split(bytes));
    if (!restored.empty()) reader_->add_splits(std::move(restored));
    reader_->start();
  }
  InputStatus poll_next() override { return reader_->poll_next(*source_output_); }
  void add_splits(SplitList splits) override { reader_->add_splits(std::move(splits)); }
  void notify_no_more_splits() override { reader_->notify_no_more_splits(); }
  // The reader's splits, with their positions, go into operator (list) state.
  void snapshot_state(int64_t) override {
    std::vector<std::string> splits;
    for (const auto& split : reader_->snapshot_state()) splits.push_back(source_->serialize_split(*split));
    splits_state_->update(std::move(splits));
  }
  void close() override {
    if (reader_ != nullptr) reader_->close();
  }

 private:
  std::shared_ptr<const Source<T>> source_;
  std::optional<WatermarkStrategy<T>> strategy_;
  std::unique_ptr<SplitWatermarks<T>> watermarks_;
  std::unique_ptr<SourceReader<T>> reader_;
  std::optional<SourceOutput<T>> source_output_;
  static constexpr const char* kSplitsState = "_source-reader-splits";
  ListState<std::string>* splits_state_ = nullptr;
};

}  // namespace eddy::internal
