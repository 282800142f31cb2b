#include "runtime/watermark_valve.h"

#include <algorithm>

namespace eddy::runtime {

WatermarkValve::WatermarkValve(size_t num_channels) : channels_(num_channels) {}

WatermarkValve::Update WatermarkValve::on_watermark(size_t index, Timestamp watermark) {
  Channel& channel = channels_[index];
  if (channel.idle) {  // a watermark means the channel is active again
    channel.idle = false;
    channel.aligned = channel.watermark >= current_;
  }
  // Watermarks of a channel never go back; an older one is ignored.
  if (watermark > channel.watermark) {
    channel.watermark = watermark;
    if (!channel.aligned && watermark >= current_) channel.aligned = true;
  }
  return recompute();
}

WatermarkValve::Update WatermarkValve::on_status(size_t index, bool idle) {
  Channel& channel = channels_[index];
  if (channel.ended || channel.idle == idle) return {};
  channel.idle = idle;
  if (idle) {
    channel.aligned = false;
  } else {
    channel.aligned = channel.watermark >= current_;
  }
  return recompute();
}

WatermarkValve::Update WatermarkValve::on_end(size_t index) {
  Channel& channel = channels_[index];
  channel.ended = true;
  channel.aligned = false;
  return recompute();
}

WatermarkValve::Update WatermarkValve::recompute() {
  Update update;
  bool any_live = false;
  bool all_idle = true;
  bool any_aligned = false;
  Timestamp minimum = kMaxWatermark;
  for (const Channel& channel : channels_) {
    if (channel.ended) continue;
    any_live = true;
    if (!channel.idle) all_idle = false;
    if (channel.aligned && !channel.idle) {
      any_aligned = true;
      minimum = std::min(minimum, channel.watermark);
    }
  }
  if (!any_live) return update;  // end of input is handled by the task
  bool idle = all_idle;
  if (idle != idle_ && !idle) {  // active again: say so before any watermark
    idle_ = false;
    update.idle = false;
  }
  if (any_aligned && minimum > current_) {
    current_ = minimum;
    update.watermark = current_;
  }
  if (idle && !idle_) {
    idle_ = true;
    update.idle = true;
  }
  return update;
}

}  // namespace eddy::runtime
