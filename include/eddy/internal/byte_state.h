// Not API: the typed keyed states of byte-store backends (RocksDB). Every access
// serializes: the entry key is built from the current key group, key and namespace
// (internal/state_encoding.h) into a buffer each state reuses, the value is read or
// written as bytes, and nothing is cached between records.
//
// TTL (Flink's semantics): a value carries the time it was last written (or read, with
// UpdateType::kOnReadAndWrite) in an 8-byte prefix; it has expired when
// now - timestamp >= ttl. With Visibility::kNeverReturnExpired an expired entry reads as
// absent and is removed when read; with kReturnExpiredIfNotCleanedUp it is returned until
// a cleanup (full snapshot, RocksDB compaction) drops it. List elements and map entries
// expire one by one.
//
// Threading: like every state, used only from its subtask's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/internal/byte_state_store.h"
#include "eddy/internal/state_encoding.h"
#include "eddy/internal/state_ttl.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

class KeyedStateBackend;

namespace internal {

// Declared before keyed_state_backend.h is included below: it includes state_factory.h,
// which calls these, at its end; so they must be known even when this header is the
// first one a file includes.
template <class T>
std::unique_ptr<ValueState<T>> make_byte_value_state(KeyedStateBackend& backend,
                                                     ByteStateStore& store,
                                                     const StateMetaInfo& meta,
                                                     const ValueStateDescriptor<T>& descriptor);
template <class T>
std::unique_ptr<ListState<T>> make_byte_list_state(KeyedStateBackend& backend,
                                                   ByteStateStore& store, const StateMetaInfo& meta,
                                                   const ListStateDescriptor<T>& descriptor);
template <class K, class V>
std::unique_ptr<MapState<K, V>> make_byte_map_state(KeyedStateBackend& backend,
                                                    ByteStateStore& store,
                                                    const StateMetaInfo& meta,
                                                    const MapStateDescriptor<K, V>& descriptor);
template <class T>
std::unique_ptr<ReducingState<T>> make_byte_reducing_state(
    KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
    const ReducingStateDescriptor<T>& descriptor);
template <class IN, class ACC, class OUT>
std::unique_ptr<AggregatingState<IN, OUT>> make_byte_aggregating_state(
    KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor);

}  // namespace internal
}  // namespace eddy

#include "eddy/keyed_state_backend.h"

namespace eddy::internal {

// The TTL settings of one state, as the byte states apply them.
inline constexpr size_t kTtlPrefixBytes = 8;

// Replaces the TTL prefix of `value` (state_encoding::append_timestamp's layout) in place.
inline void overwrite_timestamp(std::string& value, int64_t ms) {
  auto v = static_cast<uint64_t>(ms);
  for (size_t i = 0; i < kTtlPrefixBytes; ++i) value[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// What every byte state shares: its column, the reused key and value buffers, and the
// TTL rules for one stored value.
template <class S>
class ByteStateBase {
 public:
  ByteStateBase(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
                const StateDescriptorBase& descriptor)
      : backend_(backend),
        store_(store),
        name_(meta.name),
        ttl_(descriptor),
        column_(store.register_column(meta, descriptor.ttl)) {}

 protected:
  // key_ = key group | current key | current namespace.
  // Throws when there is no current key, or when its key group is not the backend's (a
  // record routed to the wrong subtask: its state would be lost at the next restore).
  const std::string& compose_key() {
    const std::string_view key = backend_.current_key_view();
    int group = backend_.current_key_group();
    if (!backend_.key_groups().contains(group)) [[unlikely]] {
      throw_foreign_key_group(group);
    }
    key_.clear();
    state_encoding::compose_key(key_, group, key, backend_.current_namespace());
    return key_;
  }

  // Reads the entry at key_ into value_ and applies the TTL rules (an expired entry that
  // must not be returned is removed; kOnReadAndWrite rewrites the timestamp). Returns the
  // serialized value without its TTL prefix, or nullopt when absent.
  std::optional<std::string_view> read_entry() {
    if (!store_.get(column_, key_, value_)) return std::nullopt;
    if (!ttl_.enabled) return std::string_view(value_);
    check_prefix(value_);
    Timestamp now = backend_.now();
    if (ttl_.expired(state_encoding::read_timestamp(value_), now)) {
      if (!ttl_.return_expired()) {
        store_.remove(column_, key_);
        return std::nullopt;
      }
    } else if (ttl_.refresh_on_read()) {
      overwrite_timestamp(value_, now);
      store_.put(column_, key_, value_);
    }
    return std::string_view(value_).substr(kTtlPrefixBytes);
  }

  // Writes `value` (with the current time as its TTL timestamp) at key_.
  void write_entry(const S& value) {
    value_.clear();
    append_encoded(value_, value);
    store_.put(column_, key_, value_);
  }

  // Appends [timestamp] | serialized value.
  void append_encoded(std::string& out, const S& value) {
    if (ttl_.enabled) state_encoding::append_timestamp(out, backend_.now());
    serialize_into(out, value);
  }

  S decode(std::string_view bytes) const {
    try {
      return deserialize<S>(bytes);
    } catch (const SerializationError& e) {
      throw SerializationError("state '" + name_ + "': cannot read a stored value: " + e.what());
    }
  }

  [[noreturn]] void throw_foreign_key_group(int group) const {
    const KeyGroupRange& range = backend_.key_groups();
    throw Error("state '" + name_ + "': the current key is in key group " + std::to_string(group) +
                ", outside this subtask's key groups " + std::to_string(range.first) + ".." +
                std::to_string(range.last));
  }

  void check_prefix(std::string_view value) const {
    if (value.size() < kTtlPrefixBytes) {
      throw SerializationError("state '" + name_ + "': a stored value of " +
                               std::to_string(value.size()) +
                               " bytes is too short for its TTL timestamp");
    }
  }

  KeyedStateBackend& backend_;
  ByteStateStore& store_;
  std::string name_;
  TtlPolicy ttl_;
  int column_;
  std::string key_;
  std::string value_;
};

template <class T>
class ByteValueState final : public ValueState<T>, ByteStateBase<T> {
  using Base = ByteStateBase<T>;

 public:
  ByteValueState(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
                 const ValueStateDescriptor<T>& descriptor)
      : Base(backend, store, meta, descriptor) {}

  std::optional<T> value() override {
    this->compose_key();
    std::optional<std::string_view> bytes = this->read_entry();
    if (!bytes) return std::nullopt;
    return this->decode(*bytes);
  }
  void update(T value) override {
    this->compose_key();
    this->write_entry(value);
  }
  void clear() override { this->store_.remove(this->column_, this->compose_key()); }
};

template <class T>
class ByteReducingState final : public ReducingState<T>, ByteStateBase<T> {
  using Base = ByteStateBase<T>;

 public:
  ByteReducingState(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
                    const ReducingStateDescriptor<T>& descriptor)
      : Base(backend, store, meta, descriptor), reduce_(descriptor.reduce_function) {}

  std::optional<T> get() override {
    this->compose_key();
    std::optional<std::string_view> bytes = this->read_entry();
    if (!bytes) return std::nullopt;
    return this->decode(*bytes);
  }
  // An expired current value that reads as absent does not take part in the fold.
  void add(T value) override {
    this->compose_key();
    std::optional<std::string_view> bytes = this->read_entry();
    if (bytes) {
      this->write_entry(reduce_(this->decode(*bytes), value));
    } else {
      this->write_entry(value);
    }
  }
  void clear() override { this->store_.remove(this->column_, this->compose_key()); }

 private:
  typename ReducingStateDescriptor<T>::ReduceFunction reduce_;
};

template <class IN, class ACC, class OUT>
class ByteAggregatingState final : public AggregatingState<IN, OUT>, ByteStateBase<ACC> {
  using Base = ByteStateBase<ACC>;

 public:
  ByteAggregatingState(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
                       const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor)
      : Base(backend, store, meta, descriptor), function_(descriptor.function) {}

  std::optional<OUT> get() override {
    this->compose_key();
    std::optional<std::string_view> bytes = this->read_entry();
    if (!bytes) return std::nullopt;
    return function_->get_result(this->decode(*bytes));
  }
  void add(const IN& value) override {
    this->compose_key();
    std::optional<std::string_view> bytes = this->read_entry();
    ACC acc = bytes ? this->decode(*bytes) : function_->create_accumulator();
    this->write_entry(function_->add(value, std::move(acc)));
  }
  void clear() override { this->store_.remove(this->column_, this->compose_key()); }

 private:
  std::shared_ptr<const AggregateFunction<IN, ACC, OUT>> function_;
};

// A list is one entry: its elements' encodings back to back ([timestamp] | bytes each),
// so add() is a store append, without reading the list.
template <class T>
class ByteListState final : public ListState<T>, ByteStateBase<T> {
  using Base = ByteStateBase<T>;

 public:
  ByteListState(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
                const ListStateDescriptor<T>& descriptor)
      : Base(backend, store, meta, descriptor) {}

  std::vector<T> get() override {
    std::vector<T> out;
    this->compose_key();
    if (!this->store_.get(this->column_, this->key_, this->value_)) return out;
    const std::string& stored = this->value_;
    if (!this->ttl_.enabled) {
      ByteReader reader(stored);
      while (!reader.at_end()) out.push_back(read_element(reader));
      return out;
    }
    // Keep the elements that may be returned; rewrite the entry if any were dropped or
    // their timestamps refreshed.
    const TtlPolicy& ttl = this->ttl_;
    Timestamp now = this->backend_.now();
    bool refresh = ttl.refresh_on_read();
    bool dropped = false;
    kept_.clear();
    ByteReader reader(stored);
    while (!reader.at_end()) {
      size_t start = reader.position();
      int64_t timestamp = read_timestamp(reader);
      T element = read_element(reader);
      bool expired = ttl.expired(timestamp, now);
      if (expired && !ttl.return_expired()) {
        dropped = true;
        continue;
      }
      if (refresh && !expired) {
        state_encoding::append_timestamp(kept_, now);
        kept_.append(stored, start + kTtlPrefixBytes, reader.position() - start - kTtlPrefixBytes);
      } else {
        kept_.append(stored, start, reader.position() - start);
      }
      out.push_back(std::move(element));
    }
    if (kept_.empty()) {
      this->store_.remove(this->column_, this->key_);
    } else if (dropped || refresh) {
      this->store_.put(this->column_, this->key_, kept_);
    }
    return out;
  }
  void add(T value) override {
    this->compose_key();
    this->value_.clear();
    this->append_encoded(this->value_, value);
    this->store_.append(this->column_, this->key_, this->value_);
  }
  void add_all(std::vector<T> values) override {
    if (values.empty()) return;
    this->compose_key();
    this->value_.clear();
    for (const T& v : values) this->append_encoded(this->value_, v);
    this->store_.append(this->column_, this->key_, this->value_);
  }
  void update(std::vector<T> values) override {
    this->compose_key();
    if (values.empty()) {
      this->store_.remove(this->column_, this->key_);
      return;
    }
    this->value_.clear();
    for (const T& v : values) this->append_encoded(this->value_, v);
    this->store_.put(this->column_, this->key_, this->value_);
  }
  void clear() override { this->store_.remove(this->column_, this->compose_key()); }

 private:
  int64_t read_timestamp(ByteReader& reader) const {
    try {
      return state_encoding::read_timestamp(reader.read_bytes(kTtlPrefixBytes, "TTL timestamp"));
    } catch (const SerializationError& e) {
      throw SerializationError("state '" + this->name_ +
                               "': cannot read a stored list: " + e.what());
    }
  }
  T read_element(ByteReader& reader) const {
    try {
      return Serializer<T>::read(reader);
    } catch (const SerializationError& e) {
      throw SerializationError("state '" + this->name_ +
                               "': cannot read a stored list: " + e.what());
    }
  }

  std::string kept_;
};

// One entry per user key: key group | key | namespace | serialized user key. Clearing
// removes the (key, namespace) prefix; iterating scans it.
template <class K, class V>
class ByteMapState final : public MapState<K, V>, ByteStateBase<V> {
  using Base = ByteStateBase<V>;

 public:
  ByteMapState(KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
               const MapStateDescriptor<K, V>& descriptor)
      : Base(backend, store, meta, descriptor) {}

  std::optional<V> get(const K& key) override {
    compose_entry_key(key);
    std::optional<std::string_view> bytes = this->read_entry();
    if (!bytes) return std::nullopt;
    return this->decode(*bytes);
  }
  void put(K key, V value) override {
    compose_entry_key(key);
    this->write_entry(value);
  }
  void remove(const K& key) override {
    compose_entry_key(key);
    this->store_.remove(this->column_, this->key_);
  }
  bool contains(const K& key) override {
    compose_entry_key(key);
    return this->read_entry().has_value();
  }
  std::vector<std::pair<K, V>> entries() override {
    std::vector<std::pair<K, V>> out;
    scan([&](std::string_view user_key, std::string_view value) {
      out.emplace_back(decode_key(user_key), this->decode(value));
      return true;
    });
    return out;
  }
  std::vector<K> keys() override {
    std::vector<K> out;
    scan([&](std::string_view user_key, std::string_view) {
      out.push_back(decode_key(user_key));
      return true;
    });
    return out;
  }
  std::vector<V> values() override {
    std::vector<V> out;
    scan([&](std::string_view, std::string_view value) {
      out.push_back(this->decode(value));
      return true;
    });
    return out;
  }
  bool is_empty() override {
    bool empty = true;
    scan([&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    return empty;
  }
  void clear() override { this->store_.remove_prefix(this->column_, this->compose_key()); }

 private:
  void compose_entry_key(const K& key) {
    this->compose_key();
    serialize_into(this->key_, key);
  }

  K decode_key(std::string_view bytes) const {
    try {
      return deserialize<K>(bytes);
    } catch (const SerializationError& e) {
      throw SerializationError("state '" + this->name_ +
                               "': cannot read a stored map key: " + e.what());
    }
  }

  // Calls fn(user key bytes, value bytes without TTL prefix) for the live entries of the
  // current key and namespace until fn returns false; then removes the expired entries it
  // met that must not be returned, and rewrites the timestamps of those it returned when
  // reads refresh them.
  template <class Fn>
  void scan(Fn fn) {
    const std::string& prefix = this->compose_key();
    const TtlPolicy& ttl = this->ttl_;
    Timestamp now = ttl.enabled ? this->backend_.now() : 0;
    expired_keys_.clear();
    refreshed_.clear();
    this->store_.scan_prefix(
        this->column_, prefix, [&](std::string_view key, std::string_view value) {
          std::string_view user_key = key.substr(prefix.size());
          if (!ttl.enabled) return fn(user_key, value);
          this->check_prefix(value);
          bool expired = ttl.expired(state_encoding::read_timestamp(value), now);
          if (expired && !ttl.return_expired()) {
            expired_keys_.emplace_back(key);
            return true;
          }
          if (!expired && ttl.refresh_on_read()) {
            std::string rewritten(value);
            overwrite_timestamp(rewritten, now);
            refreshed_.emplace_back(key, std::move(rewritten));
          }
          return fn(user_key, value.substr(kTtlPrefixBytes));
        });
    for (const std::string& key : expired_keys_) this->store_.remove(this->column_, key);
    for (const auto& [key, value] : refreshed_) this->store_.put(this->column_, key, value);
  }

  std::vector<std::string> expired_keys_;
  std::vector<std::pair<std::string, std::string>> refreshed_;
};

template <class T>
std::unique_ptr<ValueState<T>> make_byte_value_state(KeyedStateBackend& backend,
                                                     ByteStateStore& store,
                                                     const StateMetaInfo& meta,
                                                     const ValueStateDescriptor<T>& descriptor) {
  return std::make_unique<ByteValueState<T>>(backend, store, meta, descriptor);
}

template <class T>
std::unique_ptr<ListState<T>> make_byte_list_state(KeyedStateBackend& backend,
                                                   ByteStateStore& store, const StateMetaInfo& meta,
                                                   const ListStateDescriptor<T>& descriptor) {
  return std::make_unique<ByteListState<T>>(backend, store, meta, descriptor);
}

template <class K, class V>
std::unique_ptr<MapState<K, V>> make_byte_map_state(KeyedStateBackend& backend,
                                                    ByteStateStore& store,
                                                    const StateMetaInfo& meta,
                                                    const MapStateDescriptor<K, V>& descriptor) {
  return std::make_unique<ByteMapState<K, V>>(backend, store, meta, descriptor);
}

template <class T>
std::unique_ptr<ReducingState<T>> make_byte_reducing_state(
    KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
    const ReducingStateDescriptor<T>& descriptor) {
  return std::make_unique<ByteReducingState<T>>(backend, store, meta, descriptor);
}

template <class IN, class ACC, class OUT>
std::unique_ptr<AggregatingState<IN, OUT>> make_byte_aggregating_state(
    KeyedStateBackend& backend, ByteStateStore& store, const StateMetaInfo& meta,
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
  return std::make_unique<ByteAggregatingState<IN, ACC, OUT>>(backend, store, meta, descriptor);
}

}  // namespace eddy::internal
