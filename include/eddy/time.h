// Event time and watermarks: int64 milliseconds since the epoch, as in Flink.
#pragma once

#include <cstdint>
#include <limits>

namespace eddy {

// Milliseconds since the Unix epoch.
using Timestamp = int64_t;

// A record that carries no event time has this timestamp.
inline constexpr Timestamp kNoTimestamp = std::numeric_limits<int64_t>::min();

// The watermark a bounded source emits when its input ends: all event time is complete.
inline constexpr Timestamp kMaxWatermark = std::numeric_limits<int64_t>::max();

}  // namespace eddy
