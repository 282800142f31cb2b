// Settings of a job that the runtime reads. Every field has a command-line flag through
// StreamEnvironment::from_args (docs/configuration.md lists them).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "eddy/key.h"

namespace eddy {

// Streaming: rolling aggregations emit an update per record (Flink's STREAMING mode).
// Batch: for bounded input, keyed rolling aggregations emit only the final value per key
// when their input ends (as Flink's BATCH mode does).
enum class RuntimeMode { kStreaming, kBatch };

// Where keyed state lives (docs/state.md).
struct StateBackendOptions {
  std::string kind = "heap";  // "heap" or "rocksdb"
  // RocksDB: the directory under which each operator subtask gets a fresh database,
  // removed when the subtask ends. Empty: the system temp directory.
  std::string rocksdb_dir;
  size_t rocksdb_block_cache_bytes = 64 << 20;   // shared by the process's RocksDB backends
  size_t rocksdb_write_buffer_bytes = 64 << 20;  // shared write buffer manager limit
  // The entry cache in front of RocksDB for value, reducing and aggregating states: recently
  // used entries, their values as bytes, shared (this many bytes in all) by the process's
  // RocksDB backends configured with the same size. About 1.1 million small entries fit in
  // the default. 0: no cache, every access goes to RocksDB (docs/state.md).
  size_t rocksdb_entry_cache_bytes = 64 << 20;
  // Checkpoints write only what earlier ones have not (RocksDB: new SST files and logs;
  // heap: slots changed since); off: every checkpoint is a full canonical copy.
  // Savepoints are always full canonical copies.
  bool incremental_checkpoints = true;
};

// Exactly-once: tasks with several inputs align barriers (records after a barrier wait
// until the barrier came on every input). At-least-once: no alignment; after a restore,
// records may be processed twice.
enum class CheckpointingMode { kExactlyOnce, kAtLeastOnce };

// Periodic checkpoints (docs/checkpoints.md). Checkpointing is on when `interval` > 0.
struct CheckpointConfig {
  std::chrono::milliseconds interval{0};
  CheckpointingMode mode = CheckpointingMode::kExactlyOnce;
  // A checkpoint not complete after this long is aborted (and counts as failed).
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  // Time between the end of one checkpoint and the start of the next.
  std::chrono::milliseconds min_pause{0};
  int max_concurrent = 1;
  // Checkpoints that may fail in a row before the job fails over.
  int tolerable_failures = 0;
  // Unaligned checkpoints (exactly-once only): barriers do not wait for alignment; the
  // records in flight are stored with the checkpoint.
  bool unaligned = false;
  // With `unaligned`: start aligned and fall back to unaligned when alignment takes
  // longer than this (0: unaligned from the start).
  std::chrono::milliseconds aligned_timeout{0};
  // Where checkpoints go: a folder per checkpoint. Required when checkpointing is on.
  std::string directory;
  // Completed checkpoints kept; older ones are deleted when a newer one completes.
  int retained = 1;
  bool enabled() const { return interval.count() > 0; }
};

// What the job does after a task fails (Flink's restart strategies).
struct RestartStrategyConfig {
  enum class Kind { kNone, kFixedDelay, kExponentialDelay, kFailureRate };
  Kind kind = Kind::kNone;
  // Fixed delay: attempts before giving up, and the delay between them.
  int max_attempts = 3;
  std::chrono::milliseconds delay{1000};
  // Exponential delay: delay doubles (times `multiplier`) after each failure up to
  // `max_delay`, and goes back to `delay` after `reset_after` without failure.
  std::chrono::milliseconds max_delay{std::chrono::minutes(1)};
  double multiplier = 2.0;
  std::chrono::milliseconds reset_after{std::chrono::hours(1)};
  // Failure rate: at most `max_failures_per_interval` failures in `failure_interval`.
  int max_failures_per_interval = 1;
  std::chrono::milliseconds failure_interval{std::chrono::minutes(1)};
};

// Where the job starts from: nothing, the latest completed checkpoint of
// CheckpointConfig::directory ("latest"), or a checkpoint or savepoint folder.
struct RestoreConfig {
  std::string path;  // "", "latest" or a folder
  // State in the checkpoint that no operator of the job claims (by uid) is ignored
  // instead of failing the restore.
  bool allow_non_restored_state = false;
};

struct ExecutionConfig {
  // Default parallelism of operators that do not set their own.
  int parallelism = 1;
  // Number of key groups: the upper bound for the parallelism of keyed operators and the
  // unit in which keyed state is redistributed on rescale.
  int max_parallelism = kDefaultMaxParallelism;
  RuntimeMode runtime_mode = RuntimeMode::kStreaming;
  // Target size of a batch of records sent between tasks.
  size_t batch_bytes = 16 * 1024;
  // Batches a channel holds before its producer blocks (credit-based backpressure).
  size_t channel_capacity = 4;
  // A partly filled batch is sent at the latest after this long, even if its producer
  // never runs out of input.
  std::chrono::milliseconds buffer_timeout{10};
  // How often periodic watermark generators emit (processing time); 0 turns periodic
  // watermarks off.
  std::chrono::milliseconds auto_watermark_interval{200};
  StateBackendOptions state_backend;
  CheckpointConfig checkpoints;
  RestartStrategyConfig restart;
  RestoreConfig restore;
  // Whether execute() turns SIGINT/SIGTERM into a clean cancellation of the job.
  bool handle_signals = false;
};

}  // namespace eddy
