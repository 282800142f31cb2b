#include <string>

#include "graph/job_graph.h"

namespace eddy::graph {

std::string explain(const JobGraph& job) {
  const StreamGraph& graph = job.stream;
  std::string out = "Job graph: " + std::to_string(job.vertices.size()) + " task" +
                    (job.vertices.size() == 1 ? "" : "s") + ", " +
                    std::to_string(graph.nodes.size()) + " operators\n";
  for (const JobVertex& vertex : job.vertices) {
    out += "Task " + std::to_string(vertex.id + 1) + " [parallelism " +
           std::to_string(vertex.parallelism) + "]: " + vertex.name + "\n";
    for (int member : vertex.nodes) {
      const StreamNode& node = graph.nodes[static_cast<size_t>(member)];
      for (int e : node.out_edges) {
        const StreamEdge& edge = graph.edges[static_cast<size_t>(e)];
        const StreamNode& target = graph.nodes[static_cast<size_t>(edge.target)];
        std::string side = edge.side_tag.empty() ? "" : " [side output '" + edge.side_tag + "']";
        if (job.edge_chained[static_cast<size_t>(e)]) {
          if (!side.empty()) out += "  " + node.name() + side + " -> " + target.name() + " (chained)\n";
          continue;
        }
        // Which input of a two-input operator (connect(), joins) the edge feeds.
        std::string input = target.transformation->inputs_by_position
                                ? " input " + std::to_string(edge.input_index + 1)
                                : "";
        int target_vertex = job.vertex_of_node[static_cast<size_t>(edge.target)];
        out += "  " + node.name() + side + " --" + internal::partition_kind_name(edge.partition.kind) +
               "--> Task " + std::to_string(target_vertex + 1) + " (" + target.name() + input + ")\n";
      }
    }
  }
  return out;
}

}  // namespace eddy::graph

namespace eddy::internal {

const char* partition_kind_name(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kDefault:
      return "DEFAULT";
    case PartitionKind::kForward:
      return "FORWARD";
    case PartitionKind::kRebalance:
      return "REBALANCE";
    case PartitionKind::kRescale:
      return "RESCALE";
    case PartitionKind::kShuffle:
      return "SHUFFLE";
    case PartitionKind::kBroadcast:
      return "BROADCAST";
    case PartitionKind::kHash:
      return "HASH";
    case PartitionKind::kCustom:
      return "CUSTOM";
  }
  return "UNKNOWN";
}

}  // namespace eddy::internal
