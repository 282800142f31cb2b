#include "eddy/error.h"

#include "eddy/operator.h"
#include "eddy/internal/type_info.h"

namespace eddy {

namespace {
std::string failure_message(const std::string& op, int subtask, int parallelism,
                            const std::string& cause) {
  return "operator '" + op + "' (subtask " + std::to_string(subtask + 1) + "/" +
         std::to_string(parallelism) + ") failed: " + cause;
}
}  // namespace

TaskFailure::TaskFailure(std::string operator_name, int subtask_index, int parallelism,
                         std::string cause)
    : Error(failure_message(operator_name, subtask_index, parallelism, cause)),
      operator_name_(std::move(operator_name)),
      subtask_index_(subtask_index),
      cause_(std::move(cause)) {}

namespace internal {

void throw_operator_failure(const OperatorBase& op, const char* cause) {
  const RuntimeContext& context = op.context();
  throw TaskFailure(context.operator_name(), context.subtask_index(), context.parallelism(), cause);
}

}  // namespace internal
}  // namespace eddy
