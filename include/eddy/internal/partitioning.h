// Not API: how records are distributed over the subtasks of the next operator.
#pragma once

#include <memory>

namespace eddy::internal {

enum class PartitionKind {
  kDefault,    // forward if parallelism is equal, else rebalance (Flink's default)
  kForward,    // subtask i -> subtask i; needs equal parallelism
  kRebalance,  // round robin over all downstream subtasks
  kRescale,    // round robin over a local subset of downstream subtasks
  kShuffle,    // uniformly random
  kBroadcast,  // every record to every subtask
  kHash,       // by key group of the key (key_by)
  kCustom,     // user partitioner on a key (partition_custom)
};

const char* partition_kind_name(PartitionKind kind);

// kHash and kCustom read the record; everything else is decided by position.
inline bool routes_by_record(PartitionKind kind) {
  return kind == PartitionKind::kHash || kind == PartitionKind::kCustom;
}

// Each producer subtask talks to every consumer subtask, or to a contiguous subset.
inline bool is_pointwise(PartitionKind kind) {
  return kind == PartitionKind::kForward || kind == PartitionKind::kRescale;
}

// Picks the channel (= consumer subtask) for a record. One instance per producer subtask.
template <class T>
class RecordRouter {
 public:
  virtual ~RecordRouter() = default;
  virtual int route(const T& value) = 0;
};

class RouterFactoryBase {
 public:
  virtual ~RouterFactoryBase() = default;
};

template <class T>
class RouterFactory : public RouterFactoryBase {
 public:
  // `max_parallelism` and `parallelism` are the consuming operator's.
  virtual std::unique_ptr<RecordRouter<T>> create(int max_parallelism, int parallelism) const = 0;
};

struct PartitionSpec {
  PartitionKind kind = PartitionKind::kDefault;
  std::shared_ptr<const RouterFactoryBase> router;  // kHash and kCustom only
};

}  // namespace eddy::internal
