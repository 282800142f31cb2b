// Not API: the TTL rules of a state (Flink's StateTtlConfig semantics), shared by the
// heap and the byte (RocksDB) states.
#pragma once

#include <cstdint>

#include "eddy/state.h"
#include "eddy/time.h"

namespace eddy::internal {

// Expired means `now - timestamp >= ttl`, the timestamp being the entry's last write (or
// read, with kOnReadAndWrite).
struct TtlPolicy {
  bool enabled = false;
  StateTtlConfig config;

  explicit TtlPolicy(const StateDescriptorBase& descriptor) {
    if (descriptor.ttl && descriptor.ttl->enabled()) {
      enabled = true;
      config = *descriptor.ttl;
    }
  }
  bool expired(int64_t timestamp, Timestamp now) const {
    return enabled && now - timestamp >= config.ttl.count();
  }
  bool refresh_on_read() const {
    return enabled && config.update_type == StateTtlConfig::UpdateType::kOnReadAndWrite;
  }
  bool return_expired() const {
    return config.visibility == StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
  }
};

}  // namespace eddy::internal
