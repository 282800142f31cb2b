// Windows and assigners: boundaries, offsets, negative timestamps, sliding order, session
// merging, validation, serialization and hashing.
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/error.h"
#include "eddy/serializer.h"
#include "eddy/windows.h"

namespace eddy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Windows = std::vector<TimeWindow>;

class FixedTime final : public WindowAssignerContext {
 public:
  explicit FixedTime(Timestamp now) : now_(now) {}
  Timestamp current_processing_time() const override { return now_; }

 private:
  Timestamp now_;
};

template <class A>
Windows assign(const A& assigner, Timestamp timestamp, Timestamp now = 0) {
  FixedTime context(now);
  Windows windows;
  assigner.assign_windows(0, timestamp, context, windows);
  return windows;
}

TEST(TimeWindowTest, Basics) {
  TimeWindow w{10, 20};
  EXPECT_EQ(w.max_timestamp(), 19);
  EXPECT_TRUE(w.intersects({20, 30}));  // touching windows intersect (and sessions merge)
  EXPECT_TRUE(w.intersects({0, 10}));
  EXPECT_TRUE(w.intersects({12, 15}));
  EXPECT_FALSE(w.intersects({21, 30}));
  EXPECT_FALSE(w.intersects({0, 9}));
  EXPECT_EQ(w.cover({5, 12}), (TimeWindow{5, 20}));
  EXPECT_EQ(w.cover({25, 30}), (TimeWindow{10, 30}));
  EXPECT_LT((TimeWindow{1, 5}), (TimeWindow{2, 3}));
  EXPECT_EQ(to_string(w), "TimeWindow{start=10, end=20}");
}

TEST(TimeWindowTest, WindowStartWithOffsetMatchesFlink) {
  EXPECT_EQ(TimeWindow::window_start_with_offset(0, 0, 10), 0);
  EXPECT_EQ(TimeWindow::window_start_with_offset(9, 0, 10), 0);
  EXPECT_EQ(TimeWindow::window_start_with_offset(10, 0, 10), 10);
  EXPECT_EQ(TimeWindow::window_start_with_offset(-1, 0, 10), -10);
  EXPECT_EQ(TimeWindow::window_start_with_offset(-10, 0, 10), -10);
  EXPECT_EQ(TimeWindow::window_start_with_offset(-11, 0, 10), -20);
  EXPECT_EQ(TimeWindow::window_start_with_offset(2, 3, 10), -7);
  EXPECT_EQ(TimeWindow::window_start_with_offset(3, 3, 10), 3);
  EXPECT_EQ(TimeWindow::window_start_with_offset(12, -3, 10), 7);
  EXPECT_EQ(TimeWindow::window_start_with_offset(6, -3, 10), -3);
}

TEST(TimeWindowTest, SerializesAsSixteenBytesAndHashes) {
  TimeWindow w{-5, 1'700'000'000'000};
  std::string bytes = serialize(w);
  EXPECT_EQ(bytes.size(), 16u);
  EXPECT_EQ(deserialize<TimeWindow>(bytes), w);
  EXPECT_EQ(serialize(GlobalWindow::get()), std::string(1, '\0'));
  EXPECT_EQ(deserialize<GlobalWindow>(serialize(GlobalWindow{})), GlobalWindow{});
  EXPECT_THROW(deserialize<GlobalWindow>(std::string(1, '\1')), SerializationError);
  std::unordered_set<TimeWindow> set{{0, 10}, {0, 10}, {10, 20}};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(KeyHash<TimeWindow>{}({0, 10}), KeyHash<TimeWindow>{}({0, 10}));
  EXPECT_NE(KeyHash<TimeWindow>{}({0, 10}), KeyHash<TimeWindow>{}({10, 0}));
  EXPECT_EQ(GlobalWindow{}.max_timestamp(), kMaxWatermark);
}

TEST(AssignerTest, TumblingEventTimeWindows) {
  auto tumbling = TumblingEventTimeWindows::of(milliseconds(5000));
  EXPECT_EQ(assign(tumbling, 0), (Windows{{0, 5000}}));
  EXPECT_EQ(assign(tumbling, 4999), (Windows{{0, 5000}}));
  EXPECT_EQ(assign(tumbling, 5000), (Windows{{5000, 10000}}));
  EXPECT_EQ(assign(tumbling, -1), (Windows{{-5000, 0}}));
  EXPECT_EQ(assign(tumbling, -5000), (Windows{{-5000, 0}}));
  EXPECT_EQ(assign(tumbling, -5001), (Windows{{-10000, -5000}}));
  EXPECT_TRUE(tumbling.is_event_time());
  EXPECT_EQ(tumbling.to_string(), "TumblingEventTimeWindows(5000)");
  EXPECT_THROW(assign(tumbling, kNoTimestamp), Error);
}

TEST(AssignerTest, TumblingWindowsWithOffsets) {
  auto hours = TumblingEventTimeWindows::of(std::chrono::hours(1), std::chrono::minutes(15));
  EXPECT_EQ(assign(hours, 0), (Windows{{-2'700'000, 900'000}}));
  EXPECT_EQ(assign(hours, 900'000), (Windows{{900'000, 4'500'000}}));
  auto negative = TumblingEventTimeWindows::of(milliseconds(10), milliseconds(-3));
  EXPECT_EQ(assign(negative, 0), (Windows{{-3, 7}}));
  EXPECT_EQ(assign(negative, 7), (Windows{{7, 17}}));
  EXPECT_EQ(assign(negative, -4), (Windows{{-13, -3}}));
  EXPECT_THROW(TumblingEventTimeWindows::of(milliseconds(10), milliseconds(10)), InvalidJobError);
  EXPECT_THROW(TumblingEventTimeWindows::of(milliseconds(10), milliseconds(-10)), InvalidJobError);
  EXPECT_THROW(TumblingEventTimeWindows::of(milliseconds(0)), InvalidJobError);
  EXPECT_THROW(TumblingEventTimeWindows::of(milliseconds(-1)), InvalidJobError);
  // Any duration: seconds and microseconds (truncated to milliseconds).
  EXPECT_EQ(TumblingEventTimeWindows::of(seconds(2)).size(), 2000);
  EXPECT_EQ(TumblingEventTimeWindows::of(std::chrono::microseconds(2500)).size(), 2);
}

TEST(AssignerTest, TumblingProcessingTimeWindowsUseTheClock) {
  auto tumbling = TumblingProcessingTimeWindows::of(milliseconds(10), milliseconds(2));
  EXPECT_EQ(assign(tumbling, /*timestamp=*/999, /*now=*/15), (Windows{{12, 22}}));
  EXPECT_EQ(assign(tumbling, kNoTimestamp, 11), (Windows{{2, 12}}));
  EXPECT_FALSE(tumbling.is_event_time());
  EXPECT_THROW(TumblingProcessingTimeWindows::of(milliseconds(10), milliseconds(11)),
               InvalidJobError);
}

TEST(AssignerTest, SlidingEventTimeWindowsLatestFirst) {
  auto sliding = SlidingEventTimeWindows::of(milliseconds(10), milliseconds(3));
  EXPECT_EQ(assign(sliding, 7), (Windows{{6, 16}, {3, 13}, {0, 10}}));
  EXPECT_EQ(assign(sliding, 6), (Windows{{6, 16}, {3, 13}, {0, 10}, {-3, 7}}));
  EXPECT_EQ(assign(sliding, -1), (Windows{{-3, 7}, {-6, 4}, {-9, 1}}));
  auto even = SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5), milliseconds(1));
  EXPECT_EQ(assign(even, 0), (Windows{{-4, 6}, {-9, 1}}));
  EXPECT_EQ(assign(even, 1), (Windows{{1, 11}, {-4, 6}}));
  // A slide above the size leaves gaps: an element in a gap gets no window.
  auto sparse = SlidingEventTimeWindows::of(milliseconds(2), milliseconds(5));
  EXPECT_EQ(assign(sparse, 1), (Windows{{0, 2}}));
  EXPECT_TRUE(assign(sparse, 3).empty());
  EXPECT_THROW(assign(sliding, kNoTimestamp), Error);
  EXPECT_THROW(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(0)), InvalidJobError);
  EXPECT_THROW(SlidingEventTimeWindows::of(milliseconds(0), milliseconds(5)), InvalidJobError);
  EXPECT_THROW(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5), milliseconds(5)),
               InvalidJobError);
  EXPECT_EQ(sliding.to_string(), "SlidingEventTimeWindows(10, 3)");
}

TEST(AssignerTest, SlidingProcessingTimeWindows) {
  auto sliding = SlidingProcessingTimeWindows::of(milliseconds(10), milliseconds(5));
  EXPECT_EQ(assign(sliding, 0, 12), (Windows{{10, 20}, {5, 15}}));
  EXPECT_FALSE(sliding.is_event_time());
}

TEST(AssignerTest, SessionWindows) {
  auto sessions = EventTimeSessionWindows::with_gap(seconds(1));
  EXPECT_EQ(assign(sessions, 5), (Windows{{5, 1005}}));
  EXPECT_EQ(assign(sessions, -5), (Windows{{-5, 995}}));
  EXPECT_THROW(EventTimeSessionWindows::with_gap(milliseconds(0)), InvalidJobError);
  auto processing = ProcessingTimeSessionWindows::with_gap(milliseconds(10));
  EXPECT_EQ(assign(processing, 0, 100), (Windows{{100, 110}}));
  EXPECT_THROW(ProcessingTimeSessionWindows::with_gap(milliseconds(-1)), InvalidJobError);
}

TEST(AssignerTest, DynamicSessionGaps) {
  auto by_value = EventTimeSessionWindows::with_dynamic_gap([](int v) { return int64_t{v} + 3; });
  FixedTime context(0);
  Windows windows;
  by_value.assign_windows(7, 100, context, windows);
  EXPECT_EQ(windows, (Windows{{100, 110}}));
  windows.clear();
  EXPECT_THROW(by_value.assign_windows(-3, 100, context, windows), Error);
  auto as_duration =
      ProcessingTimeSessionWindows::with_dynamic_gap([](int v) { return seconds(v); });
  windows.clear();
  FixedTime later(50);
  as_duration.assign_windows(2, kNoTimestamp, later, windows);
  EXPECT_EQ(windows, (Windows{{50, 2050}}));
}

TEST(AssignerTest, MergeWindowsGroupsOverlappingAndTouchingWindows) {
  std::vector<std::pair<Windows, TimeWindow>> merges;
  auto record = [&](const Windows& merged, const TimeWindow& result) {
    merges.emplace_back(merged, result);
  };
  TimeWindow::merge_windows({{10, 20}, {0, 5}, {18, 25}, {5, 8}, {30, 40}, {40, 41}, {50, 60}},
                            record);
  // {0,5} and {5,8} touch; {10,20} and {18,25} overlap; {30,40} and {40,41} touch; {50,60}
  // stays alone.
  ASSERT_EQ(merges.size(), 3u);
  EXPECT_EQ(merges[0].first, (Windows{{0, 5}, {5, 8}}));
  EXPECT_EQ(merges[0].second, (TimeWindow{0, 8}));
  EXPECT_EQ(merges[1].first, (Windows{{10, 20}, {18, 25}}));
  EXPECT_EQ(merges[1].second, (TimeWindow{10, 25}));
  EXPECT_EQ(merges[2].first, (Windows{{30, 40}, {40, 41}}));
  EXPECT_EQ(merges[2].second, (TimeWindow{30, 41}));
  // A window bridging two others merges all three; duplicates count once.
  merges.clear();
  TimeWindow::merge_windows({{0, 10}, {20, 30}, {8, 22}, {8, 22}}, record);
  ASSERT_EQ(merges.size(), 1u);
  EXPECT_EQ(merges[0].first, (Windows{{0, 10}, {8, 22}, {20, 30}}));
  EXPECT_EQ(merges[0].second, (TimeWindow{0, 30}));
  merges.clear();
  TimeWindow::merge_windows({{0, 10}, {0, 10}}, record);
  EXPECT_TRUE(merges.empty());
}

TEST(AssignerTest, GlobalWindows) {
  auto global = GlobalWindows::create();
  FixedTime context(0);
  std::vector<GlobalWindow> windows;
  global.assign_windows(1, kNoTimestamp, context, windows);
  EXPECT_EQ(windows.size(), 1u);
  EXPECT_FALSE(global.is_event_time());
}

TEST(AssignerTest, AdaptersTypeTheBuiltInAssigners) {
  auto tumbling = internal::make_assigner<int>(TumblingEventTimeWindows::of(milliseconds(10)));
  static_assert(
      std::is_same_v<decltype(tumbling), std::shared_ptr<const WindowAssigner<int, TimeWindow>>>);
  using Merging = MergingWindowAssigner<int, TimeWindow>;
  EXPECT_EQ(dynamic_cast<const Merging*>(tumbling.get()), nullptr);
  EXPECT_EQ(tumbling->default_trigger()->to_string(), "EventTimeTrigger()");
  auto sessions = internal::make_assigner<int>(EventTimeSessionWindows::with_gap(milliseconds(10)));
  EXPECT_NE(dynamic_cast<const Merging*>(sessions.get()), nullptr);
  auto global = internal::make_assigner<int>(GlobalWindows::create());
  EXPECT_EQ(global->default_trigger()->to_string(), "NeverTrigger()");
  EXPECT_EQ(internal::make_assigner<int>(TumblingProcessingTimeWindows::of(milliseconds(1)))
                ->default_trigger()
                ->to_string(),
            "ProcessingTimeTrigger()");
}

}  // namespace
}  // namespace eddy
