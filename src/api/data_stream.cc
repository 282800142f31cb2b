#include "eddy/data_stream.h"

#include <string>

namespace eddy::internal {

// Flink's upper bound for max parallelism (key groups are indexed by 15 bits there).
constexpr int kUpperBoundMaxParallelism = 1 << 15;

void check_parallelism(int parallelism, const std::string& what) {
  if (parallelism < 1) {
    throw InvalidJobError("the parallelism of " + what + " must be at least 1, not " +
                          std::to_string(parallelism));
  }
}

void check_max_parallelism(int max_parallelism, const std::string& what) {
  if (max_parallelism < 1 || max_parallelism > kUpperBoundMaxParallelism) {
    throw InvalidJobError("the max parallelism of " + what + " must be between 1 and " +
                          std::to_string(kUpperBoundMaxParallelism) + ", not " +
                          std::to_string(max_parallelism));
  }
}

void throw_not_an_operator(const Transformation& t, const char* call) {
  throw InvalidJobError(std::string(call) + " applies to an operator, and '" + t.name +
                        "' is not one: call it on the operator before or after it");
}

void throw_bad_custom_partition(int partition, int num_partitions) {
  throw std::out_of_range("custom partitioner returned partition " + std::to_string(partition) +
                          ", outside [0, " + std::to_string(num_partitions) + ")");
}

}  // namespace eddy::internal
