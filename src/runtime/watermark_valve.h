// Combines the watermarks of a task's input channels (Flink's StatusWatermarkValve): the
// task's watermark is the minimum over its active channels, forwarded only when it
// advances. A channel that has ended or gone idle no longer holds the minimum back; when
// all live channels are idle the task is idle too. A channel that becomes active again
// rejoins the minimum once its watermark has caught up with the task's.
#pragma once

#include <optional>
#include <vector>

#include "eddy/time.h"

namespace eddy::runtime {

class WatermarkValve {
 public:
  // What the task passes on after an input event: a new watermark and/or a new status.
  struct Update {
    std::optional<Timestamp> watermark;
    std::optional<bool> idle;
    bool operator==(const Update&) const = default;
  };

  explicit WatermarkValve(size_t num_channels);

  // A watermark arrived on `channel` (which makes it active).
  Update on_watermark(size_t channel, Timestamp watermark);
  // `channel` went idle or became active.
  Update on_status(size_t channel, bool idle);
  // `channel` ended.
  Update on_end(size_t channel);

  Timestamp current() const { return current_; }
  bool idle() const { return idle_; }

 private:
  struct Channel {
    Timestamp watermark = kNoTimestamp;
    bool idle = false;
    bool aligned = true;  // counts in the minimum
    bool ended = false;
  };
  Update recompute();

  std::vector<Channel> channels_;
  Timestamp current_ = kNoTimestamp;
  bool idle_ = false;
};

}  // namespace eddy::runtime
