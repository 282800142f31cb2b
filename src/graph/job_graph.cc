#include <utility>

#include "graph/job_graph.h"

namespace eddy::graph {

namespace {

using internal::ChainingStrategy;
using internal::PartitionKind;

bool is_chainable(const StreamGraph& graph, const StreamEdge& edge) {
  const StreamNode& source = graph.nodes[static_cast<size_t>(edge.source)];
  const StreamNode& target = graph.nodes[static_cast<size_t>(edge.target)];
  if (target.in_edges.size() != 1 || target.is_source()) return false;
  if (source.parallelism != target.parallelism) return false;
  if (source.transformation->chaining == ChainingStrategy::kNever) return false;
  if (target.transformation->chaining != ChainingStrategy::kAlways) return false;
  PartitionKind kind = edge.partition.kind;
  if (kind == PartitionKind::kForward) return true;
  // With one subtask on each side, a keyed exchange has one possible destination.
  return kind == PartitionKind::kHash && source.parallelism == 1;
}

}  // namespace

JobGraph build_job_graph(StreamGraph stream) {
  JobGraph job;
  job.stream = std::move(stream);
  const StreamGraph& graph = job.stream;
  job.edge_chained.resize(graph.edges.size());
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    job.edge_chained[e] = is_chainable(graph, graph.edges[e]);
  }
  job.vertex_of_node.assign(graph.nodes.size(), -1);

  // Nodes are in topological order, so heads come in topological order too, and every
  // chained node follows its (single) chained input.
  for (const StreamNode& node : graph.nodes) {
    bool is_head = node.in_edges.empty() || !job.edge_chained[static_cast<size_t>(node.in_edges[0])];
    if (!is_head) continue;
    JobVertex vertex;
    vertex.id = static_cast<int>(job.vertices.size());
    vertex.parallelism = node.parallelism;
    vertex.nodes.push_back(node.id);
    for (size_t i = 0; i < vertex.nodes.size(); ++i) {
      const StreamNode& member = graph.nodes[static_cast<size_t>(vertex.nodes[i])];
      for (int e : member.out_edges) {
        if (job.edge_chained[static_cast<size_t>(e)]) {
          vertex.nodes.push_back(graph.edges[static_cast<size_t>(e)].target);
        }
      }
    }
    for (int member : vertex.nodes) {
      job.vertex_of_node[static_cast<size_t>(member)] = vertex.id;
      if (!vertex.name.empty()) vertex.name += " -> ";
      vertex.name += graph.nodes[static_cast<size_t>(member)].name();
    }
    job.vertices.push_back(std::move(vertex));
  }
  return job;
}

SubtaskRange pointwise_targets(int producer, int producer_parallelism, int consumer_parallelism) {
  if (producer_parallelism <= consumer_parallelism) {
    int64_t first = static_cast<int64_t>(producer) * consumer_parallelism / producer_parallelism;
    int64_t end = static_cast<int64_t>(producer + 1) * consumer_parallelism / producer_parallelism;
    return {static_cast<int>(first), static_cast<int>(end - first)};
  }
  return {static_cast<int>(static_cast<int64_t>(producer) * consumer_parallelism / producer_parallelism), 1};
}

}  // namespace eddy::graph
