// The entry cache of the RocksDB backend: the latest value (or the absence) of recently used
// entries of point-accessed state columns, keyed by (column, entry key), in front of RocksDB.
// It holds bytes exactly as RocksDB would return them; it knows nothing of states, TTL or
// RocksDB, and it writes nothing anywhere: the backend keeps the writes it records in a
// pending write batch and tells it when they have reached RocksDB (mark_clean).
//
// Contract with the owner (docs/design/rocksdb_entry_cache.md):
// - An entry is dirty from write() until the next mark_clean(): its write is pending, and the
//   cache never evicts it, so for a key with a pending write the cache always holds the
//   latest value. The owner must call mark_clean() exactly when every write recorded so
//   far has reached the store.
// - write() returns kFull when the only entries it could evict are dirty: the owner writes
//   its pending writes out, calls mark_clean() and calls write() again, which then succeeds.
// - write() returns kNotCached for an entry too large to cache (kMaxEntryBytes), or when the
//   budget leaves no room for any table: the cache holds nothing for the key then (any
//   entry it had is gone), so the owner must write it to the store before the next read.
// - fill() records what the store returned for a miss; it never evicts dirty entries and
//   may decline to cache.
// - A column marked complete (set_complete: the store holds nothing of it yet) stays so
//   while the cache holds every entry the store has of it: a miss then means "absent",
//   and the owner need not read the store. Evicting one of its entries (but an absence),
//   erase() and a write that is not cached end that, for good (until clear()).
//
// Memory: a table of 48-byte slots, each holding a key and value of up to 35 bytes inline;
// longer ones live in one allocation beside it. The table grows (doubling) while the
// budget, shared by every cache of the process configured with the same size, has room;
// then entries are evicted in the manner of CLOCK: a sweep from a random occupied slot
// evicts the first clean entry not used since a sweep last passed it (clearing the marks
// of those it passes). Bytes are counted in the shared budget as they are allocated and
// released.
//
// Threading: one thread uses a cache (its backend's subtask thread); only the budget's byte
// count is shared, and it is atomic.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::state {

// The bytes that the entry caches of several backends may take together. Each cache adds
// what it allocates and subtracts what it frees; a cache grows its table only within the
// limit and, when entries held out of line put the total over it, evicts its own.
struct EntryCacheBudget {
  explicit EntryCacheBudget(size_t limit_bytes) : limit(limit_bytes) {}
  const size_t limit;
  std::atomic<size_t> used{0};
};

class EntryCache {
 public:
  // Entries (key + value) larger than this are never cached: one would take the room of a
  // hundred small entries. (Values from 512 bytes live in RocksDB's blob files, where a read
  // costs a file read: those up to this size are worth their room.)
  static constexpr size_t kMaxEntryBytes = 4096;
  // Column ids are stored in 16 bits.
  static constexpr int kMaxColumns = 65535;

  enum class Found { kMiss, kValue, kAbsent };
  enum class WriteResult { kCached, kFull, kNotCached };

  explicit EntryCache(std::shared_ptr<EntryCacheBudget> budget);
  ~EntryCache();
  EntryCache(const EntryCache&) = delete;
  EntryCache& operator=(const EntryCache&) = delete;

  // What the cache knows of (column, key): the value (copied into `value`), its absence,
  // or nothing.
  Found find(int column, std::string_view key, std::string& value);
  // Starts loading the slot where (column, key) would be into the CPU cache.
  void prefetch(int column, std::string_view key) const;
  // See the contract above.
  void set_complete(int column);
  bool complete(int column) const {
    return static_cast<size_t>(column) < complete_.size() && complete_[static_cast<size_t>(column)];
  }
  // Records what the store holds for (column, key): `value`, or absence when null. The
  // entry is clean. Evicts clean entries for room if needed; caches nothing when it cannot.
  void fill(int column, std::string_view key, const std::string_view* value);
  // Records a write of (column, key) (`value`, or a removal when null) that is pending until
  // the next mark_clean(). See the contract above for kFull and kNotCached.
  WriteResult write(int column, std::string_view key, const std::string_view* value);
  // Every write recorded so far has reached the store: dirty entries become clean.
  void mark_clean();
  // Forgets (column, key). Also a dirty entry: the owner must have its write in the store
  // before the next read of the key.
  void erase(int column, std::string_view key);
  // Forgets every entry of `column` (dirty ones too, as erase()).
  void erase_column(int column);
  // Forgets everything and frees the table.
  void clear();

  // Entries held, and the dirty ones among them.
  size_t size() const { return used_; }
  size_t dirty() const { return dirty_; }
  // The bytes this cache takes: table and out-of-line entries.
  size_t memory_bytes() const { return table_bytes_ + out_of_line_bytes_; }
  size_t capacity() const { return capacity_; }
  // The mean distance of the entries from their home slots (a hit looks at one more); for
  // tests.
  double mean_displacement() const;

 private:
  struct Slot;
  struct Probe;

  // The bytes a table of `slots` slots allocates, the allocation (zeroed) and its release.
  static size_t table_bytes_for(size_t slots);
  static Slot* allocate_table(size_t slots);
  static void free_table(Slot* table, size_t slots);
  Probe locate(int column, std::string_view key) const;
  // Stores (key, value) into the free slot `index`, or over the entry there.
  void assign(size_t index, const Probe& probe, int column, std::string_view key,
              const std::string_view* value);
  // Makes room for one more entry: grows the table or evicts one clean entry. False when
  // neither is possible (every entry is dirty, or there is no table and no budget for one).
  bool make_room();
  bool grow();
  void rehash(size_t new_capacity);
  // Evicts one clean entry (see above); `out_of_line_only` for bytes. False
  // when there is none.
  bool evict_one(bool out_of_line_only);
  // Evicts clean out-of-line entries while the shared budget is over its limit.
  void shrink_to_budget();
  void remove_at(size_t index);
  void release_value(Slot& slot);
  void account(std::ptrdiff_t delta);
  void set_incomplete(int column) {
    if (static_cast<size_t>(column) < complete_.size()) complete_[static_cast<size_t>(column)] = false;
  }

  std::shared_ptr<EntryCacheBudget> budget_;
  Slot* slots_ = nullptr;  // capacity_ slots, owned (allocate_table/free_table)
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t dirty_ = 0;
  size_t out_of_line_ = 0;  // entries held out of line
  size_t table_bytes_ = 0;
  size_t out_of_line_bytes_ = 0;
  uint64_t random_ = 0x9e3779b97f4a7c15ULL;  // xorshift state: where sweeps start
  // A slot whose epoch equals this one holds a write not yet in the store.
  uint32_t epoch_ = 1;
  std::vector<bool> complete_;  // by column
};

}  // namespace eddy::state
