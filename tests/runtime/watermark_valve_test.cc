#include "runtime/watermark_valve.h"

#include <gtest/gtest.h>

namespace eddy::runtime {
namespace {

using Update = WatermarkValve::Update;

Update wm(Timestamp t) { return Update{t, std::nullopt}; }
Update status(bool idle) { return Update{std::nullopt, idle}; }
const Update kNothing{};

TEST(WatermarkValveTest, ForwardsTheMinimumWhenItAdvances) {
  WatermarkValve valve(2);
  EXPECT_EQ(valve.on_watermark(0, 10), kNothing);  // channel 1 has none yet
  EXPECT_EQ(valve.on_watermark(1, 5), wm(5));
  EXPECT_EQ(valve.on_watermark(1, 20), wm(10));
  EXPECT_EQ(valve.on_watermark(0, 15), wm(15));
  EXPECT_EQ(valve.on_watermark(0, 12), kNothing) << "a watermark never goes back";
}

TEST(WatermarkValveTest, EndedChannelsNoLongerHoldBack) {
  WatermarkValve valve(3);
  valve.on_watermark(0, 100);
  valve.on_watermark(1, 50);
  EXPECT_EQ(valve.on_end(2), wm(50));
  EXPECT_EQ(valve.on_end(1), wm(100));
  EXPECT_EQ(valve.on_end(0), kNothing);
}

TEST(WatermarkValveTest, IdleChannelsAreLeftOutOfTheMinimum) {
  WatermarkValve valve(2);
  valve.on_watermark(0, 100);
  EXPECT_EQ(valve.on_status(1, true), wm(100)) << "the idle channel no longer holds back";
  EXPECT_EQ(valve.on_watermark(0, 150), wm(150));
  EXPECT_FALSE(valve.idle());
}

TEST(WatermarkValveTest, AllChannelsIdleMakesTheTaskIdle) {
  WatermarkValve valve(2);
  valve.on_watermark(0, 10);
  valve.on_watermark(1, 20);
  EXPECT_EQ(valve.on_status(0, true), wm(20));
  EXPECT_EQ(valve.on_status(1, true), status(true));
  EXPECT_EQ(valve.on_status(1, false), status(false));
}

TEST(WatermarkValveTest, AResumedChannelRejoinsOnceCaughtUp) {
  WatermarkValve valve(2);
  valve.on_watermark(0, 10);
  valve.on_watermark(1, 10);
  valve.on_status(1, true);
  EXPECT_EQ(valve.on_watermark(0, 100), wm(100));
  // Channel 1 comes back behind the task's watermark: it must not pull it back, and it
  // does not hold it back until it catches up.
  EXPECT_EQ(valve.on_watermark(1, 50), kNothing);
  EXPECT_EQ(valve.on_watermark(0, 200), wm(200));
  EXPECT_EQ(valve.on_watermark(1, 210), kNothing);
  EXPECT_EQ(valve.on_watermark(0, 300), wm(210)) << "caught up: channel 1 counts again";
}

TEST(WatermarkValveTest, AWatermarkOnAnIdleChannelMakesItActive) {
  WatermarkValve valve(1);
  EXPECT_EQ(valve.on_status(0, true), status(true));
  Update update = valve.on_watermark(0, 5);
  EXPECT_EQ(update.idle, false);
  EXPECT_EQ(update.watermark, 5);
}

}  // namespace
}  // namespace eddy::runtime
