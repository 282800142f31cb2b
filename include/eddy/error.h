// The exceptions Eddy throws. The convention (docs/CONTRIBUTING.md):
//  - misuse of the API or an invalid job (a bad parallelism, a forward edge between
//    different parallelisms, a job with no sink, ...) throws InvalidJobError, at the call
//    that made the mistake where possible, or from explain()/execute() for whole-graph
//    checks;
//  - a failure while a job runs (an exception escaping a user function, an unreadable
//    input file) never escapes execute(): it ends the job and JobResult::error() says
//    which operator and subtask failed and why.
#pragma once

#include <stdexcept>
#include <string>

namespace eddy {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The job or a call that builds it is invalid; the message says what to change.
class InvalidJobError : public Error {
 public:
  using Error::Error;
};

// A running task failed. what() names the operator and the subtask, then the cause.
class TaskFailure : public Error {
 public:
  TaskFailure(std::string operator_name, int subtask_index, int parallelism, std::string cause);

  const std::string& operator_name() const { return operator_name_; }
  int subtask_index() const { return subtask_index_; }
  const std::string& cause() const { return cause_; }

 private:
  std::string operator_name_;
  int subtask_index_;
  std::string cause_;
};

// Thrown inside a task when its job is cancelled, to unwind out of blocking calls.
// Never reported as a failure.
class TaskCancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "task cancelled"; }
};

}  // namespace eddy
