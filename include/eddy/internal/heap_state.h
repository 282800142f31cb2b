// Not API: the heap backend's typed states. Each state keeps, per key group the subtask
// owns, a hash map from (key, namespace) to a C++ object: no serialization on access
// (only the current key is serialized, once per record, to look it up).
//
// Snapshots are copy-on-write at key-group granularity: snapshot() hands the current maps
// to the snapshot task and marks them frozen; the first write to a frozen key group after
// that copies its map. So the synchronous part is O(key groups), and processing goes on
// while the task serializes the frozen maps on another thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eddy/keyed_state_backend.h"
#include "eddy/internal/flat_state_map.h"
#include "eddy/internal/heap_slot_value.h"
#include "eddy/internal/state_encoding.h"
#include "eddy/internal/state_ttl.h"

namespace eddy::internal {

using EntryList = std::vector<std::pair<std::string, std::string>>;

// Heap memory a value owns beyond its own size, for memory_bytes(): an estimate for the
// containers states keep (lists, maps, strings), zero for everything else.
template <class T>
size_t owned_bytes(const T&) {
  return 0;
}
inline size_t owned_bytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() : 0; }
template <class T>
size_t owned_bytes(const std::vector<T>& v) {
  size_t bytes = v.capacity() * sizeof(T);
  for (const T& element : v) bytes += owned_bytes(element);
  return bytes;
}
template <class K, class V>
size_t owned_bytes(const std::unordered_map<K, V>& m) {
  // A node per entry (value + next pointer + cached hash) and the bucket array.
  size_t bytes = m.bucket_count() * sizeof(void*) + m.size() * (sizeof(std::pair<const K, V>) + 2 * sizeof(void*));
  for (const auto& [k, v] : m) bytes += owned_bytes(k) + owned_bytes(v);
  return bytes;
}

// Receives the slots of a table for an incremental heap snapshot. A slot is the state of
// one (key, namespace) in one key group: `map_key` is varint(len(key)) | key |
// varint(len(ns)) | ns, and its canonical entries are key_group | map_key | suffix.
class SlotSink {
 public:
  virtual ~SlotSink() = default;
  // The slot was removed.
  virtual void removed(int key_group, std::string_view map_key) = 0;
  // The slot's whole contents: (suffix, value) parts, none when nothing of it is left to
  // write (every entry expired).
  virtual void slot(int key_group, std::string_view map_key,
                    const std::vector<std::pair<std::string, std::string>>& parts) = 0;
};

// A table's maps as they were at snapshot time; writes them on any thread, once.
class FrozenTable {
 public:
  virtual ~FrozenTable() = default;
  // Canonical entries of every slot.
  virtual void write(EntryList& out, Timestamp now) const = 0;
  // Every slot (`all`), or the slots written and removed after epoch `since_epoch`.
  // Lets go of each key group once written, so writes to it stop copying it.
  virtual void write_slots(SlotSink& sink, Timestamp now, bool all, uint32_t since_epoch) = 0;
};

class HeapTableBase {
 public:
  virtual ~HeapTableBase() = default;
  virtual const StateMetaInfo& meta() const = 0;
  virtual std::unique_ptr<FrozenTable> freeze() = 0;
  virtual size_t memory_bytes() const = 0;
  // A slot to prefetch: the lookup key hash of (key, no namespace) in a key group; an
  // empty step has key_group -1.
  struct PrefetchStep {
    int key_group = -1;
    uint64_t hash = 0;
  };
  // One record's prefetch calls, in one call per table (hints; see HeapStateStore::prefetch):
  //   `control`: starts loading what says where the slot is (FlatStateMap::prefetch);
  //   `entry`, prefetched as `control` earlier: the slot itself (FlatStateMap::prefetch_entry);
  //   `node`, prefetched as `entry` earlier: the node of the slot's value, for values kept in
  //   nodes (see heap_slot_value.h).
  virtual void prefetch(PrefetchStep control, PrefetchStep entry, PrefetchStep node) const = 0;

  // The backend's key_version() at this state's latest access: prefetches skip states
  // that the records do not use (one written only for new keys, say), whose cache misses
  // would be spent for nothing.
  uint64_t last_access() const { return last_access_; }

 protected:
  uint64_t last_access_ = 0;
};

// The map key of (key, namespace) in every heap table: varint length, key bytes, varint
// length, namespace bytes (the canonical entry key without its key group), prepared for
// lookups (MapKey). The bytes live in the builder until its next build().
class LookupKeyBuilder {
 public:
  // The latest build()'s key.
  const MapKey& key() const { return key_; }

  // The hash of build(key, "") without building it (for prefetching). `key` must have 16
  // readable bytes at its data().
  static uint64_t hash_without_namespace(std::string_view key) {
    if (key.size() <= 8) {
      const ShortKey words = short_key_without_namespace(key);
      return MapKey::hash_words(words.w0, words.w1, words.n);
    }
    return hash_other(key);
  }

  // `key` and `ns` must have 16 readable bytes at their data() (a std::string's do).
  const MapKey& build(std::string_view key, std::string_view ns) {
    if (key.size() <= 8 && ns.empty()) {
      const ShortKey words = short_key_without_namespace(key);
      return finish_short(words.w0, words.w1, words.n);
    }
    return build_other(key, ns);
  }

 private:
  struct ShortKey {
    uint64_t w0;
    uint64_t w1;
    size_t n;
  };
  // The most common key (a number, no namespace; `key` at most 8 bytes) in 64-bit words:
  // varint(kl) | key | varint(0), at most 10 bytes.
  static ShortKey short_key_without_namespace(std::string_view key) {
    const size_t kl = key.size();
    const uint64_t k = load_word(key.data()) & MapKey::low_bytes(kl);
    return {kl | (k << 8), kl == 8 ? k >> 56 : 0, kl + 2};
  }
  [[gnu::noinline]] static uint64_t hash_other(std::string_view key) {
    LookupKeyBuilder builder;
    return builder.build(key, std::string_view()).hash;
  }
  // Out of line, so that the common case above needs no registers saved.
  [[gnu::noinline]] const MapKey& build_other(std::string_view key, std::string_view ns) {
    const size_t kl = key.size();
    const size_t nl = ns.size();
    if (kl + nl + 2 <= 16) {
      // Short (numbers, short strings): assembled in registers. Writing the bytes one
      // field at a time and loading them back as words would stall on store forwarding.
      using U128 = unsigned __int128;
      // Only the words the bytes occupy are loaded: the string's terminator, just written
      // past its end, would stall a wider load too.
      U128 k = (kl > 8 ? load128(key.data()) : load64(key.data())) & low_bytes128(kl);
      U128 l = static_cast<U128>(kl) | (k << 8) | (static_cast<U128>(nl) << (8 * (kl + 1)));
      if (nl > 0) l |= ((nl > 8 ? load128(ns.data()) : load64(ns.data())) & low_bytes128(nl)) << (8 * (kl + 2));
      return finish_short(static_cast<uint64_t>(l), static_cast<uint64_t>(l >> 64), kl + nl + 2);
    }
    spill_.clear();
    state_encoding::append_varint(spill_, kl);
    spill_.append(key);
    state_encoding::append_varint(spill_, nl);
    spill_.append(ns);
    key_ = MapKey::of(spill_);
    return key_;
  }

  // A key of n <= 16 bytes, given as words.
  const MapKey& finish_short(uint64_t w0, uint64_t w1, size_t n) {
    key_.w0 = w0;
    key_.w1 = w1;
    std::memcpy(buf_, &w0, 8);
    std::memcpy(buf_ + 8, &w1, 8);
    key_.bytes = std::string_view(buf_, n);
    key_.hash = MapKey::hash_words(w0, w1, n);
    return key_;
  }
  static uint64_t load_word(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static unsigned __int128 load128(const char* p) {
    unsigned __int128 v;
    std::memcpy(&v, p, 16);
    return v;
  }
  static unsigned __int128 load64(const char* p) { return load_word(p); }
  static unsigned __int128 low_bytes128(size_t n) {
    return n >= 16 ? ~static_cast<unsigned __int128>(0) : (static_cast<unsigned __int128>(1) << (8 * n)) - 1;
  }

  char buf_[16];
  std::string spill_;
  MapKey key_;
};

// The heap backend's bookkeeping that typed states use: tables to snapshot, and entries
// restored for states not created yet.
class HeapStateStore {
 public:
  explicit HeapStateStore(KeyGroupRange key_groups) : key_groups_(key_groups) {}
  HeapStateStore(const HeapStateStore&) = delete;  // lookup_ refers to lookup_builder_
  HeapStateStore& operator=(const HeapStateStore&) = delete;

  const KeyGroupRange& key_groups() const { return key_groups_; }
  void add_table(HeapTableBase& table) { tables_.push_back(&table); }

  // The map key of `backend`'s current (key, namespace), shared by all tables: rebuilt
  // once per key_version(), not once per state. Valid until the key or namespace changes.
  const MapKey& lookup_key(KeyedStateBackend& backend) {
    const uint64_t version = backend.key_version();
    if (version != lookup_version_) {
      lookup_builder_.build(backend.current_key_view(), backend.current_namespace());
      lookup_version_ = version;
    }
    return lookup_;
  }

  // Prefetch for a record ahead of the one being processed: starts loading the slot of
  // serialized key `key` (no namespace; 16 bytes readable at its data()) in every state,
  // so that the record's accesses find it in cache. Changes nothing.
  //
  // In steps, each reading only what an earlier step loaded; one call per table does this
  // record's first step and the later steps of earlier records:
  //   1. now: the map's control bytes and home bucket for the key (FlatStateMap::prefetch);
  //   2. kEntryLag prefetches later, once the control bytes have arrived: the bucket they
  //      name, when it is not the home bucket (about a quarter of the keys);
  //   3. kNodeLag prefetches later, for values kept in nodes (lists, maps, strings), once
  //      the slot has arrived: its node.
  // No step branches on a line that may not have arrived, so the record's lookup does not
  // wait (docs/design/heap_state_access.md).
  //
  // Only states accessed within the last kRecentKeys keys (`key_version` is the backend's
  // key_version()) are prefetched.
  void prefetch(std::string_view key, int key_group, uint64_t key_version) {
    if (!key_groups_.contains(key_group)) return;
    const HeapTableBase::PrefetchStep control{key_group, LookupKeyBuilder::hash_without_namespace(key)};
    const HeapTableBase::PrefetchStep entry = pending_[(pending_count_ - kEntryLag) % kPendingSize];
    const HeapTableBase::PrefetchStep node = pending_[(pending_count_ - kNodeLag) % kPendingSize];
    pending_[pending_count_ % kPendingSize] = control;
    ++pending_count_;
    for (const HeapTableBase* table : tables_) {
      if (key_version - table->last_access() <= kRecentKeys) table->prefetch(control, entry, node);
    }
  }

  // Epochs, for incremental snapshots: every write stamps its slot with epoch(); a
  // snapshot takes the current epoch and starts the next, so the slots it must write
  // after a snapshot taken at epoch E are those stamped later than E.
  uint32_t epoch() const { return epoch_; }
  uint32_t begin_next_epoch() { return epoch_++; }
  // Removals are recorded (for incremental snapshots to write) only while tracked.
  bool tracks_removals() const { return tracks_removals_; }
  void set_tracks_removals(bool track) { tracks_removals_ = track; }
  // The epoch of the latest snapshot that later snapshots build on: removals up to it
  // need not be kept.
  uint32_t confirmed_epoch() const { return confirmed_epoch_; }
  void set_confirmed_epoch(uint32_t epoch) { confirmed_epoch_ = epoch; }
  const std::vector<HeapTableBase*>& tables() const { return tables_; }

  // Keeps restored entries of a state until it is created.
  void add_restored(const StateMetaInfo& meta, EntryList entries);
  // The restored entries of `meta`'s state, moved out (empty if none). Throws Error when
  // the snapshot's state has another kind or serializer signature.
  EntryList take_restored(const StateMetaInfo& meta);
  // Restored states not created (yet) in this run; snapshots carry them on unchanged.
  const std::map<std::string, std::pair<StateMetaInfo, EntryList>>& pending_restored() const {
    return restored_;
  }

 private:
  KeyGroupRange key_groups_;
  std::vector<HeapTableBase*> tables_;
  // The lags of prefetch()'s second and third steps, in prefetch calls (records): half and
  // three quarters of the runtime's distance, so each step's line has had about as long
  // to arrive as the next has before the record is processed.
  static constexpr size_t kEntryLag = kPrefetchDistance / 2;
  static constexpr size_t kNodeLag = kPrefetchDistance * 3 / 4;
  static_assert(kEntryLag >= 1 && kNodeLag > kEntryLag);
  static constexpr size_t kPendingSize = std::bit_ceil(kNodeLag + 1);
  static constexpr uint64_t kRecentKeys = 64;
  // The latest prefetches, by pending_count_ modulo kPendingSize.
  HeapTableBase::PrefetchStep pending_[kPendingSize];
  uint64_t pending_count_ = kPendingSize;  // so that count - lag never wraps below 0
  LookupKeyBuilder lookup_builder_;
  const MapKey& lookup_ = lookup_builder_.key();
  uint64_t lookup_version_ = ~uint64_t{0};
  uint32_t epoch_ = 1;
  bool tracks_removals_ = false;
  uint32_t confirmed_epoch_ = 0;
  std::map<std::string, std::pair<StateMetaInfo, EntryList>> restored_;
};

template <class T>
void append_encoded(std::string& out, const T& value, bool ttl, int64_t timestamp) {
  if (ttl) state_encoding::append_timestamp(out, timestamp);
  serialize_into(out, value);
}

// Reads [timestamp] value from `reader`; `where` names the state for errors.
template <class T>
T read_encoded(ByteReader& reader, bool ttl, int64_t& timestamp) {
  if (ttl) {
    std::string_view bytes = reader.read_bytes(8);
    timestamp = state_encoding::read_timestamp(bytes);
  }
  return Serializer<T>::read(reader);
}

// Values of type S per (key, namespace), per key group.
//
// Incremental checkpoints: every slot records the store's epoch of its last write, and
// each key group keeps the (map key, epoch) of slots removed while removals are tracked,
// so a snapshot can write only what changed after an earlier snapshot's epoch.
template <class S>
class HeapTable final : public HeapTableBase {
 public:
  struct Slot {
    SlotValue<S> value;
    int64_t timestamp = 0;  // last write (or read) time, for TTL
    uint32_t epoch = 0;     // HeapStateStore::epoch() of the last write
  };
  using Map = FlatStateMap<Slot>;
  // Canonical entries of one slot: (user key suffix, value bytes) pairs.
  using Encoder = void (*)(const Slot& slot, const TtlPolicy& ttl, Timestamp now,
                           std::vector<std::pair<std::string, std::string>>& out);

  HeapTable(KeyedStateBackend& backend, HeapStateStore& store, StateMetaInfo meta, TtlPolicy ttl,
            Encoder encoder)
      : backend_(backend),
        store_(store),
        meta_(std::move(meta)),
        ttl_(ttl),
        encoder_(encoder),
        first_group_(store.key_groups().first),
        groups_(static_cast<size_t>(std::max(store.key_groups().size(), 0))),
        frozen_(groups_.size(), 0),
        pool_(std::make_shared<GroupPool>()) {
    pool_->limit = groups_.size();
    store.add_table(*this);
  }

  const StateMetaInfo& meta() const override { return meta_; }
  const TtlPolicy& ttl() const { return ttl_; }
  KeyedStateBackend& backend() const { return backend_; }

  // The current key's slot, read-only; null when absent.
  const Slot* find() {
    if (cache_version_ == backend_.key_version()) return cache_slot_;
    const MapKey& key = lookup_key();  // first: it checks that there is a current key
    const size_t g = group_index();
    Group* group = groups_[g].get();
    if (group == nullptr) {
      remember(nullptr, /*writable=*/false);
      return nullptr;
    }
    auto it = group->map.find(key);
    Slot* slot = it == group->map.end() ? nullptr : &it->second;
    remember(slot, /*writable=*/frozen_[g] == 0);  // no snapshot holds the key group
    return slot;
  }
  // The current key's slot for writing (copies a frozen key group first); null when absent.
  // Counts as a write for incremental snapshots.
  Slot* find_mutable() {
    Slot* slot = cached_writable_slot();
    if (slot == nullptr) {
      const MapKey& key = lookup_key();
      Map& map = writable().map;
      auto it = map.find(key);
      if (it == map.end()) {
        remember(nullptr, /*writable=*/false);
        return nullptr;
      }
      slot = &it->second;
      remember(slot, /*writable=*/true);
    }
    slot->epoch = store_.epoch();
    return slot;
  }
  // The current key's slot, created with `S{}` when absent.
  Slot& upsert(bool& created) {
    Slot* slot = cached_writable_slot();
    if (slot != nullptr) {
      created = false;
    } else {
      const MapKey& key = lookup_key();
      Map& map = writable().map;
      auto [it, inserted] = map.try_emplace(key);
      created = inserted;
      slot = &it->second;
      remember(slot, /*writable=*/true);
    }
    slot->epoch = store_.epoch();
    return *slot;
  }
  void erase() {
    if (find() == nullptr) return;  // nothing to erase: do not copy a frozen key group
    const MapKey& key = lookup_key();
    Group& group = writable();
    forget();
    if (group.map.erase(key) > 0) record_removal(group, key.bytes);
  }

  // Restored entries: `decode` turns one canonical entry into the slot of its key.
  template <class Decode>
  void load(EntryList entries, Decode decode) {
    state_encoding::ParsedKey parsed;
    for (auto& [key, value] : entries) {
      if (!state_encoding::parse_key(key, parsed)) {
        throw Error("state '" + meta_.name + "': malformed entry key in the restored snapshot");
      }
      if (parsed.key_group < first_group_ || parsed.key_group >= first_group_ + static_cast<int>(groups_.size())) {
        continue;  // another subtask's key group
      }
      std::string map_key;
      state_encoding::append_varint(map_key, parsed.key.size());
      map_key.append(parsed.key);
      state_encoding::append_varint(map_key, parsed.ns.size());
      map_key.append(parsed.ns);
      Map& map = writable_group(static_cast<size_t>(parsed.key_group - first_group_)).map;
      Slot& slot = map[map_key];
      slot.epoch = store_.epoch();
      decode(slot, parsed.user_key, std::string_view(value));
    }
  }

  // Incremental TTL cleanup, when the state asks for it: sweeps a few slots per access
  // and drops those whose entries have all expired. `timestamps(slot, fn)` calls fn with
  // the timestamp of each entry of the slot.
  template <class ForEachTimestamp>
  void cleanup_if_configured(ForEachTimestamp timestamps) {
    if (!ttl_.enabled || ttl_.config.cleanup_incrementally <= 0) return;
    Timestamp now = backend_.now();
    cleanup_incrementally(ttl_.config.cleanup_incrementally, [&](const Slot& slot) {
      bool all_expired = true;
      timestamps(slot, [&](int64_t timestamp) { all_expired = all_expired && ttl_.expired(timestamp, now); });
      return all_expired;
    });
  }

  std::unique_ptr<FrozenTable> freeze() override {
    auto frozen = std::make_unique<Frozen>();
    frozen->ttl = ttl_;
    frozen->encoder = encoder_;
    frozen->first_group = first_group_;
    frozen->groups = groups_;
    for (const auto& group : groups_) {
      if (group != nullptr) group->snapshot_holders.fetch_add(1, std::memory_order_relaxed);
    }
    std::fill(frozen_.begin(), frozen_.end(), uint8_t{1});
    cache_writable_ = false;
    return frozen;
  }

  void prefetch(PrefetchStep control, PrefetchStep entry, PrefetchStep node) const override {
    if (const Group* group = group_at(control.key_group)) group->map.prefetch(control.hash);
    if (const Group* group = group_at(entry.key_group)) group->map.prefetch_entry(entry.hash);
    if constexpr (SlotValue<S>::kHasNode) {
      if (const Group* group = group_at(node.key_group)) {
        if (const Slot* slot = group->map.find_by_hash(node.hash)) {
          if (const void* address = slot->value.node_address()) prefetch_line(address, true);
        }
      }
    }
  }

  size_t memory_bytes() const override {
    size_t bytes = 0;
    for (const auto& group : groups_) {
      if (group == nullptr) continue;
      bytes += group->map.table_bytes();
      for (const auto& [key, slot] : group->map) {
        if (key.capacity() > 15) bytes += key.capacity();  // beyond the inline buffer
        if (slot.value.allocated()) bytes += slot.value.node_bytes();
        bytes += owned_bytes(slot.value.get());
      }
      for (const auto& [key, epoch] : group->removed) bytes += sizeof(key) + sizeof(epoch) + owned_bytes(key);
    }
    std::lock_guard lock(pool_->mutex);
    for (const auto& spare : pool_->spare) bytes += spare->map.table_bytes();
    return bytes;
  }

  // Checks up to `count` slots from a rotating cursor and erases those `is_expired` says.
  template <class IsExpired>
  void cleanup_incrementally(int count, IsExpired is_expired) {
    if (groups_.empty()) return;
    for (size_t checked = 0; checked < groups_.size() && count > 0; ++checked) {
      Group* current = groups_[cleanup_group_].get();
      if (current != nullptr && !current->map.empty()) {
        Group& group = writable_group(cleanup_group_);
        forget();  // erasing shifts slots
        Map& writable_map = group.map;
        for (auto it = writable_map.begin(); it != writable_map.end() && count > 0; --count) {
          if (is_expired(it->second)) {
            record_removal(group, it->first);
            it = writable_map.erase(it);
          } else {
            ++it;
          }
        }
        writable_map.shrink_to_fit();
      }
      cleanup_group_ = (cleanup_group_ + 1) % groups_.size();
    }
  }

 private:
  struct Group {
    Group() = default;
    // A copy for writing: nobody's snapshot holds it yet.
    Group(const Group& other) : map(other.map), removed(other.removed), prune_at(other.prune_at) {}
    // The same, into a recycled group (its bucket array reused).
    void assign(const Group& other) {
      map.assign(other.map);
      removed = other.removed;
      prune_at = other.prune_at;
    }

    Map map;
    // Slots removed (map key, epoch of the removal), while the store tracks removals;
    // entries no later snapshot needs are pruned as it grows.
    std::vector<std::pair<std::string, uint32_t>> removed;
    size_t prune_at = 64;
    // Snapshots that still need this key group as it is: written (acquire) by the task
    // before writing to it in place, decremented (release) by a snapshot done with it.
    std::atomic<int> snapshot_holders{0};
  };

  // Key groups that snapshots let go of, kept for the next copy-on-write: copying into a
  // bucket array already in memory costs a memcpy, where a fresh one costs a page fault
  // per 4 KiB (and freeing it, an munmap and TLB flushes that stall the task's thread).
  // At most one spare per key group. Shared with the deleters, which may run on a
  // snapshot's thread after the table is gone.
  struct GroupPool {
    std::mutex mutex;
    std::vector<std::unique_ptr<Group>> spare;
    size_t limit = 0;
  };
  struct Recycle {
    std::shared_ptr<GroupPool> pool;
    void operator()(Group* group) const {
      std::unique_ptr<Group> owned(group);
      owned->map.clear();
      owned->removed.clear();
      owned->snapshot_holders.store(0, std::memory_order_relaxed);
      std::lock_guard lock(pool->mutex);
      if (pool->spare.size() < pool->limit) pool->spare.push_back(std::move(owned));
    }
  };
  // A new empty key group, or a copy of `from`, in a recycled group when there is one.
  std::shared_ptr<Group> new_group(const Group* from) {
    std::unique_ptr<Group> group;
    {
      std::lock_guard lock(pool_->mutex);
      if (!pool_->spare.empty()) {
        group = std::move(pool_->spare.back());
        pool_->spare.pop_back();
      }
    }
    if (group == nullptr) {
      group = from != nullptr ? std::make_unique<Group>(*from) : std::make_unique<Group>();
    } else if (from != nullptr) {
      group->assign(*from);
    }
    return std::shared_ptr<Group>(group.release(), Recycle{pool_});
  }

  struct Frozen final : FrozenTable {
    TtlPolicy ttl{StateDescriptorBase{}};
    Encoder encoder;
    int first_group;
    std::vector<std::shared_ptr<Group>> groups;  // each counted in its snapshot_holders

    ~Frozen() override {
      for (size_t g = 0; g < groups.size(); ++g) release(g);
    }
    void release(size_t g) {
      if (groups[g] == nullptr) return;
      groups[g]->snapshot_holders.fetch_sub(1, std::memory_order_release);
      groups[g].reset();
    }

    void write(EntryList& out, Timestamp now) const override {
      std::vector<std::pair<std::string, std::string>> parts;
      for (size_t g = 0; g < groups.size(); ++g) {
        if (groups[g] == nullptr) continue;
        size_t begin = out.size();
        for (const auto& [map_key, slot] : groups[g]->map) {
          parts.clear();
          encoder(slot, ttl, now, parts);
          for (auto& [suffix, value] : parts) {
            std::string key;
            key.push_back(static_cast<char>(((first_group + static_cast<int>(g)) >> 8) & 0xff));
            key.push_back(static_cast<char>((first_group + static_cast<int>(g)) & 0xff));
            key += map_key;
            key += suffix;
            out.emplace_back(std::move(key), std::move(value));
          }
        }
        std::sort(out.begin() + static_cast<std::ptrdiff_t>(begin), out.end());
      }
    }

    void write_slots(SlotSink& sink, Timestamp now, bool all, uint32_t since_epoch) override {
      std::vector<std::pair<std::string, std::string>> parts;
      for (size_t g = 0; g < groups.size(); ++g) {
        if (groups[g] == nullptr) continue;
        const int key_group = first_group + static_cast<int>(g);
        const Group& group = *groups[g];
        if (!all) {
          for (const auto& [map_key, epoch] : group.removed) {
            if (epoch > since_epoch) sink.removed(key_group, map_key);
          }
        }
        for (const auto& [map_key, slot] : group.map) {
          if (!all && slot.epoch <= since_epoch) continue;
          parts.clear();
          encoder(slot, ttl, now, parts);
          sink.slot(key_group, map_key, parts);
        }
        release(g);  // done with it: a write to this key group need not copy it now
      }
    }
  };

  // The key group `key_group` (one of this subtask's, or -1), or null when it has no map yet.
  const Group* group_at(int key_group) const {
    return key_group < 0 ? nullptr : groups_[static_cast<size_t>(key_group - first_group_)].get();
  }
  size_t group_index() const {
    const auto index = static_cast<size_t>(backend_.current_key_group() - first_group_);
    if (index >= groups_.size()) [[unlikely]] not_owned(backend_.current_key_group());
    return index;
  }
  [[noreturn, gnu::cold, gnu::noinline]] void not_owned(int group) const {
    throw Error("state '" + meta_.name + "': key group " + std::to_string(group) +
                " is not owned by this subtask (it owns " + std::to_string(first_group_) + ".." +
                std::to_string(first_group_ + static_cast<int>(groups_.size()) - 1) + ")");
  }

  // The lookup key of the current (key, namespace), with its hash; notes the access.
  const MapKey& lookup_key() {
    last_access_ = backend_.key_version();
    return store_.lookup_key(backend_);
  }

  // A read-modify-write finds the slot once: the slot found for the current key (or its
  // absence) is remembered until the key or namespace changes (key_version()), or this
  // table changes a map otherwise than by inserting that key: erase(), incremental
  // cleanup, a key group copied or created. Only this table changes its maps. A slot is
  // writable in place only while its key group is not frozen for a snapshot; freeze()
  // makes every remembered slot read-only.
  void remember(Slot* slot, bool writable) {
    cache_version_ = backend_.key_version();
    cache_slot_ = slot;
    cache_writable_ = writable;
  }
  void forget() { cache_version_ = ~uint64_t{0}; }
  Slot* cached_writable_slot() const {
    return cache_version_ == backend_.key_version() && cache_writable_ ? cache_slot_ : nullptr;
  }

  void record_removal(Group& group, std::string_view map_key) {
    if (!store_.tracks_removals()) return;
    group.removed.emplace_back(std::string(map_key), store_.epoch());
    if (group.removed.size() >= group.prune_at) {
      const uint32_t needed_after = store_.confirmed_epoch();
      std::erase_if(group.removed, [&](const auto& removal) { return removal.second <= needed_after; });
      group.prune_at = 2 * group.removed.size() + 64;
    }
  }

  Group& writable() { return writable_group(group_index()); }
  Group& writable_group(size_t g) {
    std::shared_ptr<Group>& group = groups_[g];
    if (group == nullptr) {
      group = new_group(nullptr);
      forget();
    } else if (frozen_[g] && group->snapshot_holders.load(std::memory_order_acquire) > 0) {
      // A snapshot that still needs this key group keeps the old one; one that has
      // written it already has let it go.
      group = new_group(group.get());
      forget();  // a remembered slot may be in the old one
    }
    frozen_[g] = 0;
    return *group;
  }

  KeyedStateBackend& backend_;
  HeapStateStore& store_;
  StateMetaInfo meta_;
  TtlPolicy ttl_;
  Encoder encoder_;
  int first_group_;
  std::vector<std::shared_ptr<Group>> groups_;
  std::vector<uint8_t> frozen_;  // per key group: held by a snapshot since the last write
  std::shared_ptr<GroupPool> pool_;
  uint64_t cache_version_ = ~uint64_t{0};
  Slot* cache_slot_ = nullptr;
  bool cache_writable_ = false;
  size_t cleanup_group_ = 0;
};

// ---- Value-like states: value, reducing, aggregating (one object per key) ----

template <class S>
void encode_single(const typename HeapTable<S>::Slot& slot, const TtlPolicy& ttl, Timestamp now,
                   std::vector<std::pair<std::string, std::string>>& out) {
  if (ttl.enabled && ttl.config.cleanup_in_full_snapshot && ttl.expired(slot.timestamp, now)) return;
  std::string value;
  append_encoded(value, slot.value.get(), ttl.enabled, slot.timestamp);
  out.emplace_back(std::string(), std::move(value));
}

// Shared by the value-like states: read with TTL rules, write with a fresh timestamp.
template <class S>
class SingleValueAccess {
 public:
  SingleValueAccess(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
                    const StateDescriptorBase& descriptor)
      : table_(backend, store, meta, TtlPolicy(descriptor), &encode_single<S>) {
    const bool ttl = table_.ttl().enabled;
    table_.load(store.take_restored(meta), [ttl, &meta](auto& slot, std::string_view, std::string_view bytes) {
      ByteReader reader(bytes);
      slot.value.set(read_encoded<S>(reader, ttl, slot.timestamp));
      if (!reader.at_end()) throw Error("state '" + meta.name + "': trailing bytes in a restored value");
    });
  }

  // The current key's value, by the TTL rules; null when absent.
  const S* read() {
    cleanup();
    const auto* slot = table_.find();
    if (slot == nullptr) return nullptr;
    Timestamp now = 0;
    if (table_.ttl().enabled) {
      now = table_.backend().now();
      if (table_.ttl().expired(slot->timestamp, now)) {
        if (table_.ttl().return_expired()) return &slot->value.get();
        table_.erase();
        return nullptr;
      }
      if (table_.ttl().refresh_on_read()) {
        auto* mutable_slot = table_.find_mutable();
        mutable_slot->timestamp = now;
        return &mutable_slot->value.get();
      }
    }
    return &slot->value.get();
  }
  // The current key's value for update: nullopt-like when absent or expired-and-hidden.
  S* read_for_update() {
    const S* current = read();
    if (current == nullptr) return nullptr;
    auto* slot = table_.find_mutable();
    return &slot->value.mut();
  }
  void write(S value) {
    cleanup();
    bool created = false;
    auto& slot = table_.upsert(created);
    slot.value.set(std::move(value));
    if (table_.ttl().enabled) slot.timestamp = table_.backend().now();
  }
  void touch() {
    if (!table_.ttl().enabled) return;
    if (auto* slot = table_.find_mutable()) slot->timestamp = table_.backend().now();
  }
  void clear() { table_.erase(); }

 private:
  void cleanup() {
    table_.cleanup_if_configured([](const auto& slot, auto visit) { visit(slot.timestamp); });
  }

  HeapTable<S> table_;
};

template <class T>
class HeapValueState final : public ValueState<T> {
 public:
  HeapValueState(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
                 const StateDescriptorBase& descriptor)
      : access_(backend, store, meta, descriptor) {}
  std::optional<T> value() override {
    const T* v = access_.read();
    return v == nullptr ? std::nullopt : std::optional<T>(*v);
  }
  // Without the optional: GCC builds a returned std::optional<int64_t> on the stack with a
  // byte store and reads it back as a word, a store-forwarding stall on every call.
  T value_or(T fallback) override {
    const T* v = access_.read();
    return v == nullptr ? std::move(fallback) : T(*v);
  }
  void update(T value) override { access_.write(std::move(value)); }
  void clear() override { access_.clear(); }

 private:
  SingleValueAccess<T> access_;
};

template <class T>
class HeapReducingState final : public ReducingState<T> {
 public:
  HeapReducingState(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
                    const ReducingStateDescriptor<T>& descriptor)
      : access_(backend, store, meta, descriptor), reduce_(descriptor.reduce_function) {}
  std::optional<T> get() override {
    const T* v = access_.read();
    return v == nullptr ? std::nullopt : std::optional<T>(*v);
  }
  void add(T value) override {
    if (T* current = access_.read_for_update()) {
      *current = reduce_(*current, value);
      access_.touch();
    } else {
      access_.write(std::move(value));
    }
  }
  void clear() override { access_.clear(); }

 private:
  SingleValueAccess<T> access_;
  typename ReducingStateDescriptor<T>::ReduceFunction reduce_;
};

template <class IN, class ACC, class OUT>
class HeapAggregatingState final : public AggregatingState<IN, OUT> {
 public:
  HeapAggregatingState(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
                       const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor)
      : access_(backend, store, meta, descriptor), function_(descriptor.function) {}
  std::optional<OUT> get() override {
    const ACC* acc = access_.read();
    return acc == nullptr ? std::nullopt : std::optional<OUT>(function_->get_result(*acc));
  }
  void add(const IN& value) override {
    if (ACC* current = access_.read_for_update()) {
      *current = function_->add(value, std::move(*current));
      access_.touch();
    } else {
      access_.write(function_->add(value, function_->create_accumulator()));
    }
  }
  void clear() override { access_.clear(); }

 private:
  SingleValueAccess<ACC> access_;
  std::shared_ptr<const AggregateFunction<IN, ACC, OUT>> function_;
};

// ---- List state: elements with their own timestamps ----

template <class T>
struct TimedElement {
  T value;
  int64_t timestamp = 0;
};
template <class T>
size_t owned_bytes(const TimedElement<T>& element) {
  return owned_bytes(element.value);
}

template <class T>
class HeapListState final : public ListState<T> {
 public:
  using S = std::vector<TimedElement<T>>;

  HeapListState(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
                const StateDescriptorBase& descriptor)
      : table_(backend, store, meta, TtlPolicy(descriptor), &encode) {
    const bool ttl = table_.ttl().enabled;
    table_.load(store.take_restored(meta), [ttl](auto& slot, std::string_view, std::string_view bytes) {
      ByteReader reader(bytes);
      while (!reader.at_end()) {
        TimedElement<T> element;
        element.value = read_encoded<T>(reader, ttl, element.timestamp);
        slot.value.mut().push_back(std::move(element));
      }
    });
  }

  std::vector<T> get() override {
    std::vector<T> out;
    const auto* slot = table_.find();
    if (slot == nullptr) return out;
    const TtlPolicy& ttl = table_.ttl();
    if (!ttl.enabled) {
      out.reserve(slot->value.get().size());
      for (const auto& element : slot->value.get()) out.push_back(element.value);
      return out;
    }
    Timestamp now = table_.backend().now();
    auto* mutable_slot = table_.find_mutable();
    S& elements = mutable_slot->value.mut();
    if (!ttl.return_expired()) {
      std::erase_if(elements, [&](const auto& e) { return ttl.expired(e.timestamp, now); });
    }
    for (auto& element : elements) {
      if (ttl.refresh_on_read()) element.timestamp = now;
      out.push_back(element.value);
    }
    if (elements.empty()) table_.erase();
    return out;
  }
  void add(T value) override {
    cleanup();
    bool created = false;
    auto& slot = table_.upsert(created);
    slot.value.mut().push_back(TimedElement<T>{std::move(value), stamp()});
  }
  void add_all(std::vector<T> values) override {
    if (values.empty()) return;
    bool created = false;
    auto& slot = table_.upsert(created);
    int64_t now = stamp();
    for (T& v : values) slot.value.mut().push_back(TimedElement<T>{std::move(v), now});
  }
  void update(std::vector<T> values) override {
    table_.erase();
    add_all(std::move(values));
  }
  void clear() override { table_.erase(); }

 private:
  static void encode(const typename HeapTable<S>::Slot& slot, const TtlPolicy& ttl, Timestamp now,
                     std::vector<std::pair<std::string, std::string>>& out) {
    std::string value;
    for (const auto& element : slot.value.get()) {
      if (ttl.enabled && ttl.config.cleanup_in_full_snapshot && ttl.expired(element.timestamp, now)) continue;
      append_encoded(value, element.value, ttl.enabled, element.timestamp);
    }
    if (!value.empty()) out.emplace_back(std::string(), std::move(value));
  }
  int64_t stamp() const { return table_.ttl().enabled ? table_.backend().now() : 0; }
  void cleanup() {
    table_.cleanup_if_configured([](const auto& slot, auto visit) {
      for (const auto& element : slot.value.get()) visit(element.timestamp);
    });
  }

  HeapTable<S> table_;
};

// ---- Map state: user key -> (key, value, timestamp), by serialized user key ----

template <class K, class V>
struct MapEntry {
  K key;
  V value;
  int64_t timestamp = 0;
};
template <class K, class V>
size_t owned_bytes(const MapEntry<K, V>& entry) {
  return owned_bytes(entry.key) + owned_bytes(entry.value);
}

template <class K, class V>
class HeapMapState final : public MapState<K, V> {
 public:
  using S = std::unordered_map<std::string, MapEntry<K, V>>;

  HeapMapState(KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
               const StateDescriptorBase& descriptor)
      : table_(backend, store, meta, TtlPolicy(descriptor), &encode) {
    const bool ttl = table_.ttl().enabled;
    table_.load(store.take_restored(meta), [ttl](auto& slot, std::string_view user_key, std::string_view bytes) {
      MapEntry<K, V> entry;
      entry.key = deserialize<K>(user_key);
      ByteReader reader(bytes);
      entry.value = read_encoded<V>(reader, ttl, entry.timestamp);
      slot.value.mut().emplace(std::string(user_key), std::move(entry));
    });
  }

  std::optional<V> get(const K& key) override {
    const MapEntry<K, V>* entry = live_entry(key);
    return entry == nullptr ? std::nullopt : std::optional<V>(entry->value);
  }
  void put(K key, V value) override {
    cleanup();
    bool created = false;
    auto& slot = table_.upsert(created);
    std::string user_key = serialize(key);
    slot.value.mut().insert_or_assign(std::move(user_key), MapEntry<K, V>{std::move(key), std::move(value), stamp()});
  }
  void remove(const K& key) override {
    auto* slot = table_.find_mutable();
    if (slot == nullptr) return;
    slot->value.mut().erase(serialize(key));
    if (slot->value.get().empty()) table_.erase();
  }
  bool contains(const K& key) override { return live_entry(key) != nullptr; }
  std::vector<std::pair<K, V>> entries() override {
    std::vector<std::pair<K, V>> out;
    for_each_live([&](const MapEntry<K, V>& e) { out.emplace_back(e.key, e.value); });
    return out;
  }
  std::vector<K> keys() override {
    std::vector<K> out;
    for_each_live([&](const MapEntry<K, V>& e) { out.push_back(e.key); });
    return out;
  }
  std::vector<V> values() override {
    std::vector<V> out;
    for_each_live([&](const MapEntry<K, V>& e) { out.push_back(e.value); });
    return out;
  }
  bool is_empty() override {
    bool empty = true;
    for_each_live([&](const MapEntry<K, V>&) { empty = false; });
    return empty;
  }
  void clear() override { table_.erase(); }

 private:
  static void encode(const typename HeapTable<S>::Slot& slot, const TtlPolicy& ttl, Timestamp now,
                     std::vector<std::pair<std::string, std::string>>& out) {
    for (const auto& [user_key, entry] : slot.value.get()) {
      if (ttl.enabled && ttl.config.cleanup_in_full_snapshot && ttl.expired(entry.timestamp, now)) continue;
      std::string value;
      append_encoded(value, entry.value, ttl.enabled, entry.timestamp);
      out.emplace_back(user_key, std::move(value));
    }
  }
  int64_t stamp() const { return table_.ttl().enabled ? table_.backend().now() : 0; }
  void cleanup() {
    table_.cleanup_if_configured([](const auto& slot, auto visit) {
      for (const auto& [user_key, entry] : slot.value.get()) visit(entry.timestamp);
    });
  }

  // Reads go through the read-only slot; only TTL bookkeeping (dropping an expired entry,
  // refreshing a timestamp on read) writes.
  const MapEntry<K, V>* live_entry(const K& key) {
    const auto* slot = table_.find();
    if (slot == nullptr) return nullptr;
    std::string user_key = serialize(key);
    auto found = slot->value.get().find(user_key);
    if (found == slot->value.get().end()) return nullptr;
    const TtlPolicy& ttl = table_.ttl();
    if (!ttl.enabled) return &found->second;
    Timestamp now = table_.backend().now();
    const bool expired = ttl.expired(found->second.timestamp, now);
    if (expired ? ttl.return_expired() : !ttl.refresh_on_read()) return &found->second;
    auto& entries = table_.find_mutable()->value.mut();
    auto it = entries.find(user_key);
    if (expired) {
      entries.erase(it);
      if (entries.empty()) table_.erase();
      return nullptr;
    }
    it->second.timestamp = now;
    return &it->second;
  }

  template <class F>
  void for_each_live(F fn) {
    const auto* slot = table_.find();
    if (slot == nullptr) return;
    const TtlPolicy& ttl = table_.ttl();
    if (!ttl.enabled) {
      for (const auto& [user_key, entry] : slot->value.get()) fn(entry);
      return;
    }
    Timestamp now = table_.backend().now();
    auto& entries = table_.find_mutable()->value.mut();
    for (auto it = entries.begin(); it != entries.end();) {
      if (ttl.expired(it->second.timestamp, now) && !ttl.return_expired()) {
        it = entries.erase(it);
        continue;
      }
      if (ttl.refresh_on_read()) it->second.timestamp = now;
      fn(it->second);
      ++it;
    }
    if (entries.empty()) table_.erase();
  }

  HeapTable<S> table_;
};

template <class T>
std::unique_ptr<ValueState<T>> make_heap_value_state(KeyedStateBackend& backend, HeapStateStore& store,
                                                     const StateMetaInfo& meta,
                                                     const ValueStateDescriptor<T>& descriptor) {
  return std::make_unique<HeapValueState<T>>(backend, store, meta, descriptor);
}
template <class T>
std::unique_ptr<ListState<T>> make_heap_list_state(KeyedStateBackend& backend, HeapStateStore& store,
                                                   const StateMetaInfo& meta,
                                                   const ListStateDescriptor<T>& descriptor) {
  return std::make_unique<HeapListState<T>>(backend, store, meta, descriptor);
}
template <class K, class V>
std::unique_ptr<MapState<K, V>> make_heap_map_state(KeyedStateBackend& backend, HeapStateStore& store,
                                                    const StateMetaInfo& meta,
                                                    const MapStateDescriptor<K, V>& descriptor) {
  return std::make_unique<HeapMapState<K, V>>(backend, store, meta, descriptor);
}
template <class T>
std::unique_ptr<ReducingState<T>> make_heap_reducing_state(KeyedStateBackend& backend, HeapStateStore& store,
                                                           const StateMetaInfo& meta,
                                                           const ReducingStateDescriptor<T>& descriptor) {
  return std::make_unique<HeapReducingState<T>>(backend, store, meta, descriptor);
}
template <class IN, class ACC, class OUT>
std::unique_ptr<AggregatingState<IN, OUT>> make_heap_aggregating_state(
    KeyedStateBackend& backend, HeapStateStore& store, const StateMetaInfo& meta,
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
  return std::make_unique<HeapAggregatingState<IN, ACC, OUT>>(backend, store, meta, descriptor);
}

}  // namespace eddy::internal
