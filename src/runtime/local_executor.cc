#include "runtime/local_executor.h"

#include <csignal>
#include <map>
#include <thread>
#include <vector>

#include <iostream>

#include "eddy/error.h"
#include "runtime/channel.h"
#include "runtime/checkpoint_coordinator.h"
#include "runtime/fault_injection.h"
#include "runtime/restart_strategy.h"
#include "runtime/snapshot_workers.h"
#include "runtime/source_coordinator.h"
#include "runtime/task.h"

namespace eddy::runtime {

namespace {

std::atomic<int> g_received_signal{0};
std::atomic<int> g_savepoint_signal{0};

extern "C" void on_stop_signal(int signal) { g_received_signal.store(signal); }
extern "C" void on_savepoint_signal(int signal) { g_savepoint_signal.store(signal); }

}  // namespace

// Installs SIGINT/SIGTERM handlers for its lifetime.
class SignalWatch {
 public:
  explicit SignalWatch(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    g_received_signal.store(0);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_int_);
    sigaction(SIGTERM, &action, &previous_term_);
    // SIGUSR1: take a savepoint; SIGUSR2: stop with a savepoint.
    g_savepoint_signal.store(0);
    struct sigaction savepoint {};
    savepoint.sa_handler = on_savepoint_signal;
    sigemptyset(&savepoint.sa_mask);
    sigaction(SIGUSR1, &savepoint, &previous_usr1_);
    sigaction(SIGUSR2, &savepoint, &previous_usr2_);
  }
  ~SignalWatch() {
    if (!enabled_) return;
    sigaction(SIGINT, &previous_int_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
    sigaction(SIGUSR1, &previous_usr1_, nullptr);
    sigaction(SIGUSR2, &previous_usr2_, nullptr);
  }
  bool enabled() const { return enabled_; }
  int received() const { return enabled_ ? g_received_signal.load() : 0; }
  // SIGUSR1 or SIGUSR2 once per signal sent; 0 when none came since the last call.
  int take_savepoint_request() { return enabled_ ? g_savepoint_signal.exchange(0) : 0; }

 private:
  bool enabled_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  struct sigaction previous_usr1_ {};
  struct sigaction previous_usr2_ {};
};

namespace {


// Members are destroyed bottom-up: snapshot workers stop before the coordinator they
// report to, and both before the tasks.
struct Runtime {
  std::atomic<bool> cancelled{false};
  std::vector<std::vector<std::unique_ptr<Task>>> tasks;  // [vertex][subtask]
  std::vector<std::unique_ptr<Channel>> channels;
  std::vector<std::unique_ptr<SourceCoordinator>> coordinators;
  std::map<int, SourceCoordinator*> coordinator_of_source;  // by source node id
  std::unique_ptr<CheckpointCoordinator> checkpoints;
  std::unique_ptr<SnapshotWorkers> workers;
};

// The uid that matches an operator's state on restore: the user's, or one derived from
// the operator's position and name (stable while the job's topology does not change).
std::string uid_of(const graph::StreamNode& node) {
  if (!node.transformation->uid.empty()) return node.transformation->uid;
  return "auto:" + std::to_string(node.id) + ":" + node.name();
}

// The state a run starts from, per stream node, taken from a checkpoint or savepoint.
struct RestoredNode {
  // Every old subtask's keyed state; each new subtask's backend keeps its key groups.
  std::shared_ptr<const std::vector<KeyedStateSnapshot>> keyed;
  // Incremental checkpoints: the old subtasks' keyed state as backend files (their timers
  // are in `keyed`), the shared folder those are in, and the canonical form of the ones
  // read so far (by index), for new subtasks that cannot load them as they are.
  std::vector<IncrementalKeyedSnapshot> incremental;
  std::string shared_folder;
  std::map<size_t, KeyedStateSnapshot> converted;
  std::vector<OperatorStateSnapshot> operator_state;  // per new subtask
  std::optional<std::vector<std::string>> enumerator_splits;
  // The operator state of the old subtasks as it was (sinks clean up by it before a run).
  std::vector<OperatorStateSnapshot> old_operator_state;
  // Unaligned checkpoints: records in flight into each subtask, per input channel (the
  // parallelism is unchanged then).
  std::vector<std::vector<std::string>> in_flight;
};

struct RestoreData {
  int64_t checkpoint_id = 0;
  std::string folder;
  std::map<int, RestoredNode> nodes;  // by stream node id
};

// Reads checkpoint `folder` and assigns its state to the operators of `job` by uid, at
// their current parallelism. Throws Error when the checkpoint is unreadable or does not
// fit the job.
RestoreData load_restore_data(const graph::JobGraph& job, const std::string& folder, bool allow_non_restored) {
  checkpoint::LoadedCheckpoint loaded = checkpoint::load_checkpoint(folder);
  RestoreData data;
  data.checkpoint_id = loaded.metadata.checkpoint_id;
  data.folder = loaded.folder;
  if (auto& hook = fault_injection().before_restore) hook(data.checkpoint_id);
  std::map<std::string, int> node_of_uid;
  for (const graph::StreamNode& node : job.stream.nodes) node_of_uid[uid_of(node)] = node.id;
  for (size_t op = 0; op < loaded.metadata.operators.size(); ++op) {
    const checkpoint::OperatorMetadata& meta = loaded.metadata.operators[op];
    bool has_state = meta.enumerator_splits.has_value();
    for (const auto& handle : meta.subtasks) has_state |= handle.has_value();
    auto match = node_of_uid.find(meta.uid);
    if (match == node_of_uid.end()) {
      if (!has_state || allow_non_restored) continue;
      throw Error("cannot restore " + loaded.folder + ": it has state of operator '" + meta.name + "' (uid '" +
                  meta.uid + "') that no operator of this job has; set the same uid() on it, or allow "
                  "non-restored state (--allow-non-restored-state)");
    }
    const graph::StreamNode& node = job.stream.nodes[static_cast<size_t>(match->second)];
    RestoredNode restored;
    restored.enumerator_splits = meta.enumerator_splits;
    std::vector<OperatorStateSnapshot> old_operator_state;
    auto keyed = std::make_shared<std::vector<KeyedStateSnapshot>>();
    for (int s = 0; s < meta.parallelism; ++s) {
      checkpoint::OperatorSubtaskState state = loaded.read_subtask(op, s);
      if (!state.channel_state.empty() && meta.parallelism != node.parallelism) {
        throw Error("cannot restore " + loaded.folder + ": operator '" + meta.name +
                    "' has records in flight from an unaligned checkpoint, which restores only at the same "
                    "parallelism (" + std::to_string(meta.parallelism) + "); take a savepoint to rescale");
      }
      old_operator_state.push_back(std::move(state.operator_state));
      restored.in_flight.push_back(std::move(state.channel_state));
      if (state.keyed) keyed->push_back(std::move(*state.keyed));
      if (state.incremental) restored.incremental.push_back(std::move(*state.incremental));
    }
    restored.shared_folder = loaded.shared_folder();
    const bool has_keyed = !keyed->empty() || !restored.incremental.empty();
    if (has_keyed && meta.max_parallelism != node.max_parallelism) {
      throw Error("cannot restore " + loaded.folder + ": operator '" + meta.name + "' was checkpointed with max "
                  "parallelism " + std::to_string(meta.max_parallelism) + " and now has " +
                  std::to_string(node.max_parallelism) + "; keyed state moves only between equal key-group counts");
    }
    if (has_keyed && !node.transformation->keyed) {
      throw Error("cannot restore " + loaded.folder + ": operator '" + meta.name +
                  "' has keyed state but is not on a keyed stream in this job");
    }
    restored.operator_state = redistribute_operator_state(old_operator_state, node.parallelism);
    restored.old_operator_state = std::move(old_operator_state);
    if (!keyed->empty()) restored.keyed = std::move(keyed);
    data.nodes[node.id] = std::move(restored);
  }
  return data;
}

// Restores a new subtask's backend from its node's snapshots: an incremental snapshot of
// exactly its key groups is loaded as it is (RocksDB: its files are put in place); every
// other incremental snapshot that overlaps its key groups is read into the canonical form
// (once for all subtasks) and restored with the canonical snapshots.
void restore_keyed_state(KeyedStateBackend& backend, RestoredNode& restored, const StateBackendOptions& options) {
  SharedFileFetcher fetch = [folder = restored.shared_folder](const SharedFileHandle& file,
                                                             const std::string& destination) {
    checkpoint::fetch_shared_file(folder, file, destination);
  };
  std::optional<size_t> loaded;
  for (size_t i = 0; i < restored.incremental.size() && !loaded; ++i) {
    if (backend.can_restore_incremental(restored.incremental[i])) {
      backend.restore_incremental(restored.incremental[i], fetch);  // before any state exists
      loaded = i;
    }
  }
  std::vector<const KeyedStateSnapshot*> snapshots;
  if (restored.keyed != nullptr) {
    for (const KeyedStateSnapshot& snapshot : *restored.keyed) snapshots.push_back(&snapshot);
  }
  const KeyGroupRange& mine = backend.key_groups();
  for (size_t i = 0; i < restored.incremental.size(); ++i) {
    const KeyGroupRange& theirs = restored.incremental[i].key_groups;
    if (loaded == i || theirs.last < mine.first || theirs.first > mine.last) continue;
    auto it = restored.converted.find(i);
    if (it == restored.converted.end()) {
      it = restored.converted.emplace(i, read_incremental_snapshot(restored.incremental[i], options, fetch)).first;
    }
    snapshots.push_back(&it->second);
  }
  backend.restore(snapshots);
  if (restored.keyed != nullptr) backend.keep_restored_snapshots(restored.keyed);
}

size_t chain_position(const graph::JobVertex& vertex, int node) {
  for (size_t i = 0; i < vertex.nodes.size(); ++i) {
    if (vertex.nodes[i] == node) return i;
  }
  return 0;
}

using Writers = std::vector<std::vector<std::vector<internal::ChannelWriter*>>>;  // [edge][producer]

// The output of producer subtask `s` into one edge: a direct call into the next operator
// of the chain, or batches into the edge's channels.
std::unique_ptr<OutputBase> make_edge_output(const graph::JobGraph& job, const ExecutionConfig& config,
                                             const graph::JobVertex& vertex, Task& task, int s,
                                             const graph::StreamEdge& edge, int e, Writers& writers,
                                             uint64_t* counter) {
  const graph::StreamGraph& graph = job.stream;
  const internal::TypeInfo& type = *edge.type;
  if (job.edge_chained[static_cast<size_t>(e)]) {
    size_t target = chain_position(vertex, edge.target);
    return type.make_chained_output(task.op(target), edge.input_index, counter);
  }
  const graph::StreamNode& consumer = graph.nodes[static_cast<size_t>(edge.target)];
  internal::NetworkOutputOptions options;
  options.batch_bytes = config.batch_bytes;
  options.producer_subtask = s;
  options.consumer_max_parallelism = consumer.max_parallelism;
  options.consumer_parallelism = consumer.parallelism;
  internal::NetworkOutputBase* handle = nullptr;
  auto output = type.make_network_output(edge.partition, writers[static_cast<size_t>(e)][static_cast<size_t>(s)],
                                         options, counter, &handle);
  task.add_network_output(handle);
  return output;
}

void build(const graph::JobGraph& job, const ExecutionConfig& config, const Clock& clock,
           RestoreData* restore, Runtime& rt) {
  const graph::StreamGraph& graph = job.stream;
  std::optional<int64_t> restored_id;
  if (restore != nullptr) restored_id = restore->checkpoint_id;
  rt.tasks.resize(job.vertices.size());
  for (const graph::JobVertex& vertex : job.vertices) {
    for (int s = 0; s < vertex.parallelism; ++s) {
      auto task = std::make_unique<Task>(vertex.name, s, vertex.parallelism, config, clock, rt.cancelled);
      for (int node_id : vertex.nodes) {
        const graph::StreamNode& node = graph.nodes[static_cast<size_t>(node_id)];
        RestoredNode* restored = nullptr;
        if (restore != nullptr) {
          auto it = restore->nodes.find(node_id);
          if (it != restore->nodes.end()) restored = &it->second;
        }
        KeyedStateBackend* backend = nullptr;
        if (node.transformation->keyed) {
          backend = &task->add_state_backend(create_keyed_state_backend(
              config.state_backend, KeyGroupRange::for_subtask(node.max_parallelism, node.parallelism, s),
              node.max_parallelism, clock, node.name(), s));
          if (restored != nullptr && (restored->keyed != nullptr || !restored->incremental.empty())) {
            restore_keyed_state(*backend, *restored, config.state_backend);
          }
        }
        auto context = std::make_unique<OperatorRuntimeContext>(node.name(), s, node.parallelism,
                                                                 node.max_parallelism, config, clock, backend,
                                                                 restored_id);
        if (restored != nullptr && !restored->operator_state.empty()) {
          context->operator_state_store()->restore(restored->operator_state[static_cast<size_t>(s)]);
        }
        task->add_operator(node.transformation->create_operator(), std::move(context), node_id);
        if (restored != nullptr && node_id == vertex.nodes.front() &&
            static_cast<size_t>(s) < restored->in_flight.size()) {
          task->set_restored_in_flight(restored->in_flight[static_cast<size_t>(s)]);
        }
      }
      rt.tasks[static_cast<size_t>(vertex.id)].push_back(std::move(task));
    }
  }
  if (restore != nullptr) {
    for (auto& [node, restored] : restore->nodes) restored.converted.clear();  // restored: memory back
  }

  // Channels of every edge between tasks: writers[edge][producer subtask] in consumer order.
  Writers writers(graph.edges.size());
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    if (job.edge_chained[e]) continue;
    const graph::StreamEdge& edge = graph.edges[e];
    const graph::StreamNode& producer = graph.nodes[static_cast<size_t>(edge.source)];
    const graph::StreamNode& consumer = graph.nodes[static_cast<size_t>(edge.target)];
    auto& producer_tasks = rt.tasks[static_cast<size_t>(job.vertex_of_node[static_cast<size_t>(edge.source)])];
    auto& consumer_tasks = rt.tasks[static_cast<size_t>(job.vertex_of_node[static_cast<size_t>(edge.target)])];
    writers[e].resize(static_cast<size_t>(producer.parallelism));
    for (int p = 0; p < producer.parallelism; ++p) {
      graph::SubtaskRange targets{0, consumer.parallelism};
      if (internal::is_pointwise(edge.partition.kind)) {
        targets = graph::pointwise_targets(p, producer.parallelism, consumer.parallelism);
      }
      for (int c = targets.first; c < targets.first + targets.count; ++c) {
        Task& producer_task = *producer_tasks[static_cast<size_t>(p)];
        Task& consumer_task = *consumer_tasks[static_cast<size_t>(c)];
        rt.channels.push_back(std::make_unique<Channel>(config.channel_capacity,
                                                        consumer_task.notifier(),
                                                        producer_task.notifier()));
        Channel& channel = *rt.channels.back();
        writers[e][static_cast<size_t>(p)].push_back(&producer_task.add_channel_writer(channel));
        consumer_task.add_input(channel, edge.type->make_batch_consumer(consumer_task.op(0), edge.input_index));
      }
    }
  }

  // Outputs of every operator: chained calls, network outputs, or a fan-out over both.
  for (const graph::JobVertex& vertex : job.vertices) {
    for (int s = 0; s < vertex.parallelism; ++s) {
      Task& task = *rt.tasks[static_cast<size_t>(vertex.id)][static_cast<size_t>(s)];
      for (size_t i = 0; i < vertex.nodes.size(); ++i) {
        const graph::StreamNode& node = graph.nodes[static_cast<size_t>(vertex.nodes[i])];
        if (node.out_edges.empty()) continue;
        OperatorBase& op = task.op(i);
        uint64_t* counter = &op.metrics().records_out;
        // The edges of each output: "" is the main output, the others are side outputs.
        std::map<std::string, std::vector<int>> edges_of_output;
        for (int e : node.out_edges) edges_of_output[graph.edges[static_cast<size_t>(e)].side_tag].push_back(e);
        auto make_output = [&](const std::vector<int>& edges, uint64_t* output_counter) -> OutputBase* {
          const internal::TypeInfo& type = *graph.edges[static_cast<size_t>(edges.front())].type;
          bool fan_out = edges.size() > 1;
          std::vector<OutputBase*> children;
          for (int e : edges) {
            const graph::StreamEdge& edge = graph.edges[static_cast<size_t>(e)];
            uint64_t* edge_counter = fan_out ? nullptr : output_counter;
            children.push_back(&task.add_output(make_edge_output(job, config, vertex, task, s, edge, e,
                                                                 writers, edge_counter)));
          }
          if (!fan_out) return children.front();
          return &task.add_output(type.make_fan_out(children, output_counter, {}));
        };
        std::vector<OutputBase*> side_outputs;
        for (const auto& [tag, edges] : edges_of_output) {
          if (tag.empty()) continue;
          OutputBase* output = make_output(edges, nullptr);
          op.set_side_output(tag, output);
          side_outputs.push_back(output);
        }
        OutputBase* main = nullptr;
        auto main_edges = edges_of_output.find("");
        if (side_outputs.empty()) {
          main = make_output(main_edges->second, counter);
        } else {
          // Watermarks reach the side outputs' consumers too; records emitted to a main
          // output nobody reads are dropped.
          std::vector<OutputBase*> children;
          if (main_edges != edges_of_output.end()) children.push_back(make_output(main_edges->second, nullptr));
          main = &task.add_output(node.transformation->output_type->make_fan_out(children, counter, side_outputs));
        }
        op.set_output(main);
      }
    }
  }

  // Sources: a coordinator per source vertex, its readers in the vertex's tasks.
  for (const graph::JobVertex& vertex : job.vertices) {
    const graph::StreamNode& head = graph.nodes[static_cast<size_t>(vertex.nodes.front())];
    if (!head.is_source()) continue;
    auto& tasks = rt.tasks[static_cast<size_t>(vertex.id)];
    std::vector<TaskInbox*> inboxes;
    for (auto& task : tasks) inboxes.push_back(&task->inbox());
    std::optional<std::vector<std::string>> restored_splits;
    if (restore != nullptr) {
      auto it = restore->nodes.find(head.id);
      if (it != restore->nodes.end()) restored_splits = it->second.enumerator_splits;
    }
    rt.coordinators.push_back(std::make_unique<SourceCoordinator>(*head.transformation->source, head.name(),
                                                                  inboxes, std::move(restored_splits)));
    rt.coordinator_of_source[head.id] = rt.coordinators.back().get();
    for (auto& task : tasks) {
      task->set_source(static_cast<internal::SourceOperatorBase&>(task->op(0)), *rt.coordinators.back());
    }
  }
}

// Wires the checkpoint coordinator and the tasks' part in checkpoints.
void setup_checkpointing(const graph::JobGraph& job, const ExecutionConfig& config,
                         checkpoint::CheckpointStorage& storage, int64_t first_id, Runtime& rt) {
  std::vector<CheckpointedOperator> operators;
  for (const graph::StreamNode& node : job.stream.nodes) {
    operators.push_back(CheckpointedOperator{node.id, uid_of(node), node.name(), node.parallelism,
                                             node.max_parallelism, node.is_source()});
  }
  std::map<TaskId, TaskInbox*> inboxes;
  for (const graph::JobVertex& vertex : job.vertices) {
    for (int s = 0; s < vertex.parallelism; ++s) {
      inboxes[TaskId{vertex.id, s}] = &rt.tasks[static_cast<size_t>(vertex.id)][static_cast<size_t>(s)]->inbox();
    }
  }
  rt.checkpoints = std::make_unique<CheckpointCoordinator>(config.checkpoints, storage, std::move(operators),
                                                           rt.coordinator_of_source, std::move(inboxes), first_id);
  rt.workers = std::make_unique<SnapshotWorkers>(2);
  for (const graph::JobVertex& vertex : job.vertices) {
    for (int s = 0; s < vertex.parallelism; ++s) {
      TaskCheckpointing cp;
      cp.coordinator = rt.checkpoints.get();
      cp.storage = &storage;
      cp.workers = rt.workers.get();
      cp.id = TaskId{vertex.id, s};
      cp.final_checkpoint = config.checkpoints.enabled();
      cp.mode = config.checkpoints.mode;
      rt.tasks[static_cast<size_t>(vertex.id)][static_cast<size_t>(s)]->set_checkpointing(cp);
    }
  }
}

int watch_signals_interval(const SignalWatch& signals) { return signals.enabled() ? 100 : 1000; }

}  // namespace

void JobControl::request_cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_requested_.store(true, std::memory_order_release);
  }
  changed_.notify_all();
}

std::future<std::string> JobControl::trigger_savepoint(bool stop) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (coordinator_ == nullptr) {
    std::promise<std::string> failed;
    failed.set_exception(std::make_exception_ptr(
        Error("cannot take a savepoint: the job is not running, or has no checkpoint directory (--checkpoint-dir)")));
    return failed.get_future();
  }
  std::future<std::string> future = coordinator_->trigger_savepoint(stop);
  if (!stop) return future;
  std::shared_future<std::string> shared = future.share();
  stop_after_ = shared;
  std::promise<std::string> relay;
  std::future<std::string> result = relay.get_future();
  std::thread([shared, relay = std::move(relay)]() mutable {
    try {
      relay.set_value(shared.get());
    } catch (...) {
      relay.set_exception(std::current_exception());
    }
  }).detach();
  return result;
}

struct LocalExecutor::Attempt {
  bool failed = false;     // a task or the checkpoints failed: the restart strategy decides
  bool cancelled = false;  // by the user, a signal or stop-with-savepoint
  // The checkpoint to restore is corrupt: restarting would only fail the same way.
  bool unrecoverable = false;
};

JobResult LocalExecutor::run(const std::string& job_name, JobControl& control, bool watch_signals) {
  auto started = std::chrono::steady_clock::now();
  JobResult result;
  result.job_name = job_name;
  const CheckpointConfig& checkpoints = config_.checkpoints;
  if (checkpoints.enabled() && checkpoints.directory.empty()) {
    throw InvalidJobError("checkpointing is enabled but no checkpoint directory is set: pass --checkpoint-dir DIR "
                          "(or set config().checkpoints.directory)");
  }
  if (config_.restore.path == "latest" && checkpoints.directory.empty()) {
    throw InvalidJobError("--restore latest needs the checkpoint directory to look in: pass --checkpoint-dir DIR");
  }
  SignalWatch signals(watch_signals);
  RestartStrategy restart(config_.restart);
  std::unique_ptr<checkpoint::CheckpointStorage> storage;
  std::string restore_folder;
  try {
    if (!checkpoints.directory.empty()) {
      storage = std::make_unique<checkpoint::CheckpointStorage>(checkpoints.directory, checkpoints.retained);
    }
    if (config_.restore.path == "latest") {
      if (auto latest = storage->latest_completed()) {
        restore_folder = *latest;
      } else {
        std::cerr << "eddy: no completed checkpoint in " << checkpoints.directory << ": starting from the beginning\n";
      }
    } else {
      restore_folder = config_.restore.path;
    }
  } catch (const std::exception& e) {
    result.status = JobStatus::kFailed;
    result.error = e.what();
    result.wall_time = std::chrono::steady_clock::now() - started;
    return result;
  }

  while (true) {
    Attempt attempt = run_attempt(control, signals, storage.get(), restore_folder, result);
    if (!attempt.failed || attempt.cancelled || attempt.unrecoverable) break;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count();
    std::optional<std::chrono::milliseconds> delay = restart.on_failure(now_ms);
    if (!delay) {
      if (config_.restart.kind != RestartStrategyConfig::Kind::kNone) {
        result.error += " (" + restart.give_up_reason() + ")";
      }
      break;
    }
    ++result.restarts;
    std::cerr << "eddy: " << result.error << "\neddy: restart " << result.restarts << " in " << delay->count()
              << " ms (" << restart.describe() << ")\n";
    {
      std::unique_lock<std::mutex> lock(control.mutex_);
      control.changed_.wait_for(lock, *delay, [&] { return control.cancel_requested() || signals.received() != 0; });
    }
    if (control.cancel_requested() || signals.received() != 0) {
      result.status = JobStatus::kCancelled;
      result.error.clear();
      break;
    }
    try {
      if (storage != nullptr) {
        if (auto latest = storage->latest_completed()) restore_folder = *latest;
      }
    } catch (const std::exception& e) {
      result.error = e.what();
      break;
    }
  }
  result.wall_time = std::chrono::steady_clock::now() - started;
  return result;
}

LocalExecutor::Attempt LocalExecutor::run_attempt(JobControl& control, SignalWatch& signals,
                                                  checkpoint::CheckpointStorage* storage,
                                                  const std::string& restore_folder, JobResult& result) {
  Attempt attempt;
  result.status = JobStatus::kFinished;
  result.error.clear();
  result.failed_operator.clear();
  result.failed_subtask = -1;
  result.operators.clear();

  Runtime rt;
  try {
    std::optional<RestoreData> restore;
    if (!restore_folder.empty()) {
      restore = load_restore_data(job_, restore_folder, config_.restore.allow_non_restored_state);
      result.restored_from = restore->folder;
    }
    // Sinks clean up what failed runs left, before any of their subtasks starts.
    static const std::vector<OperatorStateSnapshot> kFreshStart;
    for (const graph::StreamNode& node : job_.stream.nodes) {
      if (!node.transformation->prepare_run) continue;
      const std::vector<OperatorStateSnapshot>* old = &kFreshStart;
      if (restore) {
        auto it = restore->nodes.find(node.id);
        if (it != restore->nodes.end()) old = &it->second.old_operator_state;
      }
      node.transformation->prepare_run(*old);
    }
    build(job_, config_, clock_, restore ? &*restore : nullptr, rt);
    if (storage != nullptr) {
      int64_t first_id = std::max(storage->max_checkpoint_id(), restore ? restore->checkpoint_id : 0) + 1;
      setup_checkpointing(job_, config_, *storage, first_id, rt);
    }
    for (auto& coordinator : rt.coordinators) coordinator->start();
  } catch (const checkpoint::CorruptCheckpointError& e) {
    result.status = JobStatus::kFailed;
    result.error = e.what();
    attempt.failed = true;
    attempt.unrecoverable = true;
    return attempt;
  } catch (const std::exception& e) {
    result.status = JobStatus::kFailed;
    result.error = e.what();
    attempt.failed = true;
    return attempt;
  }
  if (rt.checkpoints != nullptr) {
    std::lock_guard<std::mutex> lock(control.mutex_);
    control.coordinator_ = rt.checkpoints.get();
  }

  int running = 0;  // guarded by control.mutex_ once the first thread starts
  for (auto& vertex_tasks : rt.tasks) running += static_cast<int>(vertex_tasks.size());
  std::vector<std::thread> threads;
  for (auto& vertex_tasks : rt.tasks) {
    for (auto& task : vertex_tasks) {
      Task* t = task.get();
      threads.emplace_back([t, &control, &running] {
        t->run();
        {
          std::lock_guard<std::mutex> lock(control.mutex_);
          --running;
        }
        control.changed_.notify_all();
      });
    }
  }

  auto cancel_all = [&rt] {
    if (rt.cancelled.exchange(true)) return;
    for (auto& vertex_tasks : rt.tasks) {
      for (auto& task : vertex_tasks) task->notifier().notify();
    }
  };

  bool cancelled_by_user = false;
  int signal_received = 0;
  std::optional<std::string> checkpoint_failure;
  {
    std::unique_lock<std::mutex> lock(control.mutex_);
    while (running > 0) {
      bool any_failed = false;
      for (auto& vertex_tasks : rt.tasks) {
        for (auto& task : vertex_tasks) any_failed |= task->outcome() == TaskOutcome::kFailed;
      }
      if (rt.checkpoints != nullptr && !checkpoint_failure) checkpoint_failure = rt.checkpoints->job_failure();
      bool stopped_with_savepoint = false;
      if (control.stop_after_ && control.stop_after_->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        try {
          result.savepoint_path = control.stop_after_->get();
          stopped_with_savepoint = true;
        } catch (const std::exception& e) {
          std::cerr << "eddy: stop-with-savepoint failed, the job goes on: " << e.what() << "\n";
        }
        control.stop_after_.reset();
      }
      if (!rt.cancelled && (any_failed || checkpoint_failure || stopped_with_savepoint || control.cancel_requested() ||
                            signals.received() != 0)) {
        cancelled_by_user = !any_failed && !checkpoint_failure;
        signal_received = signals.received();
        lock.unlock();
        cancel_all();
        lock.lock();
        continue;
      }
      auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(watch_signals_interval(signals));
      if (rt.checkpoints != nullptr && !rt.cancelled) {
        if (int request = signals.take_savepoint_request()) {
          lock.unlock();
          auto future = control.trigger_savepoint(request == SIGUSR2);
          std::thread([future = std::move(future)]() mutable {
            try {
              std::cerr << "eddy: savepoint complete: " << future.get() << "\n";
            } catch (const std::exception& e) {
              std::cerr << "eddy: savepoint failed: " << e.what() << "\n";
            }
          }).detach();
          lock.lock();
          continue;
        }
        lock.unlock();
        wake = std::min(wake, rt.checkpoints->poll(std::chrono::steady_clock::now()));
        lock.lock();
        if (running == 0) break;
      }
      // Tasks report by notifying; signals are polled, since a handler cannot notify.
      control.changed_.wait_until(lock, wake);
    }
    control.coordinator_ = nullptr;
    control.stop_after_.reset();
  }
  for (auto& thread : threads) thread.join();
  if (rt.checkpoints != nullptr) {
    rt.checkpoints->shutdown();
    CheckpointStats stats = rt.checkpoints->stats();
    result.checkpoints_completed += stats.completed;
    result.checkpoints_failed += stats.failed;
    if (!stats.latest_path.empty()) result.latest_checkpoint = stats.latest_path;
    result.max_checkpoint_duration = std::max(result.max_checkpoint_duration, stats.max_duration);
  }
  for (auto& vertex_tasks : rt.tasks) {
    for (auto& task : vertex_tasks) {
      result.max_checkpoint_sync_pause = std::max(result.max_checkpoint_sync_pause, task->max_sync_pause());
    }
  }

  // The first failure is the cause; tasks cancelled because of it are not reported.
  result.status = cancelled_by_user ? JobStatus::kCancelled : JobStatus::kFinished;
  attempt.cancelled = cancelled_by_user;
  if (checkpoint_failure) {
    result.status = JobStatus::kFailed;
    result.error = *checkpoint_failure;
  }
  for (auto& vertex_tasks : rt.tasks) {
    for (auto& task : vertex_tasks) {
      if (task->outcome() != TaskOutcome::kFailed || result.status == JobStatus::kFailed) continue;
      result.status = JobStatus::kFailed;
      try {
        std::rethrow_exception(task->failure());
      } catch (const TaskFailure& failure) {
        result.error = failure.what();
        result.failed_operator = failure.operator_name();
        result.failed_subtask = failure.subtask_index();
      } catch (const std::exception& e) {
        result.error = "task '" + task->name() + "' (subtask " + std::to_string(task->subtask() + 1) +
                       ") failed: " + e.what();
        result.failed_operator = task->name();
        result.failed_subtask = task->subtask();
      }
    }
  }
  attempt.failed = result.status == JobStatus::kFailed;
  if (signal_received != 0 && result.status == JobStatus::kCancelled) {
    result.error = std::string("cancelled by signal ") + (signal_received == SIGINT ? "SIGINT" : "SIGTERM");
  }

  const graph::StreamGraph& graph = job_.stream;
  for (const graph::StreamNode& node : graph.nodes) {
    OperatorStats stats;
    stats.name = node.name();
    stats.uid = node.transformation->uid;
    stats.parallelism = node.parallelism;
    const graph::JobVertex& vertex = job_.vertices[static_cast<size_t>(job_.vertex_of_node[static_cast<size_t>(node.id)])];
    size_t position = chain_position(vertex, node.id);
    for (auto& task : rt.tasks[static_cast<size_t>(vertex.id)]) {
      stats.records_in += task->op(position).metrics().records_in;
      stats.records_out += task->op(position).metrics().records_out;
      stats.records_dropped_late += task->op(position).metrics().records_dropped_late;
    }
    result.operators.push_back(std::move(stats));
  }
  for (const auto& channel : rt.channels) {
    result.peak_channel_batches = std::max(result.peak_channel_batches, channel->peak_size());
  }
  return attempt;
}

}  // namespace eddy::runtime
