#include "state/heap/heap_keyed_state_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>

#include "state/heap/heap_snapshot_file.h"

namespace eddy::state {

// The files of the latest completed checkpoint, which the next one builds on, and those
// of checkpoints in flight. Shared by the backend (task thread) and snapshot tasks.
struct HeapCheckpointChain {
  struct Link {
    std::vector<SharedFileHandle> files;  // full file first, then deltas
    uint64_t full_bytes = 0;
    uint64_t delta_bytes = 0;  // of the deltas after the full file
    uint32_t epoch = 0;        // the store epoch the last file's snapshot was taken at
  };
  std::mutex mutex;
  std::optional<Link> confirmed;
  std::map<int64_t, Link> pending;  // by checkpoint id, written by the tasks
};

namespace {

class HeapSnapshotTask final : public SnapshotTask {
 public:
  HeapSnapshotTask(KeyGroupRange key_groups, Timestamp now) : key_groups_(key_groups), now_(now) {}

  void add(StateMetaInfo meta, std::unique_ptr<internal::FrozenTable> table) {
    metas_.push_back(std::move(meta));
    tables_.push_back(std::move(table));
  }
  void add_pending(StateMetaInfo meta, internal::EntryList entries) {
    pending_metas_.push_back(std::move(meta));
    pending_entries_.push_back(std::move(entries));
  }

  KeyedStateSnapshot run() override {
    KeyedStateSnapshot snapshot;
    snapshot.key_groups = key_groups_;
    for (size_t i = 0; i < tables_.size(); ++i) {
      snapshot.states.push_back(metas_[i]);
      snapshot.entries.emplace_back();
      tables_[i]->write(snapshot.entries.back(), now_);
    }
    for (size_t i = 0; i < pending_metas_.size(); ++i) {
      snapshot.states.push_back(std::move(pending_metas_[i]));
      snapshot.entries.push_back(std::move(pending_entries_[i]));
    }
    return snapshot;
  }

 private:
  KeyGroupRange key_groups_;
  Timestamp now_;
  std::vector<StateMetaInfo> metas_;
  std::vector<std::unique_ptr<internal::FrozenTable>> tables_;
  std::vector<StateMetaInfo> pending_metas_;
  std::vector<internal::EntryList> pending_entries_;
};

// Writes one file of the chain: a delta over `base` when it can (every file of `base`
// still kept by the storage), else a full file.
class HeapIncrementalTask final : public IncrementalSnapshotTask {
 public:
  struct Table {
    StateMetaInfo meta;
    std::unique_ptr<internal::FrozenTable> frozen;
  };

  HeapIncrementalTask(std::shared_ptr<HeapCheckpointChain> chain, int64_t checkpoint_id, uint32_t epoch,
                      std::optional<HeapCheckpointChain::Link> base, KeyGroupRange key_groups, Timestamp now)
      : chain_(std::move(chain)),
        checkpoint_id_(checkpoint_id),
        epoch_(epoch),
        base_(std::move(base)),
        key_groups_(key_groups),
        now_(now) {}

  void add(StateMetaInfo meta, std::unique_ptr<internal::FrozenTable> frozen) {
    tables_.push_back(Table{std::move(meta), std::move(frozen)});
  }
  void add_pending(StateMetaInfo meta, internal::EntryList entries) {
    pending_.emplace_back(std::move(meta), std::move(entries));
  }

  IncrementalKeyedSnapshot run(SharedFileUploader& uploader) override {
    IncrementalKeyedSnapshot snapshot;
    snapshot.backend = "heap";
    snapshot.key_groups = key_groups_;
    for (const Table& table : tables_) snapshot.states.push_back(table.meta);
    for (const auto& [meta, entries] : pending_) snapshot.states.push_back(meta);

    bool full = !base_.has_value();
    if (!full) {
      for (const SharedFileHandle& file : base_->files) {
        if (!uploader.reuse(file)) {
          full = true;  // the storage let it go: start a new chain
          break;
        }
      }
    }
    const uint32_t since = full ? 0 : base_->epoch;
    std::string local_name =
        "heap-" + std::to_string(checkpoint_id_) + "-" + std::to_string(key_groups_.first) + (full ? "-full" : "-delta");
    SharedFileHandle file = uploader.upload_produced(local_name, [&](SharedFileSink& sink) {
      HeapFileWriter writer(sink, full ? HeapFileKind::kFull : HeapFileKind::kDelta);
      for (Table& table : tables_) {
        writer.begin_state(table.meta.name);
        table.frozen->write_slots(writer, now_, full, since);
      }
      if (full) {
        for (const auto& [meta, entries] : pending_) {
          writer.begin_state(meta.name);
          for (const auto& [key, value] : entries) writer.raw_entry(key, value);
        }
      }
      writer.finish();
    });
    tables_.clear();  // the frozen maps are not needed any more

    HeapCheckpointChain::Link link;
    if (full) {
      link.full_bytes = file.size;
    } else {
      link = *base_;
      link.delta_bytes += file.size;
    }
    link.files.push_back(file);
    link.epoch = epoch_;

    snapshot.shared_files = link.files;
    {
      std::lock_guard lock(chain_->mutex);
      chain_->pending[checkpoint_id_] = std::move(link);
    }
    return snapshot;
  }

 private:
  std::shared_ptr<HeapCheckpointChain> chain_;
  int64_t checkpoint_id_;
  uint32_t epoch_;
  std::optional<HeapCheckpointChain::Link> base_;
  KeyGroupRange key_groups_;
  Timestamp now_;
  std::vector<Table> tables_;
  std::vector<std::pair<StateMetaInfo, internal::EntryList>> pending_;
};

}  // namespace

HeapKeyedStateBackend::HeapKeyedStateBackend(KeyGroupRange key_groups, int max_parallelism, const Clock& clock,
                                             bool incremental_checkpoints)
    : KeyedStateBackend(key_groups, max_parallelism, clock),
      store_(key_groups),
      incremental_(incremental_checkpoints),
      chain_(std::make_shared<HeapCheckpointChain>()) {
  store_.set_tracks_removals(incremental_);
}

HeapKeyedStateBackend::~HeapKeyedStateBackend() = default;

std::unique_ptr<SnapshotTask> HeapKeyedStateBackend::snapshot() {
  // Expiry is judged at the time of the snapshot, whenever the task runs.
  auto task = std::make_unique<HeapSnapshotTask>(key_groups(), now());
  for (internal::HeapTableBase* table : store_.tables()) task->add(table->meta(), table->freeze());
  for (const auto& [name, pending] : store_.pending_restored()) task->add_pending(pending.first, pending.second);
  return task;
}

std::unique_ptr<IncrementalSnapshotTask> HeapKeyedStateBackend::snapshot_incremental(int64_t checkpoint_id) {
  if (!incremental_ || (store_.tables().empty() && store_.pending_restored().empty())) return nullptr;
  std::optional<HeapCheckpointChain::Link> base;
  {
    std::lock_guard lock(chain_->mutex);
    base = chain_->confirmed;
  }
  // Start over with a full file once the deltas weigh as much as it (or the chain is long).
  if (base && (base->delta_bytes >= base->full_bytes || base->files.size() >= kMaxChainFiles)) base.reset();
  const uint32_t epoch = store_.begin_next_epoch();
  auto task = std::make_unique<HeapIncrementalTask>(chain_, checkpoint_id, epoch, std::move(base), key_groups(), now());
  for (internal::HeapTableBase* table : store_.tables()) task->add(table->meta(), table->freeze());
  for (const auto& [name, pending] : store_.pending_restored()) task->add_pending(pending.first, pending.second);
  return task;
}

void HeapKeyedStateBackend::notify_checkpoint_complete(int64_t checkpoint_id) {
  std::lock_guard lock(chain_->mutex);
  auto it = chain_->pending.find(checkpoint_id);
  if (it != chain_->pending.end()) {
    chain_->confirmed = std::move(it->second);
    store_.set_confirmed_epoch(chain_->confirmed->epoch);
  }
  // Older ones are subsumed; this one is confirmed.
  chain_->pending.erase(chain_->pending.begin(), chain_->pending.upper_bound(checkpoint_id));
}

void HeapKeyedStateBackend::notify_checkpoint_aborted(int64_t checkpoint_id) {
  std::lock_guard lock(chain_->mutex);
  chain_->pending.erase(checkpoint_id);
}

KeyedStateSnapshot HeapKeyedStateBackend::read_incremental(const IncrementalKeyedSnapshot& snapshot,
                                                           const SharedFileFetcher& fetch) {
  static std::atomic<uint64_t> counter{0};
  namespace fs = std::filesystem;
  const fs::path folder = fs::temp_directory_path() / ("eddy-heap-restore-" + std::to_string(::getpid()) + "-" +
                                                       std::to_string(counter.fetch_add(1)));
  struct RemoveFolder {
    const fs::path& folder;
    ~RemoveFolder() {
      std::error_code ec;
      fs::remove_all(folder, ec);
    }
  } remove{folder};
  fs::create_directories(folder);
  HeapChainReader reader;
  for (const SharedFileHandle& file : snapshot.shared_files) {
    const fs::path path = folder / file.shared_name;
    fetch(file, path.string());
    std::string contents;
    {
      std::ifstream in(path, std::ios::binary);
      contents.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) throw Error("cannot read the heap checkpoint file '" + path.string() + "'");
    }
    fs::remove(path);
    reader.apply(contents, file.shared_name);
  }
  return reader.canonical(snapshot);
}

void HeapKeyedStateBackend::restore(const std::vector<const KeyedStateSnapshot*>& snapshots) {
  const KeyGroupRange& range = key_groups();
  for (const KeyedStateSnapshot* snapshot : snapshots) {
    for (size_t i = 0; i < snapshot->states.size(); ++i) {
      if (snapshot->states[i].kind == StateKind::kTimers) continue;  // the timer service's
      internal::EntryList mine;
      for (const auto& [key, value] : snapshot->entries[i]) {
        if (key.size() < 2) continue;
        int group = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
        if (range.contains(group)) mine.emplace_back(key, value);
      }
      store_.add_restored(snapshot->states[i], std::move(mine));
    }
  }
}

size_t HeapKeyedStateBackend::memory_bytes() const {
  size_t bytes = 0;
  for (const internal::HeapTableBase* table : store_.tables()) {
    bytes += table->memory_bytes();
  }
  return bytes;
}

}  // namespace eddy::state
