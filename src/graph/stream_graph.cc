#include <map>
#include <set>
#include <string>
#include <utility>

#include "eddy/error.h"
#include "graph/job_graph.h"

namespace eddy::graph {

namespace {

using internal::PartitionKind;
using internal::PartitionSpec;
using internal::Pipeline;
using internal::Transformation;

struct ResolvedInput {
  int transformation_id;
  PartitionSpec partition;
  std::string side_tag;
  std::shared_ptr<const internal::TypeInfo> type;
};

// The physical producers behind a transformation, each with the partitioning closest to
// the consumer (an outer partitioning call wins over an inner one, as in Flink) and the
// side output it reads, if any.
void resolve_input(const Pipeline& pipeline, int id, const PartitionSpec& outer, const ResolvedInput* side,
                   std::vector<ResolvedInput>& out) {
  const Transformation& t = *pipeline.transformations.at(static_cast<size_t>(id));
  if (t.kind == Transformation::Kind::kUnion) {
    for (int input : t.inputs) resolve_input(pipeline, input, outer, side, out);
  } else if (t.kind == Transformation::Kind::kPartition) {
    resolve_input(pipeline, t.inputs.at(0),
                  outer.kind == PartitionKind::kDefault ? t.partition : outer, side, out);
  } else if (t.kind == Transformation::Kind::kSideOutput) {
    ResolvedInput tag{0, {}, t.side_tag, t.output_type};
    resolve_input(pipeline, t.inputs.at(0), outer, &tag, out);
  } else {
    if (side != nullptr) {
      out.push_back({id, outer, side->side_tag, side->type});
    } else {
      out.push_back({id, outer, "", t.output_type});
    }
  }
}

std::string quoted(const std::string& name) { return "'" + name + "'"; }

}  // namespace

StreamGraph build_stream_graph(const Pipeline& pipeline) {
  const ExecutionConfig& config = pipeline.config;
  StreamGraph graph;
  std::map<int, int> node_of_transformation;
  std::set<std::string> uids;
  bool has_sink = false;

  for (const auto& owned : pipeline.transformations) {
    const Transformation& t = *owned;
    if (t.is_virtual()) continue;
    StreamNode node;
    node.id = static_cast<int>(graph.nodes.size());
    node.transformation = &t;
    node.max_parallelism = t.max_parallelism > 0 ? t.max_parallelism : config.max_parallelism;
    node.parallelism = t.parallelism > 0 ? t.parallelism : config.parallelism;
    if (t.kind == Transformation::Kind::kSource && t.parallelism == 0) {
      auto max = t.source->max_source_parallelism();
      if (max && node.parallelism > *max) node.parallelism = *max;
    }
    if (node.parallelism > node.max_parallelism) {
      throw InvalidJobError("operator " + quoted(t.name) + " has parallelism " +
                            std::to_string(node.parallelism) + ", above its max parallelism " +
                            std::to_string(node.max_parallelism) +
                            ": lower the parallelism or raise the max parallelism");
    }
    if (!t.uid.empty() && !uids.insert(t.uid).second) {
      throw InvalidJobError("uid '" + t.uid + "' is used by more than one operator (" +
                            quoted(t.name) + " is one): uids must be unique within a job");
    }
    if (t.kind == Transformation::Kind::kSink) has_sink = true;
    node_of_transformation[t.id] = node.id;
    graph.nodes.push_back(node);
  }
  if (graph.nodes.empty()) {
    throw InvalidJobError("the job is empty: add a source, e.g. env.from_source(...)");
  }
  if (!has_sink) {
    throw InvalidJobError(
        "the job has no sink, so its results would go nowhere: add one with sink_to() or print()");
  }

  for (StreamNode& node : graph.nodes) {
    const Transformation& t = *node.transformation;
    if (t.kind != Transformation::Kind::kSource && t.inputs.empty()) {
      throw InvalidJobError("operator " + quoted(t.name) + " has no input");
    }
    std::vector<ResolvedInput> inputs;
    std::vector<int> input_indexes;
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      resolve_input(pipeline, t.inputs[i], PartitionSpec{}, nullptr, inputs);
      input_indexes.resize(inputs.size(), t.inputs_by_position ? static_cast<int>(i) : 0);
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      ResolvedInput& input = inputs[i];
      StreamEdge edge;
      edge.source = node_of_transformation.at(input.transformation_id);
      edge.target = node.id;
      edge.input_index = input_indexes[i];
      edge.partition = std::move(input.partition);
      edge.side_tag = std::move(input.side_tag);
      edge.type = std::move(input.type);
      const StreamNode& source = graph.nodes[static_cast<size_t>(edge.source)];
      PartitionKind& kind = edge.partition.kind;
      if (kind == PartitionKind::kDefault) {
        kind = source.parallelism == node.parallelism ? PartitionKind::kForward
                                                      : PartitionKind::kRebalance;
      }
      if (kind == PartitionKind::kForward && source.parallelism != node.parallelism) {
        throw InvalidJobError(
            "forward partitioning does not allow a change of parallelism: " + quoted(source.name()) +
            " has parallelism " + std::to_string(source.parallelism) + " and " + quoted(t.name) +
            " has " + std::to_string(node.parallelism) +
            "; use rebalance(), rescale(), shuffle() or broadcast() instead");
      }
      int edge_index = static_cast<int>(graph.edges.size());
      graph.edges.push_back(std::move(edge));
      node.in_edges.push_back(edge_index);
      graph.nodes[static_cast<size_t>(graph.edges.back().source)].out_edges.push_back(edge_index);
    }
  }

  for (const StreamNode& node : graph.nodes) {
    std::map<std::string, int> consumers;  // per output (main or side)
    for (int e : node.out_edges) ++consumers[graph.edges[static_cast<size_t>(e)].side_tag];
    for (int e : node.out_edges) {
      const StreamEdge& edge = graph.edges[static_cast<size_t>(e)];
      bool copies = consumers[edge.side_tag] > 1 || edge.partition.kind == PartitionKind::kBroadcast;
      if (copies && !edge.type->copyable()) {
        throw InvalidJobError("operator " + quoted(node.name()) + " emits " + edge.type->name() +
                              ", which cannot be copied, to more than one consumer");
      }
    }
  }
  return graph;
}

}  // namespace eddy::graph
