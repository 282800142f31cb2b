// Timers and side outputs, as user functions see them (Flink's TimerService and
// OutputTag). Timers belong to the current key (and, inside window operators, to a
// window); they are deduplicated per key and time, fire in time order, and are kept in
// keyed state, so they are checkpointed and restored with it.
#pragma once

#include <string>
#include <utility>

#include "eddy/time.h"

namespace eddy {

enum class TimeDomain {
  kEventTime,       // fires when the watermark passes the timer's time
  kProcessingTime,  // fires when the job's clock reaches it
};

class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual Timestamp current_processing_time() const = 0;
  // kNoTimestamp until the operator has seen a watermark.
  virtual Timestamp current_watermark() const = 0;
  // A timer for the current key; registering the same (key, time) twice keeps one.
  virtual void register_event_time_timer(Timestamp time) = 0;
  virtual void register_processing_time_timer(Timestamp time) = 0;
  // Removes the current key's timer at `time`, if there is one.
  virtual void delete_event_time_timer(Timestamp time) = 0;
  virtual void delete_processing_time_timer(Timestamp time) = 0;
};

// Names a side output of type T: an operator emits into it through its context, and
// DataStream::side_output(tag) reads it. Tags are equal when their ids are.
template <class T>
class OutputTag {
 public:
  using value_type = T;
  explicit OutputTag(std::string id) : id_(std::move(id)) {}
  const std::string& id() const { return id_; }

 private:
  std::string id_;
};

}  // namespace eddy
