#include "runtime/local_executor.h"

#include <csignal>
#include <map>
#include <thread>
#include <vector>

#include "eddy/error.h"
#include "runtime/channel.h"
#include "runtime/source_coordinator.h"
#include "runtime/task.h"

namespace eddy::runtime {

namespace {

std::atomic<int> g_received_signal{0};

extern "C" void on_stop_signal(int signal) { g_received_signal.store(signal); }

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
  }
  ~SignalWatch() {
    if (!enabled_) return;
    sigaction(SIGINT, &previous_int_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
  }
  int received() const { return enabled_ ? g_received_signal.load() : 0; }

 private:
  bool enabled_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

struct Runtime {
  std::atomic<bool> cancelled{false};
  std::vector<std::vector<std::unique_ptr<Task>>> tasks;  // [vertex][subtask]
  std::vector<std::unique_ptr<Channel>> channels;
  std::vector<std::unique_ptr<SourceCoordinator>> coordinators;
};

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
           Runtime& rt) {
  const graph::StreamGraph& graph = job.stream;
  rt.tasks.resize(job.vertices.size());
  for (const graph::JobVertex& vertex : job.vertices) {
    for (int s = 0; s < vertex.parallelism; ++s) {
      auto task = std::make_unique<Task>(vertex.name, s, vertex.parallelism, config, clock, rt.cancelled);
      for (int node_id : vertex.nodes) {
        const graph::StreamNode& node = graph.nodes[static_cast<size_t>(node_id)];
        KeyedStateBackend* backend = nullptr;
        if (node.transformation->keyed) {
          backend = &task->add_state_backend(create_keyed_state_backend(
              config.state_backend, KeyGroupRange::for_subtask(node.max_parallelism, node.parallelism, s),
              node.max_parallelism, clock, node.name(), s));
        }
        task->add_operator(node.transformation->create_operator(),
                           std::make_unique<OperatorRuntimeContext>(node.name(), s, node.parallelism,
                                                                    node.max_parallelism, config, clock,
                                                                    backend));
      }
      rt.tasks[static_cast<size_t>(vertex.id)].push_back(std::move(task));
    }
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
    std::vector<SplitInbox*> inboxes;
    for (auto& task : tasks) inboxes.push_back(&task->split_inbox());
    rt.coordinators.push_back(std::make_unique<SourceCoordinator>(*head.transformation->source, inboxes));
    for (auto& task : tasks) {
      task->set_source(static_cast<internal::SourceOperatorBase&>(task->op(0)), *rt.coordinators.back());
    }
  }
}

}  // namespace

void JobControl::request_cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_requested_.store(true, std::memory_order_release);
  }
  changed_.notify_all();
}

JobResult LocalExecutor::run(const std::string& job_name, JobControl& control, bool watch_signals) {
  auto started = std::chrono::steady_clock::now();
  JobResult result;
  result.job_name = job_name;

  Runtime rt;
  build(job_, config_, clock_, rt);
  for (auto& coordinator : rt.coordinators) coordinator->start();

  SignalWatch signals(watch_signals);
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
  {
    std::unique_lock<std::mutex> lock(control.mutex_);
    while (running > 0) {
      bool any_failed = false;
      for (auto& vertex_tasks : rt.tasks) {
        for (auto& task : vertex_tasks) any_failed |= task->outcome() == TaskOutcome::kFailed;
      }
      if (!rt.cancelled && (any_failed || control.cancel_requested() || signals.received() != 0)) {
        cancelled_by_user = !any_failed;
        signal_received = signals.received();
        lock.unlock();
        cancel_all();
        lock.lock();
        continue;
      }
      // Tasks report by notifying; signals are polled, since a handler cannot notify.
      control.changed_.wait_for(lock, std::chrono::milliseconds(watch_signals ? 100 : 1000));
    }
  }
  for (auto& thread : threads) thread.join();

  // The first failure is the cause; tasks cancelled because of it are not reported.
  result.status = cancelled_by_user ? JobStatus::kCancelled : JobStatus::kFinished;
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
  result.wall_time = std::chrono::steady_clock::now() - started;
  return result;
}

}  // namespace eddy::runtime
