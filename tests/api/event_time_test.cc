// Event time in running jobs: timestamps and watermarks from strategies and sources,
// KeyedProcessFunction timers, side outputs, connected and broadcast streams, idleness.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eddy/eddy.h"
#include "scripted_source.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::ScriptedSource;
using testing::sorted;

struct Event {
  std::string key;
  int64_t value = 0;
};

using Stamped = std::pair<std::string, Timestamp>;

// Pairs each record with the timestamp it carries.
template <class T>
DataStream<std::pair<T, Timestamp>> with_timestamps(DataStream<T> stream) {
  return stream.template process<std::pair<T, Timestamp>>(
      [](const T& value, ProcessContext<T, std::pair<T, Timestamp>>& context,
         Collector<std::pair<T, Timestamp>>& out) { out.collect({value, context.timestamp()}); });
}

StreamEnvironment make_env(int parallelism) {
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.config().auto_watermark_interval = std::chrono::milliseconds(0);  // watermarks only by hand
  return env;
}

// On each record: count it, and set an event-time timer 5 ms later (value -1 deletes the
// key's timer at ts + 5 instead). On the timer: emit "key@time:count".
class DelayedCount final : public KeyedProcessFunction<std::string, Event, std::string> {
 public:
  void open(RuntimeContext& context) override { count_ = &context.get_state(ValueStateDescriptor<int64_t>("count")); }
  void process_element(const Event& event, Context& context, Collector<std::string>&) override {
    if (event.value < 0) {
      context.timer_service().delete_event_time_timer(context.timestamp() + 5);
      return;
    }
    count_->update(count_->value_or(0) + 1);
    context.timer_service().register_event_time_timer(context.timestamp() + 5);
  }
  void on_timer(Timestamp time, OnTimerContext& context, Collector<std::string>& out) override {
    EXPECT_EQ(context.time_domain(), TimeDomain::kEventTime);
    EXPECT_GE(context.timer_service().current_watermark(), time);
    out.collect(context.current_key() + "@" + std::to_string(time) + ":" + std::to_string(count_->value_or(0)));
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
};

class EventTimeJobTest : public ::testing::TestWithParam<int> {};

TEST_P(EventTimeJobTest, EventTimeTimersFirePerKeyInTimeOrderWithTheTimersTimestamp) {
  auto env = make_env(GetParam());
  auto source = ScriptedSource<Event>::Builder()
                    .record({"a", 1}, 1)
                    .record({"b", 1}, 2)
                    .record({"a", 1}, 1)  // same timer again: deduplicated
                    .record({"a", 1}, 3)
                    .watermark(5)
                    .record({"b", 1}, 7)
                    .record({"c", 1}, 10)
                    .record({"c", -1}, 10)  // deletes c's timer at 15
                    .watermark(20)
                    .record({"a", 1}, 30)
                    .build();
  std::vector<std::pair<std::string, Timestamp>> out;
  auto fired = env.from_source(source, "script")
                   .key_by([](const Event& e) { return e.key; })
                   .process(DelayedCount());
  with_timestamps(fired).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  // Timers at or below watermark 20 fire then; a@35 fires at the end of input.
  EXPECT_EQ(sorted(out), sorted(std::vector<Stamped>{{"a@6:3", 6},
                                                     {"a@8:3", 8},
                                                     {"b@7:2", 7},
                                                     {"b@12:2", 12},
                                                     {"a@35:4", 35}}));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, EventTimeJobTest, ::testing::Values(1, 2, 4));

TEST(EventTimeTest, TimersFireWhenTheWatermarkPassesAndNotBefore) {
  auto env = make_env(1);
  auto source = ScriptedSource<Event>::Builder()
                    .record({"k", 1}, 10)  // timer at 15
                    .watermark(14)
                    .record({"marker", 1}, 14)  // timer at 19
                    .watermark(15)
                    .watermark(100)
                    .build();
  std::vector<std::string> out;
  env.from_source(source, "script")
      .key_by([](const Event& e) { return e.key; })
      .process(DelayedCount())
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out, (std::vector<std::string>{"k@15:1", "marker@19:1"}));
}

// A punctuated generator: every record whose value is 0 carries the watermark.
class Punctuated final : public WatermarkGenerator<Event> {
 public:
  void on_event(const Event& event, Timestamp timestamp, WatermarkOutput& output) override {
    if (event.value == 0) output.emit_watermark(timestamp);
  }
  void on_periodic_emit(WatermarkOutput&) override {}
};

TEST(EventTimeTest, StrategiesAssignTimestampsAndGenerateWatermarks) {
  auto env = make_env(1);
  std::vector<Event> events = {{"a", 1}, {"a", 2}, {"wm", 0}, {"a", 3}};
  auto strategy = WatermarkStrategy<Event>::for_generator([] { return std::make_unique<Punctuated>(); })
                      .with_timestamp_assigner([](const Event& e) { return e.value == 0 ? 10 : e.value * 3; });
  std::vector<std::pair<Event, Timestamp>> stamped;
  auto stream = env.from_collection(events).assign_timestamps_and_watermarks(strategy);
  with_timestamps(stream).sink_to(sinks::collect(stamped));
  std::vector<std::string> fired;
  stream.key_by([](const Event& e) { return e.key; }).process(DelayedCount()).sink_to(sinks::collect(fired));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_EQ(stamped.size(), 4u);
  EXPECT_EQ(stamped[0].second, 3);
  EXPECT_EQ(stamped[1].second, 6);
  EXPECT_EQ(stamped[2].second, 10);
  EXPECT_EQ(stamped[3].second, 9);
  // Watermark 10 (from the "wm" record) fires a@8, when "a" has two records; the end of
  // input fires the rest, in time order.
  EXPECT_EQ(fired, (std::vector<std::string>{"a@8:2", "a@11:3", "a@14:3", "wm@15:1"}));
}

TEST(EventTimeTest, BoundedOutOfOrdernessTrailsTheHighestTimestamp) {
  std::vector<Timestamp> emitted;
  struct Recorder final : WatermarkOutput {
    std::vector<Timestamp>* out;
    void emit_watermark(Timestamp w) override { out->push_back(w); }
    void mark_idle() override {}
    void mark_active() override {}
  } output;
  output.out = &emitted;
  auto generator = WatermarkStrategy<int>::for_bounded_out_of_orderness(std::chrono::milliseconds(10)).create_generator();
  generator->on_periodic_emit(output);  // nothing seen yet: no watermark
  generator->on_event(0, 100, output);
  generator->on_event(0, 90, output);
  generator->on_periodic_emit(output);
  generator->on_event(0, 150, output);
  generator->on_periodic_emit(output);
  EXPECT_EQ(emitted, (std::vector<Timestamp>{89, 139}));
}

// Records go to the main output when even, to a side output when odd.
TEST(EventTimeTest, SideOutputsReachTheirOwnConsumers) {
  for (int parallelism : {1, 3}) {
    auto env = make_env(1);
    const OutputTag<std::string> odd("odd");
    std::vector<int64_t> evens;
    std::vector<std::string> odds;
    auto split = env.from_sequence(1, 10).process<int64_t>(
        [odd](const int64_t& v, ProcessContext<int64_t, int64_t>& context, Collector<int64_t>& out) {
          if (v % 2 == 0) {
            out.collect(v);
          } else {
            context.output(odd, "odd " + std::to_string(v));
          }
        });
    split.sink_to(sinks::collect(evens));
    split.side_output(odd).sink_to(sinks::collect(odds)).set_parallelism(parallelism);
    ASSERT_TRUE(env.execute().ok());
    EXPECT_EQ(sorted(evens), (std::vector<int64_t>{2, 4, 6, 8, 10}));
    EXPECT_EQ(sorted(odds), (std::vector<std::string>{"odd 1", "odd 3", "odd 5", "odd 7", "odd 9"}));
  }
}

TEST(EventTimeTest, ASideOutputWithoutMainConsumerStillGetsItsRecordsAndWatermarks) {
  auto env = make_env(1);
  const OutputTag<Event> late("late");
  auto source = ScriptedSource<Event>::Builder().record({"x", 1}, 1).watermark(50).record({"x", 2}, 2).build();
  auto main = env.from_source(source, "script").process<Event>(
      [late](const Event& e, ProcessContext<Event, Event>& context, Collector<Event>&) {
        if (context.timestamp() < context.timer_service().current_watermark()) context.output(late, e);
      });
  std::vector<std::string> fired;
  main.side_output(late)
      .key_by([](const Event& e) { return e.key; })
      .process(DelayedCount())
      .sink_to(sinks::collect(fired));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(fired, (std::vector<std::string>{"x@7:1"}));
}

TEST(EventTimeTest, RegisteringTimersOnAStreamThatIsNotKeyedFailsClearly) {
  auto env = make_env(1);
  env.from_elements(int64_t{1})
      .process<int64_t>([](const int64_t&, ProcessContext<int64_t, int64_t>& context, Collector<int64_t>&) {
        context.timer_service().register_event_time_timer(10);
      })
      .name("timers")
      .sink_to(sinks::discard());
  JobResult result = env.execute();
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("timers are only supported on keyed streams"), std::string::npos) << result.error;
  EXPECT_EQ(result.failed_operator, "timers");
}

// Accounts (key) with amounts on one input and names on the other: emits "name:total" when
// event time ends, whatever order the two inputs arrive in.
class TotalsByName final : public KeyedCoProcessFunction<int64_t, std::pair<int64_t, int64_t>,
                                                         std::pair<int64_t, std::string>, std::string> {
 public:
  void open(RuntimeContext& context) override {
    total_ = &context.get_state(ValueStateDescriptor<int64_t>("total"));
    name_ = &context.get_state(ValueStateDescriptor<std::string>("name"));
  }
  void process_element1(const std::pair<int64_t, int64_t>& amount, Context& context, Collector<std::string>&) override {
    EXPECT_EQ(context.current_key(), amount.first);
    total_->update(total_->value_or(0) + amount.second);
    context.timer_service().register_event_time_timer(1000);
  }
  void process_element2(const std::pair<int64_t, std::string>& name, Context& context, Collector<std::string>&) override {
    EXPECT_EQ(context.current_key(), name.first);
    name_->update(name.second);
    context.timer_service().register_event_time_timer(1000);
  }
  void on_timer(Timestamp, OnTimerContext&, Collector<std::string>& out) override {
    out.collect(name_->value_or("?") + ":" + std::to_string(total_->value_or(0)));
  }

 private:
  ValueState<int64_t>* total_ = nullptr;
  ValueState<std::string>* name_ = nullptr;
};

TEST_P(EventTimeJobTest, ConnectedKeyedStreamsShareStateAndTimersPerKey) {
  auto env = make_env(GetParam());
  std::vector<std::pair<int64_t, int64_t>> amounts;
  for (int64_t i = 0; i < 100; ++i) amounts.emplace_back(i % 5, i);
  std::vector<std::pair<int64_t, std::string>> names;
  for (int64_t k = 0; k < 5; ++k) names.emplace_back(k, "account" + std::to_string(k));
  auto stamp = [](const auto&) { return Timestamp{1}; };
  auto amount_stream = env.from_collection(amounts).assign_timestamps_and_watermarks(
      WatermarkStrategy<std::pair<int64_t, int64_t>>::no_watermarks().with_timestamp_assigner(stamp));
  auto name_stream = env.from_collection(names).assign_timestamps_and_watermarks(
      WatermarkStrategy<std::pair<int64_t, std::string>>::no_watermarks().with_timestamp_assigner(stamp));
  std::vector<std::string> out;
  amount_stream.key_by([](const auto& a) { return a.first; })
      .connect(name_stream.key_by([](const auto& n) { return n.first; }))
      .process(TotalsByName())
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  std::vector<std::string> expected;
  for (int64_t k = 0; k < 5; ++k) {
    int64_t total = 0;
    for (int64_t i = k; i < 100; i += 5) total += i;
    expected.push_back("account" + std::to_string(k) + ":" + std::to_string(total));
  }
  EXPECT_EQ(sorted(out), sorted(expected));
}

TEST(EventTimeTest, ConnectedStreamsMapEachSideWithItsOwnFunction) {
  auto env = make_env(2);
  std::vector<std::string> out;
  env.from_elements(int64_t{1}, int64_t{2})
      .connect(env.from_elements(std::string("x"), std::string("y")))
      .map([](const int64_t& v) { return "n" + std::to_string(v); }, [](const std::string& s) { return "s" + s; })
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (std::vector<std::string>{"n1", "n2", "sx", "sy"}));
}

// The broadcast state pattern: a threshold rule per category, broadcast; the keyed side
// buffers values and, when event time ends, emits those above its category's threshold.
const MapStateDescriptor<std::string, int64_t> kThresholds("thresholds");

class AboveThreshold final
    : public KeyedBroadcastProcessFunction<std::string, Event, std::pair<std::string, int64_t>, std::string> {
 public:
  void open(RuntimeContext& context) override { values_ = &context.get_list_state(ListStateDescriptor<int64_t>("values")); }
  void process_element(const Event& event, ReadOnlyContext& context, Collector<std::string>&) override {
    values_->add(event.value);
    context.timer_service().register_event_time_timer(100);
  }
  void process_broadcast_element(const std::pair<std::string, int64_t>& rule, Context& context,
                                 Collector<std::string>&) override {
    context.broadcast_state(kThresholds).put(rule.first, rule.second);
  }
  void on_timer(Timestamp, OnTimerContext& context, Collector<std::string>& out) override {
    auto threshold = context.broadcast_state(kThresholds).get(context.current_key());
    for (int64_t v : values_->get()) {
      if (threshold && v > *threshold) out.collect(context.current_key() + ":" + std::to_string(v));
    }
  }

 private:
  ListState<int64_t>* values_ = nullptr;
};

TEST_P(EventTimeJobTest, BroadcastRulesAreSeenByEveryKeyedSubtask) {
  auto env = make_env(GetParam());
  std::vector<Event> events;
  for (int64_t i = 0; i < 40; ++i) events.push_back({i % 2 == 0 ? "even" : "odd", i});
  auto stamp = [](const auto&) { return Timestamp{1}; };
  auto rules = env.from_elements(std::pair<std::string, int64_t>{"even", 30}, std::pair<std::string, int64_t>{"odd", 35})
                   .assign_timestamps_and_watermarks(
                       WatermarkStrategy<std::pair<std::string, int64_t>>::no_watermarks().with_timestamp_assigner(stamp))
                   .broadcast(kThresholds);
  std::vector<std::string> out;
  env.from_collection(events)
      .assign_timestamps_and_watermarks(WatermarkStrategy<Event>::no_watermarks().with_timestamp_assigner(stamp))
      .key_by([](const Event& e) { return e.key; })
      .connect(rules)
      .process(AboveThreshold())
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (std::vector<std::string>{"even:32", "even:34", "even:36", "even:38", "odd:37", "odd:39"}));
}

// Two inputs: one goes idle without finishing. With the idle mark, the other input's
// watermark alone fires the timer, while the idle input is still open.
TEST(EventTimeTest, AnIdleInputDoesNotHoldTheWatermarkBack) {
  auto env = make_env(1);
  auto quiet = ScriptedSource<Event>::Builder().record({"q", 1}, 1).watermark(1).idle().hold_open().build();
  auto busy = ScriptedSource<Event>::Builder().record({"b", 1}, 10).watermark(100).build();
  std::atomic<bool> fired_while_open{false};
  auto on_fired = [quiet, &fired_while_open](const std::string& s) {
    if (s == "b@15:1") {
      fired_while_open = true;
      quiet->release();
    }
  };
  env.from_source(quiet, "quiet")
      .union_with(env.from_source(busy, "busy"))
      .key_by([](const Event& e) { return e.key; })
      .process(DelayedCount())
      .sink_to(sinks::callback(on_fired));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_TRUE(fired_while_open) << "the idle input held the watermark back until it ended";
}

TEST(EventTimeTest, SourceIdlenessFromTheStrategyReleasesTheWatermark) {
  ManualClock clock(0);
  struct Recorder final : Output<int> {
    std::vector<Timestamp> watermarks;
    std::vector<bool> statuses;
    void emit(int&&, Timestamp) override {}
    void emit_watermark(Timestamp w) override { watermarks.push_back(w); }
    void emit_watermark_status(bool idle) override { statuses.push_back(idle); }
  } output;
  auto strategy = WatermarkStrategy<int>::for_monotonous_timestamps()
                      .with_timestamp_assigner([](const int& v) { return Timestamp{v}; })
                      .with_idleness(std::chrono::milliseconds(100));
  internal::SplitWatermarks<int> watermarks(strategy, output, clock);
  SourceOutput<int>& a = watermarks.split_output("a");
  SourceOutput<int>& b = watermarks.split_output("b");
  a.collect(10);
  b.collect(50);
  watermarks.on_periodic_emit();
  EXPECT_EQ(output.watermarks, (std::vector<Timestamp>{9})) << "minimum over the splits";
  clock.advance(60);
  b.collect(60);
  watermarks.on_periodic_emit();
  clock.advance(60);  // a: quiet for 120 ms; b: 60 ms
  watermarks.on_periodic_emit();
  EXPECT_EQ(output.watermarks, (std::vector<Timestamp>{9, 59})) << "idle split a no longer holds back";
  clock.advance(200);
  watermarks.on_periodic_emit();
  EXPECT_EQ(output.statuses, (std::vector<bool>{true})) << "both splits idle: the source is idle";
  a.collect(70);
  EXPECT_EQ(output.statuses, (std::vector<bool>{true, false}));
  watermarks.release_split("b");
  watermarks.on_periodic_emit();
  EXPECT_EQ(output.watermarks.back(), 69);
}

}  // namespace
}  // namespace eddy
