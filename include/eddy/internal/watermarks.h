// Not API: running a WatermarkStrategy. SplitWatermarks assigns timestamps and keeps a
// watermark generator per source split (plus one for records emitted without a split),
// combines their watermarks by minimum over the active splits, and turns quiet splits
// idle (Flink's ProgressiveTimestampsAndWatermarks with its WatermarkOutputMultiplexer).
// TimestampsAndWatermarksOperator does the same in the middle of a job.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eddy/operator.h"
#include "eddy/source.h"
#include "eddy/watermark.h"

namespace eddy::internal {

template <class T>
class SplitWatermarks final : public SourceWatermarkHooks<T> {
 public:
  // `output` receives the records, the combined watermark and the idle status.
  SplitWatermarks(WatermarkStrategy<T> strategy, Output<T>& output, const Clock& clock)
      : strategy_(std::move(strategy)), output_(output), clock_(clock) {
    add_split("");  // index 0: records emitted without a split
  }

  SourceOutput<T>& main_output() { return *splits_[0]->output; }

  void collect(int index, T&& value, Timestamp timestamp) override {
    Split& split = *splits_[static_cast<size_t>(index)];
    split.used = true;
    ++split.records;
    if (split.idle) set_idle(split, false);
    if (const auto& assign = strategy_.timestamp_assigner()) timestamp = assign(value, timestamp);
    split.generator->on_event(value, timestamp, split);
    output_.emit(std::move(value), timestamp);
  }

  void emit_watermark(int index, Timestamp watermark) override {
    Split& split = *splits_[static_cast<size_t>(index)];
    split.used = true;
    split.emit_watermark(watermark);
  }

  void mark_idle(int index) override { set_idle(*splits_[static_cast<size_t>(index)], true); }

  SourceOutput<T>& split_output(const std::string& split_id) override {
    auto it = index_of_.find(split_id);
    size_t index = it != index_of_.end() ? it->second : add_split(split_id);
    Split& split = *splits_[index];
    split.used = true;
    return *split.output;
  }

  void release_split(const std::string& split_id) override {
    auto it = index_of_.find(split_id);
    if (it == index_of_.end()) return;
    Split& split = *splits_[it->second];
    split.released = true;
    index_of_.erase(it);
    combine();
  }

  // Every auto-watermark interval: periodic generators emit, quiet splits go idle.
  void on_periodic_emit() {
    Timestamp now = clock_.now_ms();
    auto timeout = strategy_.idle_timeout().count();
    for (auto& owned : splits_) {
      Split& split = *owned;
      if (split.released || !split.used || split.idle) continue;  // an idle split stays quiet
      split.generator->on_periodic_emit(split);
      if (timeout <= 0) continue;
      if (split.records != split.records_at_check) {
        split.records_at_check = split.records;
        split.last_active = now;
      } else if (now - split.last_active >= timeout) {
        set_idle(split, true);
      }
    }
  }

 private:
  struct Split final : WatermarkOutput {
    SplitWatermarks* owner = nullptr;
    std::unique_ptr<WatermarkGenerator<T>> generator;
    std::unique_ptr<SourceOutput<T>> output;
    Timestamp watermark = kNoTimestamp;
    bool used = false;      // has emitted: counts in the minimum from then on
    bool idle = false;
    bool released = false;  // finished split
    uint64_t records = 0;
    uint64_t records_at_check = 0;
    Timestamp last_active = 0;

    void emit_watermark(Timestamp value) override {
      if (value <= watermark) return;  // repeats do not count as activity
      if (idle) owner->set_idle(*this, false);
      watermark = value;
      owner->combine();
    }
    void mark_idle() override { owner->set_idle(*this, true); }
    void mark_active() override { owner->set_idle(*this, false); }
  };

  size_t add_split(const std::string& split_id) {
    auto split = std::make_unique<Split>();
    split->owner = this;
    split->generator = strategy_.create_generator();
    split->output = std::make_unique<SourceOutput<T>>(output_, this, static_cast<int>(splits_.size()));
    split->last_active = clock_.now_ms();
    splits_.push_back(std::move(split));
    size_t index = splits_.size() - 1;
    if (!split_id.empty()) index_of_[split_id] = index;
    return index;
  }

  void set_idle(Split& split, bool idle) {
    if (split.idle == idle) return;
    split.idle = idle;
    if (!idle) split.last_active = clock_.now_ms();
    combine();
  }

  // Emits the minimum over active splits when it advances, and the idle status when all
  // splits are idle (or active again).
  void combine() {
    bool any_active = false;
    bool any_idle = false;
    Timestamp minimum = kMaxWatermark;
    for (const auto& owned : splits_) {
      const Split& split = *owned;
      if (split.released || !split.used) continue;
      if (split.idle) {
        any_idle = true;
        continue;
      }
      any_active = true;
      minimum = std::min(minimum, split.watermark);
    }
    if (any_active && idle_) {
      idle_ = false;
      output_.emit_watermark_status(false);
    }
    if (any_active && minimum > combined_ && minimum != kNoTimestamp) {
      combined_ = minimum;
      output_.emit_watermark(combined_);
    }
    if (!any_active && any_idle && !idle_) {
      idle_ = true;
      output_.emit_watermark_status(true);
    }
  }

  WatermarkStrategy<T> strategy_;
  Output<T>& output_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Split>> splits_;
  std::unordered_map<std::string, size_t> index_of_;
  Timestamp combined_ = kNoTimestamp;
  bool idle_ = false;
};

// Runs `on_periodic_emit` every auto_watermark_interval of processing time, from open()
// on, through the operator's processing-time service.
template <class F>
void schedule_periodic(RuntimeContext& context, F on_periodic_emit) {
  auto interval = context.config().auto_watermark_interval.count();
  if (interval <= 0) return;
  ProcessingTimeService& service = context.processing_time_service();
  struct Tick {
    ProcessingTimeService* service;
    Timestamp interval;
    F fn;
    void operator()(Timestamp now) {
      fn();
      service->register_timer(now + interval, *this);
    }
  };
  service.register_timer(service.current_processing_time() + interval, Tick{&service, interval, std::move(on_periodic_emit)});
}

// assign_timestamps_and_watermarks(): stamps records and generates watermarks in the
// middle of a job. Watermarks from upstream are dropped, except the final one that ends
// event time at the end of bounded input (as in Flink).
template <class T>
class TimestampsAndWatermarksOperator final : public OneInputOperator<T, T> {
 public:
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy) : strategy_(std::move(strategy)) {}

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    watermarks_ = std::make_unique<SplitWatermarks<T>>(strategy_, this->out(), context.clock());
    schedule_periodic(context, [this] { watermarks_->on_periodic_emit(); });
  }
  void process(T&& value, Timestamp timestamp) override {
    watermarks_->main_output().collect(std::move(value), timestamp);
  }
  void process_watermark(Timestamp watermark, int) override {
    if (watermark == kMaxWatermark) this->out().emit_watermark(kMaxWatermark);
  }
  void process_watermark_status(bool, int) override {}

 private:
  WatermarkStrategy<T> strategy_;
  std::unique_ptr<SplitWatermarks<T>> watermarks_;
};

}  // namespace eddy::internal
