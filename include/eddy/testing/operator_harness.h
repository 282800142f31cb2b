// Test harnesses for operators (Flink's OneInputStreamOperatorTestHarness and
// KeyedOneInputStreamOperatorTestHarness): run one operator by hand, with no job around it.
//
//   auto harness = eddy::testing::OneInputOperatorHarness<Event, Result>(
//       std::move(op), {.keyed = true});
//   harness.add_side_output(late_tag);   // before the first element
//   harness.process_element(Event{...}, /*timestamp=*/12);
//   harness.process_watermark(20);        // fires event-time timers
//   harness.set_processing_time(1000);    // fires processing-time timers
//   EXPECT_EQ(harness.output(), (std::vector<StreamRecord<Result>>{{r, 19}}));
//
// The harness gives the operator a RuntimeContext with a ManualClock, a processing-time
// service driven by set_processing_time(), and (for keyed operators) a keyed state backend
// of the kind options.config.state_backend names ("heap" or "rocksdb"). It records what
// the operator emits: records with their timestamps, watermarks, and side-output records
// per tag. Everything runs on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <queue>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/operator_state.h"
#include "eddy/time.h"
#include "eddy/timers.h"

namespace eddy::testing {

// A record an operator emitted, with its timestamp.
template <class T>
struct StreamRecord {
  T value;
  Timestamp timestamp = kNoTimestamp;
  bool operator==(const StreamRecord&) const = default;
};

template <class T>
std::ostream& operator<<(std::ostream& os, const StreamRecord<T>& record) {
  if constexpr (requires { os << record.value; }) {
    os << record.value;
  } else {
    os << "<value>";
  }
  return os << " @ " << record.timestamp;
}

// Processing-time callbacks on a ManualClock (Flink's TestProcessingTimeService): they run
// when advance_to() moves the clock to or past their time, in time order (equal times in
// registration order), including callbacks registered by callbacks that are due by then.
class ManualProcessingTimeService final : public ProcessingTimeService {
 public:
  explicit ManualProcessingTimeService(ManualClock& clock) : clock_(clock) {}

  Timestamp current_processing_time() const override { return clock_.now_ms(); }
  void register_timer(Timestamp time, std::function<void(Timestamp)> callback) override {
    queue_.push(Entry{time, next_sequence_++, std::move(callback)});
  }

  // Moves the clock to `time` (never backwards) and runs the callbacks due.
  void advance_to(Timestamp time) {
    if (time > clock_.now_ms()) clock_.set(time);
    Timestamp now = clock_.now_ms();
    while (!queue_.empty() && queue_.top().time <= now) {
      Entry entry = queue_.top();
      queue_.pop();
      entry.callback(now);
    }
  }
  size_t num_pending() const { return queue_.size(); }
  // The earliest pending callback time; kMaxWatermark when none.
  Timestamp next_time() const { return queue_.empty() ? kMaxWatermark : queue_.top().time; }

 private:
  struct Entry {
    Timestamp time;
    uint64_t sequence;
    std::function<void(Timestamp)> callback;
    bool operator>(const Entry& other) const {
      return time != other.time ? time > other.time : sequence > other.sequence;
    }
  };
  ManualClock& clock_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
  uint64_t next_sequence_ = 0;
};

struct OperatorHarnessOptions {
  // Give the operator a keyed state backend (operators after key_by need one).
  bool keyed = false;
  // The job settings the operator sees; config.state_backend picks the keyed backend
  // ("heap" or "rocksdb"; RocksDB databases go under rocksdb_dir, or the temp dir).
  ExecutionConfig config;
  std::string operator_name = "operator under test";
  int parallelism = 1;
  int subtask_index = 0;
  int max_parallelism = kDefaultMaxParallelism;
  Timestamp initial_processing_time = 0;
};

}  // namespace eddy::testing

namespace eddy::internal {

// Records what is emitted into one output.
template <class T>
class HarnessOutput final : public Output<T> {
 public:
  void emit(T&& value, Timestamp timestamp) override {
    records.push_back(testing::StreamRecord<T>{std::move(value), timestamp});
  }
  void emit_watermark(Timestamp watermark) override { watermarks.push_back(watermark); }
  void emit_watermark_status(bool idle) override { idle_statuses.push_back(idle); }

  std::vector<testing::StreamRecord<T>> records;
  std::vector<Timestamp> watermarks;
  std::vector<bool> idle_statuses;
};

class HarnessRuntimeContext final : public RuntimeContext {
 public:
  HarnessRuntimeContext(const testing::OperatorHarnessOptions& options, const ManualClock& clock,
                        ProcessingTimeService& processing_time, KeyedStateBackend* backend)
      : options_(options), clock_(clock), processing_time_(processing_time), backend_(backend) {}
  const std::string& operator_name() const override { return options_.operator_name; }
  int subtask_index() const override { return options_.subtask_index; }
  int parallelism() const override { return options_.parallelism; }
  int max_parallelism() const override { return options_.max_parallelism; }
  const ExecutionConfig& config() const override { return options_.config; }
  const Clock& clock() const override { return clock_; }
  ProcessingTimeService& processing_time_service() const override { return processing_time_; }
  KeyedStateBackend* keyed_state_backend() const override { return backend_; }
  OperatorStateStore* operator_state_store() const override { return &operator_state_; }

 private:
  const testing::OperatorHarnessOptions& options_;
  const ManualClock& clock_;
  ProcessingTimeService& processing_time_;
  KeyedStateBackend* backend_;
  mutable OperatorStateStore operator_state_;
};

}  // namespace eddy::internal

namespace eddy::testing {

// What every harness shares: the operator's surroundings and its recorded outputs. `Out`
// is the operator's output type. Input-specific harnesses derive from it.
template <class Out>
class OperatorHarnessBase {
 public:
  OperatorHarnessBase(std::unique_ptr<OperatorBase> op, OperatorHarnessOptions options)
      : options_(std::move(options)),
        clock_(options_.initial_processing_time),
        processing_time_(clock_),
        op_(std::move(op)) {
    if (op_ == nullptr) throw std::invalid_argument("operator harness: no operator");
    if (options_.keyed) {
      backend_ = create_keyed_state_backend(
          options_.config.state_backend,
          KeyGroupRange::for_subtask(options_.max_parallelism, options_.parallelism,
                                     options_.subtask_index),
          options_.max_parallelism, clock_, options_.operator_name, options_.subtask_index);
    }
    context_ = std::make_unique<eddy::internal::HarnessRuntimeContext>(
        options_, clock_, processing_time_, backend_.get());
    op_->set_output(&output_);
  }
  virtual ~OperatorHarnessBase() { close(); }
  OperatorHarnessBase(const OperatorHarnessBase&) = delete;
  OperatorHarnessBase& operator=(const OperatorHarnessBase&) = delete;

  // Records what the operator emits into side output `tag`. Before open().
  template <class X>
  void add_side_output(const OutputTag<X>& tag) {
    if (opened_) throw std::logic_error("operator harness: add_side_output() after open()");
    auto output = std::make_unique<eddy::internal::HarnessOutput<X>>();
    op_->set_side_output(tag.id(), output.get());
    side_outputs_[tag.id()] = std::move(output);
  }

  // Opens the operator; the first process call does it when the test does not.
  void open() {
    if (opened_) return;
    opened_ = true;
    op_->open(*context_);
  }
  // Moves processing time to `time` and runs the processing-time callbacks due by then.
  void set_processing_time(Timestamp time) {
    open();
    processing_time_.advance_to(time);
  }
  Timestamp processing_time() const { return clock_.now_ms(); }
  // All input ended.
  void finish() {
    open();
    op_->finish();
  }
  void close() {
    if (opened_ && !closed_) {
      closed_ = true;
      op_->close();
    }
  }

  // What the operator emitted so far.
  const std::vector<StreamRecord<Out>>& output() const { return output_.records; }
  std::vector<Out> output_values() const {
    std::vector<Out> values;
    for (const auto& record : output_.records) values.push_back(record.value);
    return values;
  }
  // Moves the recorded records out (the next call returns only newer ones).
  std::vector<StreamRecord<Out>> take_output() { return std::exchange(output_.records, {}); }
  const std::vector<Timestamp>& watermarks() const { return output_.watermarks; }
  template <class X>
  const std::vector<StreamRecord<X>>& side_output(const OutputTag<X>& tag) const {
    auto it = side_outputs_.find(tag.id());
    if (it == side_outputs_.end()) {
      throw std::logic_error("operator harness: side output '" + tag.id() +
                             "' was not added (add_side_output)");
    }
    auto* output = dynamic_cast<eddy::internal::HarnessOutput<X>*>(it->second.get());
    if (output == nullptr)
      throw std::logic_error("operator harness: side output '" + tag.id() + "' has another type");
    return output->records;
  }

  OperatorBase& op() { return *op_; }
  const OperatorMetrics& metrics() const { return op_->metrics(); }
  KeyedStateBackend* keyed_state_backend() { return backend_.get(); }
  ManualClock& clock() { return clock_; }
  ManualProcessingTimeService& processing_time_service() { return processing_time_; }
  RuntimeContext& runtime_context() { return *context_; }

 protected:
  OperatorHarnessOptions options_;
  ManualClock clock_;
  ManualProcessingTimeService processing_time_;
  std::unique_ptr<KeyedStateBackend> backend_;
  std::unique_ptr<eddy::internal::HarnessRuntimeContext> context_;
  eddy::internal::HarnessOutput<Out> output_;
  std::map<std::string, std::unique_ptr<OutputBase>> side_outputs_;
  std::unique_ptr<OperatorBase> op_;
  bool opened_ = false;
  bool closed_ = false;
};

// A one-input operator (OneInputOperator<In, Out>, or any operator whose input 0 is an
// Input<In>).
template <class In, class Out>
class OneInputOperatorHarness : public OperatorHarnessBase<Out> {
 public:
  explicit OneInputOperatorHarness(std::unique_ptr<OperatorBase> op,
                                   OperatorHarnessOptions options = {})
      : OperatorHarnessBase<Out>(std::move(op), std::move(options)) {}

  void process_element(In value, Timestamp timestamp = kNoTimestamp) {
    this->open();
    ++this->op_->metrics().records_in;
    static_cast<Input<In>&>(this->op_->input(0)).process(std::move(value), timestamp);
  }
  void process_watermark(Timestamp watermark) {
    this->open();
    this->op_->process_watermark(watermark, 0);
  }
};

// A two-input operator (TwoInputOperator<In1, In2, Out>). Its watermark is the minimum of
// the two inputs' (kNoTimestamp until both have one), as the runtime combines them.
template <class In1, class In2, class Out>
class TwoInputOperatorHarness : public OperatorHarnessBase<Out> {
 public:
  explicit TwoInputOperatorHarness(std::unique_ptr<OperatorBase> op,
                                   OperatorHarnessOptions options = {})
      : OperatorHarnessBase<Out>(std::move(op), std::move(options)) {}

  void process_element1(In1 value, Timestamp timestamp = kNoTimestamp) {
    this->open();
    ++this->op_->metrics().records_in;
    static_cast<Input<In1>&>(this->op_->input(0)).process(std::move(value), timestamp);
  }
  void process_element2(In2 value, Timestamp timestamp = kNoTimestamp) {
    this->open();
    ++this->op_->metrics().records_in;
    static_cast<Input<In2>&>(this->op_->input(1)).process(std::move(value), timestamp);
  }
  void process_watermark1(Timestamp watermark) { advance(0, watermark); }
  void process_watermark2(Timestamp watermark) { advance(1, watermark); }

 private:
  void advance(int input, Timestamp watermark) {
    this->open();
    Timestamp& current = input == 0 ? first_ : second_;
    current = std::max(current, watermark);
    Timestamp combined = std::min(first_, second_);
    if (combined > combined_) {
      combined_ = combined;
      this->op_->process_watermark(combined, input);
    }
  }
  Timestamp first_ = kNoTimestamp;
  Timestamp second_ = kNoTimestamp;
  Timestamp combined_ = kNoTimestamp;
};

}  // namespace eddy::testing
