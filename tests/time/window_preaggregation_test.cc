// Pre-aggregation in the window operator (internal/window_preaggregation.h): the built-in
// associative reductions fold records in memory and reach keyed state only when a window
// fires, before a snapshot, or past the buffer's bound. Whatever the moment of those
// flushes, the results must equal those of the record-by-record path.
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "window_test_util.h"

namespace eddy::testing {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

const auto kSum = internal::AssociativeReduce<Event (*)(Event, const Event&)>{&sum_events};

struct Step {
  bool watermark = false;
  Event event;
  Timestamp time = 0;
};

// Out-of-order events (up to 30 ms late) over `keys` keys, a watermark every 50 events
// that trails the highest timestamp by only 5 ms (so some events are late).
std::vector<Step> script(int events, int keys, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Step> steps;
  Timestamp max_time = 0;
  for (int i = 0; i < events; ++i) {
    Timestamp t = i + static_cast<Timestamp>(rng() % 30) - 15;
    max_time = std::max(max_time, t);
    steps.push_back({false, {"k" + std::to_string(rng() % keys), static_cast<int64_t>(rng() % 100)}, t});
    if (i % 50 == 49) steps.push_back({true, {}, max_time - 5});
  }
  steps.push_back({true, {}, kMaxWatermark});
  return steps;
}

// Runs `steps` through `op`; every `snapshot_every` steps (0: never) the harness asks the
// operator to prepare a snapshot, which flushes the buffer into keyed state.
Strings run(std::unique_ptr<OperatorBase> op, const std::vector<Step>& steps, const OperatorHarnessOptions& options,
            size_t snapshot_every = 0, uint64_t* dropped = nullptr) {
  OneInputOperatorHarness<Event, Event> h(std::move(op), options);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (step.watermark) {
      h.process_watermark(step.time);
    } else {
      h.process_element(step.event, step.time);
    }
    if (snapshot_every > 0 && i % snapshot_every == snapshot_every - 1) h.op().prepare_snapshot_pre_barrier();
  }
  if (dropped != nullptr) *dropped = h.metrics().records_dropped_late;
  return describe(h.output());
}

class WindowPreAggregationTest : public ::testing::TestWithParam<std::string> {
 protected:
  OperatorHarnessOptions options() const { return keyed_options(GetParam(), dir_); }
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, WindowPreAggregationTest, ::testing::Values("heap", "rocksdb"));

TEST_P(WindowPreAggregationTest, TumblingResultsEqualTheRecordByRecordPathWhateverTheFlushes) {
  auto steps = script(3000, 20, 7);
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(100)));
  uint64_t dropped_plain = 0;
  uint64_t dropped = 0;
  Strings expected = run(builder.reduce(sum_events), steps, options(), 0, &dropped_plain);
  ASSERT_FALSE(expected.empty());
  EXPECT_GT(dropped_plain, 0u) << "the script should contain late records";
  EXPECT_EQ(run(builder.reduce(kSum), steps, options(), 0, &dropped), expected);
  EXPECT_EQ(dropped, dropped_plain);
  for (size_t every : {7u, 60u, 500u}) {
    EXPECT_EQ(run(builder.reduce(kSum), steps, options(), every), expected) << "snapshot every " << every;
  }
}

TEST_P(WindowPreAggregationTest, SlidingResultsEqualTheRecordByRecordPath) {
  auto steps = script(2000, 10, 11);
  auto builder = window_builder(SlidingEventTimeWindows::of(milliseconds(100), milliseconds(30)));
  Strings expected = run(builder.reduce(sum_events), steps, options());
  EXPECT_EQ(run(builder.reduce(kSum), steps, options()), expected);
  EXPECT_EQ(run(builder.reduce(kSum), steps, options(), 33), expected);
}

TEST_P(WindowPreAggregationTest, BufferedWindowsStayOutOfKeyedStateUntilASnapshotAsksForThem) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(kSum), options());
  h.process_element({"a", 1}, 1);
  h.process_element({"a", 2}, 2);
  h.process_element({"b", 5}, 3);
  EXPECT_EQ(h.keyed_state_backend()->snapshot()->run().entry_count(), 0u);
  h.op().prepare_snapshot_pre_barrier();
  KeyedStateSnapshot snapshot = h.keyed_state_backend()->snapshot()->run();
  EXPECT_EQ(snapshot.entry_count(), 2u) << "one reduction per key and window";
  h.process_element({"a", 10}, 4);  // the same window, again in the buffer
  h.process_watermark(9);
  EXPECT_EQ(describe(h.output()), (Strings{"a:13@9", "b:5@9"}));
  EXPECT_EQ(h.keyed_state_backend()->snapshot()->run().entry_count(), 0u) << "cleaned up after firing";
}

TEST(WindowPreAggregation, MoreKeysThanTheBufferHoldsStillSumCorrectly) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(1000)));
  OperatorHarnessOptions options;
  options.keyed = true;
  OneInputOperatorHarness<Event, Event> h(builder.reduce(kSum), options);
  constexpr int kKeys = 150'000;  // above the buffer's bound (2^17 entries)
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < kKeys; ++k) h.process_element({std::to_string(k), k}, round);
  }
  h.process_watermark(999);
  ASSERT_EQ(h.output().size(), static_cast<size_t>(kKeys));
  for (const auto& record : h.output()) {
    EXPECT_EQ(record.value.value, 2 * std::stoll(record.value.key));
    EXPECT_EQ(record.timestamp, 999);
  }
}

}  // namespace
}  // namespace eddy::testing
