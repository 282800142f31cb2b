#include "state/heap/heap_keyed_state_backend.h"

#include <algorithm>

namespace eddy::state {

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

}  // namespace

std::unique_ptr<SnapshotTask> HeapKeyedStateBackend::snapshot() {
  // Expiry is judged at the time of the snapshot, whenever the task runs.
  auto task = std::make_unique<HeapSnapshotTask>(key_groups(), now());
  for (internal::HeapTableBase* table : store_.tables()) task->add(table->meta(), table->freeze());
  for (const auto& [name, pending] : store_.pending_restored()) task->add_pending(pending.first, pending.second);
  return task;
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
