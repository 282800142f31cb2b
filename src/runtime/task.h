// One parallel instance of an operator chain, running on its own thread: a mailbox loop
// that takes batches from its input channels (or polls its source reader), runs them
// through the chain, and flushes its output batches when it runs out of input, when they
// fill, or when the buffer timeout passes. All of a task's operators are called only from
// its thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator_state.h"
#include "eddy/operator.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/type_info.h"
#include "runtime/channel.h"
#include "runtime/processing_timers.h"
#include "runtime/source_coordinator.h"
#include "runtime/task_notifier.h"
#include "runtime/watermark_valve.h"

namespace eddy::runtime {

class OperatorRuntimeContext final : public RuntimeContext, private ProcessingTimeService {
 public:
  OperatorRuntimeContext(std::string name, int subtask, int parallelism, int max_parallelism,
                         const ExecutionConfig& config, const Clock& clock,
                         KeyedStateBackend* keyed_state_backend = nullptr)
      : name_(std::move(name)),
        subtask_(subtask),
        parallelism_(parallelism),
        max_parallelism_(max_parallelism),
        config_(config),
        clock_(clock),
        keyed_state_backend_(keyed_state_backend) {}
  const std::string& operator_name() const override { return name_; }
  int subtask_index() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return max_parallelism_; }
  const ExecutionConfig& config() const override { return config_; }
  const Clock& clock() const override { return clock_; }
  KeyedStateBackend* keyed_state_backend() const override { return keyed_state_backend_; }
  OperatorStateStore* operator_state_store() const override { return &operator_state_; }
  ProcessingTimeService& processing_time_service() const override {
    return const_cast<OperatorRuntimeContext&>(*this);
  }

  // Done by the task: where processing-time callbacks go, and whom they are attributed to.
  void attach(ProcessingTimerQueue& timers, OperatorBase& op) {
    timers_ = &timers;
    op_ = &op;
  }

 private:
  Timestamp current_processing_time() const override { return clock_.now_ms(); }
  void register_timer(Timestamp time, std::function<void(Timestamp)> callback) override {
    timers_->add(time, [op = op_, callback = std::move(callback)](Timestamp now) {
      internal::run_attributed(*op, [&] { callback(now); });
    });
  }

  ProcessingTimerQueue* timers_ = nullptr;
  OperatorBase* op_ = nullptr;
  std::string name_;
  int subtask_;
  int parallelism_;
  int max_parallelism_;
  const ExecutionConfig& config_;
  const Clock& clock_;
  KeyedStateBackend* keyed_state_backend_;
  mutable OperatorStateStore operator_state_;
};

enum class TaskOutcome { kRunning, kFinished, kCancelled, kFailed };

class Task {
 public:
  Task(std::string name, int subtask, int parallelism, const ExecutionConfig& config, const Clock& clock,
       const std::atomic<bool>& cancelled);

  // Wiring, done by the executor before run(). Operators are in chain order, head first.
  void add_operator(std::unique_ptr<OperatorBase> op, std::unique_ptr<OperatorRuntimeContext> context);
  // Keeps a keyed operator's state backend for the task's lifetime.
  KeyedStateBackend& add_state_backend(std::unique_ptr<KeyedStateBackend> backend) {
    state_backends_.push_back(std::move(backend));
    return *state_backends_.back();
  }
  OutputBase& add_output(std::unique_ptr<OutputBase> output) {
    outputs_.push_back(std::move(output));
    return *outputs_.back();
  }
  void add_network_output(internal::NetworkOutputBase* output) { network_outputs_.push_back(output); }
  internal::ChannelWriter& add_channel_writer(Channel& channel);
  void add_input(Channel& channel, std::unique_ptr<internal::BatchConsumerBase> consumer);
  void set_source(internal::SourceOperatorBase& source, SourceCoordinator& coordinator);

  OperatorBase& op(size_t index) { return *operators_[index]; }
  TaskNotifier& notifier() { return notifier_; }
  SplitInbox& split_inbox() { return split_inbox_; }
  const std::string& name() const { return name_; }
  int subtask() const { return subtask_; }

  // The thread body. Never throws: the outcome and any failure are recorded.
  void run();

  TaskOutcome outcome() const { return outcome_.load(std::memory_order_acquire); }
  // Set when outcome() is kFailed.
  const std::exception_ptr& failure() const { return failure_; }
  size_t num_operators() const { return operators_.size(); }

 private:
  class ReaderContext;

  void open_operators();
  void run_source();
  void run_inputs();
  void finish_operators();
  void close_operators() noexcept;
  void flush_outputs();
  void flush_if_timed_out();
  void check_cancelled() const;
  // Sleeps until notified, or until the next processing-time callback or `deadline`.
  void wait(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  std::string name_;
  int subtask_;
  int parallelism_;
  const ExecutionConfig& config_;
  const std::atomic<bool>& cancelled_;

  // Declared before the operators, so they are destroyed after them.
  std::vector<std::unique_ptr<KeyedStateBackend>> state_backends_;
  std::vector<std::unique_ptr<OperatorBase>> operators_;
  std::vector<std::unique_ptr<OperatorRuntimeContext>> contexts_;
  std::vector<std::unique_ptr<OutputBase>> outputs_;
  std::vector<internal::NetworkOutputBase*> network_outputs_;
  std::vector<std::unique_ptr<BlockingChannelWriter>> writers_;

  struct InputChannel {
    Channel* channel;
    std::unique_ptr<internal::BatchConsumerBase> consumer;
    bool ended = false;
  };
  std::vector<InputChannel> inputs_;

  internal::SourceOperatorBase* source_ = nullptr;
  SourceCoordinator* coordinator_ = nullptr;

  ProcessingTimerQueue timers_;
  TaskNotifier notifier_;
  SplitInbox split_inbox_{notifier_};
  std::chrono::steady_clock::time_point flush_deadline_;
  size_t opened_ = 0;

  std::atomic<TaskOutcome> outcome_{TaskOutcome::kRunning};
  std::exception_ptr failure_;
};

}  // namespace eddy::runtime
