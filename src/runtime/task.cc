#include "runtime/task.h"

#include <optional>

#include "eddy/error.h"

namespace eddy::runtime {

using internal::ChannelMessage;
using internal::run_attributed;

class Task::ReaderContext final : public SourceReaderContext {
 public:
  ReaderContext(Task& task, const RuntimeContext& runtime) : task_(task), runtime_(runtime) {}
  const RuntimeContext& runtime() const override { return runtime_; }
  void send_split_request() override { task_.coordinator_->request_split(task_.subtask_); }
  void poll_again_after(std::chrono::nanoseconds delay) override {
    poll_deadline_ = std::chrono::steady_clock::now() + delay;
  }
  // The deadline asked for since the last call, if any.
  std::optional<std::chrono::steady_clock::time_point> take_poll_deadline() {
    auto deadline = poll_deadline_;
    poll_deadline_.reset();
    return deadline;
  }

 private:
  Task& task_;
  const RuntimeContext& runtime_;
  std::optional<std::chrono::steady_clock::time_point> poll_deadline_;
};

Task::Task(std::string name, int subtask, int parallelism, const ExecutionConfig& config, const Clock& clock,
           const std::atomic<bool>& cancelled)
    : name_(std::move(name)),
      subtask_(subtask),
      parallelism_(parallelism),
      config_(config),
      cancelled_(cancelled),
      timers_(clock) {}

void Task::add_operator(std::unique_ptr<OperatorBase> op,
                        std::unique_ptr<OperatorRuntimeContext> context) {
  op->set_context(*context);
  context->attach(timers_, *op);
  operators_.push_back(std::move(op));
  contexts_.push_back(std::move(context));
}

internal::ChannelWriter& Task::add_channel_writer(Channel& channel) {
  writers_.push_back(std::make_unique<BlockingChannelWriter>(channel, notifier_, cancelled_));
  return *writers_.back();
}

void Task::add_input(Channel& channel, std::unique_ptr<internal::BatchConsumerBase> consumer) {
  inputs_.push_back(InputChannel{&channel, std::move(consumer), false});
}

void Task::set_source(internal::SourceOperatorBase& source, SourceCoordinator& coordinator) {
  source_ = &source;
  coordinator_ = &coordinator;
}

void Task::run() {
  try {
    open_operators();
    if (source_ != nullptr) {
      run_source();
    } else {
      run_inputs();
    }
    finish_operators();
    for (internal::NetworkOutputBase* output : network_outputs_) output->end_of_partition();
    outcome_ = TaskOutcome::kFinished;
  } catch (const TaskCancelled&) {
    outcome_ = TaskOutcome::kCancelled;
  } catch (...) {
    outcome_ = TaskOutcome::kFailed;
    failure_ = std::current_exception();
  }
  close_operators();
}

void Task::open_operators() {
  // Open from the tail, so an operator's downstream is ready before it can emit.
  for (size_t i = operators_.size(); i-- > 0;) {
    OperatorBase& op = *operators_[i];
    run_attributed(op, [&] { op.open(*contexts_[i]); });
    ++opened_;
  }
  flush_deadline_ = std::chrono::steady_clock::now() + config_.buffer_timeout;
}

void Task::run_source() {
  ReaderContext reader_context(*this, *contexts_.front());
  run_attributed(*source_, [&] { source_->start_reader(reader_context); });
  SplitList splits;
  while (true) {
    check_cancelled();
    bool no_more_splits = false;
    split_inbox_.drain(splits, no_more_splits);
    if (!splits.empty() || no_more_splits) {
      run_attributed(*source_, [&] {
        if (!splits.empty()) source_->add_splits(std::move(splits));
        if (no_more_splits) source_->notify_no_more_splits();
      });
      splits.clear();
    }
    timers_.run_due();
    InputStatus status = InputStatus::kMoreAvailable;
    run_attributed(*source_, [&] { status = source_->poll_next(); });
    if (status == InputStatus::kEndOfInput) break;
    if (status == InputStatus::kNothingAvailable) {
      flush_outputs();
      wait(reader_context.take_poll_deadline());
    } else {
      flush_if_timed_out();
    }
  }
  // A bounded source's end completes event time (Flink emits the maximum watermark).
  run_attributed(*source_, [&] { source_->process_watermark(kMaxWatermark, 0); });
}

void Task::run_inputs() {
  WatermarkValve valve(inputs_.size());
  size_t live = inputs_.size();
  size_t next = 0;
  ChannelMessage message;
  while (live > 0) {
    check_cancelled();
    timers_.run_due();
    bool progressed = false;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      size_t index = next;
      next = next + 1 == inputs_.size() ? 0 : next + 1;
      InputChannel& input = inputs_[index];
      if (input.ended || !input.channel->try_pop(message)) continue;
      progressed = true;
      WatermarkValve::Update update;
      switch (message.kind) {
        case ChannelMessage::Kind::kData:
          input.consumer->consume(*message.batch);
          message.batch.reset();
          break;
        case ChannelMessage::Kind::kWatermark:
          update = valve.on_watermark(index, message.watermark);
          break;
        case ChannelMessage::Kind::kWatermarkStatus:
          update = valve.on_status(index, message.idle);
          break;
        case ChannelMessage::Kind::kEndOfPartition:
          input.ended = true;
          --live;
          update = valve.on_end(index);
          break;
      }
      // The combined watermark goes to the head operator as if from this channel's input:
      // the valve already took the minimum over all inputs.
      if (update.idle == false) input.consumer->watermark_status(false);
      if (update.watermark) input.consumer->watermark(*update.watermark);
      if (update.idle == true) input.consumer->watermark_status(true);
    }
    if (progressed) {
      flush_if_timed_out();
    } else if (live > 0) {
      flush_outputs();  // nothing to do right now: send what is buffered
      wait();
    }
  }
}

void Task::finish_operators() {
  // Head first: what an operator emits while finishing still reaches the ones after it.
  for (auto& op : operators_) {
    run_attributed(*op, [&] { op->finish(); });
  }
}

void Task::close_operators() noexcept {
  for (size_t i = operators_.size() - opened_; i < operators_.size(); ++i) {
    OperatorBase& op = *operators_[i];
    try {
      run_attributed(op, [&] { op.close(); });
    } catch (...) {
      if (outcome_ == TaskOutcome::kFinished) {
        outcome_ = TaskOutcome::kFailed;
        failure_ = std::current_exception();
      }
    }
  }
}

void Task::flush_outputs() {
  for (internal::NetworkOutputBase* output : network_outputs_) output->flush();
  flush_deadline_ = std::chrono::steady_clock::now() + config_.buffer_timeout;
}

void Task::flush_if_timed_out() {
  if (network_outputs_.empty()) return;
  auto now = std::chrono::steady_clock::now();
  if (now < flush_deadline_) return;
  for (internal::NetworkOutputBase* output : network_outputs_) output->flush();
  flush_deadline_ = now + config_.buffer_timeout;
}

void Task::wait(std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (auto delay = timers_.time_to_next()) {
    auto timer_deadline = std::chrono::steady_clock::now() + *delay;
    if (!deadline || timer_deadline < *deadline) deadline = timer_deadline;
  }
  if (deadline) {
    notifier_.wait_until(*deadline);
  } else {
    notifier_.wait();
  }
}

void Task::check_cancelled() const {
  if (cancelled_.load(std::memory_order_acquire)) throw TaskCancelled();
}

}  // namespace eddy::runtime
