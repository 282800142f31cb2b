// Where keyed state lives: one KeyedStateBackend per keyed operator subtask, holding the
// state of the key groups that subtask owns. Two implementations: "heap" (objects in hash
// maps per key group, copy-on-write snapshots) and "rocksdb" (bytes in RocksDB, one column
// family per state). Both write the same canonical snapshot (KeyedStateSnapshot), so state
// moves between backends and between parallelisms by key group.
//
// Threading: used only from its subtask's thread, except SnapshotTask::run(), which may
// run on another thread while the subtask keeps processing.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/error.h"
#include "eddy/internal/incremental_snapshot.h"
#include "eddy/key.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

namespace internal {
class HeapStateStore;
class ByteStateStore;
}  // namespace internal

// The canonical, backend-independent form of keyed state: for every state, its entries
// (entry key, entry value) in the layout of internal/state_encoding.h, sorted by entry
// key, and so grouped by key group.
struct KeyedStateSnapshot {
  static constexpr uint32_t kFormatVersion = 1;
  KeyGroupRange key_groups;
  std::vector<StateMetaInfo> states;
  std::vector<std::vector<std::pair<std::string, std::string>>> entries;  // per state

  size_t entry_count() const;
};

// The asynchronous part of a snapshot: produces the canonical form of the state as it was
// when KeyedStateBackend::snapshot() was called. May run on any thread, once.
class SnapshotTask {
 public:
  virtual ~SnapshotTask() = default;
  virtual KeyedStateSnapshot run() = 0;
};

// Keyed state that lives outside the backend's states but is snapshotted with them:
// timers. Participants register with the backend; the runtime adds what they write to
// every snapshot, and they restore themselves from KeyedStateBackend::restored_snapshots().
class KeyedSnapshotParticipant {
 public:
  virtual ~KeyedSnapshotParticipant() = default;
  // Synchronous: appends the participant's current entries as states of `snapshot`.
  virtual void snapshot_into(KeyedStateSnapshot& snapshot) const = 0;
};

class KeyedStateBackend {
 public:
  KeyedStateBackend(KeyGroupRange key_groups, int max_parallelism, const Clock& clock)
      : key_groups_(key_groups), max_parallelism_(max_parallelism), clock_(clock) {}
  virtual ~KeyedStateBackend() = default;
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;

  virtual std::string name() const = 0;

  // The key that state accesses refer to until the next call; the keyed operator sets it
  // for every record. `key` must stay alive until then. It is serialized only when a state
  // is first accessed for it, except numbers, which are kept as their bytes at once.
  template <class K>
  void set_current_key(const K& key, int key_group) {
    if constexpr (internal::kIsFixedWidth<K> && internal::kFixedSize<K> <= sizeof(fixed_key_)) {
      fixed_key_[0] = 0;
      fixed_key_[1] = 0;
      internal::store_little_endian(reinterpret_cast<char*>(fixed_key_), key);
      fixed_key_size_ = internal::kFixedSize<K>;
    } else {
      fixed_key_size_ = 0;
    }
    current_key_ = &key;
    key_writer_ = &write_key<K>;
    key_type_ = &typeid(K);
    current_key_group_ = key_group;
    key_serialized_ = false;
    ++key_version_;
  }
  // The current key in serialized form (timers keep keys as bytes). Typed access to the
  // key needs Serializer<K>::read of current_key_bytes().
  void set_current_key_bytes(std::string_view key, int key_group) {
    fixed_key_size_ = 0;
    current_key_ = nullptr;
    key_writer_ = nullptr;
    key_type_ = nullptr;
    current_key_bytes_.assign(key);
    current_key_group_ = key_group;
    key_serialized_ = true;
    ++key_version_;
  }
  // A hint from a keyed operator, for a record a few ahead of the one it processes: start
  // loading the state of `key` (without a namespace) so that the accesses while processing
  // that record do not wait on memory. Changes nothing. Backends with no use for it
  // (RocksDB) say so with prefetches(), so callers can skip computing the key.
  template <class K>
  void prefetch(const K& key, int key_group) {
    if constexpr (internal::kIsFixedWidth<K>) {  // numbers: no string to build
      char bytes[16 + internal::kFixedSize<K>] = {};  // see prefetch_serialized()
      internal::store_little_endian(bytes, key);
      prefetch_serialized(std::string_view(bytes, internal::kFixedSize<K>), key_group);
    } else if constexpr (Serializable<K>) {
      prefetch_key_bytes_.clear();
      serialize_into(prefetch_key_bytes_, key);
      prefetch_serialized(prefetch_key_bytes_, key_group);
    }
  }
  virtual bool prefetches() const { return false; }

  // The namespace of state accesses (windows use it); empty for none.
  void set_current_namespace(std::string_view ns) {
    current_namespace_.assign(ns);
    ++key_version_;
  }
  // Changes whenever the current key or namespace is set: states cache per-key lookups
  // under it.
  uint64_t key_version() const { return key_version_; }

  const std::string& current_key_bytes() {
    if (!key_serialized_) {
      if (key_writer_ == nullptr) {
        throw Error("keyed state was accessed with no current key: use it while processing a record of a keyed stream");
      }
      current_key_bytes_.clear();
      key_writer_(current_key_, current_key_bytes_);
      key_serialized_ = true;
    }
    return current_key_bytes_;
  }
  // The same bytes without building a std::string for a number key. At least 16 bytes are
  // readable at its data() (zero past a number's bytes). Valid until the key changes.
  std::string_view current_key_view() {
    if (fixed_key_size_ != 0) return std::string_view(reinterpret_cast<const char*>(fixed_key_), fixed_key_size_);
    return current_key_bytes();
  }
  int current_key_group() const { return current_key_group_; }
  const std::string& current_namespace() const { return current_namespace_; }
  const KeyGroupRange& key_groups() const { return key_groups_; }
  int max_parallelism() const { return max_parallelism_; }
  Timestamp now() const { return clock_.now_ms(); }

  // States by name. The first call creates the state (with any entries restored for that
  // name); later calls return the same object. A name already used with another kind or
  // type throws InvalidJobError. The backend owns the state.
  template <class T>
  ValueState<T>& get_state(const ValueStateDescriptor<T>& descriptor);
  template <class T>
  ListState<T>& get_list_state(const ListStateDescriptor<T>& descriptor);
  template <class K, class V>
  MapState<K, V>& get_map_state(const MapStateDescriptor<K, V>& descriptor);
  template <class T>
  ReducingState<T>& get_reducing_state(const ReducingStateDescriptor<T>& descriptor);
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT>& get_aggregating_state(const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor);

  // The synchronous part of a snapshot: cheap (no copy of the state); the returned task
  // writes the canonical form and may run on another thread while processing continues.
  virtual std::unique_ptr<SnapshotTask> snapshot() = 0;
  // Loads the entries of `snapshots` whose key group this backend owns (the others are
  // ignored, so any set of snapshots covering the key groups restores at any
  // parallelism). Call before any state is created.
  virtual void restore(const std::vector<const KeyedStateSnapshot*>& snapshots) = 0;
  // Approximate bytes of state held in memory.
  virtual size_t memory_bytes() const = 0;

  // Incremental checkpoints (internal/incremental_snapshot.h). The synchronous part of
  // checkpoint `checkpoint_id`; null when this backend takes only full snapshots (heap, or
  // RocksDB with StateBackendOptions::incremental_checkpoints off): use snapshot() then.
  virtual std::unique_ptr<IncrementalSnapshotTask> snapshot_incremental(int64_t /*checkpoint_id*/) {
    return nullptr;
  }
  // Whether restore_incremental() takes `snapshot` as it is: written by this kind of
  // backend for exactly this backend's key groups.
  virtual bool can_restore_incremental(const IncrementalKeyedSnapshot& /*snapshot*/) const { return false; }
  // Loads `snapshot`'s files (fetched with `fetch`) as this backend's state. Call before any
  // state is created, and only when can_restore_incremental(snapshot); otherwise convert
  // the snapshot with read_incremental_snapshot() and restore().
  virtual void restore_incremental(const IncrementalKeyedSnapshot& snapshot, const SharedFileFetcher& /*fetch*/) {
    throw Error("the " + name() + " state backend cannot load an incremental snapshot of the " + snapshot.backend +
                " backend as it is: convert it with read_incremental_snapshot()");
  }
  // Checkpoint `checkpoint_id` completed or was aborted (on the subtask's thread): an
  // incremental backend reuses the files of the latest completed one.
  virtual void notify_checkpoint_complete(int64_t /*checkpoint_id*/) {}
  virtual void notify_checkpoint_aborted(int64_t /*checkpoint_id*/) {}

  // Participants (timer services) register while they live; snapshot_participants()
  // writes all of them into `snapshot` (synchronously, at the barrier).
  void add_participant(KeyedSnapshotParticipant* participant) { participants_.push_back(participant); }
  void remove_participant(KeyedSnapshotParticipant* participant) { std::erase(participants_, participant); }
  void snapshot_participants(KeyedStateSnapshot& snapshot) const {
    for (const KeyedSnapshotParticipant* participant : participants_) participant->snapshot_into(snapshot);
  }
  // The snapshots this backend was restored from, kept by the runtime until the
  // operators are open so participants created in open() restore from them; empty for a
  // fresh start or after release.
  void keep_restored_snapshots(std::shared_ptr<const std::vector<KeyedStateSnapshot>> snapshots) {
    restored_snapshots_ = std::move(snapshots);
  }
  std::vector<const KeyedStateSnapshot*> restored_snapshots() const {
    std::vector<const KeyedStateSnapshot*> out;
    if (restored_snapshots_ != nullptr) {
      for (const KeyedStateSnapshot& snapshot : *restored_snapshots_) out.push_back(&snapshot);
    }
    return out;
  }
  void release_restored_snapshots() { restored_snapshots_.reset(); }

  // For the typed state implementations: exactly one of these is not null.
  virtual internal::HeapStateStore* heap_store() { return nullptr; }
  virtual internal::ByteStateStore* byte_store() { return nullptr; }

 protected:
  // prefetch() with the key serialized. At least 16 bytes are readable at key.data() (a
  // std::string's, or a buffer that large), so short keys can be read as two words.
  virtual void prefetch_serialized(std::string_view /*key*/, int /*key_group*/) {}

  // Looks up a registered state; null when none has the name. Throws if the name is
  // registered with another kind or signature.
  // `type` tells apart C++ types whose serialized forms look alike.
  State* find_state(const StateMetaInfo& meta, const std::type_info& type);
  State& register_state(const StateMetaInfo& meta, const std::type_info& type, std::unique_ptr<State> state);

 private:
  template <class K>
  static void write_key(const void* key, std::string& out) {
    if constexpr (Serializable<K>) {
      serialize_into(out, *static_cast<const K*>(key));
    } else {
      throw InvalidJobError("keyed state needs a serializable key type: give the key struct EDDY_SERIALIZE(...)");
    }
  }

  struct Registered {
    StateMetaInfo meta;
    const std::type_info* type;
    std::unique_ptr<State> state;
  };

  KeyGroupRange key_groups_;
  int max_parallelism_;
  const Clock& clock_;
  // A fixed-width current key's bytes, little-endian, zero-padded; fixed_key_size_ of
  // them are the key (0: the key is not fixed-width).
  uint64_t fixed_key_[2] = {0, 0};
  size_t fixed_key_size_ = 0;
  const void* current_key_ = nullptr;
  void (*key_writer_)(const void*, std::string&) = nullptr;
  const std::type_info* key_type_ = nullptr;
  int current_key_group_ = 0;
  bool key_serialized_ = false;
  uint64_t key_version_ = 0;
  std::string current_key_bytes_;
  std::string prefetch_key_bytes_;
  std::string current_namespace_;
  std::map<std::string, Registered> states_;
  std::vector<KeyedSnapshotParticipant*> participants_;
  std::shared_ptr<const std::vector<KeyedStateSnapshot>> restored_snapshots_;
};

// Makes the backend a job's keyed operators use, by StateBackendOptions::kind. Throws
// InvalidJobError for an unknown kind.
std::unique_ptr<KeyedStateBackend> create_keyed_state_backend(const StateBackendOptions& options,
                                                              KeyGroupRange key_groups,
                                                              int max_parallelism, const Clock& clock,
                                                              const std::string& operator_name,
                                                              int subtask_index);

// The canonical form of an incremental snapshot, for a restore at another parallelism or
// into another kind of backend: fetches its files into a temporary folder (under
// options.rocksdb_dir) and reads every entry. Throws Error for a snapshot of an unknown
// backend or files that cannot be read.
KeyedStateSnapshot read_incremental_snapshot(const IncrementalKeyedSnapshot& snapshot,
                                             const StateBackendOptions& options,
                                             const SharedFileFetcher& fetch);

// RuntimeContext's shortcuts to the keyed state of the current operator.
inline KeyedStateBackend& RuntimeContext::keyed_state() const {
  KeyedStateBackend* backend = keyed_state_backend();
  if (backend == nullptr) {
    throw InvalidJobError("operator '" + operator_name() +
                          "' asked for keyed state, which only operators on a keyed stream (after key_by) have");
  }
  return *backend;
}
template <class T>
ValueState<T>& RuntimeContext::get_state(const ValueStateDescriptor<T>& descriptor) const {
  return keyed_state().get_state(descriptor);
}
template <class T>
ListState<T>& RuntimeContext::get_list_state(const ListStateDescriptor<T>& descriptor) const {
  return keyed_state().get_list_state(descriptor);
}
template <class K, class V>
MapState<K, V>& RuntimeContext::get_map_state(const MapStateDescriptor<K, V>& descriptor) const {
  return keyed_state().get_map_state(descriptor);
}
template <class T>
ReducingState<T>& RuntimeContext::get_reducing_state(const ReducingStateDescriptor<T>& descriptor) const {
  return keyed_state().get_reducing_state(descriptor);
}
template <class IN, class ACC, class OUT>
AggregatingState<IN, OUT>& RuntimeContext::get_aggregating_state(
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) const {
  return keyed_state().get_aggregating_state(descriptor);
}

}  // namespace eddy

#include "eddy/internal/state_factory.h"
