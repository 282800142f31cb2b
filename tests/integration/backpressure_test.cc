// A slow sink behind a fast source: the source is held back by full channels, so the data
// in flight stays bounded by the channels' capacity.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "eddy/eddy.h"
#include "scripted_source.h"

namespace eddy {
namespace {

TEST(BackpressureTest, SlowSinkBoundsDataInFlight) {
  ExecutionConfig config;
  config.channel_capacity = 2;
  config.batch_bytes = 1024 * sizeof(int64_t);  // batches of 1024 records (8-byte records count as 16 bytes)
  StreamEnvironment env(config);

  constexpr int64_t kRecords = 300000;
  std::atomic<int64_t> generated{0};
  int64_t consumed = 0;
  int64_t max_lead = 0;
  volatile uint64_t sink_work = 0;
  env.from_generator(
         [&](int64_t i) {
           generated.fetch_add(1, std::memory_order_relaxed);
           return i;
         },
         kRecords)
      .rebalance()  // a channel between the source task and the sink task
      .sink_to(sinks::callback([&](int64_t v) {
        ++consumed;
        max_lead = std::max(max_lead, generated.load(std::memory_order_relaxed) - consumed);
        for (int k = 0; k < 200; ++k) sink_work = sink_work + static_cast<uint64_t>(v);  // slow
      }));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(consumed, kRecords);

  // In flight at most: the channel's batches, the batch the sink is reading, the batch
  // the source is filling, and the records of its current poll.
  const int64_t batch = 512;  // 8 KiB / 16 bytes
  const int64_t bound = (static_cast<int64_t>(config.channel_capacity) + 2) * batch + 1024;
  EXPECT_LE(max_lead, bound) << "the source ran ahead of the sink: backpressure is not working";
  EXPECT_LE(result.peak_channel_batches, config.channel_capacity);
  EXPECT_GT(max_lead, 0);
}

}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

// A task that reads and writes channels, under backpressure: while it waits for space in
// a full output channel, the "input arrived" wake-up must not be lost, or the task
// sleeps forever with data in its input (the job would never end). Watermarks between the
// records make many small messages, which fills the channels quickly.
TEST(BackpressureTest, ATaskBlockedOnAFullOutputStillSeesItsInput) {
  for (int round = 0; round < 5; ++round) {
    ExecutionConfig config;
    config.channel_capacity = 1;
    config.auto_watermark_interval = std::chrono::milliseconds(0);
    StreamEnvironment env(config);
    auto script = testing::ScriptedSource<int64_t>::Builder();
    for (int64_t i = 0; i < 3000; ++i) {
      script.record(i, i);
      if (i % 7 == 6) script.watermark(i);
    }
    std::vector<int64_t> out;
    env.from_source(script.build(), "script")
        .map([](int64_t v) { return v; })
        .set_parallelism(2)
        .rebalance()
        .map([](int64_t v) { return v + 1; })
        .set_parallelism(2)
        .key_by([](int64_t v) { return v % 5; })
        .map([](int64_t v) { return v; })
        .set_parallelism(2)
        .sink_to(sinks::collect(out));
    ASSERT_TRUE(env.execute().ok());
    ASSERT_EQ(out.size(), 3000u);
  }
}

}  // namespace
}  // namespace eddy
