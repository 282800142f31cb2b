// Not API: java.util.Random, bit for bit. The reference Nexmark generator draws every field
// of an event from a java.util.Random seeded with the event's id; reproducing its events
// means reproducing its random numbers: the 48-bit linear congruential generator, the seed
// scrambling, and the exact paths of nextInt(bound) (power of two, and rejection of the
// top partial range), nextLong() and nextDouble(). Everything is inline so that a constant
// bound (nextInt(26)) compiles to a multiplication, not a division.
#pragma once

#include <cstdint>

namespace eddy::nexmark::internal {

class JavaRandom {
 public:
  // new Random(seed).
  explicit JavaRandom(int64_t seed) : state_((static_cast<uint64_t>(seed) ^ kMultiplier) & kMask) {}

  // Random.next(bits): the top `bits` of the next 48-bit state, as Java's int.
  int32_t next(int bits) {
    state_ = (state_ * kMultiplier + kAddend) & kMask;
    return static_cast<int32_t>(state_ >> (48 - bits));
  }

  // nextInt(): any int.
  int32_t next_int() { return next(32); }

  // nextInt(bound): uniform in [0, bound); bound must be positive.
  int32_t next_int(int32_t bound) {
    int32_t r = next(31);
    int32_t m = bound - 1;
    if ((bound & m) == 0) return static_cast<int32_t>((static_cast<int64_t>(bound) * r) >> 31);
    // Java: for (int u = r; u - (r = u % bound) + m < 0; u = next(31)); with int overflow
    // rejecting the incomplete last block of `bound` values.
    for (int32_t u = r;; u = next(31)) {
      r = u % bound;
      if (static_cast<int32_t>(static_cast<uint32_t>(u) - static_cast<uint32_t>(r) +
                               static_cast<uint32_t>(m)) >= 0) {
        return r;
      }
    }
  }

  // nextLong(): ((long) next(32) << 32) + next(32), with Java's wrap-around.
  int64_t next_long() {
    auto high = static_cast<uint64_t>(static_cast<int64_t>(next(32)));
    auto low = static_cast<uint64_t>(static_cast<int64_t>(next(32)));
    return static_cast<int64_t>((high << 32) + low);
  }

  // nextDouble(): 53 random bits in [0, 1).
  double next_double() {
    int64_t high = next(26);
    int64_t low = next(27);
    return static_cast<double>((high << 27) + low) * 0x1.0p-53;
  }

 private:
  static constexpr uint64_t kMultiplier = 0x5DEECE66DULL;
  static constexpr uint64_t kAddend = 0xBULL;
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;

  uint64_t state_;
};

}  // namespace eddy::nexmark::internal
