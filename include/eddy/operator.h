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
#include <string>
#include <utility>

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

  // The keyed state of this operator subtask (eddy/state.h); null unless the operator
  // runs on a keyed stream. The get_*_state shortcuts throw InvalidJobError then.
  virtual KeyedStateBackend* keyed_state_backend() const { return nullptr; }
  // The operator state of this subtask (eddy/operator_state.h).
  virtual OperatorStateStore* operator_state_store() const { return nullptr; }
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
};

// Where an operator sends its results: the next operator of the chain, the channels to
// other tasks, or several of those. emit() may block while downstream is backpressured.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void emit_watermark(Timestamp watermark) = 0;
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

template <class T>
class Input : public InputBase {
 public:
  virtual void process(T&& value, Timestamp timestamp) = 0;
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
  // All input ended. May emit (buffered results, final aggregates).
  virtual void finish() {}
  // Release resources. Must not emit.
  virtual void close() {}

  // Wiring, done by the runtime before open().
  void set_output(OutputBase* output) { output_ = output; }
  void set_context(RuntimeContext& context) { context_ = &context; }
  OperatorMetrics& metrics() { return metrics_; }
  RuntimeContext& context() const { return *context_; }

 protected:
  OutputBase* output_ = nullptr;
  RuntimeContext* context_ = nullptr;

 private:
  OperatorMetrics metrics_;
};

// An operator with one input of type In that emits Out.
template <class In, class Out>
class OneInputOperator : public OperatorBase, public Input<In> {
 public:
  InputBase& input(int) override { return *this; }

 protected:
  Output<Out>& out() { return *static_cast<Output<Out>*>(output_); }
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
