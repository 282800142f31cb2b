#include "runtime/checkpoint_coordinator.h"

#include <iostream>

#include "eddy/error.h"
#include "runtime/fault_injection.h"

namespace eddy::runtime {

namespace {

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CheckpointCoordinator::CheckpointCoordinator(const CheckpointConfig& config, checkpoint::CheckpointStorage& storage,
                                             std::vector<CheckpointedOperator> operators,
                                             std::map<int, SourceCoordinator*> sources,
                                             std::map<TaskId, TaskInbox*> tasks, int64_t first_id)
    : config_(config),
      storage_(storage),
      operators_(std::move(operators)),
      sources_(std::move(sources)),
      tasks_(std::move(tasks)),
      next_id_(first_id),
      next_trigger_(std::chrono::steady_clock::now() + config.interval) {}

std::chrono::steady_clock::time_point CheckpointCoordinator::poll(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Timeouts first: an expired checkpoint frees its slot.
  std::vector<int64_t> expired;
  for (const auto& [id, pending] : pending_) {
    if (now - pending.started >= config_.timeout) expired.push_back(id);
  }
  for (int64_t id : expired) {
    fail_locked(id, "checkpoint " + std::to_string(id) + " expired after " +
                        std::to_string(config_.timeout.count()) + " ms before all tasks acknowledged it");
  }
  auto next = now + std::chrono::milliseconds(100);
  if (!config_.enabled() || shut_down_ || final_triggered_ || job_failure_ || stopping_) return next;
  int periodic_pending = 0;
  for (const auto& [id, pending] : pending_) periodic_pending += pending.savepoint ? 0 : 1;
  // A minimum pause counts from the end of the last checkpoint, and allows one at a time
  // (as in Flink).
  const bool paused = config_.min_pause.count() > 0 &&
                      (periodic_pending > 0 || now < last_finished_ + config_.min_pause);
  if (now >= next_trigger_ && periodic_pending < config_.max_concurrent && !paused) {
    trigger_locked(Kind::kPeriodic, std::nullopt);
    next_trigger_ = now + config_.interval;
  }
  auto wake = std::max(next_trigger_, last_finished_ + config_.min_pause);
  // A trigger that is due but waits for a checkpoint in flight: look again shortly, not at
  // once (completions do not wake the caller, and a wake-up time in the past made it spin
  // for as long as a checkpoint took).
  if (wake <= now) wake = now + kRecheckWhileBlocked;
  return std::min(next, wake);
}

std::future<std::string> CheckpointCoordinator::trigger_savepoint(bool stop) {
  std::promise<std::string> promise;
  std::future<std::string> future = promise.get_future();
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_ || final_triggered_) {
    promise.set_exception(std::make_exception_ptr(Error("cannot take a savepoint: the job is ending")));
    return future;
  }
  trigger_locked(stop ? Kind::kStopWithSavepoint : Kind::kSavepoint, std::move(promise));
  return future;
}

void CheckpointCoordinator::trigger_locked(Kind kind, std::optional<std::promise<std::string>> done) {
  const bool savepoint = kind == Kind::kSavepoint || kind == Kind::kStopWithSavepoint;
  int64_t id = next_id_++;
  Pending pending;
  pending.id = id;
  pending.savepoint = savepoint;
  pending.stop = kind == Kind::kStopWithSavepoint;
  pending.final = kind == Kind::kFinal;
  // Stop-with-savepoint: nothing after the savepoint may be committed, so no checkpoint
  // follows it (the job is cancelled once it completes).
  if (pending.stop) stopping_ = true;
  pending.started = std::chrono::steady_clock::now();
  pending.timestamp_ms = wall_clock_ms();
  pending.done = std::move(done);
  std::string folder_error;
  try {
    pending.folder = storage_.begin(id, savepoint, pending.timestamp_ms);
  } catch (const std::exception& e) {
    folder_error = std::string("cannot create its folder: ") + e.what();
  }
  Pending& stored = pending_.emplace(id, std::move(pending)).first->second;
  if (!folder_error.empty()) {
    fail_locked(id, folder_error);
    return;
  }
  internal::CheckpointBarrier barrier{id, savepoint};
  for (auto& [node, source] : sources_) {
    try {
      stored.enumerator_splits[node] = source->trigger_checkpoint(barrier);
    } catch (const std::exception& e) {
      fail_locked(id, e.what());
      return;
    }
  }
  try_complete_locked(stored);  // every task may have finished already
}

std::string CheckpointCoordinator::folder_of(int64_t checkpoint_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pending_.find(checkpoint_id);
  return it == pending_.end() ? std::string() : it->second.folder;
}

void CheckpointCoordinator::acknowledge(TaskId task, int64_t checkpoint_id, TaskCheckpointFiles files) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pending_.find(checkpoint_id);
  if (it == pending_.end()) return;  // aborted meanwhile; its folder is gone
  it->second.acks[task] = std::move(files);
  try_complete_locked(it->second);
}

void CheckpointCoordinator::decline(TaskId task, int64_t checkpoint_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.count(checkpoint_id) == 0) return;
  fail_locked(checkpoint_id, "task " + std::to_string(task.vertex) + "/" + std::to_string(task.subtask + 1) +
                                 " declined it: " + reason);
}

void CheckpointCoordinator::task_finished(TaskId task, TaskFinalState state, int64_t last_checkpoint_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_[task] = Finished{std::move(state), last_checkpoint_id};
  std::vector<int64_t> ids;
  for (const auto& [id, pending] : pending_) ids.push_back(id);
  for (int64_t id : ids) {
    auto it = pending_.find(id);
    if (it != pending_.end()) try_complete_locked(it->second);
  }
  maybe_final_checkpoint_locked();
}

void CheckpointCoordinator::maybe_final_checkpoint_locked() {
  if (final_triggered_ || shut_down_ || finished_.size() < tasks_.size() || !config_.enabled()) return;
  final_triggered_ = true;
  // Every task has finished: no barrier can travel any more, and every task's state is
  // its final state. The final checkpoint is made of those alone.
  trigger_locked(Kind::kFinal, std::nullopt);
}

void CheckpointCoordinator::try_complete_locked(Pending& pending) {
  for (const auto& [task, inbox] : tasks_) {
    if (pending.acks.count(task) > 0) continue;
    auto finished = finished_.find(task);
    if (finished == finished_.end() || finished->second.last_checkpoint_id >= pending.id) return;
  }
  const int64_t id = pending.id;
  checkpoint::CheckpointMetadata metadata;
  metadata.checkpoint_id = id;
  metadata.savepoint = pending.savepoint;
  metadata.timestamp_ms = pending.timestamp_ms;
  try {
    std::map<int, size_t> index_of_node;
    for (const CheckpointedOperator& op : operators_) {
      checkpoint::OperatorMetadata meta;
      meta.uid = op.uid;
      meta.name = op.name;
      meta.parallelism = op.parallelism;
      meta.max_parallelism = op.max_parallelism;
      meta.subtasks.resize(static_cast<size_t>(op.parallelism));
      if (op.source) {
        auto it = pending.enumerator_splits.find(op.node_id);
        meta.enumerator_splits = it == pending.enumerator_splits.end() ? std::vector<std::string>() : it->second;
      }
      index_of_node[op.node_id] = metadata.operators.size();
      metadata.operators.push_back(std::move(meta));
    }
    auto place = [&](int node, int subtask, std::optional<checkpoint::StateFileHandle> handle) {
      auto it = index_of_node.find(node);
      if (it == index_of_node.end()) return;
      metadata.operators[it->second].subtasks.at(static_cast<size_t>(subtask)) = std::move(handle);
    };
    for (const auto& [task, inbox] : tasks_) {
      auto ack = pending.acks.find(task);
      if (ack != pending.acks.end()) {
        for (const auto& [node, handle] : ack->second) place(node, task.subtask, handle);
        continue;
      }
      // A finished task: its final state goes into this checkpoint's folder.
      for (const auto& [node, state] : finished_.at(task).state) {
        if (state.empty()) continue;
        std::string file = "op" + std::to_string(node) + "-" + std::to_string(task.subtask) + ".state";
        place(node, task.subtask, storage_.write_state_file(pending.folder, file, state));
      }
    }
    storage_.complete(pending.folder, metadata);
  } catch (const std::exception& e) {
    fail_locked(id, std::string("cannot complete it: ") + e.what());
    return;
  }
  ++stats_.completed;
  if (!pending.savepoint) last_finished_ = std::chrono::steady_clock::now();
  stats_.latest_path = pending.folder;
  stats_.latest_id = id;
  stats_.max_duration = std::max<std::chrono::nanoseconds>(stats_.max_duration,
                                                          std::chrono::steady_clock::now() - pending.started);
  consecutive_failures_ = 0;
  std::optional<std::promise<std::string>> done = std::move(pending.done);
  std::string folder = pending.folder;
  bool final = pending.final;
  bool notify = !pending.savepoint || pending.stop;
  pending_.erase(id);
  // Older pending checkpoints are subsumed.
  std::vector<int64_t> older;
  for (const auto& [other, p] : pending_) {
    if (other < id && !p.savepoint) older.push_back(other);
  }
  for (int64_t other : older) {
    storage_.discard(pending_.at(other).folder);
    pending_.erase(other);
    notify_locked(TaskEvent::Kind::kCheckpointAborted, other, false);
  }
  if (auto& hook = fault_injection().after_complete) {
    try {
      hook(id);
    } catch (const std::exception& e) {
      // As if the process died here: the checkpoint is durable, nobody was told.
      if (!job_failure_) job_failure_ = std::string("failure after checkpoint ") + std::to_string(id) + " completed: " + e.what();
      return;
    }
  }
  if (notify) notify_locked(TaskEvent::Kind::kCheckpointComplete, id, final);
  if (done) done->set_value(folder);
}

void CheckpointCoordinator::fail_locked(int64_t id, const std::string& reason) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  if (!pending.folder.empty()) storage_.discard(pending.folder);
  ++stats_.failed;
  if (!pending.savepoint) last_finished_ = std::chrono::steady_clock::now();
  std::string message = (pending.savepoint ? "savepoint " : "checkpoint ") + std::to_string(id) + " failed: " + reason;
  if (pending.done) pending.done->set_exception(std::make_exception_ptr(Error(message)));
  notify_locked(TaskEvent::Kind::kCheckpointAborted, id, pending.final);
  if (pending.savepoint || shut_down_) return;  // a failed savepoint does not fail the job
  ++consecutive_failures_;
  if (pending.final || consecutive_failures_ > config_.tolerable_failures) {
    if (!job_failure_) {
      job_failure_ = message + (pending.final ? "" : " (" + std::to_string(consecutive_failures_) +
                                                         " in a row; tolerable: " +
                                                         std::to_string(config_.tolerable_failures) + ")");
    }
  } else {
    std::cerr << "eddy: " << message << " (tolerated)\n";
  }
}

void CheckpointCoordinator::notify_locked(TaskEvent::Kind kind, int64_t id, bool final) {
  for (auto& [task, inbox] : tasks_) {
    TaskEvent event;
    event.kind = kind;
    event.checkpoint_id = id;
    event.final = final;
    inbox->post(std::move(event));
  }
}

std::optional<std::string> CheckpointCoordinator::job_failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return job_failure_;
}

CheckpointStats CheckpointCoordinator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CheckpointCoordinator::shutdown() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  shut_down_ = true;
  for (auto& [id, pending] : pending_) {
    if (!pending.folder.empty()) storage_.discard(pending.folder);
    if (pending.done) {
      pending.done->set_exception(std::make_exception_ptr(Error(
          (pending.savepoint ? "savepoint " : "checkpoint ") + std::to_string(id) + " aborted: the job ended")));
    }
  }
  pending_.clear();
}

}  // namespace eddy::runtime
