// Not API: the operators behind KeyedProcessFunction, connect() (CoProcessFunction,
// KeyedCoProcessFunction) and the broadcast state pattern.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/process_functions.h"
#include "eddy/serializer.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/timer_service.h"

namespace eddy::internal {

// The user-facing timers of a keyed operator: the current key's timers, no namespace.
template <class K>
class KeyedTimers final : public TimerService {
 public:
  void open(RuntimeContext& context, Triggerable& target) {
    service_ = std::make_unique<InternalTimerService>("user", context.keyed_state(),
                                                      context.processing_time_service(), target);
  }
  InternalTimerService& service() { return *service_; }
  // The key of a firing timer, typed.
  const K& key_of(const InternalTimer& timer) {
    key_.emplace(deserialize<K>(timer.key));
    return *key_;
  }

  Timestamp current_processing_time() const override { return service_->current_processing_time(); }
  Timestamp current_watermark() const override { return service_->current_watermark(); }
  void register_event_time_timer(Timestamp time) override { service_->register_event_time_timer({}, time); }
  void register_processing_time_timer(Timestamp time) override {
    service_->register_processing_time_timer({}, time);
  }
  void delete_event_time_timer(Timestamp time) override { service_->delete_event_time_timer({}, time); }
  void delete_processing_time_timer(Timestamp time) override {
    service_->delete_processing_time_timer({}, time);
  }

 private:
  std::unique_ptr<InternalTimerService> service_;
  std::optional<K> key_;
};

struct NoKeyType {};

// A process-function context (any of the ProcessContextBase subclasses) served by an
// operator `Op` that provides timestamp(), timers(), current_key() and time_domain().
// Methods a Base does not declare are simply extra here.
template <class Base, class Op>
class ContextFor final : public Base {
 public:
  explicit ContextFor(Op& op) : op_(op) {}
  Timestamp timestamp() const override { return op_.timestamp(); }
  TimerService& timer_service() override { return op_.timers(); }
  const RuntimeContext& runtime() const override { return op_.context(); }
  const typename Op::key_type& current_key() const { return op_.current_key(); }
  TimeDomain time_domain() const { return op_.time_domain(); }

 protected:
  OperatorBase& side_output_target() override { return op_; }

 private:
  Op& op_;
};

// What keyed process operators share: the current key (of the record, or of the firing
// timer), the timestamp, the timers, and the collector.
template <class K, class Out>
class KeyedProcessState : public Triggerable {
 public:
  using key_type = K;
  Timestamp timestamp() const { return timestamp_; }
  TimerService& timers() { return timers_; }
  const K& current_key() const { return *current_key_; }
  TimeDomain time_domain() const { return domain_; }

 protected:
  void open_keyed(RuntimeContext& context, Output<Out>& output) {
    timers_.open(context, *this);
    collector_.reset(&output, kNoTimestamp);
  }
  void begin_record(const K& key, Timestamp timestamp) {
    current_key_ = &key;
    timestamp_ = timestamp;
    collector_.set_timestamp(timestamp);
  }
  // A broadcast element has no key.
  void begin_broadcast(Timestamp timestamp) {
    current_key_ = nullptr;
    timestamp_ = timestamp;
    collector_.set_timestamp(timestamp);
  }
  // Before on_timer: the timer's key; output timestamp is the timer's time for event
  // time and none for processing time (as in Flink).
  void begin_timer(const InternalTimer& timer, TimeDomain domain) {
    current_key_ = &timers_.key_of(timer);
    timestamp_ = timer.time;
    domain_ = domain;
    collector_.set_timestamp(domain == TimeDomain::kEventTime ? timer.time : kNoTimestamp);
  }

  // A timer fired: on_timer of `fn` with the timer's key current.
  template <class Fn, class Context>
  void fire_timer(const InternalTimer& timer, TimeDomain domain, Fn& fn, Context& context) {
    begin_timer(timer, domain);
    fn.on_timer(timer.time, context, collector_);
  }
  // Timers first, then the watermark goes downstream.
  void advance_watermark(Timestamp watermark, Output<Out>& output) {
    timers_.service().advance_watermark(watermark);
    output.emit_watermark(watermark);
  }

  KeyedTimers<K> timers_;
  TimestampedCollector<Out> collector_;

 private:
  const K* current_key_ = nullptr;
  Timestamp timestamp_ = kNoTimestamp;
  TimeDomain domain_ = TimeDomain::kEventTime;
};

template <class K, class In, class Out, class PF, class KeySelector>
class KeyedProcessOperator final : public OneInputOperator<In, Out>, public KeyedProcessState<K, Out> {
 public:
  KeyedProcessOperator(PF fn, KeySelector selector) : fn_(std::move(fn)), key_(std::move(selector)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    this->open_keyed(context, this->out());
    fn_.open(context);
  }
  bool prefetches() const override { return key_.prefetches(); }
  void prefetch(const In& value) override { key_.prefetch(value); }
  void process(In&& value, Timestamp timestamp) override {
    key_.set(value);
    this->begin_record(key_.key(), timestamp);
    fn_.process_element(value, context_, this->collector_);
  }
  void process_watermark(Timestamp watermark, int) override { this->advance_watermark(watermark, this->out()); }
  void on_event_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kEventTime, fn_, context_);
  }
  void on_processing_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kProcessingTime, fn_, context_);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { fn_.close(); }

 private:
  PF fn_;
  KeyContext<In, KeySelector> key_;
  ContextFor<typename PF::OnTimerContext, KeyedProcessOperator> context_{*this};
};

template <class K, class In1, class In2, class Out, class PF, class KS1, class KS2>
class KeyedCoProcessOperator final : public TwoInputOperator<In1, In2, Out>, public KeyedProcessState<K, Out> {
 public:
  KeyedCoProcessOperator(PF fn, KS1 first_key, KS2 second_key)
      : fn_(std::move(fn)), key1_(std::move(first_key)), key2_(std::move(second_key)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key1_.open(context);
    key2_.open(context);
    this->open_keyed(context, this->out());
    fn_.open(context);
  }
  bool prefetches_first() const override { return key1_.prefetches(); }
  bool prefetches_second() const override { return key2_.prefetches(); }
  void prefetch_first(const In1& value) override { key1_.prefetch(value); }
  void prefetch_second(const In2& value) override { key2_.prefetch(value); }
  void process_first(In1&& value, Timestamp timestamp) override {
    key1_.set(value);
    this->begin_record(key1_.key(), timestamp);
    fn_.process_element1(value, context_, this->collector_);
  }
  void process_second(In2&& value, Timestamp timestamp) override {
    key2_.set(value);
    this->begin_record(key2_.key(), timestamp);
    fn_.process_element2(value, context_, this->collector_);
  }
  void process_watermark(Timestamp watermark, int) override { this->advance_watermark(watermark, this->out()); }
  void on_event_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kEventTime, fn_, context_);
  }
  void on_processing_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kProcessingTime, fn_, context_);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { fn_.close(); }

 private:
  PF fn_;
  KeyContext<In1, KS1> key1_;
  KeyContext<In2, KS2> key2_;
  ContextFor<typename PF::OnTimerContext, KeyedCoProcessOperator> context_{*this};
};

// Keyed side first, broadcast side second.
template <class K, class In, class B, class Out, class PF, class KeySelector>
class KeyedBroadcastProcessOperator final : public TwoInputOperator<In, B, Out>,
                                            public KeyedProcessState<K, Out> {
 public:
  KeyedBroadcastProcessOperator(PF fn, KeySelector selector) : fn_(std::move(fn)), key_(std::move(selector)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    key_.open(context);
    this->open_keyed(context, this->out());
    fn_.open(context);
  }
  void process_first(In&& value, Timestamp timestamp) override {
    key_.set(value);
    this->begin_record(key_.key(), timestamp);
    fn_.process_element(value, read_only_context_, this->collector_);
  }
  void process_second(B&& value, Timestamp timestamp) override {
    this->begin_broadcast(timestamp);
    fn_.process_broadcast_element(value, broadcast_context_, this->collector_);
  }
  void process_watermark(Timestamp watermark, int) override { this->advance_watermark(watermark, this->out()); }
  void on_event_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kEventTime, fn_, read_only_context_);
  }
  void on_processing_time(const InternalTimer& timer) override {
    this->fire_timer(timer, TimeDomain::kProcessingTime, fn_, read_only_context_);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { fn_.close(); }

 private:
  PF fn_;
  KeyContext<In, KeySelector> key_;
  ContextFor<typename PF::OnTimerContext, KeyedBroadcastProcessOperator> read_only_context_{*this};
  ContextFor<typename PF::Context, KeyedBroadcastProcessOperator> broadcast_context_{*this};
};

// CoProcessFunction, or BroadcastProcessFunction (broadcast side second).
template <class In1, class In2, class Out, class PF>
class CoProcessOperator final : public TwoInputOperator<In1, In2, Out> {
 public:
  using key_type = NoKeyType;
  explicit CoProcessOperator(PF fn) : fn_(std::move(fn)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    timers_.open(context);
    collector_.reset(&this->out(), kNoTimestamp);
    fn_.open(context);
  }
  void process_first(In1&& value, Timestamp timestamp) override {
    set_timestamp(timestamp);
    if constexpr (kBroadcast) {
      fn_.process_element(value, read_only_context_, collector_);
    } else {
      fn_.process_element1(value, context_, collector_);
    }
  }
  void process_second(In2&& value, Timestamp timestamp) override {
    set_timestamp(timestamp);
    if constexpr (kBroadcast) {
      fn_.process_broadcast_element(value, broadcast_context_, collector_);
    } else {
      fn_.process_element2(value, context_, collector_);
    }
  }
  void process_watermark(Timestamp watermark, int) override {
    timers_.set_watermark(watermark);
    this->out().emit_watermark(watermark);
  }
  void snapshot_state(int64_t checkpoint_id) override { snapshot_function(fn_, checkpoint_id); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override { notify_function(fn_, checkpoint_id); }
  void close() override { fn_.close(); }

  Timestamp timestamp() const { return timestamp_; }
  TimerService& timers() { return timers_; }
  const NoKeyType& current_key() const { return no_key_; }
  TimeDomain time_domain() const { return TimeDomain::kEventTime; }

 private:
  static constexpr bool kBroadcast = requires { typename PF::ReadOnlyContext; };

  void set_timestamp(Timestamp timestamp) {
    timestamp_ = timestamp;
    collector_.set_timestamp(timestamp);
  }
  template <class F>
  struct Contexts {
    using Plain = ProcessContextBase;
    using ReadOnly = ProcessContextBase;
    using Broadcast = ProcessContextBase;
  };
  template <class F>
    requires requires { typename F::ReadOnlyContext; }
  struct Contexts<F> {
    using Plain = ProcessContextBase;
    using ReadOnly = typename F::ReadOnlyContext;
    using Broadcast = typename F::Context;
  };

  PF fn_;
  UnkeyedTimers timers_;
  TimestampedCollector<Out> collector_;
  Timestamp timestamp_ = kNoTimestamp;
  NoKeyType no_key_;
  ContextFor<typename Contexts<PF>::Plain, CoProcessOperator> context_{*this};
  ContextFor<typename Contexts<PF>::ReadOnly, CoProcessOperator> read_only_context_{*this};
  ContextFor<typename Contexts<PF>::Broadcast, CoProcessOperator> broadcast_context_{*this};
};

}  // namespace eddy::internal
