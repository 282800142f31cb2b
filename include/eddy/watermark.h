// Event time: where records get their timestamps and how watermarks are made (Flink's
// WatermarkStrategy). A strategy pairs a timestamp assigner with a watermark generator,
// and may mark inputs idle when they go quiet:
//
//   auto strategy = WatermarkStrategy<Bid>::for_bounded_out_of_orderness(std::chrono::seconds(2))
//                       .with_timestamp_assigner([](const Bid& b) { return b.ts; })
//                       .with_idleness(std::chrono::minutes(1));
//   env.from_source(source, strategy, "bids");            // watermarks per source split
//   stream.assign_timestamps_and_watermarks(strategy);     // or anywhere in the job
//
// Watermarks are generated per source split and combined by minimum; an operator's
// watermark is the minimum over its inputs, leaving idle inputs out while they are idle.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "eddy/time.h"

namespace eddy {

// Where a WatermarkGenerator sends what it decides.
class WatermarkOutput {
 public:
  virtual ~WatermarkOutput() = default;
  // Event time up to `watermark` is complete. Watermarks that do not advance are ignored.
  virtual void emit_watermark(Timestamp watermark) = 0;
  // No records for a while: leave this input out of the watermark minimum until it emits
  // again (a record or a watermark makes it active).
  virtual void mark_idle() = 0;
  virtual void mark_active() = 0;
};

// Decides watermarks from the records it sees (Flink's WatermarkGenerator): per event
// (punctuated) or periodically (every ExecutionConfig::auto_watermark_interval of
// processing time), or both.
template <class T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void on_event(const T& record, Timestamp timestamp, WatermarkOutput& output) = 0;
  virtual void on_periodic_emit(WatermarkOutput& output) = 0;
};

// Watermark = highest timestamp seen - bound - 1, emitted periodically: records may arrive
// up to `bound` late and still count as on time.
template <class T>
class BoundedOutOfOrdernessWatermarks final : public WatermarkGenerator<T> {
 public:
  explicit BoundedOutOfOrdernessWatermarks(std::chrono::milliseconds bound) : bound_(bound.count()) {}
  void on_event(const T&, Timestamp timestamp, WatermarkOutput&) override {
    max_timestamp_ = std::max(max_timestamp_, timestamp);
  }
  void on_periodic_emit(WatermarkOutput& output) override {
    if (max_timestamp_ == kNoTimestamp) return;
    output.emit_watermark(max_timestamp_ - bound_ - 1);
  }

 private:
  Timestamp bound_;
  Timestamp max_timestamp_ = kNoTimestamp;
};

// Never emits a watermark (only the end of a bounded input completes event time).
template <class T>
class NoWatermarksGenerator final : public WatermarkGenerator<T> {
 public:
  void on_event(const T&, Timestamp, WatermarkOutput&) override {}
  void on_periodic_emit(WatermarkOutput&) override {}
};

template <class T>
class WatermarkStrategy {
 public:
  // (record, timestamp the record already has, or kNoTimestamp) -> event time.
  using TimestampAssigner = std::function<Timestamp(const T&, Timestamp)>;
  using GeneratorFactory = std::function<std::unique_ptr<WatermarkGenerator<T>>()>;

  // Watermarks trail the highest timestamp seen by `bound`.
  template <class Rep, class Period>
  static WatermarkStrategy for_bounded_out_of_orderness(std::chrono::duration<Rep, Period> bound) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(bound);
    return for_generator([ms] { return std::make_unique<BoundedOutOfOrdernessWatermarks<T>>(ms); });
  }
  // Timestamps never decrease: the watermark is the highest timestamp seen - 1.
  static WatermarkStrategy for_monotonous_timestamps() {
    return for_bounded_out_of_orderness(std::chrono::milliseconds(0));
  }
  // A custom generator; `factory` makes one per source split (or operator subtask).
  static WatermarkStrategy for_generator(GeneratorFactory factory) {
    WatermarkStrategy strategy;
    strategy.generator_factory_ = std::move(factory);
    return strategy;
  }
  // Timestamps only, no watermarks.
  static WatermarkStrategy no_watermarks() {
    return for_generator([] { return std::make_unique<NoWatermarksGenerator<T>>(); });
  }
  // Shorthand: bounded out-of-orderness with a timestamp assigner.
  template <class Rep, class Period, class F>
  static WatermarkStrategy bounded_out_of_orderness(std::chrono::duration<Rep, Period> bound, F assigner) {
    return for_bounded_out_of_orderness(bound).with_timestamp_assigner(std::move(assigner));
  }

  // fn(const T&) or fn(const T&, Timestamp previous) -> Timestamp (a std::chrono
  // time_point or duration since the epoch is accepted too). Without one, records keep
  // the timestamp they have (from the source).
  template <class F>
  WatermarkStrategy with_timestamp_assigner(F fn) const {
    WatermarkStrategy copy = *this;
    if constexpr (std::is_invocable_v<F&, const T&, Timestamp>) {
      copy.assigner_ = [fn](const T& record, Timestamp previous) { return to_millis(fn(record, previous)); };
    } else {
      copy.assigner_ = [fn](const T& record, Timestamp) { return to_millis(fn(record)); };
    }
    return copy;
  }
  // An input that has seen no record for `timeout` of processing time is idle: it no
  // longer holds the watermark back until its next record.
  template <class Rep, class Period>
  WatermarkStrategy with_idleness(std::chrono::duration<Rep, Period> timeout) const {
    WatermarkStrategy copy = *this;
    copy.idle_timeout_ = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    return copy;
  }

  const TimestampAssigner& timestamp_assigner() const { return assigner_; }
  std::unique_ptr<WatermarkGenerator<T>> create_generator() const { return generator_factory_(); }
  std::chrono::milliseconds idle_timeout() const { return idle_timeout_; }

 private:
  template <class V>
  static Timestamp to_millis(const V& value) {
    if constexpr (std::is_arithmetic_v<V>) {
      return static_cast<Timestamp>(value);
    } else if constexpr (requires { value.time_since_epoch(); }) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(value.time_since_epoch()).count();
    } else {
      return std::chrono::duration_cast<std::chrono::milliseconds>(value).count();
    }
  }

  WatermarkStrategy() = default;
  TimestampAssigner assigner_;
  GeneratorFactory generator_factory_;
  std::chrono::milliseconds idle_timeout_{0};
};

}  // namespace eddy
