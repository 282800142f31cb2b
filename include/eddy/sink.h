// Sinks: a Sink creates one SinkWriter per subtask. Exactly-once sinks implement the
// checkpoint hooks (two-phase commit, eddy/two_phase_commit_sink.h); built-in sinks are in
// eddy/sinks.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "eddy/operator.h"
#include "eddy/time.h"

namespace eddy {

struct OperatorStateSnapshot;

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
  // Called once per run of the job, before any writer of the sink is created, with the
  // operator state the sink's subtasks had in the checkpoint the run restores (empty for
  // a fresh start). Transactional sinks remove here what a failed run left behind and no
  // transaction of that checkpoint refers to. Runs on the thread that starts the job.
  virtual void prepare_run(const std::vector<OperatorStateSnapshot>& restored) const {}
};

}  // namespace eddy
