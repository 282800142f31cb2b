// Not API: what the DataStream API records. Each call adds a Transformation; the planner
// (src/graph) turns them into a job graph and the runtime into running tasks.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eddy/args.h"
#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/operator.h"
#include "eddy/source.h"
#include "eddy/internal/partitioning.h"
#include "eddy/internal/type_info.h"

namespace eddy {
struct OperatorStateSnapshot;
}  // namespace eddy

namespace eddy::internal {

enum class ChainingStrategy {
  kAlways,  // chain with the upstream and the downstream operators where possible
  kHead,    // start a new chain here (start_new_chain())
  kNever,   // never chain (disable_chaining())
};

struct Transformation {
  enum class Kind {
    kSource,     // has `source`; `create_operator` makes its SourceOperator
    kOperator,   // one input
    kSink,       // one input, no output
    kUnion,      // virtual: merges its inputs
    kPartition,  // virtual: sets how records reach the next operator
    kSideOutput,  // virtual: the records its input emits into side output `side_tag`
  };

  int id = 0;
  Kind kind = Kind::kOperator;
  std::string name;
  std::string uid;
  int parallelism = 0;      // 0: the job's default
  int max_parallelism = 0;  // 0: the job's
  std::vector<int> inputs;  // ids of the input transformations
  std::shared_ptr<const TypeInfo> output_type;  // null for sinks
  std::function<std::unique_ptr<OperatorBase>()> create_operator;  // one per subtask
  std::shared_ptr<const SourceBase> source;
  // kSink: Sink::prepare_run, called once per run before the sink's subtasks start, with
  // the operator state its subtasks had in the checkpoint restored (empty: a fresh start).
  std::function<void(const std::vector<OperatorStateSnapshot>&)> prepare_run;
  PartitionSpec partition;  // kPartition only
  ChainingStrategy chaining = ChainingStrategy::kAlways;
  bool keyed = false;  // runs on a keyed stream: gets a keyed state backend per subtask
  // inputs[i] feeds operator input i (two-input operators); otherwise all feed input 0.
  bool inputs_by_position = false;
  std::string side_tag;  // kSideOutput only

  bool is_virtual() const {
    return kind == Kind::kUnion || kind == Kind::kPartition || kind == Kind::kSideOutput;
  }
};

// Everything a StreamEnvironment owns; DataStreams point here, so it never moves.
struct Pipeline {
  ExecutionConfig config;
  Args args;
  std::shared_ptr<const Clock> clock;
  std::vector<std::unique_ptr<Transformation>> transformations;

  Transformation& add(Transformation::Kind kind, std::string name) {
    auto t = std::make_unique<Transformation>();
    t->id = static_cast<int>(transformations.size());
    t->kind = kind;
    t->name = std::move(name);
    transformations.push_back(std::move(t));
    return *transformations.back();
  }
  Transformation& at(int id) { return *transformations.at(static_cast<size_t>(id)); }
};

}  // namespace eddy::internal
