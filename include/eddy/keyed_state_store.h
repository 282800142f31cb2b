// State of the current key in one namespace (Flink's KeyedStateStore): what a
// ProcessWindowFunction gets as window_state() (the window being fired) and global_state()
// (no namespace), and what a Trigger gets as partitioned state (its window).
//
// The states a store returns set the backend's namespace before every access, so states
// of several stores (and the backend's own) can be used side by side. Getting a state is a
// short lookup by name: calling get_*() for every record is fine.
//
// Threading: like every state, used only from its subtask's thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"

namespace eddy {

class KeyedStateStore {
 public:
  explicit KeyedStateStore(KeyedStateBackend& backend) : backend_(backend) {}
  KeyedStateStore(const KeyedStateStore&) = delete;
  KeyedStateStore& operator=(const KeyedStateStore&) = delete;

  template <class T>
  ValueState<T>& get_state(const ValueStateDescriptor<T>& descriptor);
  template <class T>
  ListState<T>& get_list_state(const ListStateDescriptor<T>& descriptor);
  template <class K, class V>
  MapState<K, V>& get_map_state(const MapStateDescriptor<K, V>& descriptor);
  template <class T>
  ReducingState<T>& get_reducing_state(const ReducingStateDescriptor<T>& descriptor);
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT>& get_aggregating_state(
      const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor);

  // For the operator that owns the store. `ns` (serialized namespace bytes) must stay
  // valid until the next call; the states read it at every access.
  void set_namespace(const std::string* ns) { ns_ = ns; }
  // Makes every get_*() throw InvalidJobError with `message` (per-window state of merging
  // windows, which Flink does not support either); empty to allow them again.
  void set_unsupported(std::string message) { unsupported_ = std::move(message); }
  KeyedStateBackend& backend() const { return backend_; }

  // Points the backend at this store's namespace (unless it is already there).
  void enter() const {
    if (ns_ == nullptr) throw Error("state of a window was used outside of a window function call");
    if (backend_.current_namespace() != *ns_) backend_.set_current_namespace(*ns_);
  }

 private:
  struct Entry {
    const std::type_info* type;
    std::unique_ptr<State> state;
  };

  template <class S>
  S* find(const std::string& name) {
    auto it = states_.find(name);
    if (it == states_.end() || *it->second.type != typeid(S)) return nullptr;
    return static_cast<S*>(it->second.state.get());
  }
  template <class S, class Wrapper>
  S& add(const std::string& name, std::unique_ptr<Wrapper> wrapper) {
    S& result = *wrapper;
    states_.insert_or_assign(name, Entry{&typeid(S), std::move(wrapper)});
    return result;
  }
  void check_supported() const {
    if (!unsupported_.empty()) throw InvalidJobError(unsupported_);
  }

  KeyedStateBackend& backend_;
  const std::string* ns_ = nullptr;
  std::string unsupported_;
  std::map<std::string, Entry, std::less<>> states_;
};

namespace internal {

// The states a KeyedStateStore hands out: each access enters the store's namespace, then
// goes to the backend's state.
template <class T>
class ScopedValueState final : public ValueState<T> {
 public:
  ScopedValueState(const KeyedStateStore& store, ValueState<T>& inner)
      : store_(store), inner_(inner) {}
  std::optional<T> value() override {
    store_.enter();
    return inner_.value();
  }
  void update(T value) override {
    store_.enter();
    inner_.update(std::move(value));
  }
  void clear() override {
    store_.enter();
    inner_.clear();
  }

 private:
  const KeyedStateStore& store_;
  ValueState<T>& inner_;
};

template <class T>
class ScopedListState final : public ListState<T> {
 public:
  ScopedListState(const KeyedStateStore& store, ListState<T>& inner)
      : store_(store), inner_(inner) {}
  std::vector<T> get() override {
    store_.enter();
    return inner_.get();
  }
  void add(T value) override {
    store_.enter();
    inner_.add(std::move(value));
  }
  void add_all(std::vector<T> values) override {
    store_.enter();
    inner_.add_all(std::move(values));
  }
  void update(std::vector<T> values) override {
    store_.enter();
    inner_.update(std::move(values));
  }
  void clear() override {
    store_.enter();
    inner_.clear();
  }

 private:
  const KeyedStateStore& store_;
  ListState<T>& inner_;
};

template <class K, class V>
class ScopedMapState final : public MapState<K, V> {
 public:
  ScopedMapState(const KeyedStateStore& store, MapState<K, V>& inner)
      : store_(store), inner_(inner) {}
  std::optional<V> get(const K& key) override {
    store_.enter();
    return inner_.get(key);
  }
  void put(K key, V value) override {
    store_.enter();
    inner_.put(std::move(key), std::move(value));
  }
  void remove(const K& key) override {
    store_.enter();
    inner_.remove(key);
  }
  bool contains(const K& key) override {
    store_.enter();
    return inner_.contains(key);
  }
  std::vector<std::pair<K, V>> entries() override {
    store_.enter();
    return inner_.entries();
  }
  std::vector<K> keys() override {
    store_.enter();
    return inner_.keys();
  }
  std::vector<V> values() override {
    store_.enter();
    return inner_.values();
  }
  bool is_empty() override {
    store_.enter();
    return inner_.is_empty();
  }
  void clear() override {
    store_.enter();
    inner_.clear();
  }

 private:
  const KeyedStateStore& store_;
  MapState<K, V>& inner_;
};

template <class T>
class ScopedReducingState final : public ReducingState<T> {
 public:
  ScopedReducingState(const KeyedStateStore& store, ReducingState<T>& inner)
      : store_(store), inner_(inner) {}
  std::optional<T> get() override {
    store_.enter();
    return inner_.get();
  }
  void add(T value) override {
    store_.enter();
    inner_.add(std::move(value));
  }
  void clear() override {
    store_.enter();
    inner_.clear();
  }

 private:
  const KeyedStateStore& store_;
  ReducingState<T>& inner_;
};

template <class IN, class OUT>
class ScopedAggregatingState final : public AggregatingState<IN, OUT> {
 public:
  ScopedAggregatingState(const KeyedStateStore& store, AggregatingState<IN, OUT>& inner)
      : store_(store), inner_(inner) {}
  std::optional<OUT> get() override {
    store_.enter();
    return inner_.get();
  }
  void add(const IN& value) override {
    store_.enter();
    inner_.add(value);
  }
  void clear() override {
    store_.enter();
    inner_.clear();
  }

 private:
  const KeyedStateStore& store_;
  AggregatingState<IN, OUT>& inner_;
};

}  // namespace internal

template <class T>
ValueState<T>& KeyedStateStore::get_state(const ValueStateDescriptor<T>& descriptor) {
  check_supported();
  if (auto* state = find<ValueState<T>>(descriptor.name)) return *state;
  ValueState<T>& inner = backend_.get_state(descriptor);
  return add<ValueState<T>>(descriptor.name,
                            std::make_unique<internal::ScopedValueState<T>>(*this, inner));
}

template <class T>
ListState<T>& KeyedStateStore::get_list_state(const ListStateDescriptor<T>& descriptor) {
  check_supported();
  if (auto* state = find<ListState<T>>(descriptor.name)) return *state;
  ListState<T>& inner = backend_.get_list_state(descriptor);
  return add<ListState<T>>(descriptor.name,
                           std::make_unique<internal::ScopedListState<T>>(*this, inner));
}

template <class K, class V>
MapState<K, V>& KeyedStateStore::get_map_state(const MapStateDescriptor<K, V>& descriptor) {
  check_supported();
  if (auto* state = find<MapState<K, V>>(descriptor.name)) return *state;
  MapState<K, V>& inner = backend_.get_map_state(descriptor);
  return add<MapState<K, V>>(descriptor.name,
                             std::make_unique<internal::ScopedMapState<K, V>>(*this, inner));
}

template <class T>
ReducingState<T>& KeyedStateStore::get_reducing_state(
    const ReducingStateDescriptor<T>& descriptor) {
  check_supported();
  if (auto* state = find<ReducingState<T>>(descriptor.name)) return *state;
  ReducingState<T>& inner = backend_.get_reducing_state(descriptor);
  return add<ReducingState<T>>(descriptor.name,
                               std::make_unique<internal::ScopedReducingState<T>>(*this, inner));
}

template <class IN, class ACC, class OUT>
AggregatingState<IN, OUT>& KeyedStateStore::get_aggregating_state(
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
  check_supported();
  using S = AggregatingState<IN, OUT>;
  if (auto* state = find<S>(descriptor.name)) return *state;
  S& inner = backend_.get_aggregating_state(descriptor);
  return add<S>(descriptor.name,
                std::make_unique<internal::ScopedAggregatingState<IN, OUT>>(*this, inner));
}

}  // namespace eddy
