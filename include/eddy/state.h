// Keyed state: values an operator keeps per key, obtained from descriptors in open() of a
// function that runs on a keyed stream (after key_by), and always scoped to the key of the
// record being processed. As in Flink:
//
//   ValueState<T>               one value
//   ListState<T>                a list (add, add_all, get, update)
//   MapState<K, V>              a map (get, put, remove, contains, entries/keys/values)
//   ReducingState<T>            a value folded with a reduce function on add
//   AggregatingState<IN, OUT>   an accumulator folded with an AggregateFunction on add
//
// State types must be serializable (eddy/serializer.h): the RocksDB backend stores bytes,
// and every backend writes bytes into checkpoints and savepoints.
//
// Threading: a state object belongs to one subtask and is used only from its thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eddy {

// Time-to-live of state entries (Flink's StateTtlConfig). Time is the job's processing
// time (RuntimeContext::clock()).
struct StateTtlConfig {
  enum class UpdateType {
    kOnCreateAndWrite,  // the timer restarts when the entry is written
    kOnReadAndWrite,    // ... or read
  };
  enum class Visibility {
    kNeverReturnExpired,           // an expired entry reads as absent
    kReturnExpiredIfNotCleanedUp,  // an expired entry is returned until cleanup removes it
  };

  std::chrono::milliseconds ttl{0};
  UpdateType update_type = UpdateType::kOnCreateAndWrite;
  Visibility visibility = Visibility::kNeverReturnExpired;
  // Drop expired entries when writing a full snapshot (they never reach the checkpoint).
  bool cleanup_in_full_snapshot = true;
  // Check this many entries for expiry on each state access (0: off). Heap backend.
  int cleanup_incrementally = 0;
  // Drop expired entries while RocksDB compacts. RocksDB backend.
  bool cleanup_in_rocksdb_compaction = true;

  static StateTtlConfig of(std::chrono::milliseconds ttl) {
    StateTtlConfig config;
    config.ttl = ttl;
    return config;
  }
  bool enabled() const { return ttl.count() > 0; }
};

// kTimers: the timers of a keyed operator (eddy/timers.h), which snapshots carry beside
// its states; backends leave them to the operator's timer service on restore.
enum class StateKind { kValue, kList, kMap, kReducing, kAggregating, kTimers };

const char* state_kind_name(StateKind kind);

// The name of a state, its kind and its settings. Names are unique within an operator;
// asking twice for the same name returns the same state.
struct StateDescriptorBase {
  std::string name;
  StateKind kind;
  std::optional<StateTtlConfig> ttl;
};

template <class T>
struct ValueStateDescriptor : StateDescriptorBase {
  explicit ValueStateDescriptor(std::string name) : StateDescriptorBase{std::move(name), StateKind::kValue, {}} {}
  ValueStateDescriptor& enable_ttl(StateTtlConfig config) {
    ttl = config;
    return *this;
  }
};

template <class T>
struct ListStateDescriptor : StateDescriptorBase {
  explicit ListStateDescriptor(std::string name) : StateDescriptorBase{std::move(name), StateKind::kList, {}} {}
  ListStateDescriptor& enable_ttl(StateTtlConfig config) {
    ttl = config;
    return *this;
  }
};

template <class K, class V>
struct MapStateDescriptor : StateDescriptorBase {
  explicit MapStateDescriptor(std::string name) : StateDescriptorBase{std::move(name), StateKind::kMap, {}} {}
  MapStateDescriptor& enable_ttl(StateTtlConfig config) {
    ttl = config;
    return *this;
  }
};

template <class T>
struct ReducingStateDescriptor : StateDescriptorBase {
  using ReduceFunction = std::function<T(const T&, const T&)>;
  ReducingStateDescriptor(std::string name, ReduceFunction reduce)
      : StateDescriptorBase{std::move(name), StateKind::kReducing, {}}, reduce_function(std::move(reduce)) {}
  ReducingStateDescriptor& enable_ttl(StateTtlConfig config) {
    ttl = config;
    return *this;
  }
  ReduceFunction reduce_function;
};

// Flink's AggregateFunction: folds inputs into an accumulator and reads a result from it.
template <class IN, class ACC, class OUT>
class AggregateFunction {
 public:
  using input_type = IN;
  using accumulator_type = ACC;
  using output_type = OUT;
  virtual ~AggregateFunction() = default;
  virtual ACC create_accumulator() const = 0;
  virtual ACC add(const IN& value, ACC accumulator) const = 0;
  virtual OUT get_result(const ACC& accumulator) const = 0;
  virtual ACC merge(ACC a, const ACC& b) const = 0;
};

template <class IN, class ACC, class OUT>
struct AggregatingStateDescriptor : StateDescriptorBase {
  AggregatingStateDescriptor(std::string name, std::shared_ptr<const AggregateFunction<IN, ACC, OUT>> fn)
      : StateDescriptorBase{std::move(name), StateKind::kAggregating, {}}, function(std::move(fn)) {}
  AggregatingStateDescriptor& enable_ttl(StateTtlConfig config) {
    ttl = config;
    return *this;
  }
  std::shared_ptr<const AggregateFunction<IN, ACC, OUT>> function;
};

// What a snapshot records about each state, to check a restore against the job.
struct StateMetaInfo {
  std::string name;
  StateKind kind = StateKind::kValue;
  std::string value_signature;     // serializer_signature of the value / element / accumulator
  std::string user_key_signature;  // MapState only
  bool ttl = false;                // values carry a TTL timestamp prefix
  uint32_t serializer_version = 1;
  bool operator==(const StateMetaInfo&) const = default;
};

// Common to all states: clear() removes the current key's entry.
class State {
 public:
  virtual ~State() = default;
  virtual void clear() = 0;
};

template <class T>
class ValueState : public State {
 public:
  // The value, or nothing when the key has none (or it expired).
  virtual std::optional<T> value() = 0;
  virtual void update(T value) = 0;
  // The value, or `fallback` when the key has none (or it expired).
  virtual T value_or(T fallback) {
    auto v = value();
    return v ? std::move(*v) : std::move(fallback);
  }
};

template <class T>
class ListState : public State {
 public:
  // All elements, in the order they were added (empty when none).
  virtual std::vector<T> get() = 0;
  virtual void add(T value) = 0;
  virtual void add_all(std::vector<T> values) = 0;
  // Replaces the list (an empty vector clears it).
  virtual void update(std::vector<T> values) = 0;
};

template <class K, class V>
class MapState : public State {
 public:
  virtual std::optional<V> get(const K& key) = 0;
  virtual void put(K key, V value) = 0;
  virtual void remove(const K& key) = 0;
  virtual bool contains(const K& key) = 0;
  // Copies of the entries, so the map may be modified while iterating over them. The
  // order is unspecified.
  virtual std::vector<std::pair<K, V>> entries() = 0;
  virtual std::vector<K> keys() = 0;
  virtual std::vector<V> values() = 0;
  virtual bool is_empty() = 0;
};

template <class T>
class ReducingState : public State {
 public:
  virtual std::optional<T> get() = 0;
  virtual void add(T value) = 0;
};

template <class IN, class OUT>
class AggregatingState : public State {
 public:
  virtual std::optional<OUT> get() = 0;
  virtual void add(const IN& value) = 0;
};

}  // namespace eddy
