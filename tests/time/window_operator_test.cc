// The window operator in the harness, on both keyed state backends: event-time and
// processing-time windows driven by hand, out-of-order input, late data (dropped,
// side output, allowed lateness), session merging, count windows, evictors, triggers, and
// window functions with their context and state.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/evictors.h"
#include "eddy/testing/operator_harness.h"
#include "eddy/triggers.h"
#include "eddy/window_functions.h"
#include "eddy/windows.h"
#include "window_test_util.h"

namespace eddy::testing {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

// Counts the elements of a window: (key, count).
class CountAggregate final
    : public AggregateFunction<Event, int64_t, std::pair<std::string, int64_t>> {
 public:
  int64_t create_accumulator() const override { return 0; }
  int64_t add(const Event&, int64_t acc) const override { return acc + 1; }
  std::pair<std::string, int64_t> get_result(const int64_t& acc) const override {
    return {"n", acc};
  }
  int64_t merge(int64_t a, const int64_t& b) const override { return a + b; }
};

// "key[start,end):v1,v2,...": the elements of each window in arrival order.
class ListWindow final : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& context, std::span<const Event> elements,
               Collector<std::string>& out) override {
    std::string s = key + "[" + std::to_string(context.window().start) + "," +
                    std::to_string(context.window().end) + "):";
    for (size_t i = 0; i < elements.size(); ++i)
      s += (i > 0 ? "," : "") + std::to_string(elements[i].value);
    out.collect(s);
  }
};

class WindowOperatorTest : public ::testing::TestWithParam<std::string> {
 protected:
  OperatorHarnessOptions options() const { return keyed_options(GetParam(), dir_); }
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, WindowOperatorTest, ::testing::Values("heap", "rocksdb"));

TEST_P(WindowOperatorTest, TumblingEventTimeWindowsFireWhenTheWatermarkPassesTheirEnd) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());

  h.process_element({"a", 1}, 3);
  h.process_element({"a", 2}, 12);
  h.process_element({"b", 5}, 7);
  h.process_element({"a", 4}, 9);
  h.process_watermark(8);
  EXPECT_TRUE(h.output().empty());
  h.process_element({"a", 8}, 1);  // out of order, still on time
  h.process_watermark(9);          // [0, 10) ends at 9
  EXPECT_EQ(describe(h.output()), (Strings{"a:13@9", "b:5@9"}));
  h.take_output();
  h.process_watermark(18);
  EXPECT_TRUE(h.output().empty());
  h.process_watermark(19);
  EXPECT_EQ(describe(h.output()), (Strings{"a:2@19"}));
  EXPECT_EQ(h.watermarks(), (std::vector<Timestamp>{8, 9, 18, 19}));
  EXPECT_EQ(h.metrics().records_dropped_late, 0u);
}

TEST_P(WindowOperatorTest, WindowsAreAlignedToTheOffsetAndNegativeTimestampsWork) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10), milliseconds(3)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, -8);  // [-17, -7)
  h.process_element({"a", 2}, -7);  // [-7, 3)
  h.process_element({"a", 4}, 2);   // [-7, 3)
  h.process_element({"a", 8}, 3);   // [3, 13)
  h.process_watermark(100);
  EXPECT_EQ(describe(h.output()), (Strings{"a:1@-8", "a:6@2", "a:8@12"}));
}

TEST_P(WindowOperatorTest, LateElementsAreDroppedAndCounted) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 5);
  h.process_watermark(10);
  h.process_element({"a", 2}, 9);   // its window [0, 10) is gone
  h.process_element({"a", 4}, 10);  // on time for [10, 20)
  h.process_watermark(30);
  EXPECT_EQ(describe(h.output()), (Strings{"a:1@9", "a:4@19"}));
  EXPECT_EQ(h.metrics().records_dropped_late, 1u);
}

TEST_P(WindowOperatorTest, LateElementsGoToTheSideOutput) {
  OutputTag<Event> late("late");
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  builder.set_late_data_tag(late.id());
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.add_side_output(late);
  h.process_element({"a", 1}, 5);
  h.process_watermark(12);
  h.process_element({"a", 2}, 3);
  h.process_element({"b", 7}, 9);
  EXPECT_EQ(describe(h.output()), (Strings{"a:1@9"}));
  EXPECT_EQ(describe(h.side_output(late)), (Strings{"a:2@3", "b:7@9"}));
  EXPECT_EQ(h.metrics().records_dropped_late, 0u);
}

TEST_P(WindowOperatorTest, AllowedLatenessFiresAgainForEachLateElementUntilCleanup) {
  OutputTag<Event> late("late");
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  builder.set_allowed_lateness(5);
  builder.set_late_data_tag(late.id());
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.add_side_output(late);

  h.process_element({"a", 1}, 2);
  h.process_watermark(9);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:1@9"}));
  h.process_element({"a", 2}, 4);  // late, within the lateness: fires at once with all contents
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:3@9"}));
  h.process_watermark(13);
  h.process_element({"a", 4}, 0);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:7@9"}));
  h.process_watermark(14);         // cleanup time 9 + 5: the window's state goes
  h.process_element({"a", 8}, 1);  // too late now
  EXPECT_TRUE(h.output().empty());
  EXPECT_EQ(describe(h.side_output(late)), (Strings{"a:8@1"}));
  // A late-but-allowed element of a window that never fired fires it on its own.
  h.process_element({"b", 16}, 8);
  EXPECT_TRUE(h.output().empty()) << "[0, 10) of b was cleaned up at 14: b@8 is too late";
  h.process_element({"c", 32}, 12);
  h.process_watermark(19);
  EXPECT_EQ(describe(h.take_output()), (Strings{"c:32@19"}));
}

TEST_P(WindowOperatorTest, AllowedLatenessKeepsStateUntilCleanupThenStartsOver) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  builder.set_allowed_lateness(100);
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 2);
  h.process_watermark(50);
  h.process_element({"a", 2}, 3);
  h.process_watermark(108);
  h.process_element({"a", 4}, 3);
  h.process_watermark(109);  // cleanup of [0, 10)
  h.process_element({"a", 8}, 3);
  EXPECT_EQ(describe(h.output()), (Strings{"a:1@9", "a:3@9", "a:7@9"}));
  EXPECT_EQ(h.metrics().records_dropped_late, 1u);
}

TEST_P(WindowOperatorTest, SlidingWindowsAggregate) {
  auto builder = window_builder(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5)));
  OneInputOperatorHarness<Event, std::pair<std::string, int64_t>> h(
      builder.aggregate(CountAggregate{}), options());
  h.process_element({"a", 1}, 1);   // [-5, 5) [0, 10)
  h.process_element({"a", 1}, 7);   // [0, 10) [5, 15)
  h.process_element({"a", 1}, 12);  // [5, 15) [10, 20)
  h.process_watermark(100);
  std::vector<std::string> got;
  for (const auto& r : h.output())
    got.push_back(r.value.first + std::to_string(r.value.second) + "@" +
                  std::to_string(r.timestamp));
  EXPECT_EQ(got, (Strings{"n1@4", "n2@9", "n2@14", "n1@19"}));
}

TEST_P(WindowOperatorTest, ProcessWindowFunctionSeesKeyWindowAndAllElements) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, std::string> h(builder.process(ListWindow{}), options());
  h.process_element({"a", 3}, 4);
  h.process_element({"b", 1}, 1);
  h.process_element({"a", 1}, 2);
  h.process_element({"a", 2}, 14);
  h.process_watermark(20);
  EXPECT_EQ(describe(h.output()), (Strings{"a[0,10):3,1@9", "a[10,20):2@19", "b[0,10):1@9"}));
}

// Counts firings per window (window state) and per key (global state); emits
// "key w=<window firings> g=<key firings> sum=<sum>".
class FiringCounter final
    : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& context, std::span<const Event> elements,
               Collector<std::string>& out) override {
    ValueState<int64_t>& in_window = context.window_state().get_state(descriptor_);
    ValueState<int64_t>& in_key = context.global_state().get_state(descriptor_);
    in_window.update(in_window.value_or(0) + 1);
    in_key.update(in_key.value_or(0) + 1);
    int64_t sum = 0;
    for (const Event& e : elements) sum += e.value;
    out.collect(key + " w=" + std::to_string(*in_window.value()) +
                " g=" + std::to_string(*in_key.value()) + " sum=" + std::to_string(sum));
    if (sum > 100) context.output(big_, sum);
  }
  void clear(Context& context) override {
    ++*cleared_;
    context.window_state().get_state(descriptor_).clear();
  }
  std::shared_ptr<int> cleared_ = std::make_shared<int>(0);
  OutputTag<int64_t> big_{"big"};

 private:
  ValueStateDescriptor<int64_t> descriptor_{"firings"};
};

TEST_P(WindowOperatorTest, WindowFunctionStateAndSideOutputs) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  builder.set_allowed_lateness(10);
  FiringCounter fn;
  std::shared_ptr<int> cleared = fn.cleared_;
  OneInputOperatorHarness<Event, std::string> h(builder.process(fn), options());
  h.add_side_output(fn.big_);
  h.process_element({"a", 1}, 1);
  h.process_watermark(9);
  h.process_element({"a", 200}, 2);  // late, re-fires [0, 10)
  h.process_element({"a", 3}, 12);
  h.process_watermark(19);
  EXPECT_EQ(*cleared, 1);  // [0, 10) cleaned up at 19
  h.process_watermark(29);
  EXPECT_EQ(*cleared, 2);
  EXPECT_EQ(describe(h.output()),
            (Strings{"a w=1 g=1 sum=1@9", "a w=1 g=3 sum=3@19", "a w=2 g=2 sum=201@9"}));
  ASSERT_EQ(h.side_output(fn.big_).size(), 1u);
  EXPECT_EQ(h.side_output(fn.big_)[0], (StreamRecord<int64_t>{201, 9}));
}

TEST_P(WindowOperatorTest, ReduceWithWindowFunctionGetsTheReduction) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  auto fn = internal::LambdaProcessWindowFunction<
      Event, std::string, std::string, TimeWindow,
      std::function<void(const std::string&, ProcessWindowContext<TimeWindow>&,
                         std::span<const Event>, Collector<std::string>&)>>(
      [](const std::string& key, ProcessWindowContext<TimeWindow>& context,
         std::span<const Event> elements, Collector<std::string>& out) {
        ASSERT_EQ(elements.size(), 1u);
        out.collect(key + "=" + std::to_string(elements[0].value) + " until " +
                    std::to_string(context.window().end));
      });
  OneInputOperatorHarness<Event, std::string> h(builder.reduce(sum_events, fn), options());
  h.process_element({"a", 1}, 1);
  h.process_element({"a", 2}, 2);
  h.process_watermark(10);
  EXPECT_EQ(describe(h.output()), (Strings{"a=3 until 10@9"}));
}

TEST_P(WindowOperatorTest, SessionWindowsMergeAndARecordCanBridgeTwoSessions) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(10)));
  OneInputOperatorHarness<Event, std::string> h(builder.process(ListWindow{}), options());
  h.process_element({"a", 1}, 1);   // [1, 11)
  h.process_element({"a", 2}, 15);  // [15, 25): a gap of 14
  h.process_element({"b", 7}, 5);   // other key
  h.process_element({"a", 3}, 8);   // [8, 18) bridges both: [1, 25)
  h.process_watermark(23);
  EXPECT_EQ(describe(h.take_output()), (Strings{"b[5,15):7@14"}));
  h.process_watermark(24);
  EXPECT_EQ(describe(h.output()), (Strings{"a[1,25):1,2,3@24"}));
}

TEST_P(WindowOperatorTest, SessionWindowsTouchingWindowsMerge) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 0);   // [0, 10)
  h.process_element({"a", 2}, 10);  // [10, 20) touches: [0, 20)
  h.process_element({"a", 4}, 21);  // [21, 31): separate
  h.process_watermark(100);
  EXPECT_EQ(describe(h.output()), (Strings{"a:3@19", "a:4@30"}));
}

TEST_P(WindowOperatorTest, SessionWindowsWithAggregateAndLateMerges) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(5)));
  builder.set_allowed_lateness(20);
  OneInputOperatorHarness<Event, std::pair<std::string, int64_t>> h(
      builder.aggregate(CountAggregate{}), options());
  h.process_element({"a", 0}, 0);  // [0, 5)
  h.process_element({"a", 0}, 3);  // [0, 8)
  h.process_watermark(7);
  ASSERT_EQ(h.output().size(), 1u);
  EXPECT_EQ(h.output()[0], (StreamRecord<std::pair<std::string, int64_t>>{{"n", 2}, 7}));
  h.process_element({"a", 0}, 6);  // late: [6, 11) merges into [0, 11), which is not late yet
  h.process_watermark(10);
  ASSERT_EQ(h.output().size(), 2u);
  EXPECT_EQ(h.output()[1], (StreamRecord<std::pair<std::string, int64_t>>{{"n", 3}, 10}));
}

TEST_P(WindowOperatorTest, DynamicSessionGaps) {
  auto builder = window_builder(
      EventTimeSessionWindows::with_dynamic_gap([](const Event& e) { return e.value; }));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 3}, 0);   // [0, 3)
  h.process_element({"a", 10}, 5);  // [5, 15)
  h.process_element({"a", 2}, 14);  // [14, 16) -> [5, 16)
  h.process_watermark(100);
  EXPECT_EQ(describe(h.output()), (Strings{"a:12@15", "a:3@2"}));
}

TEST_P(WindowOperatorTest, SessionWindowsWithCountTriggerMergeTheTriggerState) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(10)));
  builder.set_trigger(CountTrigger::of(3));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 0);   // [0, 10)
  h.process_element({"a", 2}, 20);  // [20, 30)
  EXPECT_TRUE(h.output().empty());
  h.process_element({"a", 4}, 10);  // [10, 20) touches both: counts 1 + 1 merge, + 1 = 3
  EXPECT_EQ(describe(h.output()), (Strings{"a:7@29"}));
}

TEST_P(WindowOperatorTest, CountWindowTumbling) {
  auto builder = window_builder(GlobalWindows::create());
  builder.set_trigger(PurgingTrigger::of(CountTrigger::of(3)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  for (int i = 1; i <= 7; ++i) h.process_element({i % 2 == 0 ? "even" : "odd", i});
  // odd: 1 3 5 | 7   even: 2 4 6
  EXPECT_EQ(describe(h.output()), (Strings{"even:12@" + std::to_string(kMaxWatermark),
                                           "odd:9@" + std::to_string(kMaxWatermark)}));
  h.process_watermark(kMaxWatermark);  // global windows never end
  EXPECT_EQ(h.output().size(), 2u);
}

class Values final : public ProcessWindowFunction<Event, std::string, std::string, GlobalWindow> {
 public:
  void process(const std::string& key, Context&, std::span<const Event> elements,
               Collector<std::string>& out) override {
    std::string s = key + ":";
    for (const Event& e : elements) s += std::to_string(e.value) + " ";
    out.collect(s);
  }
};

TEST_P(WindowOperatorTest, CountWindowSliding) {
  auto builder = window_builder(GlobalWindows::create());
  builder.set_evictor(CountEvictor::of(3));
  builder.set_trigger(CountTrigger::of(2));
  OneInputOperatorHarness<Event, std::string> h(builder.process(Values{}), options());
  for (int i = 1; i <= 7; ++i) h.process_element({"k", i}, i);
  EXPECT_EQ(h.output_values(), (Strings{"k:1 2 ", "k:2 3 4 ", "k:4 5 6 "}));
}

TEST_P(WindowOperatorTest, ProcessingTimeWindowsFireOnTheManualClock) {
  auto builder = window_builder(TumblingProcessingTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.set_processing_time(3);
  h.process_element({"a", 1});
  h.process_element({"a", 2});
  h.set_processing_time(8);
  h.process_element({"b", 4});
  h.process_watermark(1000);  // watermarks do not matter
  EXPECT_TRUE(h.output().empty());
  h.set_processing_time(11);  // passes 9
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:3@9", "b:4@9"}));
  h.process_element({"a", 8});
  h.set_processing_time(19);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:8@19"}));
  EXPECT_EQ(h.processing_time_service().num_pending(), 0u);
}

TEST_P(WindowOperatorTest, ProcessingTimeSessionWindows) {
  auto builder = window_builder(ProcessingTimeSessionWindows::with_gap(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.set_processing_time(0);
  h.process_element({"a", 1});  // [0, 10)
  h.set_processing_time(6);
  h.process_element({"a", 2});  // [6, 16) -> [0, 16)
  h.set_processing_time(14);
  EXPECT_TRUE(h.output().empty());
  h.set_processing_time(15);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:3@15"}));
  h.set_processing_time(30);
  h.process_element({"a", 4});
  h.set_processing_time(40);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:4@39"}));
}

TEST_P(WindowOperatorTest, ContinuousEventTimeTriggerFiresEarly) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(100)));
  builder.set_trigger(ContinuousEventTimeTrigger::of(milliseconds(30)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 10);  // next fire at 30
  h.process_watermark(29);
  EXPECT_TRUE(h.output().empty());
  h.process_watermark(30);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:1@99"}));
  h.process_element({"a", 2}, 40);
  h.process_watermark(60);
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:3@99"}));
  h.process_watermark(99);  // 90, then the end
  EXPECT_EQ(describe(h.take_output()), (Strings{"a:3@99", "a:3@99"}));
}

TEST_P(WindowOperatorTest, ContinuousProcessingTimeTriggerFiresEveryInterval) {
  auto builder = window_builder(GlobalWindows::create());
  builder.set_trigger(PurgingTrigger::of(ContinuousProcessingTimeTrigger::of(milliseconds(10))));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.set_processing_time(3);
  h.process_element({"a", 1});  // fires at 10
  h.process_element({"a", 2});
  h.set_processing_time(10);
  EXPECT_EQ(h.take_output().size(), 1u);
  h.process_element({"a", 4});
  h.set_processing_time(25);  // 20
  auto out = h.take_output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value.value, 4);
}

TEST_P(WindowOperatorTest, EvictorsRemoveElementsBeforeTheFunction) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(100)));
  builder.set_evictor(TimeEvictor::of(milliseconds(10)));
  OneInputOperatorHarness<Event, std::string> h(builder.process(ListWindow{}), options());
  h.process_element({"a", 1}, 5);
  h.process_element({"a", 2}, 50);
  h.process_element({"a", 3}, 45);
  h.process_element({"a", 4}, 40);  // newest 50: 40 and older go
  h.process_watermark(99);
  EXPECT_EQ(h.output_values(), (Strings{"a[0,100):2,3"}));
}

TEST_P(WindowOperatorTest, EvictingReduceAndAggregateRunAtFireTime) {
  {
    auto builder = window_builder(GlobalWindows::create());
    builder.set_evictor(CountEvictor::of(2));
    builder.set_trigger(CountTrigger::of(3));
    OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
    for (int i = 1; i <= 6; ++i) h.process_element({"a", i}, i);
    // fire at 3 elements: last two of 1 2 3 = 5; the window keeps 2 3, then 4 5 6 come:
    // fire at 6: last two of 2 3 4 5 6 = 11
    EXPECT_EQ(h.output_values(), (std::vector<Event>{{"a", 5}, {"a", 11}}));
  }
  {
    auto builder = window_builder(GlobalWindows::create());
    builder.set_evictor(CountEvictor::of(2, /*do_evict_after=*/true));
    builder.set_trigger(CountTrigger::of(2));
    OneInputOperatorHarness<Event, std::pair<std::string, int64_t>> h(
        builder.aggregate(CountAggregate{}), options());
    for (int i = 1; i <= 4; ++i) h.process_element({"a", i}, i);
    // fire at 2: 2 elements (evicted after to 2); fire at 4: 2 kept + 2 new = 4 elements.
    ASSERT_EQ(h.output().size(), 2u);
    EXPECT_EQ(h.output()[0].value.second, 2);
    EXPECT_EQ(h.output()[1].value.second, 4);
  }
}

// Fires on an element with value 0; purges on value -1 (a typed Trigger<T, W>).
class MarkerTrigger final : public Trigger<Event, TimeWindow> {
 public:
  TriggerResult on_element(const Event& element, Timestamp, const TimeWindow&,
                           TriggerContext&) const override {
    if (element.value == 0) return TriggerResult::kFire;
    if (element.value == -1) return TriggerResult::kPurge;
    return TriggerResult::kContinue;
  }
  TriggerResult on_event_time(Timestamp, const TimeWindow&, TriggerContext&) const override {
    return TriggerResult::kContinue;
  }
  TriggerResult on_processing_time(Timestamp, const TimeWindow&, TriggerContext&) const override {
    return TriggerResult::kContinue;
  }
  void clear(const TimeWindow&, TriggerContext&) const override {}
};

TEST_P(WindowOperatorTest, CustomTriggerFiresAndPurges) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(100)));
  builder.set_trigger(MarkerTrigger{});
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 5}, 1);
  h.process_element({"a", 0}, 2);  // fire: 5
  h.process_element({"a", 1}, 3);
  h.process_element({"a", -1}, 4);  // purge
  h.process_element({"a", 7}, 5);
  h.process_element({"a", 0}, 6);  // fire: 7
  h.process_watermark(1000);       // the window's end: the trigger does not fire then
  EXPECT_EQ(describe(h.output()), (Strings{"a:5@99", "a:7@99"}));
}

TEST_P(WindowOperatorTest, GlobalWindowsNeverFireByDefault) {
  auto builder = window_builder(GlobalWindows::create());
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 1}, 1);
  h.process_watermark(kMaxWatermark);
  h.set_processing_time(1'000'000);
  EXPECT_TRUE(h.output().empty());
}

TEST_P(WindowOperatorTest, ManyKeysAndWindowsInterleaved) {
  // A reference computed by hand: per key k and window w, the sum of the values.
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(7)));
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  std::map<std::pair<std::string, Timestamp>, int64_t> expected;
  uint64_t seed = 42;
  Timestamp watermark = kNoTimestamp;
  for (int i = 0; i < 2000; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string key = "k" + std::to_string((seed >> 33) % 13);
    Timestamp ts = i / 4 + static_cast<Timestamp>((seed >> 40) % 20) - 10;  // up to 10 out of order
    if (ts <= watermark) ts = watermark + 1;  // keep everything on time
    h.process_element({key, i}, ts);
    Timestamp end = TimeWindow::window_start_with_offset(ts, 0, 7) + 7;
    expected[{key, end - 1}] += i;
    if (i % 50 == 49) {
      watermark = i / 4 - 12;
      h.process_watermark(watermark);
    }
  }
  h.process_watermark(kMaxWatermark);
  std::vector<std::string> want;
  for (const auto& [k, sum] : expected)
    want.push_back(k.first + ":" + std::to_string(sum) + "@" + std::to_string(k.second));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(describe(h.output()), want);
  EXPECT_EQ(h.metrics().records_dropped_late, 0u);
}

// The number of entries in the operator's keyed state (timers are kept elsewhere).
template <class H>
size_t state_entries(H& h) {
  return h.keyed_state_backend()->snapshot()->run().entry_count();
}

// Sums per window, and counts its firings in window state (a window function's state).
class SumWithWindowState final
    : public ProcessWindowFunction<Event, std::string, std::string, TimeWindow> {
 public:
  void process(const std::string& key, Context& context, std::span<const Event> elements,
               Collector<std::string>& out) override {
    auto& firings = context.window_state().get_state(ValueStateDescriptor<int64_t>("firings"));
    firings.update(firings.value_or(0) + 1);
    int64_t sum = 0;
    for (const Event& e : elements) sum += e.value;
    out.collect(key + ":" + std::to_string(sum));
  }
  void clear(Context& context) override {
    context.window_state().get_state(ValueStateDescriptor<int64_t>("firings")).clear();
  }
};

TEST_P(WindowOperatorTest, AllStateIsRemovedWhenWindowsAreCleanedUp) {
  {
    auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
    builder.set_allowed_lateness(20);
    builder.set_trigger(ContinuousEventTimeTrigger::of(milliseconds(3)));
    OneInputOperatorHarness<Event, std::string> h(builder.process(SumWithWindowState{}), options());
    for (int i = 0; i < 30; ++i) h.process_element({"k" + std::to_string(i % 3), i}, i);
    h.process_watermark(15);
    h.process_element({"k0", 100}, 2);  // late, allowed
    EXPECT_GT(state_entries(h), 0u);
    h.process_watermark(1000);
    EXPECT_EQ(state_entries(h), 0u);
  }
  {
    auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(5)));
    builder.set_trigger(CountTrigger::of(2));
    OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
    for (int i = 0; i < 20; ++i) h.process_element({"k" + std::to_string(i % 2), i}, i * 4);
    EXPECT_GT(state_entries(h), 0u);
    h.process_watermark(1000);
    EXPECT_EQ(state_entries(h), 0u);  // contents, trigger counts and the merging window sets
  }
  {
    auto builder = window_builder(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5)));
    builder.set_evictor(CountEvictor::of(2));
    OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
    for (int i = 0; i < 20; ++i) h.process_element({"k", i}, i);
    h.process_watermark(1000);
    EXPECT_EQ(state_entries(h), 0u);
  }
}

TEST_P(WindowOperatorTest, MergingWindowsHaveNoPerWindowState) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(5)));
  OneInputOperatorHarness<Event, std::string> h(builder.process(SumWithWindowState{}), options());
  h.process_element({"a", 1}, 1);
  EXPECT_THROW(h.process_watermark(100), InvalidJobError);
}

TEST_P(WindowOperatorTest, EvictingSessionWindowsMergeTheirElements) {
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(10)));
  builder.set_evictor(CountEvictor::of(3));
  OneInputOperatorHarness<Event, std::string> h(builder.process(ListWindow{}), options());
  h.process_element({"a", 1}, 0);   // [0, 10)
  h.process_element({"a", 2}, 25);  // [25, 35)
  h.process_element({"a", 3}, 5);   // [0, 15)
  h.process_element({"a", 4}, 15);  // [15, 25) touches both: one session [0, 35)
  h.process_element({"b", 9}, 1);
  h.process_watermark(100);
  // The merged contents: the first session's (1 3), the other's (2), then 4; the last
  // three are kept.
  EXPECT_EQ(describe(h.output()), (Strings{"a[0,35):3,2,4@34", "b[1,11):9@10"}));
}

TEST_P(WindowOperatorTest, LateElementsOfSessionWindows) {
  OutputTag<Event> late("late");
  auto builder = window_builder(EventTimeSessionWindows::with_gap(milliseconds(10)));
  builder.set_late_data_tag(late.id());
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.add_side_output(late);
  h.process_element({"a", 1}, 0);
  h.process_watermark(50);
  h.process_element({"a", 2}, 30);  // [30, 40): behind the watermark
  h.process_element({"a", 4}, 45);  // [45, 55): on time
  h.process_watermark(100);
  EXPECT_EQ(describe(h.output()), (Strings{"a:1@9", "a:4@54"}));
  EXPECT_EQ(describe(h.side_output(late)), (Strings{"a:2@30"}));
}

// Puts each element into the window [value, value + 10), whatever its time (a typed
// custom assigner).
class ByValue final : public WindowAssigner<Event, TimeWindow> {
 public:
  void assign_windows(const Event& element, Timestamp, WindowAssignerContext&,
                      std::vector<TimeWindow>& windows) const override {
    windows.push_back(TimeWindow{element.value, element.value + 10});
  }
  std::shared_ptr<const Trigger<Event, TimeWindow>> default_trigger() const override {
    return internal::make_trigger<Event, TimeWindow>(EventTimeTrigger::create());
  }
  bool is_event_time() const override { return true; }
};

TEST_P(WindowOperatorTest, CustomAssigner) {
  auto builder = window_builder(ByValue{});
  OneInputOperatorHarness<Event, Event> h(builder.reduce(sum_events), options());
  h.process_element({"a", 5}, 1000);
  h.process_element({"a", 5}, 0);
  h.process_element({"a", 7}, 0);
  h.process_watermark(14);
  EXPECT_EQ(describe(h.output()), (Strings{"a:10@14"}));
}

// The built-in associative reductions (sum, min, max, ...) are pre-aggregated in memory;
// what a watermark fires still comes out in time order, as timers would fire it.
TEST_P(WindowOperatorTest, PreAggregatedWindowsFireInTimeOrder) {
  auto builder = window_builder(TumblingEventTimeWindows::of(milliseconds(10)));
  OneInputOperatorHarness<Event, Event> h(
      builder.reduce(internal::AssociativeReduce<decltype(&sum_events)>{&sum_events}), options());
  h.process_element({"a", 1}, 25);
  h.process_element({"a", 2}, 15);
  h.process_element({"b", 4}, 5);
  h.process_element({"a", 8}, 16);
  h.process_watermark(30);
  std::vector<Timestamp> times;
  for (const auto& record : h.output()) times.push_back(record.timestamp);
  EXPECT_EQ(times, (std::vector<Timestamp>{9, 19, 29}));
  EXPECT_EQ(describe(h.output()), (Strings{"a:10@19", "a:1@29", "b:4@9"}));
}

}  // namespace
}  // namespace eddy::testing
