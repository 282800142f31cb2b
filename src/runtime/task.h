// One parallel instance of an operator chain, running on its own thread: a mailbox loop
// that takes batches from its input channels (or polls its source reader), runs them
// through the chain, and flushes its output batches when it runs out of input, when they
// fill, or when the buffer timeout passes. All of a task's operators are called only from
// its thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator_state.h"
#include "eddy/operator.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/type_info.h"
#include "checkpoint/checkpoint_storage.h"
#include "runtime/channel.h"
#include "runtime/checkpoint_coordinator.h"
#include "runtime/processing_timers.h"
#include "runtime/snapshot_workers.h"
#include "runtime/source_coordinator.h"
#include "runtime/task_inbox.h"
#include "runtime/task_notifier.h"
#include "runtime/watermark_valve.h"

namespace eddy::runtime {

class OperatorRuntimeContext final : public RuntimeContext, private ProcessingTimeService {
 public:
  OperatorRuntimeContext(std::string name, int subtask, int parallelism, int max_parallelism,
                         const ExecutionConfig& config, const Clock& clock,
                         KeyedStateBackend* keyed_state_backend = nullptr,
                         std::optional<int64_t> restored_checkpoint_id = std::nullopt)
      : name_(std::move(name)),
        subtask_(subtask),
        parallelism_(parallelism),
        max_parallelism_(max_parallelism),
        config_(config),
        clock_(clock),
        keyed_state_backend_(keyed_state_backend),
        restored_checkpoint_id_(restored_checkpoint_id) {}
  const std::string& operator_name() const override { return name_; }
  int subtask_index() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return max_parallelism_; }
  const ExecutionConfig& config() const override { return config_; }
  const Clock& clock() const override { return clock_; }
  KeyedStateBackend* keyed_state_backend() const override { return keyed_state_backend_; }
  OperatorStateStore* operator_state_store() const override { return &operator_state_; }
  std::optional<int64_t> restored_checkpoint_id() const override { return restored_checkpoint_id_; }
  ProcessingTimeService& processing_time_service() const override {
    return const_cast<OperatorRuntimeContext&>(*this);
  }

  // Done by the task: where processing-time callbacks go, and whom they are attributed to.
  void attach(ProcessingTimerQueue& timers, OperatorBase& op) {
    timers_ = &timers;
    op_ = &op;
  }

 private:
  Timestamp current_processing_time() const override { return clock_.now_ms(); }
  void register_timer(Timestamp time, std::function<void(Timestamp)> callback) override {
    timers_->add(time, [op = op_, callback = std::move(callback)](Timestamp now) {
      internal::run_attributed(*op, [&] { callback(now); });
    });
  }

  ProcessingTimerQueue* timers_ = nullptr;
  OperatorBase* op_ = nullptr;
  std::string name_;
  int subtask_;
  int parallelism_;
  int max_parallelism_;
  const ExecutionConfig& config_;
  const Clock& clock_;
  KeyedStateBackend* keyed_state_backend_;
  std::optional<int64_t> restored_checkpoint_id_;
  mutable OperatorStateStore operator_state_;
};

// How a task takes part in checkpoints; absent when the job has no checkpoint coordinator.
struct TaskCheckpointing {
  CheckpointCoordinator* coordinator = nullptr;
  checkpoint::CheckpointStorage* storage = nullptr;
  SnapshotWorkers* workers = nullptr;
  TaskId id;
  // Whether the job takes a final checkpoint after every task finished (periodic
  // checkpointing is on): a finished task then waits for it before it exits.
  bool final_checkpoint = false;
  CheckpointingMode mode = CheckpointingMode::kExactlyOnce;
};

enum class TaskOutcome { kRunning, kFinished, kCancelled, kFailed };

class Task {
 public:
  Task(std::string name, int subtask, int parallelism, const ExecutionConfig& config, const Clock& clock,
       const std::atomic<bool>& cancelled);

  // Wiring, done by the executor before run(). Operators are in chain order, head first;
  // `node_id` is the operator's stream node (checkpoints name state by it).
  void add_operator(std::unique_ptr<OperatorBase> op, std::unique_ptr<OperatorRuntimeContext> context,
                    int node_id);
  void set_checkpointing(TaskCheckpointing checkpointing) { checkpointing_ = checkpointing; }
  // Keeps a keyed operator's state backend for the task's lifetime.
  KeyedStateBackend& add_state_backend(std::unique_ptr<KeyedStateBackend> backend) {
    state_backends_.push_back(std::move(backend));
    return *state_backends_.back();
  }
  OutputBase& add_output(std::unique_ptr<OutputBase> output) {
    outputs_.push_back(std::move(output));
    return *outputs_.back();
  }
  void add_network_output(internal::NetworkOutputBase* output) { network_outputs_.push_back(output); }
  internal::ChannelWriter& add_channel_writer(Channel& channel);
  void add_input(Channel& channel, std::unique_ptr<internal::BatchConsumerBase> consumer);
  void set_source(internal::SourceOperatorBase& source, SourceCoordinator& coordinator);

  OperatorBase& op(size_t index) { return *operators_[index]; }
  TaskNotifier& notifier() { return notifier_; }
  TaskInbox& inbox() { return inbox_; }
  OperatorRuntimeContext& context(size_t index) { return *contexts_[index]; }
  // The longest synchronous part of a checkpoint in this task so far.
  std::chrono::nanoseconds max_sync_pause() const { return max_sync_pause_.load(std::memory_order_relaxed); }
  const std::string& name() const { return name_; }
  int subtask() const { return subtask_; }

  // The thread body. Never throws: the outcome and any failure are recorded.
  void run();

  TaskOutcome outcome() const { return outcome_.load(std::memory_order_acquire); }
  // Set when outcome() is kFailed.
  const std::exception_ptr& failure() const { return failure_; }
  size_t num_operators() const { return operators_.size(); }

 private:
  class ReaderContext;

  void open_operators();
  void run_source();
  void run_inputs();
  // Handles what the inbox holds: splits, checkpoint triggers and notifications.
  void process_inbox();
  void deliver_splits(SplitList& splits);
  // Takes this task's part of checkpoint `barrier`: the synchronous snapshot of every
  // operator, the barrier sent downstream, and the upload handed to a snapshot worker.
  void checkpoint(const internal::CheckpointBarrier& barrier);
  // Unaligned: the checkpoint is taken now (at the first barrier, or when aligning took
  // too long); channels whose barrier has not come are recorded until it does.
  void checkpoint_unaligned(const internal::CheckpointBarrier& barrier);
  // Uploads the unaligned checkpoint once no channel records any more.
  void finish_unaligned_if_complete();
  struct OperatorSnapshots;
  // prepare_snapshot_pre_barrier() and snapshot_state() of every operator, head first.
  void run_snapshot_hooks(int64_t checkpoint_id);
  // The synchronous part of a checkpoint: operators' pre-barrier and snapshot hooks, the
  // barrier sent downstream, the state backends' snapshots. Records the pause.
  std::shared_ptr<OperatorSnapshots> take_synchronous_part(const internal::CheckpointBarrier& barrier);
  // The synchronous part of every operator's snapshot; keyed state incremental where the
  // backend takes incremental snapshots and `incremental` (not for savepoints).
  std::shared_ptr<OperatorSnapshots> snapshot_operators(int64_t checkpoint_id, bool incremental);
  void upload(int64_t checkpoint_id, std::shared_ptr<OperatorSnapshots> snapshots);

 public:
  // Records in flight into this task at the checkpoint restored from (unaligned
  // checkpoints), per input channel; replayed after open, before any input is read.
  void set_restored_in_flight(std::vector<std::string> in_flight) { restored_in_flight_ = std::move(in_flight); }

 private:
  void notify_checkpoint(int64_t checkpoint_id, bool complete);
  // After finish: hands the final state to the coordinator and, when the job takes a
  // final checkpoint, handles notifications until it is done.
  void finish_checkpointing();
  void finish_operators();
  void close_operators() noexcept;
  void flush_outputs();
  void flush_if_timed_out();
  void check_cancelled() const;
  // Sleeps until notified, or until the next processing-time callback or `deadline`.
  void wait(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  std::string name_;
  int subtask_;
  int parallelism_;
  const ExecutionConfig& config_;
  const std::atomic<bool>& cancelled_;

  // Declared before the operators, so they are destroyed after them.
  std::vector<std::unique_ptr<KeyedStateBackend>> state_backends_;
  std::vector<std::unique_ptr<OperatorBase>> operators_;
  std::vector<std::unique_ptr<OperatorRuntimeContext>> contexts_;
  std::vector<int> node_ids_;
  std::vector<std::unique_ptr<OutputBase>> outputs_;
  std::vector<internal::NetworkOutputBase*> network_outputs_;
  std::vector<std::unique_ptr<BlockingChannelWriter>> writers_;

  struct InputChannel {
    Channel* channel = nullptr;
    std::unique_ptr<internal::BatchConsumerBase> consumer;
    bool ended = false;
    // Exactly-once alignment: the channel delivered the barrier of the checkpoint being
    // aligned and is not read until the others have too.
    bool blocked = false;
    // Unaligned: the checkpoint was taken before this channel's barrier came; the records
    // read from it until then go into the checkpoint (in_flight) as well as on.
    bool recording = false;
    std::string in_flight;
  };
  std::vector<InputChannel> inputs_;

  internal::SourceOperatorBase* source_ = nullptr;
  SourceCoordinator* coordinator_ = nullptr;

  ProcessingTimerQueue timers_;
  TaskNotifier notifier_;
  TaskInbox inbox_{notifier_};
  std::deque<TaskEvent> events_;

  std::optional<TaskCheckpointing> checkpointing_;
  int64_t last_checkpoint_id_ = 0;      // the last checkpoint this task took part in
  int64_t aligning_id_ = 0;             // the checkpoint whose barriers are being collected
  bool aligning_savepoint_ = false;
  size_t barriers_seen_ = 0;            // of aligning_id_, on channels that have not ended
  bool finished_ = false;
  std::chrono::steady_clock::time_point aligning_since_;
  int64_t unaligned_id_ = 0;  // unaligned checkpoint still recording channels
  std::shared_ptr<OperatorSnapshots> unaligned_snapshots_;
  std::vector<std::string> restored_in_flight_;
  bool final_checkpoint_done_ = false;
  std::atomic<std::chrono::nanoseconds> max_sync_pause_{std::chrono::nanoseconds(0)};
  std::chrono::steady_clock::time_point flush_deadline_;
  size_t opened_ = 0;

  std::atomic<TaskOutcome> outcome_{TaskOutcome::kRunning};
  std::exception_ptr failure_;
};

}  // namespace eddy::runtime
