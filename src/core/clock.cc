#include "eddy/clock.h"

#include <chrono>

namespace eddy {

Timestamp SystemClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace eddy
