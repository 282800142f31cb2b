#include "runtime/watermark_valve.h"

#include <gtest/gtest.h>

namespace eddy::runtime {
namespace {

TEST(WatermarkValveTest, ForwardsTheMinimumWhenItAdvances) {
  WatermarkValve valve(2);
  EXPECT_EQ(valve.on_watermark(0, 10), std::nullopt);  // channel 1 has none yet
  EXPECT_EQ(valve.on_watermark(1, 5), 5);
  EXPECT_EQ(valve.on_watermark(1, 20), 10);
  EXPECT_EQ(valve.on_watermark(0, 15), 15);
  EXPECT_EQ(valve.on_watermark(0, 12), std::nullopt) << "a watermark never goes back";
}

TEST(WatermarkValveTest, EndedChannelsNoLongerHoldBack) {
  WatermarkValve valve(3);
  valve.on_watermark(0, 100);
  valve.on_watermark(1, 50);
  EXPECT_EQ(valve.on_end(2), 50);
  EXPECT_EQ(valve.on_end(1), 100);
  EXPECT_EQ(valve.on_end(0), std::nullopt);
}

}  // namespace
}  // namespace eddy::runtime
