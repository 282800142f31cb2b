// Operator state: state of an operator subtask as a whole, not per key (Flink's
// OperatorStateStore), for sources' positions, sinks' pending transactions, buffered
// records and rule sets. Three kinds, differing in what happens when a job is restored
// at another parallelism:
//
//   list        get_list_state:        the elements of all subtasks are pooled and split
//                                      evenly over the new subtasks
//   union list  get_union_list_state:  every new subtask gets all elements
//   broadcast   get_broadcast_state:   every subtask has the same map; each new subtask
//                                      gets a copy
//
// Obtained from RuntimeContext::operator_state() in open(). Used only from the subtask's
// thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

enum class OperatorStateMode { kSplitList, kUnionList, kBroadcast };

// The serialized operator state of one subtask.
struct OperatorStateSnapshot {
  struct StateEntry {
    std::string name;
    OperatorStateMode mode = OperatorStateMode::kSplitList;
    std::string signature;              // serializer signature of the element / (key, value)
    std::vector<std::string> elements;  // list: Serializer<T>; broadcast: Serializer<pair<K, V>>
  };
  std::vector<StateEntry> states;
};

// Reassigns the operator state of the old subtasks (in subtask order) to
// `new_parallelism` subtasks: split lists are pooled and cut into contiguous, evenly sized
// parts; union lists are pooled and given whole to each; broadcast state is copied from
// the first old subtask that has it.
std::vector<OperatorStateSnapshot> redistribute_operator_state(
    const std::vector<OperatorStateSnapshot>& old_subtasks, int new_parallelism);

class OperatorStateStore {
 public:
  template <class T>
  ListState<T>& get_list_state(const ListStateDescriptor<T>& descriptor) {
    return get_list(descriptor, OperatorStateMode::kSplitList);
  }
  template <class T>
  ListState<T>& get_union_list_state(const ListStateDescriptor<T>& descriptor) {
    return get_list(descriptor, OperatorStateMode::kUnionList);
  }
  template <class K, class V>
  MapState<K, V>& get_broadcast_state(const MapStateDescriptor<K, V>& descriptor);

  // The state as it is now, serialized.
  OperatorStateSnapshot snapshot() const;
  // Entries to restore; each is loaded when its state is first asked for. Call before.
  void restore(const OperatorStateSnapshot& snapshot);

 private:
  class Registered {
   public:
    virtual ~Registered() = default;
    virtual std::vector<std::string> serialize() const = 0;
  };

  template <class T>
  class ListImpl;
  template <class K, class V>
  class BroadcastImpl;

  template <class T>
  ListState<T>& get_list(const ListStateDescriptor<T>& descriptor, OperatorStateMode mode);
  // The registered state of `name`, checked against mode, signature and type; null if none.
  Registered* find(const std::string& name, OperatorStateMode mode, const std::string& signature,
                   const std::type_info& type);
  Registered& add(const std::string& name, OperatorStateMode mode, const std::string& signature,
                  const std::type_info& type, std::unique_ptr<Registered> state);
  // Elements restored for `name` (moved out), checked against mode and signature.
  std::vector<std::string> take_restored(const std::string& name, OperatorStateMode mode,
                                         const std::string& signature);

  struct Entry {
    OperatorStateMode mode;
    std::string signature;
    const std::type_info* type;
    std::unique_ptr<Registered> state;
  };
  std::map<std::string, Entry> states_;
  std::map<std::string, OperatorStateSnapshot::StateEntry> restored_;
};

template <class T>
class OperatorStateStore::ListImpl final : public ListState<T>, public Registered {
 public:
  std::vector<T> get() override { return values_; }
  void add(T value) override { values_.push_back(std::move(value)); }
  void add_all(std::vector<T> values) override {
    for (T& v : values) values_.push_back(std::move(v));
  }
  void update(std::vector<T> values) override { values_ = std::move(values); }
  void clear() override { values_.clear(); }
  std::vector<std::string> serialize() const override {
    std::vector<std::string> out;
    out.reserve(values_.size());
    for (const T& v : values_) out.push_back(eddy::serialize(v));
    return out;
  }
  std::vector<T> values_;
};

template <class K, class V>
class OperatorStateStore::BroadcastImpl final : public MapState<K, V>, public Registered {
 public:
  std::optional<V> get(const K& key) override {
    auto it = entries_.find(eddy::serialize(key));
    return it == entries_.end() ? std::nullopt : std::optional<V>(it->second.second);
  }
  void put(K key, V value) override {
    std::string k = eddy::serialize(key);
    entries_.insert_or_assign(std::move(k), std::pair<K, V>(std::move(key), std::move(value)));
  }
  void remove(const K& key) override { entries_.erase(eddy::serialize(key)); }
  bool contains(const K& key) override { return entries_.count(eddy::serialize(key)) > 0; }
  std::vector<std::pair<K, V>> entries() override {
    std::vector<std::pair<K, V>> out;
    for (const auto& [k, kv] : entries_) out.push_back(kv);
    return out;
  }
  std::vector<K> keys() override {
    std::vector<K> out;
    for (const auto& [k, kv] : entries_) out.push_back(kv.first);
    return out;
  }
  std::vector<V> values() override {
    std::vector<V> out;
    for (const auto& [k, kv] : entries_) out.push_back(kv.second);
    return out;
  }
  bool is_empty() override { return entries_.empty(); }
  void clear() override { entries_.clear(); }
  std::vector<std::string> serialize() const override {
    std::vector<std::string> out;
    for (const auto& [k, kv] : entries_) out.push_back(eddy::serialize(kv));
    return out;
  }
  std::map<std::string, std::pair<K, V>> entries_;  // by serialized key: a stable order
};

template <class T>
ListState<T>& OperatorStateStore::get_list(const ListStateDescriptor<T>& descriptor, OperatorStateMode mode) {
  const std::string signature = serializer_signature<T>();
  if (Registered* state = find(descriptor.name, mode, signature, typeid(ListImpl<T>))) {
    return static_cast<ListImpl<T>&>(*state);
  }
  auto state = std::make_unique<ListImpl<T>>();
  for (const std::string& bytes : take_restored(descriptor.name, mode, signature)) {
    state->values_.push_back(deserialize<T>(bytes));
  }
  return static_cast<ListImpl<T>&>(add(descriptor.name, mode, signature, typeid(ListImpl<T>), std::move(state)));
}

template <class K, class V>
MapState<K, V>& OperatorStateStore::get_broadcast_state(const MapStateDescriptor<K, V>& descriptor) {
  const std::string signature = serializer_signature<std::pair<K, V>>();
  const OperatorStateMode mode = OperatorStateMode::kBroadcast;
  if (Registered* state = find(descriptor.name, mode, signature, typeid(BroadcastImpl<K, V>))) {
    return static_cast<BroadcastImpl<K, V>&>(*state);
  }
  auto state = std::make_unique<BroadcastImpl<K, V>>();
  for (const std::string& bytes : take_restored(descriptor.name, mode, signature)) {
    auto kv = deserialize<std::pair<K, V>>(bytes);
    std::string key = eddy::serialize(kv.first);
    state->entries_.insert_or_assign(std::move(key), std::move(kv));
  }
  return static_cast<BroadcastImpl<K, V>&>(
      add(descriptor.name, mode, signature, typeid(BroadcastImpl<K, V>), std::move(state)));
}

inline OperatorStateStore& RuntimeContext::operator_state() const {
  OperatorStateStore* store = operator_state_store();
  if (store == nullptr) throw Error("operator '" + operator_name() + "' has no operator state store");
  return *store;
}

}  // namespace eddy
