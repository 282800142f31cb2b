// Sinks: a Sink creates one SinkWriter per subtask. Exactly-once sinks implement the
// checkpoint hooks (two-phase commit, eddy/two_phase_commit_sink.h); built-in sinks are in
// eddy/sinks.h.
#pragma once

#include <cstdint>
#include <memory>

#include "eddy/operator.h"
#include "eddy/time.h"

namespace eddy {

// Used only from its subtask's thread.
template <class T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void write(T&& value, Timestamp timestamp) = 0;
  // Make written records visible. `end_of_input`: no more records will come.
  virtual void flush(bool end_of_input) {}
  // Checkpointing (see eddy/two_phase_commit_sink.h for a base that implements these).
  // At the barrier of `checkpoint_id`, after every record before it was written: make
  // what was written so far committable and record it in operator state (pre-commit).
  virtual void snapshot_state(int64_t checkpoint_id) {}
  // Checkpoint `checkpoint_id` is durable: commit what was pre-committed up to it. Also
  // called after a restore for the restored checkpoint, so commits must be idempotent.
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_aborted(int64_t checkpoint_id) {}
  // Always called last, also after a failure; must not throw.
  virtual void close() {}
};

template <class T>
class Sink {
 public:
  using value_type = T;
  virtual ~Sink() = default;
  virtual std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext& context) const = 0;
};

}  // namespace eddy
