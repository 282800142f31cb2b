// The heap state backend: keyed state as C++ objects in hash maps per key group, with
// copy-on-write snapshots (see include/eddy/internal/heap_state.h).
//
// Checkpoints are incremental unless StateBackendOptions::incremental_checkpoints is off
// (heap_snapshot_file.h): each writes one file into the shared folder, full or holding the
// slots changed since the latest completed checkpoint, and references the chain of files
// that restores it. A new full file starts the chain again once the deltas since the last
// one add up to its size (restores read at most about twice the state), or the chain is
// kMaxChainFiles long. Savepoints are always canonical.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eddy/config.h"
#include "eddy/internal/incremental_snapshot.h"
#include "eddy/keyed_state_backend.h"

namespace eddy::state {

struct HeapCheckpointChain;

class HeapKeyedStateBackend final : public KeyedStateBackend {
 public:
  static constexpr size_t kMaxChainFiles = 32;

  HeapKeyedStateBackend(KeyGroupRange key_groups, int max_parallelism, const Clock& clock,
                        bool incremental_checkpoints = false);
  ~HeapKeyedStateBackend() override;

  std::string name() const override { return "heap"; }
  std::unique_ptr<SnapshotTask> snapshot() override;
  void restore(const std::vector<const KeyedStateSnapshot*>& snapshots) override;
  size_t memory_bytes() const override;
  internal::HeapStateStore* heap_store() override { return &store_; }
  bool prefetches() const override { return true; }

  std::unique_ptr<IncrementalSnapshotTask> snapshot_incremental(int64_t checkpoint_id) override;
  void notify_checkpoint_complete(int64_t checkpoint_id) override;
  void notify_checkpoint_aborted(int64_t checkpoint_id) override;

  // The canonical form of a heap incremental snapshot: fetches its chain of files into a
  // temporary folder and applies them in order.
  static KeyedStateSnapshot read_incremental(const IncrementalKeyedSnapshot& snapshot,
                                             const SharedFileFetcher& fetch);

 protected:
  void prefetch_serialized(std::string_view key, int key_group) override {
    store_.prefetch(key, key_group, key_version());
  }

 private:
  internal::HeapStateStore store_;
  bool incremental_;
  std::shared_ptr<HeapCheckpointChain> chain_;
};

}  // namespace eddy::state
