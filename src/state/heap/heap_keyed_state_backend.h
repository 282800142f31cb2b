// The heap state backend: keyed state as C++ objects in hash maps per key group, with
// copy-on-write snapshots (see include/eddy/internal/heap_state.h).
#pragma once

#include <memory>
#include <string>

#include "eddy/keyed_state_backend.h"

namespace eddy::state {

class HeapKeyedStateBackend final : public KeyedStateBackend {
 public:
  HeapKeyedStateBackend(KeyGroupRange key_groups, int max_parallelism, const Clock& clock)
      : KeyedStateBackend(key_groups, max_parallelism, clock), store_(key_groups) {}

  std::string name() const override { return "heap"; }
  std::unique_ptr<SnapshotTask> snapshot() override;
  void restore(const std::vector<const KeyedStateSnapshot*>& snapshots) override;
  size_t memory_bytes() const override;
  internal::HeapStateStore* heap_store() override { return &store_; }

 private:
  internal::HeapStateStore store_;
};

}  // namespace eddy::state
