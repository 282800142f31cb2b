// The operator contract: what runs inside a task. Library operators (map, reduce, sinks,
// ...) and user-written operators implement it; most users never see it and write
// functions (lambdas, ProcessFunction) instead.
//
// Threading: an operator instance belongs to one subtask and is only ever called from
// that subtask's thread, so it needs no locks. Call order: open(), then any number of
// process()/process_watermark(), then finish() once when all input has ended (bounded
// input only), then close() always, also after a failure or a cancellation.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/config.h"
#include "eddy/time.h"

namespace eddy {

class Clock;
class KeyedStateBackend;
class OperatorStateStore;
template <class T>
struct ValueStateDescriptor;
template <class T>
struct ListStateDescriptor;
template <class K, class V>
struct MapStateDescriptor;
template <class T>
struct ReducingStateDescriptor;
template <class IN, class ACC, class OUT>
struct AggregatingStateDescriptor;
template <class T>
class ValueState;
template <class T>
class ListState;
template <class K, class V>
class MapState;
template <class T>
class ReducingState;
template <class IN, class OUT>
class AggregatingState;

// Processing-time callbacks of one subtask (Flink's ProcessingTimeService). Callbacks run
// on the subtask's thread, in time order, once the job's clock has reached their time.
class ProcessingTimeService {
 public:
  virtual ~ProcessingTimeService() = default;
  virtual Timestamp current_processing_time() const = 0;
  virtual void register_timer(Timestamp time, std::function<void(Timestamp)> callback) = 0;
};

// Where an operator or function runs. Valid from open() until close() returns.
class RuntimeContext {
 public:
  virtual ~RuntimeContext() = default;
  virtual const std::string& operator_name() const = 0;
  virtual int subtask_index() const = 0;  // 0-based
  virtual int parallelism() const = 0;
  virtual int max_parallelism() const = 0;
  virtual const ExecutionConfig& config() const = 0;
  virtual const Clock& clock() const = 0;  // processing time
  // Timers on the job's clock, run on this subtask's thread.
  virtual ProcessingTimeService& processing_time_service() const = 0;

  // The keyed state of this operator subtask (eddy/state.h); null unless the operator
  // runs on a keyed stream. The get_*_state shortcuts throw InvalidJobError then.
  virtual KeyedStateBackend* keyed_state_backend() const { return nullptr; }
  // The operator state of this subtask (eddy/operator_state.h).
  virtual OperatorStateStore* operator_state_store() const { return nullptr; }
  // The checkpoint this run restored its state from; none for a fresh start (Flink's
  // isRestored()).
  virtual std::optional<int64_t> restored_checkpoint_id() const { return std::nullopt; }
  OperatorStateStore& operator_state() const;
  KeyedStateBackend& keyed_state() const;
  template <class T>
  ValueState<T>& get_state(const ValueStateDescriptor<T>& descriptor) const;
  template <class T>
  ListState<T>& get_list_state(const ListStateDescriptor<T>& descriptor) const;
  template <class K, class V>
  MapState<K, V>& get_map_state(const MapStateDescriptor<K, V>& descriptor) const;
  template <class T>
  ReducingState<T>& get_reducing_state(const ReducingStateDescriptor<T>& descriptor) const;
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT>& get_aggregating_state(const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) const;
};

// Records an operator received and emitted, for JobResult. Written only by the task thread.
struct OperatorMetrics {
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  // Records behind the watermark that the operator dropped (late records a side output
  // took are not counted), as Flink's numLateRecordsDropped.
  uint64_t records_dropped_late = 0;
};

// Where an operator sends its results: the next operator of the chain, the channels to
// other tasks, or several of those. emit() may block while downstream is backpressured.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void emit_watermark(Timestamp watermark) = 0;
  // The producer went idle (true) or became active again (false): while idle, it does
  // not hold back the watermark of the operators downstream.
  virtual void emit_watermark_status(bool idle) = 0;
};

template <class T>
class Output : public OutputBase {
 public:
  virtual void emit(T&& value, Timestamp timestamp) = 0;
};

// What a user function emits into. Records get the timestamp of the input record.
template <class T>
class Collector {
 public:
  virtual ~Collector() = default;
  void collect(T value) { push(std::move(value)); }

 protected:
  virtual void push(T&& value) = 0;
};

class InputBase {
 public:
  virtual ~InputBase() = default;
};

// How far ahead of the record being processed the runtime prefetches (Input::prefetch):
// enough records for their cache misses to overlap, few enough that what the first
// fetched is still in cache when its turn comes.
inline constexpr size_t kPrefetchDistance = 8;

template <class T>
class Input : public InputBase {
 public:
  virtual void process(T&& value, Timestamp timestamp) = 0;
  // Whether prefetch() does anything; asked after open(). The runtime calls prefetch()
  // only for inputs that say so.
  virtual bool prefetches() const { return false; }
  // A hint, for a record a few ahead (in the same batch) of the one being processed, and
  // before that record's process(): start loading what processing it will touch (a keyed
  // operator: its key's state), so that it does not wait on memory then. Must change
  // nothing observable.
  virtual void prefetch(const T& /*value*/) {}
};

class OperatorBase {
 public:
  virtual ~OperatorBase() = default;

  // `context` outlives the operator's use of it.
  virtual void open(RuntimeContext& context) { context_ = &context; }
  virtual int num_inputs() const { return 1; }
  // The typed input `index` (an Input<T>); only called while the task is being built.
  virtual InputBase& input(int index) = 0;
  // Default: forward the watermark unchanged.
  virtual void process_watermark(Timestamp watermark, int input_index) {
    if (output_ != nullptr) output_->emit_watermark(watermark);
  }
  // All inputs went idle (true) or one became active again (false). Default: forward.
  virtual void process_watermark_status(bool idle, int input_index) {
    if (output_ != nullptr) output_->emit_watermark_status(idle);
  }
  // The operator's state is about to be snapshotted: move anything it buffers outside its
  // state (pre-aggregated values) into it. Must not emit.
  virtual void prepare_snapshot_pre_barrier() {}
  // The synchronous part of checkpoint `checkpoint_id`, at its barrier, after
  // prepare_snapshot_pre_barrier(): bring operator state (RuntimeContext::operator_state())
  // up to date, and pre-commit transactions. Keyed state and timers are snapshotted by the
  // runtime. Must not emit.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  // Checkpoint `checkpoint_id` is complete and durable: commit what was pre-committed for
  // it. Also called for the checkpoint a job was restored from, so commits must be
  // idempotent. Must not emit.
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  // Checkpoint `checkpoint_id` will not complete.
  virtual void notify_checkpoint_aborted(int64_t checkpoint_id) {}
  // All input ended. May emit (buffered results, final aggregates).
  virtual void finish() {}
  // Release resources. Must not emit.
  virtual void close() {}

  // Wiring, done by the runtime before open().
  void set_output(OutputBase* output) { output_ = output; }
  // Where records for the side output `tag` go; a tag with no consumer has none, and
  // what is emitted into it is dropped (as in Flink).
  void set_side_output(std::string tag, OutputBase* output) { side_outputs_.emplace_back(std::move(tag), output); }
  OutputBase* side_output(const std::string& tag) const {
    for (const auto& [name, output] : side_outputs_) {
      if (name == tag) return output;
    }
    return nullptr;
  }
  void set_context(RuntimeContext& context) { context_ = &context; }
  OperatorMetrics& metrics() { return metrics_; }
  RuntimeContext& context() const { return *context_; }

  // Emits into a side output (an Output<T> for that tag); a no-op when it has no consumer.
  // The tag's records must be of type T (OutputTag<T> keeps that straight).
  template <class T>
  void emit_side(const std::string& tag, T&& value, Timestamp timestamp) {
    if (OutputBase* output = side_output(tag)) {
      static_cast<Output<std::decay_t<T>>*>(output)->emit(std::forward<T>(value), timestamp);
    }
  }

 protected:
  OutputBase* output_ = nullptr;
  RuntimeContext* context_ = nullptr;

 private:
  OperatorMetrics metrics_;
  std::vector<std::pair<std::string, OutputBase*>> side_outputs_;
};

// An operator with one input of type In that emits Out.
template <class In, class Out>
class OneInputOperator : public OperatorBase, public Input<In> {
 public:
  InputBase& input(int) override { return *this; }

 protected:
  Output<Out>& out() { return *static_cast<Output<Out>*>(output_); }
};

// An operator with two inputs (connect(), joins) of types In1 and In2 that emits Out.
// process_watermark() gets the combined watermark of both inputs.
template <class In1, class In2, class Out>
class TwoInputOperator : public OperatorBase {
 public:
  int num_inputs() const override { return 2; }
  InputBase& input(int index) override {
    if (index == 0) return first_;
    return second_;
  }
  virtual void process_first(In1&& value, Timestamp timestamp) = 0;
  virtual void process_second(In2&& value, Timestamp timestamp) = 0;
  // Input::prefetches() and Input::prefetch() of each input. Default: none.
  virtual bool prefetches_first() const { return false; }
  virtual bool prefetches_second() const { return false; }
  virtual void prefetch_first(const In1& /*value*/) {}
  virtual void prefetch_second(const In2& /*value*/) {}

 protected:
  Output<Out>& out() { return *static_cast<Output<Out>*>(output_); }

 private:
  struct First final : Input<In1> {
    explicit First(TwoInputOperator& op) : op(op) {}
    void process(In1&& value, Timestamp timestamp) override { op.process_first(std::move(value), timestamp); }
    bool prefetches() const override { return op.prefetches_first(); }
    void prefetch(const In1& value) override { op.prefetch_first(value); }
    TwoInputOperator& op;
  };
  struct Second final : Input<In2> {
    explicit Second(TwoInputOperator& op) : op(op) {}
    void process(In2&& value, Timestamp timestamp) override { op.process_second(std::move(value), timestamp); }
    bool prefetches() const override { return op.prefetches_second(); }
    void prefetch(const In2& value) override { op.prefetch_second(value); }
    TwoInputOperator& op;
  };
  First first_{*this};
  Second second_{*this};
};

// Adapts an Output to the Collector a user function sees; stamps the current timestamp.
template <class T>
class TimestampedCollector final : public Collector<T> {
 public:
  void reset(Output<T>* output, Timestamp timestamp) {
    output_ = output;
    timestamp_ = timestamp;
  }
  void set_timestamp(Timestamp timestamp) { timestamp_ = timestamp; }

 protected:
  void push(T&& value) override { output_->emit(std::move(value), timestamp_); }

 private:
  Output<T>* output_ = nullptr;
  Timestamp timestamp_ = kNoTimestamp;
};

}  // namespace eddy
