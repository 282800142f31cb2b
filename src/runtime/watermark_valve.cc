#include "runtime/watermark_valve.h"

#include <algorithm>

namespace eddy::runtime {

WatermarkValve::WatermarkValve(size_t num_channels)
    : channel_watermarks_(num_channels, kNoTimestamp), ended_(num_channels, false) {}

std::optional<Timestamp> WatermarkValve::on_watermark(size_t channel, Timestamp watermark) {
  // Watermarks of a channel never go back; an older one is ignored.
  if (watermark <= channel_watermarks_[channel]) return std::nullopt;
  channel_watermarks_[channel] = watermark;
  return advance();
}

std::optional<Timestamp> WatermarkValve::on_end(size_t channel) {
  ended_[channel] = true;
  return advance();
}

std::optional<Timestamp> WatermarkValve::advance() {
  Timestamp minimum = kMaxWatermark;
  bool any_active = false;
  for (size_t i = 0; i < channel_watermarks_.size(); ++i) {
    if (ended_[i]) continue;
    any_active = true;
    minimum = std::min(minimum, channel_watermarks_[i]);
  }
  if (!any_active) return std::nullopt;  // end of input is handled by the task
  if (minimum > current_) {
    current_ = minimum;
    return current_;
  }
  return std::nullopt;
}

}  // namespace eddy::runtime
