// The checkpoint coordinator of one run of a job (Flink's CheckpointCoordinator): triggers
// checkpoints and savepoints, collects the tasks' acknowledgements, completes a
// checkpoint by writing its metadata last, and tells the tasks it completed (or was
// aborted). Also takes the job's final checkpoint once every task has finished, so that
// what sinks pre-committed at the end of bounded input is committed exactly once.
//
// Threading: trigger_due()/check_timeouts() run on the executor's thread; acknowledge(),
// decline() and task_finished() come from snapshot worker and task threads. All state
// is under one mutex; metadata is written under it (it is small).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eddy/config.h"
#include "checkpoint/checkpoint_storage.h"
#include "runtime/source_coordinator.h"
#include "runtime/task_inbox.h"

namespace eddy::runtime {

// A task of the job: vertex index and subtask.
struct TaskId {
  int vertex = 0;
  int subtask = 0;
  auto operator<=>(const TaskId&) const = default;
};

// What one task contributes to a checkpoint: per operator of its chain (by stream node
// id), where its state file is (none: no state).
using TaskCheckpointFiles = std::vector<std::pair<int, std::optional<checkpoint::StateFileHandle>>>;
// A finished task's final state, kept in memory and written into every later checkpoint.
using TaskFinalState = std::vector<std::pair<int, checkpoint::OperatorSubtaskState>>;

// The operators of the job as the metadata describes them.
struct CheckpointedOperator {
  int node_id = 0;
  std::string uid;
  std::string name;
  int parallelism = 1;
  int max_parallelism = 1;
  bool source = false;
};

struct CheckpointStats {
  int64_t completed = 0;
  int64_t failed = 0;
  std::string latest_path;          // folder of the latest completed checkpoint
  int64_t latest_id = 0;
  std::chrono::nanoseconds max_duration{0};
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(const CheckpointConfig& config, checkpoint::CheckpointStorage& storage,
                        std::vector<CheckpointedOperator> operators,
                        std::map<int, SourceCoordinator*> sources,          // by source node id
                        std::map<TaskId, TaskInbox*> tasks, int64_t first_id);

  // How soon poll() wants to be called again while a due checkpoint waits for one in flight.
  static constexpr std::chrono::milliseconds kRecheckWhileBlocked{5};

  // Executor thread: triggers a periodic checkpoint if one is due; aborts checkpoints past
  // their timeout. Returns when to call again: always after `now`.
  std::chrono::steady_clock::time_point poll(std::chrono::steady_clock::time_point now);
  // Any thread: a savepoint (a savepoint-<id>-<ms> folder of the checkpoint directory).
  // The future gets its folder once complete, or an exception. Operators are told it
  // completed (sinks commit) only with `stop`: otherwise what they pre-committed for it
  // is committed with the next checkpoint, so a failover to that checkpoint never finds
  // output of records it replays.
  std::future<std::string> trigger_savepoint(bool stop);

  // Task side (any thread). Checkpoint folders for the tasks to write into.
  std::string folder_of(int64_t checkpoint_id) const;
  void acknowledge(TaskId task, int64_t checkpoint_id, TaskCheckpointFiles files);
  void decline(TaskId task, int64_t checkpoint_id, const std::string& reason);
  // The task finished; `state` is its state at the end. It stands in for the task's
  // part of every checkpoint after `last_checkpoint_id` (the last one whose barrier or
  // trigger the task handled: for those its acknowledgement is awaited as usual).
  void task_finished(TaskId task, TaskFinalState state, int64_t last_checkpoint_id);

  // Set when more checkpoints failed in a row than tolerated: the job must fail over.
  std::optional<std::string> job_failure() const;
  CheckpointStats stats() const;
  // Aborts every pending checkpoint (the run is ending). Never throws.
  void shutdown() noexcept;

 private:
  struct Pending {
    int64_t id = 0;
    bool savepoint = false;
    bool stop = false;  // stop-with-savepoint
    bool final = false;
    std::string folder;
    std::chrono::steady_clock::time_point started;
    int64_t timestamp_ms = 0;
    std::map<TaskId, TaskCheckpointFiles> acks;
    std::map<int, std::vector<std::string>> enumerator_splits;  // by source node id
    std::optional<std::promise<std::string>> done;
  };

  // Under mutex_.
  enum class Kind { kPeriodic, kSavepoint, kStopWithSavepoint, kFinal };
  void trigger_locked(Kind kind, std::optional<std::promise<std::string>> done);
  void try_complete_locked(Pending& pending);
  void fail_locked(int64_t id, const std::string& reason);
  void notify_locked(TaskEvent::Kind kind, int64_t id, bool final);
  void maybe_final_checkpoint_locked();

  const CheckpointConfig& config_;
  checkpoint::CheckpointStorage& storage_;
  std::vector<CheckpointedOperator> operators_;
  std::map<int, SourceCoordinator*> sources_;
  std::map<TaskId, TaskInbox*> tasks_;

  mutable std::mutex mutex_;
  int64_t next_id_;
  std::map<int64_t, Pending> pending_;
  struct Finished {
    TaskFinalState state;
    int64_t last_checkpoint_id = 0;
  };
  std::map<TaskId, Finished> finished_;
  bool final_triggered_ = false;
  bool stopping_ = false;  // a stop-with-savepoint was triggered
  bool shut_down_ = false;
  int consecutive_failures_ = 0;
  std::optional<std::string> job_failure_;
  std::chrono::steady_clock::time_point next_trigger_;
  std::chrono::steady_clock::time_point last_finished_;  // of the last periodic checkpoint
  CheckpointStats stats_;
};

}  // namespace eddy::runtime
