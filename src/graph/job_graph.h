// The planner: transformations -> stream graph -> job graph.
//
// The stream graph has one node per physical operator (source, operator, sink); virtual
// transformations (union, partitioning) become edge properties. The job graph groups
// nodes into chains: a chain runs as one task per parallel instance, its operators
// calling each other directly. An edge is chained when its target has that one input, both
// ends have the same parallelism, records go forward (or by key with parallelism 1 on
// both sides, where hashing cannot change the destination), and neither end forbids it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eddy/config.h"
#include "eddy/internal/transformation.h"

namespace eddy::graph {

struct StreamNode {
  int id = 0;
  const internal::Transformation* transformation = nullptr;
  int parallelism = 1;
  int max_parallelism = kDefaultMaxParallelism;
  std::vector<int> in_edges;   // indexes into StreamGraph::edges, in input order
  std::vector<int> out_edges;  // indexes into StreamGraph::edges

  const std::string& name() const { return transformation->name; }
  bool is_source() const { return transformation->kind == internal::Transformation::Kind::kSource; }
  bool is_sink() const { return transformation->kind == internal::Transformation::Kind::kSink; }
};

struct StreamEdge {
  int source = 0;  // node id
  int target = 0;  // node id
  int input_index = 0;
  internal::PartitionSpec partition;  // kind is resolved: never kDefault
  std::string side_tag;               // empty: the producer's main output
  std::shared_ptr<const internal::TypeInfo> type;  // of the records on this edge
};

struct StreamGraph {
  std::vector<StreamNode> nodes;  // node id = index
  std::vector<StreamEdge> edges;
};

// Resolves virtual transformations, parallelism and partitioning, and validates the job.
// Throws InvalidJobError naming the offending operator.
StreamGraph build_stream_graph(const internal::Pipeline& pipeline);

struct JobVertex {
  int id = 0;
  std::vector<int> nodes;  // head first, then the chained nodes in topological order
  int parallelism = 1;
  std::string name;  // "A -> B -> C"
};

struct JobGraph {
  StreamGraph stream;
  std::vector<JobVertex> vertices;  // in topological order
  std::vector<int> vertex_of_node;
  std::vector<bool> edge_chained;  // per stream edge
};

JobGraph build_job_graph(StreamGraph stream);

// Human-readable plan, printed by StreamEnvironment::explain().
std::string explain(const JobGraph& job);

// Which consumer subtasks producer subtask `producer` of a pointwise edge sends to.
struct SubtaskRange {
  int first = 0;
  int count = 0;
};
SubtaskRange pointwise_targets(int producer, int producer_parallelism, int consumer_parallelism);

}  // namespace eddy::graph
