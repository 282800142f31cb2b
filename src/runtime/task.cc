#include "runtime/task.h"

#include <optional>

#include "eddy/error.h"
#include "runtime/fault_injection.h"

namespace eddy::runtime {

using internal::ChannelMessage;
using internal::run_attributed;

class Task::ReaderContext final : public SourceReaderContext {
 public:
  ReaderContext(Task& task, const RuntimeContext& runtime) : task_(task), runtime_(runtime) {}
  const RuntimeContext& runtime() const override { return runtime_; }
  void send_split_request() override { task_.coordinator_->request_split(task_.subtask_); }
  void poll_again_after(std::chrono::nanoseconds delay) override {
    poll_deadline_ = std::chrono::steady_clock::now() + delay;
  }
  // The deadline asked for since the last call, if any.
  std::optional<std::chrono::steady_clock::time_point> take_poll_deadline() {
    auto deadline = poll_deadline_;
    poll_deadline_.reset();
    return deadline;
  }

 private:
  Task& task_;
  const RuntimeContext& runtime_;
  std::optional<std::chrono::steady_clock::time_point> poll_deadline_;
};

Task::Task(std::string name, int subtask, int parallelism, const ExecutionConfig& config, const Clock& clock,
           const std::atomic<bool>& cancelled)
    : name_(std::move(name)),
      subtask_(subtask),
      parallelism_(parallelism),
      config_(config),
      cancelled_(cancelled),
      timers_(clock) {}

void Task::add_operator(std::unique_ptr<OperatorBase> op,
                        std::unique_ptr<OperatorRuntimeContext> context, int node_id) {
  op->set_context(*context);
  context->attach(timers_, *op);
  operators_.push_back(std::move(op));
  contexts_.push_back(std::move(context));
  node_ids_.push_back(node_id);
}

internal::ChannelWriter& Task::add_channel_writer(Channel& channel) {
  writers_.push_back(std::make_unique<BlockingChannelWriter>(channel, notifier_, cancelled_));
  return *writers_.back();
}

void Task::add_input(Channel& channel, std::unique_ptr<internal::BatchConsumerBase> consumer) {
  InputChannel input;
  input.channel = &channel;
  input.consumer = std::move(consumer);
  inputs_.push_back(std::move(input));
}

void Task::set_source(internal::SourceOperatorBase& source, SourceCoordinator& coordinator) {
  source_ = &source;
  coordinator_ = &coordinator;
}

void Task::run() {
  try {
    open_operators();
    if (source_ != nullptr) {
      run_source();
    } else {
      run_inputs();
    }
    finish_operators();
    for (internal::NetworkOutputBase* output : network_outputs_) output->end_of_partition();
    finish_checkpointing();
    outcome_ = TaskOutcome::kFinished;
  } catch (const TaskCancelled&) {
    outcome_ = TaskOutcome::kCancelled;
  } catch (...) {
    outcome_ = TaskOutcome::kFailed;
    failure_ = std::current_exception();
  }
  close_operators();
}

void Task::open_operators() {
  // Open from the tail, so an operator's downstream is ready before it can emit.
  for (size_t i = operators_.size(); i-- > 0;) {
    OperatorBase& op = *operators_[i];
    run_attributed(op, [&] { op.open(*contexts_[i]); });
    ++opened_;
  }
  // Timer services restored themselves in open(); the snapshots are not needed any more.
  for (auto& backend : state_backends_) backend->release_restored_snapshots();
  // The checkpoint restored from completed; what operators pre-committed for it is
  // committed now if the failed run did not get to it (commits are idempotent).
  if (std::optional<int64_t> restored = contexts_.front()->restored_checkpoint_id()) {
    for (auto& op : operators_) run_attributed(*op, [&] { op->notify_checkpoint_complete(*restored); });
    last_checkpoint_id_ = *restored;
  }
  flush_deadline_ = std::chrono::steady_clock::now() + config_.buffer_timeout;
}

void Task::deliver_splits(SplitList& splits) {
  if (splits.empty()) return;
  run_attributed(*source_, [&] { source_->add_splits(std::move(splits)); });
  splits.clear();
}

void Task::process_inbox() {
  inbox_.drain(events_);
  SplitList splits;
  while (!events_.empty()) {
    TaskEvent event = std::move(events_.front());
    events_.pop_front();
    switch (event.kind) {
      case TaskEvent::Kind::kSplit:
        splits.push_back(std::move(event.split));
        break;
      case TaskEvent::Kind::kNoMoreSplits:
        deliver_splits(splits);
        run_attributed(*source_, [&] { source_->notify_no_more_splits(); });
        break;
      case TaskEvent::Kind::kTriggerCheckpoint:
        deliver_splits(splits);
        // A source that has finished stands in with its final state (the coordinator has it).
        if (!finished_) checkpoint(event.barrier);
        break;
      case TaskEvent::Kind::kCheckpointComplete:
        notify_checkpoint(event.checkpoint_id, true);
        if (event.final) final_checkpoint_done_ = true;
        break;
      case TaskEvent::Kind::kCheckpointAborted:
        notify_checkpoint(event.checkpoint_id, false);
        if (event.final) final_checkpoint_done_ = true;
        break;
    }
  }
  deliver_splits(splits);
}

void Task::notify_checkpoint(int64_t checkpoint_id, bool complete) {
  // Incremental backends reuse the files of the latest completed checkpoint.
  for (auto& backend : state_backends_) {
    if (complete) {
      backend->notify_checkpoint_complete(checkpoint_id);
    } else {
      backend->notify_checkpoint_aborted(checkpoint_id);
    }
  }
  for (auto& op : operators_) {
    run_attributed(*op, [&] {
      if (complete) {
        op->notify_checkpoint_complete(checkpoint_id);
      } else {
        op->notify_checkpoint_aborted(checkpoint_id);
      }
    });
  }
}

namespace {

// One operator's part of a checkpoint between its synchronous and asynchronous parts.
struct OperatorSnapshotInProgress {
  int node_id = 0;
  OperatorStateSnapshot operator_state;
  std::unique_ptr<SnapshotTask> keyed;      // null: not keyed, or incremental
  std::unique_ptr<IncrementalSnapshotTask> incremental;  // RocksDB's incremental checkpoints
  KeyedStateSnapshot timers;                // from the backend's participants
  std::vector<std::string> in_flight;       // unaligned: per input channel (head operator)
};

// The asynchronous part. `uploader`: where an incremental snapshot puts its files (needed
// when the part has one).
checkpoint::OperatorSubtaskState complete_snapshot(OperatorSnapshotInProgress& part,
                                                   SharedFileUploader* uploader) {
  checkpoint::OperatorSubtaskState state;
  state.operator_state = std::move(part.operator_state);
  state.channel_state = std::move(part.in_flight);
  if (part.incremental != nullptr) {
    if (uploader == nullptr) throw Error("an incremental snapshot needs the checkpoint storage to upload into");
    state.incremental = part.incremental->run(*uploader);
    state.keyed = std::move(part.timers);  // the timers stay canonical
  } else if (part.keyed != nullptr) {
    KeyedStateSnapshot keyed = part.keyed->run();
    for (size_t i = 0; i < part.timers.states.size(); ++i) {
      keyed.states.push_back(std::move(part.timers.states[i]));
      keyed.entries.push_back(std::move(part.timers.entries[i]));
    }
    state.keyed = std::move(keyed);
  }
  return state;
}

}  // namespace

struct Task::OperatorSnapshots {
  std::vector<OperatorSnapshotInProgress> parts;  // chain order
};

std::shared_ptr<Task::OperatorSnapshots> Task::snapshot_operators(int64_t checkpoint_id, bool incremental) {
  auto snapshots = std::make_shared<OperatorSnapshots>();
  for (size_t i = 0; i < operators_.size(); ++i) {
    OperatorSnapshotInProgress part;
    part.node_id = node_ids_[i];
    run_attributed(*operators_[i], [&] {
      part.operator_state = contexts_[i]->operator_state_store()->snapshot();
      if (KeyedStateBackend* backend = contexts_[i]->keyed_state_backend()) {
        if (incremental) part.incremental = backend->snapshot_incremental(checkpoint_id);
        if (part.incremental == nullptr) part.keyed = backend->snapshot();
        part.timers.key_groups = backend->key_groups();
        backend->snapshot_participants(part.timers);
      }
    });
    snapshots->parts.push_back(std::move(part));
  }
  return snapshots;
}

void Task::run_snapshot_hooks(int64_t checkpoint_id) {
  for (auto& op : operators_) {
    run_attributed(*op, [&] {
      op->prepare_snapshot_pre_barrier();
      op->snapshot_state(checkpoint_id);
    });
  }
}

std::shared_ptr<Task::OperatorSnapshots> Task::take_synchronous_part(const internal::CheckpointBarrier& barrier) {
  const int64_t id = barrier.checkpoint_id;
  last_checkpoint_id_ = id;
  auto started = std::chrono::steady_clock::now();
  run_snapshot_hooks(id);
  // Downstream can start aligning while this task snapshots.
  for (internal::NetworkOutputBase* output : network_outputs_) output->send_barrier(barrier);
  flush_deadline_ = std::chrono::steady_clock::now() + config_.buffer_timeout;
  // Savepoints are canonical; checkpoints may be incremental.
  std::shared_ptr<OperatorSnapshots> snapshots = snapshot_operators(id, !barrier.savepoint);
  auto pause = std::chrono::steady_clock::now() - started;
  if (pause > max_sync_pause_.load(std::memory_order_relaxed)) max_sync_pause_.store(pause, std::memory_order_relaxed);
  return snapshots;
}

void Task::checkpoint(const internal::CheckpointBarrier& barrier) {
  if (!checkpointing_) return;
  upload(barrier.checkpoint_id, take_synchronous_part(barrier));
}

void Task::upload(int64_t id, std::shared_ptr<OperatorSnapshots> snapshots) {
  TaskCheckpointing cp = *checkpointing_;
  cp.workers->submit([cp, id, snapshots] {
    try {
      if (auto& hook = fault_injection().before_upload) hook(id, cp.id.vertex, cp.id.subtask);
      std::string folder = cp.coordinator->folder_of(id);
      if (folder.empty()) return;  // aborted meanwhile
      TaskCheckpointFiles files;
      std::unique_ptr<SharedFileUploader> uploader = cp.storage->shared_file_uploader(id);
      for (OperatorSnapshotInProgress& part : snapshots->parts) {
        checkpoint::OperatorSubtaskState state = complete_snapshot(part, uploader.get());
        if (state.empty()) {
          files.emplace_back(part.node_id, std::nullopt);
          continue;
        }
        std::string file = "op" + std::to_string(part.node_id) + "-" + std::to_string(cp.id.subtask) + ".state";
        files.emplace_back(part.node_id, cp.storage->write_state_file(folder, file, state));
      }
      cp.coordinator->acknowledge(cp.id, id, std::move(files));
    } catch (const std::exception& e) {
      cp.coordinator->decline(cp.id, id, e.what());
    }
  });
}

void Task::checkpoint_unaligned(const internal::CheckpointBarrier& barrier) {
  if (!checkpointing_) return;
  unaligned_snapshots_ = take_synchronous_part(barrier);
  unaligned_id_ = barrier.checkpoint_id;
  // Channels that delivered the barrier (blocked while aligning) are read again; the
  // others are recorded until theirs comes.
  for (InputChannel& input : inputs_) {
    input.recording = !input.blocked && !input.ended;
    input.blocked = false;
    input.in_flight.clear();
  }
  finish_unaligned_if_complete();
}

void Task::finish_unaligned_if_complete() {
  if (unaligned_id_ == 0) return;
  for (const InputChannel& input : inputs_) {
    if (input.recording) return;
  }
  std::vector<std::string> in_flight;
  bool any = false;
  for (InputChannel& input : inputs_) {
    any |= !input.in_flight.empty();
    in_flight.push_back(std::move(input.in_flight));
    input.in_flight.clear();
  }
  if (any) unaligned_snapshots_->parts.front().in_flight = std::move(in_flight);
  int64_t id = unaligned_id_;
  unaligned_id_ = 0;
  upload(id, std::move(unaligned_snapshots_));
}

void Task::finish_checkpointing() {
  if (!checkpointing_) return;
  finished_ = true;
  // The final state: what every operator holds after finish() (sinks pre-commit here).
  const int64_t final_marker = last_checkpoint_id_ + 1;
  run_snapshot_hooks(final_marker);
  TaskFinalState final_state;
  // Canonical: the coordinator writes it into every later checkpoint.
  std::shared_ptr<OperatorSnapshots> snapshots = snapshot_operators(final_marker, /*incremental=*/false);
  for (OperatorSnapshotInProgress& part : snapshots->parts) {
    final_state.emplace_back(part.node_id, complete_snapshot(part, nullptr));
  }
  checkpointing_->coordinator->task_finished(checkpointing_->id, std::move(final_state), last_checkpoint_id_);
  if (!checkpointing_->final_checkpoint) return;
  // Commit what was pre-committed at the end once the final checkpoint is durable.
  while (!final_checkpoint_done_) {
    check_cancelled();
    process_inbox();
    if (!final_checkpoint_done_) wait();
  }
}

void Task::run_source() {
  ReaderContext reader_context(*this, *contexts_.front());
  run_attributed(*source_, [&] { source_->start_reader(reader_context); });
  while (true) {
    check_cancelled();
    process_inbox();
    timers_.run_due();
    InputStatus status = InputStatus::kMoreAvailable;
    run_attributed(*source_, [&] { status = source_->poll_next(); });
    if (status == InputStatus::kEndOfInput) break;
    if (status == InputStatus::kNothingAvailable) {
      flush_outputs();
      wait(reader_context.take_poll_deadline());
    } else {
      flush_if_timed_out();
    }
  }
  // A bounded source's end completes event time (Flink emits the maximum watermark).
  run_attributed(*source_, [&] { source_->process_watermark(kMaxWatermark, 0); });
}

void Task::run_inputs() {
  WatermarkValve valve(inputs_.size());
  size_t live = inputs_.size();
  size_t next = 0;
  ChannelMessage message;
  const bool exactly_once = !checkpointing_ || checkpointing_->mode == CheckpointingMode::kExactlyOnce;
  const bool unaligned = exactly_once && config_.checkpoints.unaligned && inputs_.size() > 1;
  // Unaligned from the first barrier, or aligned until the timeout and then unaligned.
  const bool unaligned_at_once = unaligned && config_.checkpoints.aligned_timeout.count() == 0;
  const bool align = exactly_once && !unaligned_at_once;
  for (size_t j = 0; j < restored_in_flight_.size() && j < inputs_.size(); ++j) {
    if (!restored_in_flight_[j].empty()) inputs_[j].consumer->replay_in_flight(restored_in_flight_[j]);
  }
  restored_in_flight_.clear();
  // Barriers of checkpoint aligning_id_ came on every channel that has not ended: take the
  // checkpoint and read all channels again.
  auto complete_alignment = [&] {
    size_t needed = 0;
    for (const InputChannel& input : inputs_) needed += input.ended ? 0 : 1;
    if (aligning_id_ == 0 || barriers_seen_ < needed) return;
    internal::CheckpointBarrier barrier{aligning_id_, aligning_savepoint_};
    aligning_id_ = 0;
    barriers_seen_ = 0;
    if (last_checkpoint_id_ >= barrier.checkpoint_id) return;  // taken unaligned already
    for (InputChannel& input : inputs_) input.blocked = false;
    checkpoint(barrier);
  };
  while (live > 0) {
    check_cancelled();
    process_inbox();
    timers_.run_due();
    if (unaligned && aligning_id_ != 0 && last_checkpoint_id_ < aligning_id_ &&
        std::chrono::steady_clock::now() - aligning_since_ >= config_.checkpoints.aligned_timeout) {
      // Aligning took too long: go on unaligned.
      checkpoint_unaligned(internal::CheckpointBarrier{aligning_id_, aligning_savepoint_});
    }
    bool progressed = false;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      size_t index = next;
      next = next + 1 == inputs_.size() ? 0 : next + 1;
      InputChannel& input = inputs_[index];
      if (input.ended || input.blocked || !input.channel->try_pop(message)) continue;
      progressed = true;
      WatermarkValve::Update update;
      switch (message.kind) {
        case ChannelMessage::Kind::kBarrier:
          if (message.barrier.checkpoint_id > aligning_id_) {
            // The first barrier of a new checkpoint. (A checkpoint still aligning is
            // subsumed: its barriers stop coming only if it was aborted upstream.)
            for (InputChannel& other : inputs_) other.blocked = false;
            aligning_id_ = message.barrier.checkpoint_id;
            aligning_savepoint_ = message.barrier.savepoint;
            barriers_seen_ = 0;
          }
          if (message.barrier.checkpoint_id == aligning_id_) {
            if (barriers_seen_ == 0) aligning_since_ = std::chrono::steady_clock::now();
            ++barriers_seen_;
            if (last_checkpoint_id_ >= aligning_id_) {
              // Taken already: this channel's records are recorded no more.
              input.recording = false;
              finish_unaligned_if_complete();
            } else if (unaligned_at_once) {
              input.blocked = true;  // marks the channel as having delivered its barrier
              checkpoint_unaligned(message.barrier);
            } else {
              input.blocked = align;
            }
            complete_alignment();
          }
          break;
        case ChannelMessage::Kind::kData:
          if (input.recording) input.consumer->append_in_flight(*message.batch, input.in_flight);
          input.consumer->consume(*message.batch);
          message.batch.reset();
          break;
        case ChannelMessage::Kind::kWatermark:
          update = valve.on_watermark(index, message.watermark);
          break;
        case ChannelMessage::Kind::kWatermarkStatus:
          update = valve.on_status(index, message.idle);
          break;
        case ChannelMessage::Kind::kEndOfPartition:
          input.ended = true;
          --live;
          update = valve.on_end(index);
          // An ended channel sends no barrier: alignment need not wait for it.
          if (input.recording) {
            input.recording = false;
            finish_unaligned_if_complete();
          }
          complete_alignment();
          break;
      }
      // The combined watermark goes to the head operator as if from this channel's input:
      // the valve already took the minimum over all inputs.
      if (update.idle == false) input.consumer->watermark_status(false);
      if (update.watermark) input.consumer->watermark(*update.watermark);
      if (update.idle == true) input.consumer->watermark_status(true);
    }
    if (progressed) {
      flush_if_timed_out();
    } else if (live > 0) {
      flush_outputs();  // nothing to do right now: send what is buffered
      wait();
    }
  }
}

void Task::finish_operators() {
  // Head first: what an operator emits while finishing still reaches the ones after it.
  for (auto& op : operators_) {
    run_attributed(*op, [&] { op->finish(); });
  }
}

void Task::close_operators() noexcept {
  for (size_t i = operators_.size() - opened_; i < operators_.size(); ++i) {
    OperatorBase& op = *operators_[i];
    try {
      run_attributed(op, [&] { op.close(); });
    } catch (...) {
      if (outcome_ == TaskOutcome::kFinished) {
        outcome_ = TaskOutcome::kFailed;
        failure_ = std::current_exception();
      }
    }
  }
}

void Task::flush_outputs() {
  for (internal::NetworkOutputBase* output : network_outputs_) output->flush();
  flush_deadline_ = std::chrono::steady_clock::now() + config_.buffer_timeout;
}

void Task::flush_if_timed_out() {
  if (network_outputs_.empty()) return;
  auto now = std::chrono::steady_clock::now();
  if (now < flush_deadline_) return;
  for (internal::NetworkOutputBase* output : network_outputs_) output->flush();
  flush_deadline_ = now + config_.buffer_timeout;
}

void Task::wait(std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (auto delay = timers_.time_to_next()) {
    auto timer_deadline = std::chrono::steady_clock::now() + *delay;
    if (!deadline || timer_deadline < *deadline) deadline = timer_deadline;
  }
  if (deadline) {
    notifier_.wait_until(*deadline);
  } else {
    notifier_.wait();
  }
}

void Task::check_cancelled() const {
  if (cancelled_.load(std::memory_order_acquire)) throw TaskCancelled();
}

}  // namespace eddy::runtime
