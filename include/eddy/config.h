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
  // Whether execute() turns SIGINT/SIGTERM into a clean cancellation of the job.
  bool handle_signals = false;
};

}  // namespace eddy
