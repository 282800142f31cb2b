// Windows in whole jobs through StreamEnvironment: event time from a WatermarkStrategy,
// windows firing at watermarks and at the end of bounded input, late data into a side
// output, window_all and count windows, and the same results at parallelism 1, 2 and 4.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "test_util.h"
#include "window_test_util.h"

namespace eddy::testing {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

// A record with its event time, for the input of a job.
struct Timed {
  Event event;
  Timestamp ts = 0;
};

// Records whose key is "wm" also carry a watermark at their timestamp.
class MarkerWatermarks final : public WatermarkGenerator<Timed> {
 public:
  void on_event(const Timed& record, Timestamp timestamp, WatermarkOutput& output) override {
    if (record.event.key == "wm") output.emit_watermark(timestamp);
  }
  void on_periodic_emit(WatermarkOutput&) override {}
};

StreamEnvironment make_env(int parallelism) {
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.config().auto_watermark_interval = milliseconds(0);  // watermarks only from the markers
  return env;
}

// The events with event time, out of the source at parallelism 1 (one split: records and
// watermarks keep their order).
DataStream<Event> timed_events(StreamEnvironment& env, std::vector<Timed> input) {
  auto strategy = WatermarkStrategy<Timed>::for_generator([] {
                    return std::make_unique<MarkerWatermarks>();
                  }).with_timestamp_assigner([](const Timed& t) { return t.ts; });
  return env.from_collection(std::move(input))
      .assign_timestamps_and_watermarks(strategy)
      .set_parallelism(1)
      .map([](const Timed& t) { return t.event; })
      .set_parallelism(1);
}

// "key:value@timestamp" for each record of `stream`, into `out`.
template <class T, class F>
void collect_described(DataStream<T> stream, std::vector<std::string>& out, F text) {
  stream
      .template process<std::string>([text](const T& value, ProcessContext<T, std::string>& context,
                                            Collector<std::string>& collector) {
        collector.collect(text(value) + "@" + std::to_string(context.timestamp()));
      })
      .sink_to(sinks::collect(out));
}
void collect_described(DataStream<Event> stream, std::vector<std::string>& out) {
  collect_described(stream, out,
                    [](const Event& e) { return e.key + ":" + std::to_string(e.value); });
}

std::vector<Timed> random_input(int count, uint64_t seed) {
  std::vector<Timed> input;
  for (int i = 0; i < count; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string key = "k" + std::to_string((seed >> 33) % 11);
    Timestamp ts = i * 3 + static_cast<Timestamp>((seed >> 40) % 50);
    input.push_back(Timed{{key, static_cast<int64_t>((seed >> 20) % 100)}, ts});
  }
  return input;
}

TEST(WindowJobTest, EventTimeWindowsFireAtTheEndOfBoundedInput) {
  auto env = make_env(1);
  std::vector<std::string> out;
  auto windowed = timed_events(env, {{{"a", 1}, 3}, {{"b", 2}, 4}, {{"a", 4}, 12}, {{"a", 8}, 9}})
                      .key_by([](const Event& e) { return e.key; })
                      .window(TumblingEventTimeWindows::of(milliseconds(10)))
                      .sum(&Event::value);
  collect_described(windowed, out);
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (Strings{"a:4@19", "a:9@9", "b:2@9"}));
}

TEST(WindowJobTest, LateDataGoesToTheSideOutputInAJob) {
  auto env = make_env(1);
  const OutputTag<Event> late("late");
  std::vector<std::string> out, late_out;
  auto windowed = timed_events(env, {{{"a", 1}, 1},
                                     {{"a", 5}, 5},
                                     {{"wm", 0}, 20},  // watermark 20: [0, 10) fires
                                     {{"a", 3}, 3},    // late
                                     {{"b", 7}, 25}})
                      .key_by([](const Event& e) { return e.key; })
                      .window(TumblingEventTimeWindows::of(milliseconds(10)))
                      .side_output_late_data(late)
                      .reduce(sum_events);
  collect_described(windowed, out);
  collect_described(windowed.side_output(late), late_out);
  auto result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(sorted(out), (Strings{"a:6@9", "b:7@29", "wm:0@29"}));
  EXPECT_EQ(late_out, (Strings{"a:3@3"}));
}

TEST(WindowJobTest, WindowAllAndCountWindows) {
  auto env = make_env(2);
  std::vector<std::string> all, counted, counted_all;
  auto events = timed_events(
      env, {{{"a", 1}, 1}, {{"b", 2}, 2}, {{"a", 3}, 11}, {{"a", 4}, 12}, {{"b", 5}, 13}});
  collect_described(
      events.window_all(TumblingEventTimeWindows::of(milliseconds(10)))
          .process<std::string>([](ProcessWindowContext<TimeWindow>& context,
                                   std::span<const Event> elements, Collector<std::string>& out) {
            int64_t sum = 0;
            for (const Event& e : elements) sum += e.value;
            out.collect(std::to_string(context.window().start) + ":" + std::to_string(sum));
          }),
      all, [](const std::string& s) { return s; });
  collect_described(
      events.key_by([](const Event& e) { return e.key; }).count_window(2).sum(&Event::value),
      counted);
  collect_described(events.count_window_all(3, 2).max(&Event::value), counted_all);
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(all), (Strings{"0:3@9", "10:12@19"}));
  const std::string end = "@" + std::to_string(kMaxWatermark);
  EXPECT_EQ(sorted(counted), (Strings{"a:4" + end, "b:7" + end}));
  // Every 2 elements, the max of the last 3 (arrival order is the source's).
  EXPECT_EQ(sorted(counted_all), (Strings{"a:2" + end, "b:4" + end}));
}

// The mean of the values; the accumulator is (sum, count).
class Mean final : public AggregateFunction<Event, std::pair<int64_t, int64_t>, double> {
 public:
  std::pair<int64_t, int64_t> create_accumulator() const override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const Event& e, std::pair<int64_t, int64_t> acc) const override {
    return {acc.first + e.value, acc.second + 1};
  }
  double get_result(const std::pair<int64_t, int64_t>& acc) const override {
    return static_cast<double>(acc.first) / static_cast<double>(acc.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                    const std::pair<int64_t, int64_t>& b) const override {
    return {a.first + b.first, a.second + b.second};
  }
};

TEST(WindowJobTest, IncrementalFunctionsWithWindowFunctions) {
  auto env = make_env(2);
  std::vector<std::string> reduced, averaged, all_reduced, all_averaged;
  auto events = timed_events(
      env, {{{"a", 1}, 1}, {{"b", 2}, 2}, {{"a", 3}, 11}, {{"a", 5}, 12}, {{"b", 6}, 13}});
  auto keyed = events.key_by([](const Event& e) { return e.key; });
  auto windows = TumblingEventTimeWindows::of(milliseconds(10));
  collect_described(keyed.window(windows).reduce(
                        sum_events,
                        [](const std::string& key, ProcessWindowContext<TimeWindow>& context,
                           std::span<const Event> sum, Collector<std::string>& out) {
                          out.collect(key + "/" + std::to_string(context.window().start) + "=" +
                                      std::to_string(sum[0].value));
                        }),
                    reduced, [](const std::string& s) { return s; });
  collect_described(keyed.window(windows).aggregate(
                        Mean{},
                        [](const std::string& key, ProcessWindowContext<TimeWindow>&,
                           std::span<const double> mean, Collector<std::string>& out) {
                          out.collect(key + "~" + std::to_string(mean[0]));
                        }),
                    averaged, [](const std::string& s) { return s; });
  collect_described(
      events.window_all(windows).reduce(sum_events,
                                        [](ProcessWindowContext<TimeWindow>& context,
                                           std::span<const Event> sum, Collector<int64_t>& out) {
                                          out.collect(context.window().start * 1000 + sum[0].value);
                                        }),
      all_reduced, [](int64_t v) { return std::to_string(v); });
  collect_described(events.window_all(windows).aggregate(Mean{}), all_averaged,
                    [](double v) { return std::to_string(v); });
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(reduced), (Strings{"a/0=1@9", "a/10=8@19", "b/0=2@9", "b/10=6@19"}));
  EXPECT_EQ(sorted(averaged),
            (Strings{"a~1.000000@9", "a~4.000000@19", "b~2.000000@9", "b~6.000000@19"}));
  EXPECT_EQ(sorted(all_reduced), (Strings{"10014@19", "3@9"}));
  EXPECT_EQ(sorted(all_averaged), (Strings{"1.500000@9", "4.666667@19"}));
}

TEST(WindowJobTest, WindowsOverTheUnionOfTwoStreams) {
  for (int parallelism : {1, 2, 4}) {
    SCOPED_TRACE(parallelism);
    auto env = make_env(parallelism);
    std::vector<std::string> out;
    auto first = timed_events(env, {{{"a", 1}, 1}, {{"b", 2}, 2}, {{"wm", 0}, 30}, {{"a", 3}, 31}});
    // The window operator's watermark is the smaller of the two inputs': no record here can
    // arrive behind it, whatever the order in which the two inputs are read.
    auto second =
        timed_events(env, {{{"a", 10}, 5}, {{"b", 20}, 12}, {{"b", 30}, 35}, {{"wm", 0}, 40}});
    collect_described(first.union_with(second)
                          .key_by([](const Event& e) { return e.key; })
                          .window(TumblingEventTimeWindows::of(milliseconds(10)))
                          .sum(&Event::value),
                      out);
    ASSERT_TRUE(env.execute().ok());
    EXPECT_EQ(sorted(out),
              (Strings{"a:11@9", "a:3@39", "b:20@19", "b:2@9", "b:30@39", "wm:0@39", "wm:0@49"}));
  }
}

TEST(WindowJobTest, ExplainNamesTheWindowOperator) {
  auto env = make_env(1);
  timed_events(env, {{{"a", 1}, 1}})
      .key_by([](const Event& e) { return e.key; })
      .window(SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5)))
      .reduce(sum_events)
      .sink_to(sinks::discard());
  EXPECT_NE(
      env.explain().find("Window(SlidingEventTimeWindows(10, 5), EventTimeTrigger(), Reduce)"),
      std::string::npos)
      << env.explain();
}

// The same windows give the same results at any parallelism.
class WindowParallelismTest : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(Parallelism, WindowParallelismTest, ::testing::Values(1, 2, 4));

struct Results {
  Strings tumbling, sliding, sessions, counts;
};

Results run_windows(int parallelism, const std::string& backend) {
  auto env = make_env(parallelism);
  env.config().state_backend.kind = backend;
  TempDir dir;
  env.config().state_backend.rocksdb_dir = dir.path();
  auto input = random_input(600, 7);
  // Watermarks every 50 records, trailing by 60 ms: some records are late.
  std::vector<Timed> with_marks;
  Timestamp high = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    with_marks.push_back(input[i]);
    high = std::max(high, input[i].ts);
    if (i % 50 == 49) with_marks.push_back(Timed{{"wm", 0}, high - 60});
  }
  auto keyed = timed_events(env, with_marks).key_by([](const Event& e) { return e.key; });
  Results r;
  collect_described(keyed.window(TumblingEventTimeWindows::of(milliseconds(40))).reduce(sum_events),
                    r.tumbling);
  collect_described(keyed.window(SlidingEventTimeWindows::of(milliseconds(60), milliseconds(20)))
                        .allowed_lateness(milliseconds(30))
                        .sum(&Event::value),
                    r.sliding);
  collect_described(
      keyed.window(EventTimeSessionWindows::with_gap(milliseconds(25)))
          .process<std::string>([](const std::string& key,
                                   ProcessWindowContext<TimeWindow>& context,
                                   std::span<const Event> elements, Collector<std::string>& out) {
            int64_t sum = 0;
            for (const Event& e : elements) sum += e.value;
            out.collect(key + "[" + std::to_string(context.window().start) + "," +
                        std::to_string(context.window().end) + "):" + std::to_string(sum) + "/" +
                        std::to_string(elements.size()));
          }),
      r.sessions, [](const std::string& s) { return s; });
  collect_described(keyed.count_window(4).sum(&Event::value), r.counts);
  auto result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  r.tumbling = sorted(r.tumbling);
  r.sliding = sorted(r.sliding);
  r.sessions = sorted(r.sessions);
  r.counts = sorted(r.counts);
  return r;
}

TEST_P(WindowParallelismTest, ResultsDoNotDependOnParallelismOrBackend) {
  static const Results reference = run_windows(1, "heap");
  ASSERT_FALSE(reference.tumbling.empty());
  ASSERT_FALSE(reference.sessions.empty());
  for (const char* backend : {"heap", "rocksdb"}) {
    SCOPED_TRACE(backend);
    Results r = run_windows(GetParam(), backend);
    EXPECT_EQ(r.tumbling, reference.tumbling);
    EXPECT_EQ(r.sliding, reference.sliding);
    EXPECT_EQ(r.sessions, reference.sessions);
    EXPECT_EQ(r.counts, reference.counts);
  }
}

}  // namespace
}  // namespace eddy::testing
