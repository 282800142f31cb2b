// The low-level functions beyond ProcessFunction (Flink's KeyedProcessFunction,
// CoProcessFunction, KeyedCoProcessFunction and the broadcast process functions). They
// see each record with a context: its timestamp, the current watermark and processing
// time, timers (on keyed streams), side outputs, and for keyed ones the current key.
// Subclass them; each subtask runs its own copy.
#pragma once

#include <cstdint>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eddy/functions.h"
#include "eddy/operator.h"
#include "eddy/operator_state.h"
#include "eddy/state.h"
#include "eddy/timers.h"

namespace eddy {

// The context of keyed process functions: the current key (of the record, or of the
// firing timer) besides what every process-function context has.
template <class K>
class KeyedProcessContext : public ProcessContextBase {
 public:
  virtual const K& current_key() const = 0;
};

// In on_timer: which kind of timer fired.
template <class K>
class KeyedOnTimerContext : public KeyedProcessContext<K> {
 public:
  virtual TimeDomain time_domain() const = 0;
};

// Processes the records of a keyed stream one by one, with timers (Flink's
// KeyedProcessFunction). Timers are per key; on_timer runs with the timer's key current,
// so keyed state accesses there refer to it.
template <class K, class In, class Out>
class KeyedProcessFunction {
 public:
  using key_type = K;
  using input_type = In;
  using output_type = Out;

  using Context = KeyedProcessContext<K>;
  using OnTimerContext = KeyedOnTimerContext<K>;

  virtual ~KeyedProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In& value, Context& context, Collector<Out>& out) = 0;
  // A timer of the current key fired at `timestamp`. Records emitted here carry the
  // timer's time (event time) or no timestamp (processing time).
  virtual void on_timer(Timestamp timestamp, OnTimerContext& context, Collector<Out>& out) {}
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

// Two connected streams, each record through its own method, with shared operator state
// (Flink's CoProcessFunction). Timers need keyed streams (KeyedCoProcessFunction).
template <class In1, class In2, class Out>
class CoProcessFunction {
 public:
  using first_type = In1;
  using second_type = In2;
  using output_type = Out;
  using Context = ProcessContextBase;

  virtual ~CoProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element1(const In1& value, Context& context, Collector<Out>& out) = 0;
  virtual void process_element2(const In2& value, Context& context, Collector<Out>& out) = 0;
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

// Two streams keyed by keys of the same type: records of either input with equal keys
// share keyed state and timers (Flink's KeyedCoProcessFunction).
template <class K, class In1, class In2, class Out>
class KeyedCoProcessFunction {
 public:
  using key_type = K;
  using first_type = In1;
  using second_type = In2;
  using output_type = Out;

  using Context = KeyedProcessContext<K>;
  using OnTimerContext = KeyedOnTimerContext<K>;

  virtual ~KeyedCoProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element1(const In1& value, Context& context, Collector<Out>& out) = 0;
  virtual void process_element2(const In2& value, Context& context, Collector<Out>& out) = 0;
  virtual void on_timer(Timestamp timestamp, OnTimerContext& context, Collector<Out>& out) {}
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

// The broadcast state of a broadcast stream, read-only: the side that is not broadcast
// must not change it, since every subtask has to keep the same copy.
template <class K, class V>
class ReadOnlyBroadcastState {
 public:
  explicit ReadOnlyBroadcastState(MapState<K, V>& state) : state_(&state) {}
  std::optional<V> get(const K& key) const { return state_->get(key); }
  bool contains(const K& key) const { return state_->contains(key); }
  std::vector<std::pair<K, V>> entries() const { return state_->entries(); }
  std::vector<K> keys() const { return state_->keys(); }
  std::vector<V> values() const { return state_->values(); }
  bool is_empty() const { return state_->is_empty(); }

 private:
  MapState<K, V>* state_;
};

// The broadcast state pattern (Flink's KeyedBroadcastProcessFunction): a keyed stream
// connected to a broadcast stream of rules. The broadcast side writes the broadcast state
// (the same on every subtask); the keyed side reads it, with keyed state and timers.
template <class K, class In, class B, class Out>
class KeyedBroadcastProcessFunction {
 public:
  using key_type = K;
  using first_type = In;
  using second_type = B;
  using output_type = Out;

  class ReadOnlyContext : public ProcessContextBase {
   public:
    virtual const K& current_key() const = 0;
    template <class MK, class MV>
    ReadOnlyBroadcastState<MK, MV> broadcast_state(const MapStateDescriptor<MK, MV>& descriptor) {
      return ReadOnlyBroadcastState<MK, MV>(runtime().operator_state().get_broadcast_state(descriptor));
    }
  };
  class Context : public ProcessContextBase {
   public:
    template <class MK, class MV>
    MapState<MK, MV>& broadcast_state(const MapStateDescriptor<MK, MV>& descriptor) {
      return runtime().operator_state().get_broadcast_state(descriptor);
    }
  };
  class OnTimerContext : public ReadOnlyContext {
   public:
    virtual TimeDomain time_domain() const = 0;
  };

  virtual ~KeyedBroadcastProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In& value, ReadOnlyContext& context, Collector<Out>& out) = 0;
  virtual void process_broadcast_element(const B& value, Context& context, Collector<Out>& out) = 0;
  virtual void on_timer(Timestamp timestamp, OnTimerContext& context, Collector<Out>& out) {}
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

// The broadcast state pattern on a stream that is not keyed (Flink's
// BroadcastProcessFunction).
template <class In, class B, class Out>
class BroadcastProcessFunction {
 public:
  using first_type = In;
  using second_type = B;
  using output_type = Out;

  class ReadOnlyContext : public ProcessContextBase {
   public:
    template <class MK, class MV>
    ReadOnlyBroadcastState<MK, MV> broadcast_state(const MapStateDescriptor<MK, MV>& descriptor) {
      return ReadOnlyBroadcastState<MK, MV>(runtime().operator_state().get_broadcast_state(descriptor));
    }
  };
  class Context : public ProcessContextBase {
   public:
    template <class MK, class MV>
    MapState<MK, MV>& broadcast_state(const MapStateDescriptor<MK, MV>& descriptor) {
      return runtime().operator_state().get_broadcast_state(descriptor);
    }
  };

  virtual ~BroadcastProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In& value, ReadOnlyContext& context, Collector<Out>& out) = 0;
  virtual void process_broadcast_element(const B& value, Context& context, Collector<Out>& out) = 0;
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

}  // namespace eddy
