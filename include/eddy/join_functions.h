// The functions stream joins call (eddy/joins.h): ProcessJoinFunction for interval joins
// (Flink's ProcessJoinFunction). Subclass it; each subtask runs its own copy.
#pragma once

#include <utility>

#include "eddy/operator.h"
#include "eddy/time.h"
#include "eddy/timers.h"

namespace eddy {

// Called once for every pair of joined records (Flink's ProcessJoinFunction). What it
// collects gets the pair's timestamp, the larger of the two records' timestamps.
template <class In1, class In2, class Out>
class ProcessJoinFunction {
 public:
  using first_type = In1;
  using second_type = In2;
  using output_type = Out;

  class Context {
   public:
    virtual ~Context() = default;
    // Event time of the left record, of the right record, and of the pair (their maximum).
    virtual Timestamp left_timestamp() const = 0;
    virtual Timestamp right_timestamp() const = 0;
    virtual Timestamp timestamp() const = 0;
    // Emits `value` into the side output `tag`, with timestamp().
    template <class S>
    void output(const OutputTag<S>& tag, S value) {
      side_output_target().emit_side(tag.id(), std::move(value), timestamp());
    }

   protected:
    virtual OperatorBase& side_output_target() = 0;
  };

  virtual ~ProcessJoinFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In1& left, const In2& right, Context& context, Collector<Out>& out) = 0;
  virtual void close() {}
};

}  // namespace eddy
