#include "eddy/keyed_state_backend.h"
#include "state/heap/heap_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"

namespace eddy {

std::unique_ptr<KeyedStateBackend> create_keyed_state_backend(const StateBackendOptions& options,
                                                              KeyGroupRange key_groups,
                                                              int max_parallelism, const Clock& clock,
                                                              const std::string& operator_name,
                                                              int subtask_index) {
  if (options.kind == "heap") {
    return std::make_unique<state::HeapKeyedStateBackend>(key_groups, max_parallelism, clock,
                                                          options.incremental_checkpoints);
  }
  if (options.kind == "rocksdb") {
    return std::make_unique<state::RocksDbKeyedStateBackend>(options, key_groups, max_parallelism, clock,
                                                             operator_name, subtask_index);
  }
  throw InvalidJobError("unknown state backend '" + options.kind + "' for operator '" + operator_name +
                        "' (subtask " + std::to_string(subtask_index + 1) + "): use heap or rocksdb");
}

KeyedStateSnapshot read_incremental_snapshot(const IncrementalKeyedSnapshot& snapshot,
                                             const StateBackendOptions& options,
                                             const SharedFileFetcher& fetch) {
  if (snapshot.backend == "heap") return state::HeapKeyedStateBackend::read_incremental(snapshot, fetch);
  if (snapshot.backend == "rocksdb") return state::RocksDbKeyedStateBackend::read_incremental(snapshot, options, fetch);
  throw Error("cannot read an incremental snapshot of the unknown state backend '" + snapshot.backend + "'");
}

}  // namespace eddy
