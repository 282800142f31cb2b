// Combines the watermarks of a task's input channels: the task's watermark is the
// minimum over its channels, and it is forwarded only when it advances. A channel that
// has ended no longer holds the minimum back.
#pragma once

#include <optional>
#include <vector>

#include "eddy/time.h"

namespace eddy::runtime {

class WatermarkValve {
 public:
  explicit WatermarkValve(size_t num_channels);

  // A watermark arrived on `channel`; returns the new combined watermark if it advanced.
  std::optional<Timestamp> on_watermark(size_t channel, Timestamp watermark);
  // `channel` ended; returns the new combined watermark if that advanced it.
  std::optional<Timestamp> on_end(size_t channel);

 private:
  std::optional<Timestamp> advance();

  std::vector<Timestamp> channel_watermarks_;
  std::vector<bool> ended_;
  Timestamp current_ = kNoTimestamp;
};

}  // namespace eddy::runtime
