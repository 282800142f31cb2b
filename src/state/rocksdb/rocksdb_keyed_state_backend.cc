#include "state/rocksdb/rocksdb_keyed_state_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/types.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "eddy/error.h"
#include "eddy/internal/state_encoding.h"
#include "state/rocksdb/entry_cache.h"
#include "state/rocksdb/point_memtable.h"

namespace eddy::state {

namespace {

rocksdb::Slice to_slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view to_view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// The block cache, write buffer manager and entry cache budget that bound the memory of all
// RocksDB backends of the process configured with the same sizes; freed when the last such
// backend goes.
struct SharedMemory {
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  std::shared_ptr<EntryCacheBudget> entry_cache;  // null: no entry caches
};

std::shared_ptr<SharedMemory> shared_memory(const StateBackendOptions& options) {
  // Never destroyed, so that a backend destroyed during static destruction still finds them.
  static auto* mutex = new std::mutex;
  static auto* registry = new std::map<std::tuple<size_t, size_t, size_t>, std::weak_ptr<SharedMemory>>;
  std::lock_guard lock(*mutex);
  std::weak_ptr<SharedMemory>& slot = (*registry)[{options.rocksdb_block_cache_bytes,
                                                   options.rocksdb_write_buffer_bytes,
                                                   options.rocksdb_entry_cache_bytes}];
  if (std::shared_ptr<SharedMemory> existing = slot.lock()) return existing;
  auto created = std::make_shared<SharedMemory>();
  created->block_cache = rocksdb::NewLRUCache(options.rocksdb_block_cache_bytes);
  created->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(options.rocksdb_write_buffer_bytes);
  if (options.rocksdb_entry_cache_bytes > 0) {
    created->entry_cache = std::make_shared<EntryCacheBudget>(options.rocksdb_entry_cache_bytes);
  }
  slot = created;
  return created;
}

// Writes to cached columns wait in one write batch until it holds this many entries or
// bytes (or something reads the database other than a cached read: see write_pending()).
// One db->Write per batch instead of one per write takes RocksDB's per-write costs (write
// thread, sequence numbers, log record) off each write, and the barrier writes the batch
// out, so the bound is also what the synchronous part of a checkpoint may have to write:
// 1024 entries of the value workload take about 0.3 ms. (Measured in bench-state's value
// workload: docs/design/rocksdb_entry_cache.md.)
constexpr uint32_t kPendingWriteEntries = 1024;
constexpr size_t kPendingWriteBytes = 256 << 10;

// Cached columns are prefetched for a record only when accessed within this many keys
// (key_version() steps): a state used for some records only (bench-checkpoint's payload,
// written for new keys) would cost a wasted memory access per record. (The heap backend's
// rule.)
constexpr uint64_t kPrefetchRecentKeys = 64;

// Value, reducing and aggregating states read and write whole entries by key (get, put,
// remove): the entry cache holds them. Lists append (RocksDB merges) and maps scan
// prefixes: they go to RocksDB directly.
bool point_accessed(StateKind kind) {
  return kind == StateKind::kValue || kind == StateKind::kReducing || kind == StateKind::kAggregating;
}

// The file system of every backend's database: the default one, except that nothing is
// synced to disk. A backend's database lives in a scratch folder that no restart reopens
// (durability comes from checkpoints, which sync what they upload), so syncs would only
// slow down flushes, and with them the synchronous part of incremental checkpoints.
class NoSyncWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  using FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  bool IsSyncThreadSafe() const override { return true; }
};

class NoSyncDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  using FSDirectoryWrapper::FSDirectoryWrapper;
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions&, rocksdb::IODebugContext*,
                                        const rocksdb::DirFsyncOptions&) override {
    return rocksdb::IOStatus::OK();
  }
};

class NoSyncFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit NoSyncFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target) : FileSystemWrapper(target) {}
  const char* Name() const override { return "EddyNoSync"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    return wrap(target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    return wrap(target()->ReopenWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    return wrap(target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus status = target()->NewDirectory(name, options, result, dbg);
    if (status.ok()) *result = std::make_unique<NoSyncDirectory>(std::move(*result));
    return status;
  }

 private:
  static rocksdb::IOStatus wrap(rocksdb::IOStatus status, std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (status.ok()) *result = std::make_unique<NoSyncWritableFile>(std::move(*result));
    return status;
  }
};

rocksdb::Env* no_sync_env() {
  // Never destroyed: databases may close during static destruction.
  static rocksdb::Env* env =
      rocksdb::NewCompositeEnv(std::make_shared<NoSyncFileSystem>(rocksdb::FileSystem::Default())).release();
  return env;
}

// With incremental checkpoints, the size at which RocksDB switches a column's memtable (in
// the write that fills it) and flushes it in the background: half the write buffer budget,
// 32 MiB with the default 64 MiB. The checkpoint barrier never switches or flushes (see
// list_files_at_barrier), so this is what bounds the open write-ahead log, which every
// checkpoint copies up to the barrier: it holds about what the memtables took since the
// last switch. Smaller memtables copy less but read slower: with a quarter (16 MiB),
// bench-checkpoint ran about 5 to 10% slower with and without checkpoints (a state column
// of a million keys no longer fit in its memtable). Without incremental checkpoints there
// is no log, and RocksDB's default (64 MB, within the budget anyway) stays.
size_t memtable_bytes(size_t write_buffer_bytes) {
  return std::max<size_t>(write_buffer_bytes / 2, 64 << 10);
}

// Values of at least this many bytes are kept apart from the keys, in RocksDB blob files
// (integrated BlobDB): flushes write them once, and compactions then move only a small
// reference instead of the value (a 1000-byte value went through every level's compaction,
// which kept the flush and compaction threads busy enough to stop writes). Blob files never
// change, like SST files, so incremental checkpoints share them the same way.
constexpr uint64_t kMinBlobBytes = 512;
// Memtables a column may have (the one written and those waiting for a flush) before RocksDB
// stops writes. With 2, a flush that is slower than the writes (a 64 MiB memtable of 1000-byte
// values) stopped them for 0.3 to 0.7 s at a time. The write buffer manager still bounds the
// memory of all memtables together: it flushes once they pass the configured budget.
constexpr int kMaxMemtablesPerColumn = 4;

// Buckets of a state column's hash memtable: 8 bytes each, allocated with every memtable of
// the column (even an empty one) and counted by the write buffer manager. A column's
// bucket array takes 1/64 of the write buffer budget: 128K buckets (1 MiB) with the
// default 64 MiB, where a memtable of 2 million entries has about 16 in a bucket (a
// sorted list). A larger budget buys shorter lists: 512K buckets (a 256 MiB budget) made
// the value workload of bench-state about 1.3x faster than 128K.
size_t memtable_buckets(size_t write_buffer_bytes) {
  return std::max<size_t>(write_buffer_bytes / 64 / sizeof(void*), 4096);
}

// The prefix of an entry key that names one (key group, key, namespace): the whole key
// of a value, list, reducing or aggregating entry, and a MapState entry without its user
// key, which is exactly the prefix MapState scans (internal/state_encoding.h). It buckets
// the hash memtable, so that a point read or write hashes to its entry instead of
// searching a skip list over the whole memtable (about 40 dependent cache misses with a
// million entries), and a MapState scan reads one bucket. The price is paid by flushes:
// a hash memtable is sorted into a skip list built beside it (in the flush thread; its
// memory, about 16 bytes an entry, is outside the write buffer manager's account).
class StateKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "EddyStateKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), prefix_size(to_view(key)));
  }
  bool InDomain(const rocksdb::Slice& /*key*/) const override { return true; }

  // The length of group | key | ns; the whole key when it does not parse.
  static size_t prefix_size(std::string_view key) {
    size_t pos = 2;
    for (int part = 0; part < 2; ++part) {
      uint64_t len = 0;
      if (key.size() < 2 || !internal::state_encoding::read_varint(key, pos, len) ||
          len > key.size() - pos) {
        return key.size();
      }
      pos += static_cast<size_t>(len);
    }
    return pos;
  }
};

// ListState::add: operands concatenate (the canonical list form), in one pass over all of
// them rather than pairwise.
class ConcatMergeOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    size_t size = in.existing_value != nullptr ? in.existing_value->size() : 0;
    for (const rocksdb::Slice& operand : in.operand_list) size += operand.size();
    out->new_value.clear();
    out->new_value.reserve(size);
    if (in.existing_value != nullptr) {
      out->new_value.append(in.existing_value->data(), in.existing_value->size());
    }
    for (const rocksdb::Slice& operand : in.operand_list) {
      out->new_value.append(operand.data(), operand.size());
    }
    return true;
  }
  bool PartialMergeMulti(const rocksdb::Slice& /*key*/, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    size_t size = 0;
    for (const rocksdb::Slice& operand : operands) size += operand.size();
    new_value->clear();
    new_value->reserve(size);
    for (const rocksdb::Slice& operand : operands)
      new_value->append(operand.data(), operand.size());
    return true;
  }
  const char* Name() const override { return "EddyConcat"; }
};

// Drops values (not merge operands: lists are never filtered) whose TTL timestamp has
// expired by the backend's clock.
class TtlCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(const KeyedStateBackend* backend, int64_t ttl_ms)
      : backend_(backend), ttl_ms_(ttl_ms) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    if (value.size() < internal::kTtlPrefixBytes) return false;  // not a TTL value: keep it
    return backend_->now() - internal::state_encoding::read_timestamp(to_view(value)) >= ttl_ms_;
  }
  const char* Name() const override { return "EddyTtlFilter"; }

 private:
  const KeyedStateBackend* backend_;
  int64_t ttl_ms_;
};

// One per column. A column exists before its state declares its TTL (restore creates it),
// so the TTL is set later; 0 turns the filter off.
class TtlCompactionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  explicit TtlCompactionFilterFactory(const KeyedStateBackend* backend) : backend_(backend) {}

  void set_ttl(int64_t ttl_ms) { ttl_ms_.store(ttl_ms, std::memory_order_relaxed); }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    int64_t ttl_ms = ttl_ms_.load(std::memory_order_relaxed);
    if (ttl_ms <= 0) return nullptr;
    return std::make_unique<TtlCompactionFilter>(backend_, ttl_ms);
  }
  const char* Name() const override { return "EddyTtlFilterFactory"; }

 private:
  const KeyedStateBackend* backend_;
  std::atomic<int64_t> ttl_ms_{0};
};

std::string describe(const StateMetaInfo& meta) {
  std::string out = std::string(state_kind_name(meta.kind)) + "<";
  if (!meta.user_key_signature.empty()) out += meta.user_key_signature + ", ";
  out += meta.value_signature + ">";
  if (meta.ttl) out += " with TTL";
  return out;
}

// Whether stored entries of `a` can be read as `b` (the heap backend's rule too).
bool compatible(const StateMetaInfo& a, const StateMetaInfo& b) {
  return a.kind == b.kind && a.value_signature == b.value_signature &&
         a.user_key_signature == b.user_key_signature && a.ttl == b.ttl;
}

// "default" is RocksDB's own column family; such a state (and, to keep the mapping
// one-to-one, any name starting with \x01) gets a \x01 prefix.
std::string column_family_name(const std::string& state_name) {
  if (state_name == rocksdb::kDefaultColumnFamilyName ||
      (!state_name.empty() && state_name[0] == '\x01')) {
    return '\x01' + state_name;
  }
  return state_name;
}

// The smallest string greater than every string starting with `prefix`; false when there
// is none (the prefix is empty or all 0xff).
bool prefix_upper_bound(std::string_view prefix, std::string& out) {
  out.assign(prefix);
  while (!out.empty()) {
    auto last = static_cast<unsigned char>(out.back());
    if (last != 0xff) {
      out.back() = static_cast<char>(last + 1);
      return true;
    }
    out.pop_back();
  }
  return false;
}

std::string sanitize_for_path(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
    out.push_back(keep ? c : '_');
    if (out.size() == 48) break;
  }
  return out.empty() ? "operator" : out;
}

// A new, empty directory for one backend's database.
std::filesystem::path create_data_dir(const std::string& base, const std::string& operator_name,
                                      int subtask_index) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  std::filesystem::path parent =
      base.empty() ? std::filesystem::temp_directory_path(ec) : std::filesystem::path(base);
  if (ec) throw Error("RocksDB state backend: no temp directory for its data: " + ec.message());
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw Error("RocksDB state backend: cannot create the directory '" + parent.string() +
                "': " + ec.message());
  }
  std::string stem = "eddy-rocksdb-" + sanitize_for_path(operator_name) + "-" +
                     std::to_string(subtask_index) + "-" + std::to_string(::getpid()) + "-";
  for (;;) {
    std::filesystem::path dir = parent / (stem + std::to_string(counter.fetch_add(1)));
    if (std::filesystem::create_directory(dir, ec)) return dir;
    if (ec) {
      throw Error("RocksDB state backend: cannot create the directory '" + dir.string() +
                  "': " + ec.message());
    }
    // It existed (another process with our pid, earlier): try the next number.
  }
}

}  // namespace

struct RocksDbKeyedStateBackend::Column {
  StateMetaInfo meta;
  // As the state declared it; unset while a restored column has no state yet.
  std::optional<StateTtlConfig> ttl;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  std::shared_ptr<TtlCompactionFilterFactory> ttl_filter;
  // Point accessed and the backend has an entry cache: reads go through it, writes through
  // it into the pending batch.
  bool cached = false;
  // The backend's key_version() at the latest access (cached columns): prefetches skip
  // columns not accessed within the last kPrefetchRecentKeys keys.
  uint64_t last_access = 0;
  // The TTL in ms by which the compaction filter drops entries, else 0 (as ttl_filter).
  int64_t compaction_ttl_ms = 0;

  // The TTL in ms when expired entries of this column may be dropped, else 0.
  int64_t droppable_ttl_ms(bool cleanup_enabled) const {
    if (!meta.ttl || !ttl || !ttl->enabled() || !cleanup_enabled) return 0;
    if (meta.kind == StateKind::kList) return 0;  // elements cannot be told apart here
    return ttl->ttl.count();
  }
};

struct RocksDbKeyedStateBackend::Database {
  std::filesystem::path dir;
  std::shared_ptr<SharedMemory> memory;
  std::shared_ptr<rocksdb::MergeOperator> merge_operator = std::make_shared<ConcatMergeOperator>();
  std::unique_ptr<rocksdb::DB> db;
  // Set when the database was opened with its column families named (after a restore).
  rocksdb::ColumnFamilyHandle* default_handle = nullptr;
  std::vector<std::unique_ptr<Column>> columns;  // by column id
  rocksdb::ReadOptions read_options;
  rocksdb::WriteOptions write_options;
  bool write_ahead_log = false;  // kept for incremental checkpoints

  ~Database() {
    close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // best effort: a destructor cannot report it
  }

  void close() {
    if (db == nullptr) return;
    for (const auto& column : columns) {
      if (column->handle != nullptr) db->DestroyColumnFamilyHandle(column->handle);
      column->handle = nullptr;
    }
    if (default_handle != nullptr) db->DestroyColumnFamilyHandle(default_handle);
    default_handle = nullptr;
    db->Close();  // nothing to lose: the directory goes next
    db.reset();
  }

  rocksdb::Options db_options() const {
    rocksdb::Options options(rocksdb::DBOptions(), column_options(nullptr, false));
    options.create_if_missing = true;
    options.write_buffer_manager = memory->write_buffers;
    options.avoid_flush_during_shutdown = true;
    // Hash memtables (column_options) take no concurrent writes; a backend writes from one
    // thread anyway.
    options.allow_concurrent_memtable_write = false;
    options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    options.keep_log_file_num = 2;
    options.stats_dump_period_sec = 0;
    // Incremental checkpoints carry the MANIFEST along: a new one is started past this.
    options.max_manifest_file_size = 4 << 20;
    // The write-ahead log (written only with incremental checkpoints, which take what was
    // not flushed at the barrier from it) is buffered in RocksDB and written out by
    // FlushWAL at the barrier, or when its 1 MiB buffer fills: a record costs a copy, not a
    // system call. A log lives until every column with data in it was flushed; past this
    // total, RocksDB flushes the columns that hold the oldest log.
    options.manual_wal_flush = true;
    options.max_total_wal_size = memory->write_buffers->buffer_size();
    options.env = no_sync_env();
    return options;
  }

  // The synchronous part of an incremental checkpoint, with file deletions disabled: the
  // files that hold the state as of now. It lists, and does nothing else: no flush and no
  // memtable switch, whatever the logs hold. Both wake RocksDB's background threads, which
  // on a busy machine then take the task thread's core for a scheduler time slice (a switch
  // measured 0.4 ms of CPU and up to 13 ms of wall time, every time in involuntary context
  // switches, never in a lock), and a flush also waits for them. What the memtables hold is
  // in the logs; RocksDB switches the memtables itself, in the write that fills one, as it
  // does without checkpoints (memtable_bytes() bounds the logs). Nor does it wait for
  // background work (below).
  rocksdb::Status list_files_at_barrier(std::vector<rocksdb::LiveFileStorageInfo>& files) {
    // Logs below this number hold nothing that is not in SST files (the MANIFEST listed below
    // already says so: the number only grows, and only once the MANIFEST records the flushes).
    uint64_t min_log_to_keep = 0;
    if (!db->GetIntProperty(rocksdb::DB::Properties::kMinLogNumberToKeep, &min_log_to_keep)) {
      min_log_to_keep = 0;
    }
    // The SST and blob files and the MANIFEST's valid length, in one view (under RocksDB's
    // mutex), without a flush; then the logs. Their lengths are the barrier's once the log's
    // buffer is written out: only this thread writes, so nothing is logged meanwhile, and
    // whatever a background flush moves from the logs into SST files after this view is still
    // in the logs listed after it. (GetLiveFilesStorageInfo does the same, but lists the logs
    // through GetSortedWalFiles, which waits for any background purge of obsolete files to
    // finish: background work the barrier would wait for.)
    std::vector<std::string> names;
    uint64_t manifest_bytes = 0;
    rocksdb::Status status = db->GetLiveFiles(names, &manifest_bytes, /*flush_memtable=*/false);
    if (status.ok()) status = db->FlushWAL(/*sync=*/false);
    if (!status.ok()) return status;
    files.clear();
    const std::string folder = dir.string();
    std::string manifest;
    for (std::string& name : names) {
      if (name.starts_with('/')) name.erase(0, 1);
      rocksdb::LiveFileStorageInfo& file = files.emplace_back();
      file.relative_filename = name;
      file.directory = folder;
      if (name == "CURRENT") {
        file.file_type = rocksdb::kCurrentFile;  // its contents below: it may change meanwhile
        continue;
      }
      if (name.starts_with("MANIFEST-")) {
        file.file_type = rocksdb::kDescriptorFile;
        file.size = manifest_bytes;
        file.trim_to_size = true;
        manifest = name;
        continue;
      }
      // SST and blob files never change and are taken whole: their sizes are not needed.
      if (name.ends_with(".sst")) {
        file.file_type = rocksdb::kTableFile;
      } else if (name.ends_with(".blob")) {
        file.file_type = rocksdb::kBlobFile;
      } else if (name.starts_with("OPTIONS-")) {
        file.file_type = rocksdb::kOptionsFile;  // never changes once written
        std::error_code ec;
        file.size = std::filesystem::file_size(dir / name, ec);
        if (ec) return rocksdb::Status::IOError("cannot read the size of " + name, ec.message());
      } else {
        return rocksdb::Status::Corruption("unexpected live file", name);
      }
    }
    if (manifest.empty()) return rocksdb::Status::Corruption("no MANIFEST among the live files");
    for (rocksdb::LiveFileStorageInfo& file : files) {
      if (file.file_type != rocksdb::kCurrentFile) continue;
      file.replacement_contents = manifest + "\n";
      file.size = file.replacement_contents.size();
    }
    // Logs below min_log_to_keep hold nothing that is not in SST files (and a purge that
    // started before file deletions were disabled may be deleting them right now); an empty
    // log (a new one, nothing written since every column was flushed) adds nothing.
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::filesystem::directory_entry& entry = *it;
      const std::string name = entry.path().filename().string();
      if (!name.ends_with(".log") || name.size() <= 4) continue;
      uint64_t number = 0;
      const char* digits_end = name.data() + name.size() - 4;
      auto [parsed_to, error] = std::from_chars(name.data(), digits_end, number);
      if (error != std::errc() || parsed_to != digits_end || number < min_log_to_keep) continue;
      std::error_code size_error;
      uint64_t size = entry.file_size(size_error);
      if (size_error) {
        return rocksdb::Status::IOError("cannot read the size of " + name, size_error.message());
      }
      if (size == 0) continue;
      rocksdb::LiveFileStorageInfo& file = files.emplace_back();
      file.relative_filename = name;
      file.directory = folder;
      file.file_number = number;
      file.file_type = rocksdb::kWalFile;
      file.size = size;
    }
    if (ec) return rocksdb::Status::IOError("cannot list " + folder, ec.message());
    return status;
  }

  // Flushes every column's memtables and waits (for tests and tools: checkpoints never do).
  rocksdb::Status flush() {
    std::vector<rocksdb::ColumnFamilyHandle*> handles{db->DefaultColumnFamily()};
    for (const auto& column : columns) handles.push_back(column->handle);
    rocksdb::FlushOptions options;
    options.wait = true;
    return db->Flush(options, handles);
  }

  // `cached`: a column the entry cache serves, which gets a point memtable.
  rocksdb::ColumnFamilyOptions column_options(std::shared_ptr<TtlCompactionFilterFactory> filter,
                                              bool cached) const {
    rocksdb::ColumnFamilyOptions options;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = memory->block_cache;
    // Index and filter blocks live in (and are bounded by) the shared cache too.
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    // Point lookups (every state read) skip SST files that cannot hold the key.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Index and filter in partitions of about 4 KiB, found through a small top-level block
    // (pinned). A whole filter is 1.2 MiB for a file of a million keys, more than a shard of
    // the block cache holds (64 shards: 1 MiB each with the default 64 MiB), and RocksDB does
    // not cache a block larger than its shard: every read of a large state read that filter
    // from the file again (pread and checksum: half the task thread's time with 1 GB of state).
    table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
    table.partition_filters = true;
    table.metadata_block_size = 4096;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = 0.05;
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    options.merge_operator = merge_operator;
    if (filter != nullptr) {  // a state's column, not the unused default one
      options.prefix_extractor = std::make_shared<StateKeyPrefix>();
      const size_t buckets = memtable_buckets(memory->write_buffers->buffer_size());
      if (cached) {
        // Read only on cache misses, written at every update: see point_memtable.h.
        options.memtable_factory = new_point_memtable_factory(buckets);
        // The memtable's bloom filter stays: it costs an insertion about 5% (measured), and
        // spares a miss of a key that is not in a memtable the walk of its chains.
      } else {
        options.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(buckets));
      }
    }
    options.compaction_filter_factory = std::move(filter);
    options.max_write_buffer_number = kMaxMemtablesPerColumn;
    if (write_ahead_log) {
      options.write_buffer_size = memtable_bytes(memory->write_buffers->buffer_size());
    }
    options.enable_blob_files = true;
    options.min_blob_size = kMinBlobBytes;
    // Each value is compressed on its own; LZ4 costs little where it gains nothing.
    options.blob_compression_type = rocksdb::kLZ4Compression;
    // Compactions rewrite the live values of the oldest quarter of the blob files into new
    // ones, so that the space of overwritten and deleted values comes back.
    options.enable_blob_garbage_collection = true;
    return options;
  }
};

// What incremental checkpoints uploaded, by local file name. An SST file or a closed log
// never changes and its number is never reused within one database (a restored one goes on
// past the numbers of the files it was restored from), so a local name stands for its
// content. The open log's part is a private file, never reused.
struct RocksDbKeyedStateBackend::Uploads {
  std::mutex mutex;
  // The files of the latest completed checkpoint: the next ones reuse them.
  std::map<std::string, SharedFileHandle> confirmed;
  // The files of checkpoints whose asynchronous part finished, until they complete.
  std::map<int64_t, std::map<std::string, SharedFileHandle>> pending;
};

// The asynchronous part of an incremental checkpoint: uploads the database files that the
// synchronous part listed. File deletions stay disabled until it ran (or is destroyed), so
// the listed files stay on disk whatever compactions do meanwhile.
//
// SST and blob files never change. Of the write-ahead logs, all but the newest were closed
// before the barrier and never change either, so they are shared like SST files; the
// newest one (the log being written) grows after the barrier, so only its first `size`
// bytes, what was logged before the barrier, are taken, as a private file.
class RocksDbKeyedStateBackend::IncrementalTask final : public IncrementalSnapshotTask {
 public:
  IncrementalTask(std::shared_ptr<Database> db, std::shared_ptr<Uploads> uploads,
                  std::vector<rocksdb::LiveFileStorageInfo> files, int64_t checkpoint_id,
                  IncrementalKeyedSnapshot snapshot, std::string context)
      : db_(std::move(db)),
        uploads_(std::move(uploads)),
        files_(std::move(files)),
        checkpoint_id_(checkpoint_id),
        snapshot_(std::move(snapshot)),
        context_(std::move(context)) {
    for (const rocksdb::LiveFileStorageInfo& file : files_) {
      if (file.file_type == rocksdb::kWalFile) open_log_number_ = std::max(open_log_number_, file.file_number);
    }
  }
  ~IncrementalTask() override { release(); }

  IncrementalKeyedSnapshot run(SharedFileUploader& uploader) override {
    if (done_) throw Error(context_ + ": a snapshot task can run only once");
    done_ = true;
    IncrementalKeyedSnapshot out = std::move(snapshot_);
    std::map<std::string, SharedFileHandle> previous;
    {
      std::lock_guard lock(uploads_->mutex);
      previous = uploads_->confirmed;
    }
    std::map<std::string, SharedFileHandle> used;
    try {
      for (const rocksdb::LiveFileStorageInfo& file : files_) {
        const std::string& name = file.relative_filename;
        const std::string path = file.directory + "/" + name;
        const bool unchanging = file.file_type == rocksdb::kTableFile || file.file_type == rocksdb::kBlobFile ||
                                (file.file_type == rocksdb::kWalFile && file.file_number != open_log_number_);
        if (unchanging) {
          auto it = previous.find(name);
          SharedFileHandle handle = it != previous.end() && uploader.reuse(it->second)
                                        ? it->second
                                        : uploader.upload(path, name);
          used.emplace(name, handle);
          out.shared_files.push_back(std::move(handle));
        } else if (!file.replacement_contents.empty()) {
          out.private_files.emplace_back(name, file.replacement_contents);  // CURRENT
        } else {
          // MANIFEST, the open log: their part up to the barrier; OPTIONS.
          out.private_files.emplace_back(name, read_prefix(path, file.size));
        }
      }
    } catch (...) {
      release();
      throw;
    }
    release();
    std::lock_guard lock(uploads_->mutex);
    uploads_->pending[checkpoint_id_] = std::move(used);
    return out;
  }

 private:
  std::string read_prefix(const std::string& path, uint64_t size) const {
    std::string bytes(static_cast<size_t>(size), '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (!in || static_cast<uint64_t>(in.gcount()) != size) {
      throw Error(context_ + ": cannot read the first " + std::to_string(size) + " bytes of '" + path + "'");
    }
    return bytes;
  }

  void release() noexcept {
    if (db_ == nullptr) return;
    if (db_->db != nullptr) db_->db->EnableFileDeletions(/*force=*/false);  // undoes one disable
    db_.reset();
  }

  std::shared_ptr<Database> db_;  // null once file deletions are enabled again
  std::shared_ptr<Uploads> uploads_;
  std::vector<rocksdb::LiveFileStorageInfo> files_;
  uint64_t open_log_number_ = 0;  // the write-ahead log being written at the barrier, if listed
  int64_t checkpoint_id_;
  IncrementalKeyedSnapshot snapshot_;  // the synchronous part's: states, key groups
  std::string context_;
  bool done_ = false;
};

namespace {

// The canonical form of every column as it was when snapshot() was called, read through
// a RocksDB snapshot.
class RocksDbSnapshotTask final : public SnapshotTask {
 public:
  struct ColumnView {
    StateMetaInfo meta;
    rocksdb::ColumnFamilyHandle* handle;
    int64_t drop_expired_ttl_ms;  // 0: keep expired entries
  };

  RocksDbSnapshotTask(std::shared_ptr<void> keep_alive, rocksdb::DB* db, KeyGroupRange key_groups,
                      Timestamp now, std::vector<ColumnView> columns, std::string context)
      : keep_alive_(std::move(keep_alive)),
        db_(db),
        snapshot_(db->GetSnapshot()),
        key_groups_(key_groups),
        now_(now),
        columns_(std::move(columns)),
        context_(std::move(context)) {}
  ~RocksDbSnapshotTask() override { release(); }

  KeyedStateSnapshot run() override {
    if (snapshot_ == nullptr) throw Error(context_ + ": a snapshot task can run only once");
    KeyedStateSnapshot out;
    out.key_groups = key_groups_;
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    options.total_order_seek = true;  // every entry, across prefixes
    options.fill_cache = false;  // a full scan would evict what processing needs
    for (const ColumnView& column : columns_) {
      out.states.push_back(column.meta);
      auto& entries = out.entries.emplace_back();
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, column.handle));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string_view value = to_view(it->value());
        if (column.drop_expired_ttl_ms > 0 && value.size() >= internal::kTtlPrefixBytes &&
            now_ - internal::state_encoding::read_timestamp(value) >= column.drop_expired_ttl_ms) {
          continue;
        }
        entries.emplace_back(std::string(to_view(it->key())), std::string(value));
      }
      if (!it->status().ok()) {
        throw Error(context_ + ": snapshot of state '" + column.meta.name +
                    "' failed: " + it->status().ToString());
      }
    }
    release();
    return out;
  }

 private:
  void release() {
    if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
    snapshot_ = nullptr;
  }

  std::shared_ptr<void> keep_alive_;  // the database, until the task is destroyed
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  KeyGroupRange key_groups_;
  Timestamp now_;
  std::vector<ColumnView> columns_;
  std::string context_;
};

}  // namespace

RocksDbKeyedStateBackend::RocksDbKeyedStateBackend(const StateBackendOptions& options,
                                                   KeyGroupRange key_groups, int max_parallelism,
                                                   const Clock& clock,
                                                   const std::string& operator_name,
                                                   int subtask_index)
    : KeyedStateBackend(key_groups, max_parallelism, clock),
      operator_name_(operator_name),
      subtask_index_(subtask_index),
      db_(std::make_shared<Database>()),
      incremental_(options.incremental_checkpoints),
      uploads_(std::make_shared<Uploads>()),
      pending_(std::make_unique<rocksdb::WriteBatch>()),
      pending_write_bound_(kPendingWriteEntries) {
  db_->dir = create_data_dir(options.rocksdb_dir, operator_name, subtask_index);
  db_->memory = shared_memory(options);
  if (db_->memory->entry_cache != nullptr) cache_ = std::make_unique<EntryCache>(db_->memory->entry_cache);
  // Checkpoints make state durable, not the write-ahead log; incremental checkpoints take
  // what was not flushed at the barrier from it, full snapshots read a RocksDB snapshot.
  db_->write_options.disableWAL = !incremental_;
  db_->write_ahead_log = incremental_;
  open_database({});
}

void RocksDbKeyedStateBackend::open_database(const std::vector<StateMetaInfo>& states) {
  rocksdb::Options options = db_->db_options();
  const std::string dir = db_->dir.string();
  rocksdb::DB* db = nullptr;
  if (states.empty()) {
    rocksdb::Status status = rocksdb::DB::Open(options, dir, &db);
    if (!status.ok()) fail("cannot open a database in '" + dir + "'", status.ToString());
    db_->db.reset(db);
    return;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors{
      {rocksdb::kDefaultColumnFamilyName, db_->column_options(nullptr, false)}};
  std::vector<std::unique_ptr<Column>> columns;
  std::set<std::string> expected{rocksdb::kDefaultColumnFamilyName};
  for (const StateMetaInfo& meta : states) {
    auto column = std::make_unique<Column>();
    column->meta = meta;
    column->ttl_filter = std::make_shared<TtlCompactionFilterFactory>(this);
    column->cached = caches(meta);
    descriptors.emplace_back(column_family_name(meta.name),
                             db_->column_options(column->ttl_filter, column->cached));
    if (!expected.insert(column_family_name(meta.name)).second) {
      fail("cannot open the database in '" + dir + "'", "state '" + meta.name + "' is listed twice");
    }
    columns.push_back(std::move(column));
  }
  std::vector<std::string> existing;
  rocksdb::Status status = rocksdb::DB::ListColumnFamilies(options, dir, &existing);
  if (!status.ok()) fail("cannot open the database in '" + dir + "'", status.ToString());
  if (std::set<std::string>(existing.begin(), existing.end()) != expected) {
    fail("cannot open the database in '" + dir + "'",
         "its column families do not match the " + std::to_string(states.size()) +
             " states the snapshot lists");
  }
  options.create_if_missing = false;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  status = rocksdb::DB::Open(options, dir, descriptors, &handles, &db);
  if (!status.ok()) fail("cannot open the database in '" + dir + "'", status.ToString());
  db_->db.reset(db);
  db_->default_handle = handles[0];
  for (size_t i = 0; i < columns.size(); ++i) {
    columns[i]->handle = handles[i + 1];
    columns_by_name_.emplace(columns[i]->meta.name, static_cast<int>(db_->columns.size()));
    db_->columns.push_back(std::move(columns[i]));
  }
}

RocksDbKeyedStateBackend::~RocksDbKeyedStateBackend() {
  // Pending writes are dropped, not written: the database directory goes with the backend,
  // and a snapshot task that keeps the database open read it through a snapshot taken after
  // write_pending().
  pending_->Clear();
  // Compaction filters read this backend's clock; a snapshot task may keep the database
  // open after this backend is gone, so background work stops now.
  rocksdb::CancelAllBackgroundWork(db_->db.get(), /*wait=*/true);
}

const std::filesystem::path& RocksDbKeyedStateBackend::data_dir() const { return db_->dir; }

void RocksDbKeyedStateBackend::flush() {
  write_pending();
  rocksdb::Status status = db_->flush();
  if (!status.ok()) fail("flush failed", status.ToString());
}

void RocksDbKeyedStateBackend::set_background_work_paused(bool paused) {
  rocksdb::Status status = paused ? db_->db->PauseBackgroundWork() : db_->db->ContinueBackgroundWork();
  if (!status.ok()) fail("cannot pause or resume background work", status.ToString());
}

void RocksDbKeyedStateBackend::fail(const std::string& what, const std::string& status) const {
  throw Error("RocksDB state backend of operator '" + operator_name_ + "' (subtask " +
              std::to_string(subtask_index_ + 1) + "): " + what + ": " + status);
}

RocksDbKeyedStateBackend::Column& RocksDbKeyedStateBackend::column_at(int column) const {
  return *db_->columns[static_cast<size_t>(column)];
}

int RocksDbKeyedStateBackend::find_or_create_column(const StateMetaInfo& meta) {
  if (auto it = columns_by_name_.find(meta.name); it != columns_by_name_.end()) {
    const Column& existing = column_at(it->second);
    if (!compatible(existing.meta, meta)) {
      throw Error("state '" + meta.name + "' holds entries of " + describe(existing.meta) +
                  " (restored from a snapshot) but is now declared as " + describe(meta) +
                  ": the state cannot be restored");
    }
    return it->second;
  }
  auto column = std::make_unique<Column>();
  column->meta = meta;
  column->ttl_filter = std::make_shared<TtlCompactionFilterFactory>(this);
  column->cached = caches(meta);
  rocksdb::Status status = db_->db->CreateColumnFamily(
      db_->column_options(column->ttl_filter, column->cached), column_family_name(meta.name),
      &column->handle);
  if (!status.ok())
    fail("cannot create the column of state '" + meta.name + "'", status.ToString());
  int id = static_cast<int>(db_->columns.size());
  const bool cached = column->cached;
  db_->columns.push_back(std::move(column));
  columns_by_name_.emplace(meta.name, id);
  // A new column family is empty: until the cache forgets one of its entries, a key the
  // cache does not hold is absent.
  if (cached) cache_->set_complete(id);
  return id;
}

int RocksDbKeyedStateBackend::register_column(const StateMetaInfo& meta,
                                              const std::optional<StateTtlConfig>& ttl) {
  int id = find_or_create_column(meta);
  Column& column = column_at(id);
  column.meta = meta;
  column.ttl = ttl;
  column.compaction_ttl_ms = column.droppable_ttl_ms(ttl && ttl->cleanup_in_rocksdb_compaction);
  column.ttl_filter->set_ttl(column.compaction_ttl_ms);
  return id;
}

bool RocksDbKeyedStateBackend::get(int column, std::string_view key, std::string& value) {
  Column& c = column_at(column);
  if (c.cached) {
    c.last_access = key_version();
    switch (cache_->find(column, key, value)) {
      case EntryCache::Found::kValue:
        if (!compaction_may_drop(c, value)) return true;
        // RocksDB returns an expired value until a compaction drops it: ask it. Its copy
        // may be pending still.
        write_pending();
        break;
      case EntryCache::Found::kAbsent: return false;
      case EntryCache::Found::kMiss:
        // A column created empty whose entries the cache all still holds.
        if (cache_->complete(column)) return false;
        break;
    }
  }
  // A miss needs no look at the pending batch: a key with a pending write is in the cache.
  rocksdb::Status status = db_->db->Get(db_->read_options, c.handle, to_slice(key), &value);
  if (status.IsNotFound()) {
    if (c.cached) cache_->fill(column, key, nullptr);
    return false;
  }
  if (!status.ok()) fail("read of state '" + c.meta.name + "' failed", status.ToString());
  if (c.cached) {
    std::string_view read(value);
    cache_->fill(column, key, &read);
  }
  return true;
}

void RocksDbKeyedStateBackend::put(int column, std::string_view key, std::string_view value) {
  Column& c = column_at(column);
  if (c.cached) {
    write_cached(column, key, &value);
    return;
  }
  rocksdb::Status status =
      db_->db->Put(db_->write_options, c.handle, to_slice(key), to_slice(value));
  if (!status.ok()) fail("write of state '" + c.meta.name + "' failed", status.ToString());
}

void RocksDbKeyedStateBackend::remove(int column, std::string_view key) {
  Column& c = column_at(column);
  if (c.cached) {
    write_cached(column, key, nullptr);
    return;
  }
  rocksdb::Status status = db_->db->Delete(db_->write_options, c.handle, to_slice(key));
  if (!status.ok()) fail("delete in state '" + c.meta.name + "' failed", status.ToString());
}

void RocksDbKeyedStateBackend::write_cached(int column, std::string_view key,
                                            const std::string_view* value) {
  Column& c = column_at(column);
  c.last_access = key_version();
  EntryCache::WriteResult result = cache_->write(column, key, value);
  if (result == EntryCache::WriteResult::kFull) {  // every entry it could evict is pending
    write_pending();
    result = cache_->write(column, key, value);
  }
  if (value != nullptr) {
    pending_->Put(c.handle, to_slice(key), to_slice(*value));
  } else {
    pending_->Delete(c.handle, to_slice(key));
  }
  // Not cached (too large): the cache holds nothing for the key, so its write must reach
  // RocksDB before the next read; it does now, after the older pending writes.
  if (result != EntryCache::WriteResult::kCached || pending_->Count() >= pending_write_bound_ ||
      pending_->GetDataSize() >= kPendingWriteBytes) {
    write_pending();
  }
}

void RocksDbKeyedStateBackend::set_pending_write_bound(uint32_t entries) {
  pending_write_bound_ = std::max<uint32_t>(entries, 1);
  if (pending_->Count() >= pending_write_bound_) write_pending();
}

uint32_t RocksDbKeyedStateBackend::pending_writes() const { return pending_->Count(); }

void RocksDbKeyedStateBackend::write_pending() {
  if (pending_->Count() == 0) return;  // always so without a cache
  rocksdb::Status status = db_->db->Write(db_->write_options, pending_.get());
  pending_->Clear();
  if (!status.ok()) {
    // What the cache holds is no longer what RocksDB will return: forget it.
    cache_->clear();
    fail("write of the pending state entries failed", status.ToString());
  }
  cache_->mark_clean();
}

bool RocksDbKeyedStateBackend::compaction_may_drop(const Column& c, std::string_view value) const {
  return c.compaction_ttl_ms > 0 && value.size() >= internal::kTtlPrefixBytes &&
         now() - internal::state_encoding::read_timestamp(value) >= c.compaction_ttl_ms;
}

bool RocksDbKeyedStateBackend::prefetches() const { return cache_ != nullptr; }

void RocksDbKeyedStateBackend::prefetch_serialized(std::string_view key, int key_group) {
  // What a state's compose_key() builds for this key without a namespace (windows, which
  // set one, do not prefetch).
  prefetch_key_.clear();
  internal::state_encoding::compose_key(prefetch_key_, key_group, key, std::string_view());
  const uint64_t now = key_version();
  for (size_t i = 0; i < db_->columns.size(); ++i) {
    const Column& c = *db_->columns[i];
    if (c.cached && now - c.last_access <= kPrefetchRecentKeys) cache_->prefetch(static_cast<int>(i), prefetch_key_);
  }
}

bool RocksDbKeyedStateBackend::caches(const StateMetaInfo& meta) const {
  return cache_ != nullptr && point_accessed(meta.kind);
}

void RocksDbKeyedStateBackend::append(int column, std::string_view key, std::string_view value) {
  Column& c = column_at(column);
  if (c.cached) {
    // No typed state appends to a point column; kept correct: the merge goes after the
    // pending writes, and the cache forgets the key.
    cache_->erase(column, key);
    write_pending();
  }
  rocksdb::Status status =
      db_->db->Merge(db_->write_options, c.handle, to_slice(key), to_slice(value));
  if (!status.ok()) fail("append to state '" + c.meta.name + "' failed", status.ToString());
}

void RocksDbKeyedStateBackend::scan_prefix(
    int column, std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) {
  Column& c = column_at(column);
  // Only cached columns have pending writes (map states, which scan, are not cached).
  if (c.cached) write_pending();
  rocksdb::ReadOptions options = db_->read_options;
  // A prefix that is exactly one (key group, key, namespace) stays in its memtable bucket.
  options.total_order_seek = StateKeyPrefix::prefix_size(prefix) != prefix.size();
  std::string upper;
  rocksdb::Slice upper_slice;
  if (prefix_upper_bound(prefix, upper)) {
    upper_slice = rocksdb::Slice(upper);
    options.iterate_upper_bound = &upper_slice;  // lets RocksDB skip past deleted entries
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(options, c.handle));
  for (it->Seek(to_slice(prefix)); it->Valid(); it->Next()) {
    std::string_view key = to_view(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, to_view(it->value()))) break;
  }
  if (!it->status().ok())
    fail("scan of state '" + c.meta.name + "' failed", it->status().ToString());
}

void RocksDbKeyedStateBackend::remove_prefix(int column, std::string_view prefix) {
  // Point deletes rather than a range tombstone: many range tombstones slow down reads.
  Column& c = column_at(column);
  rocksdb::WriteBatch batch;
  // The scan writes the pending batch out first; then every cached entry that is present is
  // in RocksDB, so the scan meets each one to forget (cached absences stay true).
  scan_prefix(column, prefix, [&](std::string_view key, std::string_view) {
    batch.Delete(c.handle, to_slice(key));
    if (c.cached) cache_->erase(column, key);
    return true;
  });
  if (batch.Count() == 0) return;
  rocksdb::Status status = db_->db->Write(db_->write_options, &batch);
  if (!status.ok()) fail("delete in state '" + c.meta.name + "' failed", status.ToString());
}

std::unique_ptr<SnapshotTask> RocksDbKeyedStateBackend::snapshot() {
  write_pending();  // the snapshot holds every write before it
  std::vector<RocksDbSnapshotTask::ColumnView> columns;
  columns.reserve(db_->columns.size());
  for (const auto& column : db_->columns) {
    bool cleanup = column->ttl && column->ttl->cleanup_in_full_snapshot;
    columns.push_back({column->meta, column->handle, column->droppable_ttl_ms(cleanup)});
  }
  // Expiry is judged at the time of the snapshot, whenever the task runs.
  return std::make_unique<RocksDbSnapshotTask>(
      db_, db_->db.get(), key_groups(), now(), std::move(columns),
      "RocksDB state backend of operator '" + operator_name_ + "' (subtask " +
          std::to_string(subtask_index_ + 1) + ")");
}

void RocksDbKeyedStateBackend::restore(const std::vector<const KeyedStateSnapshot*>& snapshots) {
  constexpr size_t kBatchBytes = 4 << 20;
  // Restored entries are written to RocksDB directly, after any pending writes; the cache
  // then starts empty, holding none of them (and no column complete), however this ends.
  write_pending();
  struct ClearCache {
    EntryCache* cache;
    ~ClearCache() {
      if (cache != nullptr) cache->clear();
    }
  } clear_cache{cache_.get()};
  if (cache_ != nullptr) cache_->clear();
  const KeyGroupRange& range = key_groups();
  for (const KeyedStateSnapshot* snapshot : snapshots) {
    for (size_t i = 0; i < snapshot->states.size(); ++i) {
      const StateMetaInfo& meta = snapshot->states[i];
      if (meta.kind == StateKind::kTimers) continue;  // the timer service's
      Column& column = column_at(find_or_create_column(meta));
      rocksdb::WriteBatch batch;
      auto write = [&] {
        rocksdb::Status status = db_->db->Write(db_->write_options, &batch);
        if (!status.ok()) fail("restore of state '" + meta.name + "' failed", status.ToString());
        batch.Clear();
      };
      if (i >= snapshot->entries.size()) continue;
      for (const auto& [key, value] : snapshot->entries[i]) {
        if (key.size() < 2) continue;
        int group = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
        if (!range.contains(group)) continue;  // another subtask's key group
        batch.Put(column.handle, to_slice(key), to_slice(value));
        if (batch.GetDataSize() >= kBatchBytes) write();
      }
      if (batch.Count() > 0) write();
    }
  }
}

// Pending writes are not written out for this (it is a measurement, not a read of state):
// the batch counts with its bytes.
size_t RocksDbKeyedStateBackend::memory_bytes() const {
  uint64_t memtables = 0;
  uint64_t table_readers = 0;
  db_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  db_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem,
                                    &table_readers);
  return static_cast<size_t>(memtables + table_readers) + db_->memory->block_cache->GetUsage() +
         (cache_ != nullptr ? cache_->memory_bytes() : 0) + pending_->GetDataSize();
}

void RocksDbKeyedStateBackend::create_native_checkpoint(const std::string& dir) {
  write_pending();
  rocksdb::Status status = db_->flush();
  if (!status.ok()) fail("flush before a checkpoint failed", status.ToString());
  rocksdb::Checkpoint* raw = nullptr;
  status = rocksdb::Checkpoint::Create(db_->db.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (status.ok()) status = checkpoint->CreateCheckpoint(dir);
  if (!status.ok()) fail("cannot write a checkpoint to '" + dir + "'", status.ToString());
}

std::unique_ptr<IncrementalSnapshotTask> RocksDbKeyedStateBackend::snapshot_incremental(
    int64_t checkpoint_id) {
  if (!incremental_) return nullptr;
  // The barrier: the checkpoint holds every write before it (exactly-once), so the pending
  // writes go to RocksDB (and its log) before the files are listed.
  write_pending();
  IncrementalKeyedSnapshot snapshot;
  snapshot.backend = name();
  snapshot.key_groups = key_groups();
  for (const auto& column : db_->columns) snapshot.states.push_back(column->meta);
  std::string context = "RocksDB state backend of operator '" + operator_name_ + "' (subtask " +
                        std::to_string(subtask_index_ + 1) + ")";
  std::shared_ptr<Database> db;
  std::vector<rocksdb::LiveFileStorageInfo> files;
  if (!snapshot.states.empty()) {
    // None of the listed files is deleted until the task has uploaded them.
    rocksdb::Status status = db_->db->DisableFileDeletions();
    if (!status.ok()) fail("cannot take an incremental checkpoint", status.ToString());
    db = db_;  // the task enables file deletions again
    status = db_->list_files_at_barrier(files);
    if (!status.ok()) {
      db_->db->EnableFileDeletions(/*force=*/false);
      fail("cannot take an incremental checkpoint", status.ToString());
    }
  }
  return std::make_unique<IncrementalTask>(std::move(db), uploads_, std::move(files), checkpoint_id,
                                           std::move(snapshot), std::move(context));
}


void RocksDbKeyedStateBackend::notify_checkpoint_complete(int64_t checkpoint_id) {
  std::lock_guard lock(uploads_->mutex);
  auto it = uploads_->pending.find(checkpoint_id);
  if (it != uploads_->pending.end()) uploads_->confirmed = std::move(it->second);
  // Older ones are subsumed; this one is confirmed.
  uploads_->pending.erase(uploads_->pending.begin(), uploads_->pending.upper_bound(checkpoint_id));
}

void RocksDbKeyedStateBackend::notify_checkpoint_aborted(int64_t checkpoint_id) {
  std::lock_guard lock(uploads_->mutex);
  uploads_->pending.erase(checkpoint_id);
}

bool RocksDbKeyedStateBackend::can_restore_incremental(const IncrementalKeyedSnapshot& snapshot) const {
  return snapshot.backend == name() && snapshot.key_groups == key_groups();
}

namespace {

void write_private_file(const std::filesystem::path& path, const std::string& bytes,
                        const std::string& context) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(context + ": cannot write '" + path.string() + "'");
}

// Puts the files of `snapshot` into the empty folder `dir`.
void materialize(const IncrementalKeyedSnapshot& snapshot, const std::filesystem::path& dir,
                 const SharedFileFetcher& fetch, const std::string& context) {
  for (const SharedFileHandle& file : snapshot.shared_files) fetch(file, (dir / file.local_name).string());
  for (const auto& [name, bytes] : snapshot.private_files) write_private_file(dir / name, bytes, context);
}

}  // namespace

void RocksDbKeyedStateBackend::restore_incremental(const IncrementalKeyedSnapshot& snapshot,
                                                   const SharedFileFetcher& fetch) {
  if (!can_restore_incremental(snapshot)) {
    fail("cannot load an incremental snapshot as it is",
         "it was written by the " + snapshot.backend + " backend for key groups " +
             std::to_string(snapshot.key_groups.first) + ".." + std::to_string(snapshot.key_groups.last) +
             ", this backend owns " + std::to_string(key_groups().first) + ".." +
             std::to_string(key_groups().last));
  }
  if (!db_->columns.empty()) fail("cannot load an incremental snapshot", "states exist already");
  // Without columns nothing is pending or cached; the restored database starts so too.
  pending_->Clear();
  if (cache_ != nullptr) cache_->clear();
  if (snapshot.states.empty()) return;
  // The empty database gives way to the snapshot's.
  db_->close();
  std::error_code ec;
  std::filesystem::remove_all(db_->dir, ec);
  std::filesystem::create_directory(db_->dir, ec);
  if (ec) fail("cannot recreate '" + db_->dir.string() + "'", ec.message());
  try {
    materialize(snapshot, db_->dir,
                fetch, "RocksDB state backend of operator '" + operator_name_ + "'");
    open_database(snapshot.states);
  } catch (...) {
    // Leave an empty, working database behind.
    db_->close();
    std::filesystem::remove_all(db_->dir, ec);
    std::filesystem::create_directory(db_->dir, ec);
    db_->columns.clear();
    columns_by_name_.clear();
    open_database({});
    throw;
  }
  std::lock_guard lock(uploads_->mutex);
  for (const SharedFileHandle& file : snapshot.shared_files) uploads_->confirmed[file.local_name] = file;
}

KeyedStateSnapshot RocksDbKeyedStateBackend::read_incremental(const IncrementalKeyedSnapshot& snapshot,
                                                              const StateBackendOptions& options,
                                                              const SharedFileFetcher& fetch) {
  const std::string context = "RocksDB state backend: reading an incremental snapshot of key groups " +
                              std::to_string(snapshot.key_groups.first) + ".." +
                              std::to_string(snapshot.key_groups.last);
  KeyedStateSnapshot out;
  out.key_groups = snapshot.key_groups;
  out.states = snapshot.states;
  out.entries.resize(snapshot.states.size());
  if (snapshot.states.empty()) return out;
  std::filesystem::path dir = create_data_dir(options.rocksdb_dir, "restore", 0);
  struct RemoveDir {
    std::filesystem::path dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{dir};
  materialize(snapshot, dir, fetch, context);

  auto merge_operator = std::make_shared<ConcatMergeOperator>();
  rocksdb::Options db_options;
  db_options.merge_operator = merge_operator;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.env = no_sync_env();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(db_options)}};
  for (const StateMetaInfo& meta : snapshot.states) {
    descriptors.emplace_back(column_family_name(meta.name), rocksdb::ColumnFamilyOptions(db_options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status =
      rocksdb::DB::OpenForReadOnly(db_options, dir.string(), descriptors, &handles, &raw);
  if (!status.ok()) throw Error(context + ": cannot open it: " + status.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto close = [&] {
    for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
    handles.clear();
    db->Close();
  };
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  for (size_t i = 0; i < snapshot.states.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, handles[i + 1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.entries[i].emplace_back(std::string(to_view(it->key())), std::string(to_view(it->value())));
    }
    if (!it->status().ok()) {
      std::string message = context + ": cannot read state '" + snapshot.states[i].name +
                            "': " + it->status().ToString();
      it.reset();
      close();
      throw Error(message);
    }
  }
  close();
  return out;
}

void RocksDbKeyedStateBackend::compact() {
  write_pending();
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const auto& column : db_->columns) {
    rocksdb::Status status = db_->db->CompactRange(options, column->handle, nullptr, nullptr);
    if (!status.ok())
      fail("compaction of state '" + column->meta.name + "' failed", status.ToString());
  }
}

}  // namespace eddy::state
