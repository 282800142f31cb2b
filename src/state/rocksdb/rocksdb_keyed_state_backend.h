// The RocksDB state backend: keyed state as bytes in an embedded RocksDB database that
// each operator subtask opens in a fresh directory (removed when the backend goes), one
// column family per state. Entries are laid out as internal/state_encoding.h says, so a
// column in key order already is the canonical snapshot form (KeyedStateSnapshot), and
// the typed states on top are those of internal/byte_state.h.
//
// - Memory: the block cache, the write buffer manager and the entry cache's budget are
//   shared by every RocksDB backend of the process with the same configured sizes
//   (StateBackendOptions).
// - Entry cache (StateBackendOptions::rocksdb_entry_cache_bytes; 0 turns it off): value,
//   reducing and aggregating states, which read and write whole entries by key, go
//   through an EntryCache (entry_cache.h) of recent entries (value or absence). Their
//   writes update the cache and wait in one pending write batch, written to RocksDB at
//   1024 entries or 256 KiB and before anything but a cached read reads the database:
//   snapshot(), snapshot_incremental() (so a checkpoint holds every write before its
//   barrier), scans of those columns, restore(), flush(), compact(). An entry whose write
//   is pending is never evicted: a key the cache does not hold has no pending write, and
//   a miss reads RocksDB alone. A column created empty here needs not even that while the
//   cache holds all its entries. Their memtables are point memtables (point_memtable.h).
//   Lists (merges) and maps (prefix scans) go to RocksDB directly.
//   docs/design/rocksdb_entry_cache.md.
// - Durability comes from checkpoints, as in Flink: nothing is synced to disk, and without
//   incremental checkpoints writes skip RocksDB's write-ahead log.
// - ListState::add is a RocksDB merge whose operator concatenates. Lists are stored in the
//   canonical form (elements back to back, no lengths), so neither compaction nor full
//   snapshots can split them: their expired elements are dropped when the list is read.
// - TTL: for value, map, reducing and aggregating states with
//   StateTtlConfig::cleanup_in_rocksdb_compaction, a compaction filter drops entries whose
//   timestamp expired (by this backend's clock); cleanup_in_full_snapshot keeps them out
//   of snapshots. A cached value that the filter may have dropped (expired by its TTL) is
//   read from RocksDB again, so reads return what RocksDB holds.
//
// - Incremental checkpoints (StateBackendOptions::incremental_checkpoints): the synchronous
//   part disables file deletions and lists the database's files (what a RocksDB checkpoint
//   would link), and does nothing else: no flush, no memtable switch. What the memtables
//   hold is in the write-ahead log, which these databases keep for this (buffered, never
//   synced), and the listing has each log's length at the barrier. RocksDB switches and
//   flushes memtables on its own, as without checkpoints; memtables of half the write
//   buffer budget bound the logs a checkpoint takes. The asynchronous part
//   uploads the SST files and closed logs that the latest completed checkpoint did not
//   already have, takes MANIFEST and the open log (their parts up to the barrier), CURRENT
//   and OPTIONS along as private files, and enables file deletions again. A restore with the same key groups puts the files in place and opens them
//   (RocksDB replays the logs); any other restore reads them into the canonical form.
//
// - Values of 512 bytes or more are kept in blob files (RocksDB's integrated BlobDB), which
//   compactions do not rewrite; checkpoints share them like SST files.
//
// Threading: like every KeyedStateBackend, used from its subtask's thread; a SnapshotTask
// or IncrementalSnapshotTask may run on another thread, and may even outlive the backend
// (both keep the database open).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/clock.h"
#include "eddy/internal/byte_state_store.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"

namespace rocksdb {
class WriteBatch;
}

namespace eddy::state {

class EntryCache;

class RocksDbKeyedStateBackend final : public KeyedStateBackend, public internal::ByteStateStore {
 public:
  // Opens a database in a new directory under options.rocksdb_dir (or the system temp
  // directory), named after the operator and subtask. Throws eddy::Error when the
  // directory or the database cannot be created.
  RocksDbKeyedStateBackend(const StateBackendOptions& options, KeyGroupRange key_groups,
                           int max_parallelism, const Clock& clock,
                           const std::string& operator_name, int subtask_index);
  ~RocksDbKeyedStateBackend() override;

  std::string name() const override { return "rocksdb"; }
  std::unique_ptr<SnapshotTask> snapshot() override;
  void restore(const std::vector<const KeyedStateSnapshot*>& snapshots) override;
  std::unique_ptr<IncrementalSnapshotTask> snapshot_incremental(int64_t checkpoint_id) override;
  bool can_restore_incremental(const IncrementalKeyedSnapshot& snapshot) const override;
  void restore_incremental(const IncrementalKeyedSnapshot& snapshot, const SharedFileFetcher& fetch) override;
  void notify_checkpoint_complete(int64_t checkpoint_id) override;
  void notify_checkpoint_aborted(int64_t checkpoint_id) override;
  // read_incremental_snapshot() for snapshots of this backend.
  static KeyedStateSnapshot read_incremental(const IncrementalKeyedSnapshot& snapshot,
                                             const StateBackendOptions& options,
                                             const SharedFileFetcher& fetch);
  // Memtables + table readers of this database + usage of the (shared) block cache + this
  // backend's entry cache and pending batch (counted, not written out).
  size_t memory_bytes() const override;
  internal::ByteStateStore* byte_store() override { return this; }
  // With an entry cache: prefetch() loads the cache slots of the record's entries.
  bool prefetches() const override;

  // internal::ByteStateStore. Failures of RocksDB throw eddy::Error naming the operator,
  // the subtask and the state.
  int register_column(const StateMetaInfo& meta, const std::optional<StateTtlConfig>& ttl) override;
  bool get(int column, std::string_view key, std::string& value) override;
  void put(int column, std::string_view key, std::string_view value) override;
  void remove(int column, std::string_view key) override;
  void append(int column, std::string_view key, std::string_view value) override;
  void scan_prefix(
      int column, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override;
  void remove_prefix(int column, std::string_view prefix) override;

  // Flushes the memtables, then writes a RocksDB checkpoint of the database into `dir`
  // (which must not exist yet): SST files hard-linked where the file system allows, so
  // that incremental checkpoints can reuse them.
  void create_native_checkpoint(const std::string& dir);
  // Compacts every column down to the bottom level now (TTL filters included). RocksDB
  // compacts in the background on its own; this is for tests and tools.
  void compact();
  // Flushes every column's memtables to SST files and waits (checkpoints never flush; this
  // is for tests and tools).
  void flush();
  // Pauses (or resumes) RocksDB's background flushes and compactions, for tests: what a
  // checkpoint lists then does not depend on their timing. While paused, writes slow down
  // once a column has three memtables waiting for a flush and block at four, and flush()
  // blocks.
  void set_background_work_paused(bool paused);
  // The directory of this backend's database.
  const std::filesystem::path& data_dir() const;
  // For tests: the number of entries at which the pending batch is written (at least 1),
  // and the writes it holds now.
  void set_pending_write_bound(uint32_t entries);
  uint32_t pending_writes() const;

 protected:
  void prefetch_serialized(std::string_view key, int key_group) override;

 private:
  struct Database;
  struct Column;
  struct Uploads;
  class IncrementalTask;

  // Opens the database in db_->dir with a column per state of `states` (what it holds:
  // RocksDB refuses to open a database whose column families are not all named).
  void open_database(const std::vector<StateMetaInfo>& states);
  Column& column_at(int column) const;
  int find_or_create_column(const StateMetaInfo& meta);
  // Whether a column of `meta` goes through the entry cache.
  bool caches(const StateMetaInfo& meta) const;
  // Whether `value` (of column `c`) has expired by the TTL of c's compaction filter, so
  // that RocksDB may have dropped it: a cached copy is then not what RocksDB returns.
  bool compaction_may_drop(const Column& c, std::string_view value) const;
  // put/remove of a cached column: into the cache and the pending batch.
  void write_cached(int column, std::string_view key, const std::string_view* value);
  // Writes the pending batch to RocksDB (one db->Write) and marks the cache's entries clean.
  // Called when the batch reaches its bound, and before anything but a cached read reads
  // the database: scans of cached columns, snapshot(), snapshot_incremental() (the barrier:
  // the checkpoint must hold every write before it), restore(), flush(), compact(),
  // create_native_checkpoint(). Not needed for reads of uncached columns: only cached
  // columns have pending writes.
  void write_pending();
  [[noreturn]] void fail(const std::string& what, const std::string& status) const;

  std::string operator_name_;
  int subtask_index_;
  // Shared with snapshot tasks that have not finished: they read the database through a
  // RocksDB snapshot on another thread, possibly after this backend is destroyed.
  std::shared_ptr<Database> db_;
  std::map<std::string, int> columns_by_name_;
  bool incremental_;
  // Shared with incremental snapshot tasks, which record what they uploaded.
  std::shared_ptr<Uploads> uploads_;
  // Null when StateBackendOptions::rocksdb_entry_cache_bytes is 0: every access goes to
  // RocksDB. Invariant: for every key of a cached column, either the cache holds its latest
  // value (or absence), or the pending batch holds no write of it.
  std::unique_ptr<EntryCache> cache_;
  // Writes of cached columns not yet in RocksDB (see write_pending()).
  std::unique_ptr<rocksdb::WriteBatch> pending_;
  std::string prefetch_key_;  // prefetch_serialized()'s entry key
  uint32_t pending_write_bound_;  // kPendingWriteEntries but in tests
};

}  // namespace eddy::state
