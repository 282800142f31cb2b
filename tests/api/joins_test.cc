// Stream joins: the interval join, window join and coGroup (eddy/joins.h). Jobs read
// scripted sources that emit records with timestamps and watermarks by hand, so results do
// not depend on timing; the operator is also driven directly, to check lateness and state
// cleanup watermark by watermark.
#include "eddy/joins.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using std::chrono::milliseconds;
using testing::sorted;

struct Click {
  int64_t user = 0;
  std::string page;
  EDDY_SERIALIZE(user, page)
};

struct Buy {
  int64_t user = 0;
  int64_t amount = 0;
  EDDY_SERIALIZE(user, amount)
};

struct ClickUser {
  int64_t operator()(const Click& c) const { return c.user; }
};
struct BuyUser {
  int64_t operator()(const Buy& b) const { return b.user; }
};

// "page/amount", the joined pair.
std::string pair_name(const Click& c, const Buy& b) {
  return c.page + "/" + std::to_string(b.amount);
}

// --- A source that plays a script of records and watermarks ------------------------------

template <class T>
class Script {
 public:
  Script& at(Timestamp timestamp, T value) {
    steps_->push_back(Step{std::move(value), timestamp});
    return *this;
  }
  Script& watermark(Timestamp watermark) {
    steps_->push_back(Step{std::nullopt, watermark});
    return *this;
  }
  std::shared_ptr<const Source<T>> source() const { return std::make_shared<ScriptSource>(steps_); }
  // The records, with their timestamps.
  std::vector<std::pair<T, Timestamp>> records() const {
    std::vector<std::pair<T, Timestamp>> out;
    for (const Step& step : *steps_) {
      if (step.value) out.emplace_back(*step.value, step.time);
    }
    return out;
  }

 private:
  struct Step {
    std::optional<T> value;  // none: a watermark
    Timestamp time;
  };
  using Steps = std::vector<Step>;

  class ScriptSplit final : public SourceSplit {
   public:
    std::string split_id() const override { return "script"; }
    std::string describe() const override { return "script"; }
    std::unique_ptr<SourceSplit> clone() const override {
      return std::make_unique<ScriptSplit>(*this);
    }
  };

  class ScriptSource final : public Source<T> {
   public:
    explicit ScriptSource(std::shared_ptr<Steps> steps) : steps_(std::move(steps)) {}
    bool bounded() const override { return true; }
    std::optional<int> max_source_parallelism() const override { return 1; }
    std::unique_ptr<SplitEnumerator> create_enumerator(
        SplitEnumeratorContext& context) const override {
      SplitList splits;
      splits.push_back(std::make_unique<ScriptSplit>());
      return std::make_unique<StaticSplitEnumerator>(context, std::move(splits));
    }
    std::unique_ptr<SourceReader<T>> create_reader(SourceReaderContext& context) const override {
      return std::make_unique<Reader>(context, steps_);
    }

   private:
    class Reader final : public SequentialSplitReader<T, ScriptSplit> {
     public:
      Reader(SourceReaderContext& context, std::shared_ptr<Steps> steps)
          : SequentialSplitReader<T, ScriptSplit>(context), steps_(std::move(steps)) {}

     protected:
      bool read_split(ScriptSplit&, SourceOutput<T>& output) override {
        for (const Step& step : *steps_) {
          if (step.value) {
            output.collect(*step.value, step.time);
          } else {
            output.emit_watermark(step.time);
          }
        }
        return false;
      }

     private:
      std::shared_ptr<Steps> steps_;
    };
    std::shared_ptr<Steps> steps_;
  };

  std::shared_ptr<Steps> steps_ = std::make_shared<Steps>();
};

// Collects "value@timestamp" from every subtask.
class TimestampedSink final : public Sink<std::string> {
 public:
  explicit TimestampedSink(std::vector<std::string>& target) : target_(&target) {}
  std::unique_ptr<SinkWriter<std::string>> create_writer(const RuntimeContext&) const override {
    return std::make_unique<Writer>(target_, mutex_);
  }

 private:
  class Writer final : public SinkWriter<std::string> {
   public:
    Writer(std::vector<std::string>* target, std::shared_ptr<std::mutex> mutex)
        : target_(target), mutex_(std::move(mutex)) {}
    void write(std::string&& value, Timestamp timestamp) override {
      buffer_.push_back(value + "@" + std::to_string(timestamp));
    }
    void flush(bool) override {
      std::lock_guard<std::mutex> lock(*mutex_);
      for (auto& value : buffer_) target_->push_back(std::move(value));
      buffer_.clear();
    }

   private:
    std::vector<std::string>* target_;
    std::shared_ptr<std::mutex> mutex_;
    std::vector<std::string> buffer_;
  };
  std::vector<std::string>* target_;
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
};

std::shared_ptr<const Sink<std::string>> collect_timestamped(std::vector<std::string>& target) {
  return std::make_shared<TimestampedSink>(target);
}

ExecutionConfig job_config(const std::string& backend = "heap", int parallelism = 1) {
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.state_backend.kind = backend;
  config.auto_watermark_interval = milliseconds(0);
  return config;
}

// Runs clicks.interval_join(buys).between(lower, upper) (with `configure` applied to the
// joined streams) and returns "page/amount@timestamp" for every result.
template <class Configure>
std::vector<std::string> interval_join(const Script<Click>& clicks, const Script<Buy>& buys,
                                       Timestamp lower, Timestamp upper, Configure configure,
                                       ExecutionConfig config = job_config()) {
  StreamEnvironment env(config);
  auto left = env.from_source(clicks.source(), "clicks").key_by(ClickUser{});
  auto right = env.from_source(buys.source(), "buys").key_by(BuyUser{});
  auto joined = left.interval_join(right).between(lower, upper);
  configure(joined);
  std::vector<std::string> out;
  joined
      .process([](const Click& c, const Buy& b, Collector<std::string>& out) {
        out.collect(pair_name(c, b));
      })
      .sink_to(collect_timestamped(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return sorted(out);
}

std::vector<std::string> interval_join(const Script<Click>& clicks, const Script<Buy>& buys,
                                       Timestamp lower, Timestamp upper,
                                       ExecutionConfig config = job_config()) {
  return interval_join(
      clicks, buys, lower, upper, [](auto&) {}, config);
}

// What an interval join must produce, by trying every pair.
std::vector<std::string> expected_join(const Script<Click>& clicks, const Script<Buy>& buys,
                                       Timestamp lower, Timestamp upper) {
  std::vector<std::string> out;
  for (const auto& [c, ct] : clicks.records()) {
    for (const auto& [b, bt] : buys.records()) {
      if (c.user == b.user && bt >= ct + lower && bt <= ct + upper) {
        out.push_back(pair_name(c, b) + "@" + std::to_string(std::max(ct, bt)));
      }
    }
  }
  return sorted(out);
}

// --- Interval join in jobs ----------------------------------------------------------------

// The example of Flink's documentation: between(-2, 1), one key, timestamps 0..7 on the left.
TEST(IntervalJoinTest, JoinsWithinInclusiveBounds) {
  Script<Click> clicks;
  for (Timestamp t : {0, 2, 3, 4, 5, 6, 7}) clicks.at(t, Click{1, "c" + std::to_string(t)});
  Script<Buy> buys;
  for (Timestamp t : {0, 1, 6, 8}) buys.at(t, Buy{1, t});
  EXPECT_EQ(interval_join(clicks, buys, -2, 1),
            sorted(std::vector<std::string>{"c0/0@0", "c0/1@1", "c2/0@2", "c2/1@2", "c3/1@3",
                                            "c5/6@6", "c6/6@6", "c7/6@7", "c7/8@8"}));
}

TEST(IntervalJoinTest, ExclusiveBoundsLeaveOutTheEnds) {
  Script<Click> clicks;
  clicks.at(10, Click{1, "c"});
  Script<Buy> buys;
  for (Timestamp t : {7, 8, 9, 10, 11, 12, 13}) buys.at(t, Buy{1, t});
  auto both = [](auto& j) { j.lower_bound_exclusive().upper_bound_exclusive(); };
  auto lower = [](auto& j) { j.lower_bound_exclusive(); };
  auto upper = [](auto& j) { j.upper_bound_exclusive(); };
  EXPECT_EQ(interval_join(clicks, buys, -2, 2),
            (std::vector<std::string>{"c/10@10", "c/11@11", "c/12@12", "c/8@10", "c/9@10"}));
  EXPECT_EQ(interval_join(clicks, buys, -2, 2, both),
            (std::vector<std::string>{"c/10@10", "c/11@11", "c/9@10"}));
  EXPECT_EQ(interval_join(clicks, buys, -2, 2, lower),
            (std::vector<std::string>{"c/10@10", "c/11@11", "c/12@12", "c/9@10"}));
  EXPECT_EQ(interval_join(clicks, buys, -2, 2, upper),
            (std::vector<std::string>{"c/10@10", "c/11@11", "c/8@10", "c/9@10"}));
  // An exclusive point interval joins nothing.
  EXPECT_EQ(interval_join(clicks, buys, 0, 0), (std::vector<std::string>{"c/10@10"}));
  EXPECT_TRUE(interval_join(clicks, buys, 0, 0, lower).empty());
}

TEST(IntervalJoinTest, BoundsMayBothBeNegativeOrBothPositive) {
  Script<Click> clicks;
  clicks.at(100, Click{1, "c"});
  Script<Buy> buys;
  for (Timestamp t = 80; t <= 120; t += 5) buys.at(t, Buy{1, t});
  // Buys 5 to 15 ms before the click.
  EXPECT_EQ(interval_join(clicks, buys, -15, -5),
            (std::vector<std::string>{"c/85@100", "c/90@100", "c/95@100"}));
  // Buys 5 to 15 ms after it.
  EXPECT_EQ(interval_join(clicks, buys, 5, 15),
            (std::vector<std::string>{"c/105@105", "c/110@110", "c/115@115"}));
}

TEST(IntervalJoinTest, OnlyEqualKeysJoin) {
  Script<Click> clicks;
  clicks.at(10, Click{1, "a"}).at(10, Click{2, "b"}).at(11, Click{3, "c"});
  Script<Buy> buys;
  buys.at(10, Buy{2, 20}).at(12, Buy{1, 10}).at(10, Buy{4, 40});
  EXPECT_EQ(interval_join(clicks, buys, -5, 5), (std::vector<std::string>{"a/10@12", "b/20@10"}));
}

TEST(IntervalJoinTest, DurationsAsBounds) {
  Script<Click> clicks;
  clicks.at(10'000, Click{1, "c"});
  Script<Buy> buys;
  buys.at(9'000, Buy{1, 1}).at(12'000, Buy{1, 2}).at(12'001, Buy{1, 3});
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .key_by(ClickUser{})
      .interval_join(env.from_source(buys.source(), "buys").key_by(BuyUser{}))
      .between(std::chrono::seconds(-1), std::chrono::seconds(2))
      .process([](const Click& c, const Buy& b, Collector<std::string>& out) {
        out.collect(pair_name(c, b));
      })
      .sink_to(collect_timestamped(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (std::vector<std::string>{"c/1@10000", "c/2@12000"}));
}

TEST(IntervalJoinTest, LowerAboveUpperIsRejected) {
  StreamEnvironment env;
  auto left = env.from_elements(Click{1, "a"}).key_by(ClickUser{});
  auto right = env.from_elements(Buy{1, 1}).key_by(BuyUser{});
  EXPECT_THROW(left.interval_join(right).between(5, 4), InvalidJobError);
  EXPECT_THROW(left.interval_join(right).between(std::numeric_limits<int64_t>::min(), 0),
               InvalidJobError);
}

// The function sees both timestamps; results and its side outputs carry the larger one.
class DescribeWithTimestamps final : public ProcessJoinFunction<Click, Buy, std::string> {
 public:
  static inline const OutputTag<std::string> kLeftFirst{"left-first"};
  void process_element(const Click& c, const Buy& b, Context& context,
                       Collector<std::string>& out) override {
    std::string text = pair_name(c, b) + " l=" + std::to_string(context.left_timestamp()) +
                       " r=" + std::to_string(context.right_timestamp()) +
                       " t=" + std::to_string(context.timestamp());
    if (context.left_timestamp() < context.right_timestamp()) context.output(kLeftFirst, text);
    out.collect(std::move(text));
  }
};

TEST(IntervalJoinTest, ProcessJoinFunctionSeesTimestampsAndEmitsSideOutputs) {
  Script<Click> clicks;
  clicks.at(10, Click{1, "c"});
  Script<Buy> buys;
  buys.at(8, Buy{1, 8}).at(13, Buy{1, 13});
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  std::vector<std::string> side;
  auto joined = env.from_source(clicks.source(), "clicks")
                    .key_by(ClickUser{})
                    .interval_join(env.from_source(buys.source(), "buys").key_by(BuyUser{}))
                    .between(-5, 5)
                    .process(DescribeWithTimestamps{});
  joined.sink_to(collect_timestamped(out));
  joined.side_output(DescribeWithTimestamps::kLeftFirst).sink_to(collect_timestamped(side));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out),
            (std::vector<std::string>{"c/13 l=10 r=13 t=13@13", "c/8 l=10 r=8 t=10@10"}));
  EXPECT_EQ(side, (std::vector<std::string>{"c/13 l=10 r=13 t=13@13"}));
}

TEST(IntervalJoinTest, LambdaWithContext) {
  Script<Click> clicks;
  clicks.at(10, Click{1, "c"});
  Script<Buy> buys;
  buys.at(12, Buy{1, 5});
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .key_by(ClickUser{})
      .interval_join(env.from_source(buys.source(), "buys").key_by(BuyUser{}))
      .between(0, 5)
      .process([](const Click& c, const Buy&,
                  ProcessJoinFunction<Click, Buy, std::string>::Context& context,
                  Collector<std::string>& out) {
        out.collect(c.page + std::to_string(context.left_timestamp()));
      })
      .sink_to(collect_timestamped(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out, (std::vector<std::string>{"c10@12"}));
}

TEST(IntervalJoinTest, RecordWithoutTimestampFailsNamingTheOperator) {
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  env.from_elements(Click{1, "a"})
      .key_by(ClickUser{})
      .interval_join(env.from_elements(Buy{1, 1}).key_by(BuyUser{}))
      .between(-1, 1)
      .process([](const Click& c, const Buy& b, Collector<std::string>& out) {
        out.collect(pair_name(c, b));
      })
      .name("clicks-with-buys")
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.failed_operator, "clicks-with-buys");
  EXPECT_NE(result.error.find("interval join 'clicks-with-buys' got a record without a timestamp"),
            std::string::npos)
      << result.error;
}

// Out-of-order records on both sides, watermarks trailing them, many keys: the same
// results as the brute-force join, on both backends and at several parallelisms.
class IntervalJoinJobTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

// Timestamps jitter around an increasing base; after every few records a watermark just
// below every timestamp still to come, so no record is late.
template <class T, class Make>
Script<T> out_of_order(int n, uint64_t seed, Make make, Timestamp base = 0) {
  std::mt19937_64 rng(seed);
  std::vector<Timestamp> times(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    times[static_cast<size_t>(i)] = base + i * 10 + static_cast<Timestamp>(rng() % 61) - 30;
  }
  Script<T> script;
  for (int i = 0; i < n; ++i) {
    script.at(times[static_cast<size_t>(i)], make(i, rng));
    if (i % 7 == 6) {
      Timestamp next = *std::min_element(times.begin() + i + 1, times.end());
      if (i + 1 < n) script.watermark(next - 1);
    }
  }
  return script;
}

TEST_P(IntervalJoinJobTest, OutOfOrderInputMatchesBruteForce) {
  auto [backend, parallelism] = GetParam();
  auto clicks = out_of_order<Click>(400, 1, [](int i, auto& rng) {
    return Click{static_cast<int64_t>(rng() % 13), "c" + std::to_string(i)};
  });
  auto buys = out_of_order<Buy>(300, 2, [](int i, auto& rng) {
    return Buy{static_cast<int64_t>(rng() % 13), i};
  });
  for (auto [lower, upper] :
       {std::pair<Timestamp, Timestamp>{-25, 40}, {-60, -10}, {15, 70}, {0, 0}}) {
    std::vector<std::string> expected = expected_join(clicks, buys, lower, upper);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(interval_join(clicks, buys, lower, upper, job_config(backend, parallelism)), expected)
        << "between(" << lower << ", " << upper << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(BackendsAndParallelism, IntervalJoinJobTest,
                         ::testing::Combine(::testing::Values("heap", "rocksdb"),
                                            ::testing::Values(1, 2, 4)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_p" +
                                  std::to_string(std::get<1>(info.param));
                         });

// --- The interval join operator, driven by hand -------------------------------------------

// A keyed operator's surroundings: one subtask owning every key group, a real backend.
class Harness final : public RuntimeContext, private ProcessingTimeService {
 public:
  explicit Harness(const std::string& backend) {
    config_.state_backend.kind = backend;
    backend_ = create_keyed_state_backend(config_.state_backend,
                                          KeyGroupRange::for_subtask(kMaxParallelism, 1, 0),
                                          kMaxParallelism, clock_, name_, 0);
  }
  const std::string& operator_name() const override { return name_; }
  int subtask_index() const override { return 0; }
  int parallelism() const override { return 1; }
  int max_parallelism() const override { return kMaxParallelism; }
  const ExecutionConfig& config() const override { return config_; }
  const Clock& clock() const override { return clock_; }
  ProcessingTimeService& processing_time_service() const override {
    return const_cast<Harness&>(*this);
  }
  KeyedStateBackend* keyed_state_backend() const override { return backend_.get(); }

  // The map state `name` of `key`, to look into the operator's buffers.
  template <class V>
  MapState<Timestamp, std::vector<V>>& buffer(const char* name, const int64_t& key) {
    backend_->set_current_key(key, key_group_of(KeyHash<int64_t>{}(key), kMaxParallelism));
    backend_->set_current_namespace({});
    return backend_->get_map_state(MapStateDescriptor<Timestamp, std::vector<V>>(name));
  }

 private:
  static constexpr int kMaxParallelism = 128;
  Timestamp current_processing_time() const override { return clock_.now_ms(); }
  void register_timer(Timestamp, std::function<void(Timestamp)>) override {}

  std::string name_ = "Interval Join";
  ExecutionConfig config_;
  ManualClock clock_;
  std::unique_ptr<KeyedStateBackend> backend_;
};

template <class T>
class RecordingOutput final : public Output<T> {
 public:
  void emit(T&& value, Timestamp timestamp) override {
    records.emplace_back(std::move(value), timestamp);
  }
  void emit_watermark(Timestamp watermark) override { watermarks.push_back(watermark); }
  void emit_watermark_status(bool) override {}
  std::vector<std::pair<T, Timestamp>> records;
  std::vector<Timestamp> watermarks;
};

class DescribePair final : public ProcessJoinFunction<Click, Buy, std::string> {
 public:
  void process_element(const Click& c, const Buy& b, Context&,
                       Collector<std::string>& out) override {
    out.collect(pair_name(c, b));
  }
};

using JoinOperator =
    internal::IntervalJoinOperator<Click, Buy, std::string, DescribePair, ClickUser, BuyUser>;

class IntervalJoinOperatorTest : public ::testing::TestWithParam<std::string> {
 protected:
  void open(Timestamp lower, Timestamp upper, std::optional<std::string> left_late = std::nullopt,
            std::optional<std::string> right_late = std::nullopt) {
    internal::IntervalJoinSettings settings;
    settings.lower = lower;
    settings.upper = upper;
    settings.left_late_tag = std::move(left_late);
    settings.right_late_tag = std::move(right_late);
    op_ = std::make_unique<JoinOperator>(DescribePair{}, ClickUser{}, BuyUser{}, settings);
    op_->set_output(&out_);
    op_->set_side_output("late-clicks", &late_clicks_);
    op_->set_side_output("late-buys", &late_buys_);
    op_->open(harness_);
  }
  void click(int64_t user, const std::string& page, Timestamp ts) {
    op_->process_first(Click{user, page}, ts);
  }
  void buy(int64_t user, int64_t amount, Timestamp ts) {
    op_->process_second(Buy{user, amount}, ts);
  }
  void watermark(Timestamp wm) { op_->process_watermark(wm, 0); }
  std::vector<std::string> results() {
    std::vector<std::string> out;
    for (auto& [value, ts] : out_.records) out.push_back(value + "@" + std::to_string(ts));
    out_.records.clear();
    return sorted(out);
  }
  size_t left_buckets(int64_t user) {
    return harness_.buffer<Click>(JoinOperator::kLeftBuffer, user).keys().size();
  }
  size_t right_buckets(int64_t user) {
    return harness_.buffer<Buy>(JoinOperator::kRightBuffer, user).keys().size();
  }

  Harness harness_{GetParam()};
  RecordingOutput<std::string> out_;
  RecordingOutput<Click> late_clicks_;
  RecordingOutput<Buy> late_buys_;
  std::unique_ptr<JoinOperator> op_;
};

TEST_P(IntervalJoinOperatorTest, BuffersAreCleanedUpWhenTheWatermarkPasses) {
  open(-2, 5);
  click(1, "a", 10);  // kept until the watermark reaches 10 + 5
  buy(1, 1, 10);      // kept until it reaches 10 + 2
  click(2, "b", 20);
  EXPECT_EQ(results(), (std::vector<std::string>{"a/1@10"}));
  EXPECT_EQ(op_->num_cleanup_timers(), 3u);

  watermark(11);
  EXPECT_EQ(left_buckets(1), 1u);
  EXPECT_EQ(right_buckets(1), 1u);
  watermark(12);
  EXPECT_EQ(left_buckets(1), 1u);
  EXPECT_EQ(right_buckets(1), 0u);
  // Still joins: 14 is within [10 - 2, 10 + 5] and not behind the watermark.
  buy(1, 2, 14);
  EXPECT_EQ(results(), (std::vector<std::string>{"a/2@14"}));
  watermark(15);
  EXPECT_EQ(left_buckets(1), 0u);
  EXPECT_EQ(right_buckets(1), 1u);  // the buy at 14 waits until 16
  EXPECT_EQ(left_buckets(2), 1u);
  watermark(100);
  EXPECT_EQ(left_buckets(1), 0u);
  EXPECT_EQ(right_buckets(1), 0u);
  EXPECT_EQ(left_buckets(2), 0u);
  EXPECT_EQ(op_->num_cleanup_timers(), 0u);
  EXPECT_EQ(out_.watermarks, (std::vector<Timestamp>{11, 12, 15, 100}));
}

TEST_P(IntervalJoinOperatorTest, CleanupWithNegativeAndPositiveOnlyBounds) {
  open(-30, -10);  // buys 10 to 30 ms before the click: clicks need no waiting
  click(1, "a", 100);
  buy(1, 1, 80);
  EXPECT_EQ(results(), (std::vector<std::string>{"a/1@100"}));
  watermark(100);
  EXPECT_EQ(left_buckets(1), 0u);   // removed at its own time
  EXPECT_EQ(right_buckets(1), 1u);  // a click up to 80 + 30 may still come
  click(1, "b", 105);
  EXPECT_EQ(results(), (std::vector<std::string>{"b/1@105"}));
  watermark(110);
  EXPECT_EQ(right_buckets(1), 0u);
  watermark(1000);
  EXPECT_EQ(op_->num_cleanup_timers(), 0u);
}

TEST_P(IntervalJoinOperatorTest, LateRecordsAreDroppedAndCounted) {
  open(-5, 5);
  click(1, "a", 10);
  watermark(20);
  buy(1, 1, 12);  // behind the watermark: late
  click(1, "b", 19);
  buy(1, 2, 20);  // at the watermark: on time
  EXPECT_EQ(results(), std::vector<std::string>{});
  EXPECT_EQ(op_->metrics().records_dropped_late, 2u);
  EXPECT_EQ(left_buckets(1), 0u);
  EXPECT_EQ(right_buckets(1), 1u);
  EXPECT_TRUE(late_clicks_.records.empty());
  EXPECT_TRUE(late_buys_.records.empty());
}

TEST_P(IntervalJoinOperatorTest, NothingIsLateBeforeTheFirstWatermark) {
  open(-5, 5);
  click(1, "a", 1000);
  buy(1, 1, -1000);
  click(1, "b", -998);
  EXPECT_EQ(results(), (std::vector<std::string>{"b/1@-998"}));
  EXPECT_EQ(op_->metrics().records_dropped_late, 0u);
}

TEST_P(IntervalJoinOperatorTest, LateRecordsGoToTheirSideOutputs) {
  open(-5, 5, "late-clicks", "late-buys");
  click(1, "a", 10);
  watermark(20);
  buy(1, 7, 12);
  click(2, "b", 3);
  ASSERT_EQ(late_buys_.records.size(), 1u);
  EXPECT_EQ(late_buys_.records[0].first.amount, 7);
  EXPECT_EQ(late_buys_.records[0].second, 12);
  ASSERT_EQ(late_clicks_.records.size(), 1u);
  EXPECT_EQ(late_clicks_.records[0].first.page, "b");
  EXPECT_EQ(late_clicks_.records[0].second, 3);
  EXPECT_EQ(op_->metrics().records_dropped_late, 0u);
  EXPECT_EQ(results(), std::vector<std::string>{});
}

TEST_P(IntervalJoinOperatorTest, OnlyTheConfiguredSideGoesToASideOutput) {
  open(-5, 5, std::nullopt, "late-buys");
  watermark(20);
  buy(1, 7, 12);
  click(2, "b", 3);
  EXPECT_EQ(late_buys_.records.size(), 1u);
  EXPECT_TRUE(late_clicks_.records.empty());
  EXPECT_EQ(op_->metrics().records_dropped_late, 1u);
}

TEST_P(IntervalJoinOperatorTest, MissingTimestampThrowsNamingTheOperator) {
  open(-5, 5);
  try {
    op_->process_second(Buy{1, 1}, kNoTimestamp);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "interval join 'Interval Join' got a record without a timestamp on its "
                  "right input"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(IntervalJoinOperatorTest, RecordsOfOneTimestampShareABucket) {
  open(0, 0);
  click(1, "a", 10);
  click(1, "b", 10);
  buy(1, 1, 10);
  buy(1, 2, 10);
  EXPECT_EQ(results(), (std::vector<std::string>{"a/1@10", "a/2@10", "b/1@10", "b/2@10"}));
  EXPECT_EQ(left_buckets(1), 1u);
  EXPECT_EQ(harness_.buffer<Click>(JoinOperator::kLeftBuffer, 1).get(10)->size(), 2u);
  watermark(10);
  EXPECT_EQ(left_buckets(1), 0u);
  EXPECT_EQ(right_buckets(1), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntervalJoinOperatorTest, ::testing::Values("heap", "rocksdb"));

// --- Window join and coGroup ---------------------------------------------------------------

// Runs clicks.join(buys) by user in windows of `assigner` and returns
// "page/amount@timestamp" for every pair.
template <class Assigner>
std::vector<std::string> window_join(const Script<Click>& clicks, const Script<Buy>& buys,
                                     Assigner assigner, ExecutionConfig config = job_config()) {
  StreamEnvironment env(config);
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .join(env.from_source(buys.source(), "buys"))
      .where([](const Click& c) { return c.user; })
      .equal_to([](const Buy& b) { return b.user; })
      .window(assigner)
      .apply([](const Click& c, const Buy& b) { return pair_name(c, b); })
      .sink_to(collect_timestamped(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return sorted(out);
}

// "user [pages] [amounts]@timestamp" for every key and window, each side sorted (the
// order of records within a window depends on how the inputs interleave).
template <class Assigner>
std::vector<std::string> co_group(const Script<Click>& clicks, const Script<Buy>& buys,
                                  Assigner assigner, ExecutionConfig config = job_config()) {
  StreamEnvironment env(config);
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .co_group(env.from_source(buys.source(), "buys"))
      .where([](const Click& c) { return c.user; })
      .equal_to([](const Buy& b) { return b.user; })
      .window(assigner)
      .apply([](const std::vector<Click>& cs, const std::vector<Buy>& bs,
                Collector<std::string>& out) {
        std::vector<std::string> pages;
        std::vector<int64_t> amounts;
        for (const Click& c : cs) pages.push_back(c.page);
        for (const Buy& b : bs) amounts.push_back(b.amount);
        std::string text = std::to_string(cs.empty() ? bs[0].user : cs[0].user) + " [";
        for (const auto& p : sorted(pages)) text += (text.back() == '[' ? "" : " ") + p;
        text += "] [";
        for (int64_t a : sorted(amounts))
          text += (text.back() == '[' ? "" : " ") + std::to_string(a);
        out.collect(text + "]");
      })
      .sink_to(collect_timestamped(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return sorted(out);
}

TEST(WindowJoinTest, TumblingWindowsJoinPairsOfTheSameWindowAndKey) {
  Script<Click> clicks;
  clicks.at(1, Click{1, "a"})
      .at(8, Click{1, "b"})
      .at(12, Click{1, "c"})
      .at(3, Click{2, "d"})
      .watermark(2);
  clicks.at(25, Click{1, "e"});
  Script<Buy> buys;
  buys.at(5, Buy{1, 50})
      .at(9, Buy{2, 90})
      .at(11, Buy{1, 110})
      .at(19, Buy{1, 190})
      .at(21, Buy{3, 210});
  // Windows [0, 10), [10, 20), [20, 30): results carry 9, 19, 29.
  EXPECT_EQ(window_join(clicks, buys, TumblingEventTimeWindows::of(milliseconds(10))),
            (std::vector<std::string>{"a/50@9", "b/50@9", "c/110@19", "c/190@19", "d/90@9"}));
}

TEST(WindowJoinTest, FlatJoinFunctionEmitsAnyNumberPerPair) {
  Script<Click> clicks;
  clicks.at(1, Click{1, "a"}).at(2, Click{1, "b"});
  Script<Buy> buys;
  buys.at(3, Buy{1, 2}).at(4, Buy{1, 0});
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .join(env.from_source(buys.source(), "buys"))
      .where(ClickUser{})
      .equal_to(BuyUser{})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .apply([](const Click& c, const Buy& b, Collector<std::string>& out) {
        for (int64_t i = 0; i < b.amount; ++i) out.collect(c.page + std::to_string(i));
      })
      .sink_to(collect_timestamped(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (std::vector<std::string>{"a0@9", "a1@9", "b0@9", "b1@9"}));
}

TEST(WindowJoinTest, SlidingWindowsJoinAPairOncePerSharedWindow) {
  Script<Click> clicks;
  clicks.at(12, Click{1, "a"});
  Script<Buy> buys;
  buys.at(14, Buy{1, 1}).at(17, Buy{1, 2}).at(25, Buy{1, 3});
  // Size 10, slide 5: the click at 12 is in [5, 15) and [10, 20); 14 in both, 17 in
  // [10, 20) and [15, 25), 25 in neither.
  EXPECT_EQ(
      window_join(clicks, buys, SlidingEventTimeWindows::of(milliseconds(10), milliseconds(5))),
      (std::vector<std::string>{"a/1@14", "a/1@19", "a/2@19"}));
}

TEST(WindowJoinTest, SessionWindowsMergeAcrossBothInputs) {
  Script<Click> clicks;
  clicks.at(0, Click{1, "a"}).at(14, Click{1, "b"}).at(40, Click{1, "c"}).at(41, Click{2, "d"});
  Script<Buy> buys;
  buys.at(7, Buy{1, 7}).at(30, Buy{1, 30}).at(47, Buy{2, 47});
  // Gap 8: for user 1 the click at 0, the buy at 7 and the click at 14 form one session
  // [0, 22); the buy at 30 alone [30, 38) (nothing to join); the click at 40 alone. User 2:
  // click at 41 and buy at 47 in [41, 55).
  EXPECT_EQ(window_join(clicks, buys, EventTimeSessionWindows::with_gap(milliseconds(8))),
            (std::vector<std::string>{"a/7@21", "b/7@21", "d/47@54"}));
}

TEST(WindowJoinTest, CoGroupCallsOncePerKeyAndWindowAlsoWithOneSideOnly) {
  Script<Click> clicks;
  clicks.at(1, Click{1, "a"}).at(2, Click{1, "b"}).at(3, Click{2, "c"}).at(15, Click{1, "d"});
  Script<Buy> buys;
  buys.at(4, Buy{1, 40}).at(5, Buy{3, 50}).at(6, Buy{3, 60});
  EXPECT_EQ(
      co_group(clicks, buys, TumblingEventTimeWindows::of(milliseconds(10))),
      (std::vector<std::string>{"1 [a b] [40]@9", "1 [d] []@19", "2 [c] []@9", "3 [] [50 60]@9"}));
}

TEST(WindowJoinTest, WindowOptionsApply) {
  // A count trigger fires the window of each key every 2 records, of either input.
  Script<Click> clicks;
  clicks.at(1, Click{1, "a"});
  Script<Buy> buys;
  buys.at(2, Buy{1, 1});
  StreamEnvironment env(job_config());
  std::vector<std::string> out;
  env.from_source(clicks.source(), "clicks")
      .join(env.from_source(buys.source(), "buys"))
      .where(ClickUser{})
      .equal_to(BuyUser{})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .trigger(PurgingTrigger::of(CountTrigger::of(2)))
      .allowed_lateness(milliseconds(5))
      .apply([](const Click& c, const Buy& b) { return pair_name(c, b); })
      .sink_to(collect_timestamped(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out, (std::vector<std::string>{"a/1@9"}));
}

TEST(WindowJoinTest, OperatorsAreNamedAfterTheJoin) {
  StreamEnvironment env(job_config("heap", 2));
  auto clicks = env.from_elements(Click{1, "a"});
  auto buys = env.from_elements(Buy{1, 1});
  clicks.join(buys)
      .where(ClickUser{})
      .equal_to(BuyUser{})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .apply([](const Click& c, const Buy& b) { return pair_name(c, b); })
      .sink_to(sinks::discard());
  clicks.co_group(buys)
      .where(ClickUser{})
      .equal_to(BuyUser{})
      .window(TumblingEventTimeWindows::of(milliseconds(10)))
      .apply([](const std::vector<Click>&, const std::vector<Buy>&, Collector<int>&) {})
      .sink_to(sinks::discard());
  clicks.key_by(ClickUser{})
      .interval_join(buys.key_by(BuyUser{}))
      .between(0, 1)
      .process([](const Click&, const Buy&, Collector<int>&) {})
      .sink_to(sinks::discard());
  std::string plan = env.explain();
  EXPECT_NE(plan.find("Window(TumblingEventTimeWindows(10), EventTimeTrigger"), std::string::npos)
      << plan;
  EXPECT_NE(plan.find(", Join)"), std::string::npos) << plan;
  EXPECT_NE(plan.find(", CoGroup)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Interval Join"), std::string::npos) << plan;
  // The tagging maps chain to their (collection) sources.
  EXPECT_NE(plan.find("Elements Source -> Tag First Input"), std::string::npos) << plan;
}

TEST(WindowJoinTest, TaggedUnionSerializes) {
  using U = TaggedUnion<Click, int64_t>;
  U first = U::of_first(Click{3, "x"});
  U second = U::of_second(42);
  U first_back = deserialize<U>(serialize(first));
  ASSERT_TRUE(first_back.is_first());
  EXPECT_EQ(first_back.first().page, "x");
  U second_back = deserialize<U>(serialize(second));
  ASSERT_TRUE(second_back.is_second());
  EXPECT_EQ(second_back.second(), 42);
  EXPECT_EQ(serialize(second)[0], '\x01');
  EXPECT_THROW(deserialize<U>(std::string("\x02", 1)), SerializationError);
  EXPECT_EQ((serializer_signature<TaggedUnion<int64_t, std::string>>()),
            "tagged_union<int64,string>");
}

// Brute force: every pair of one key in a window of [start, start + size) every `slide`.
std::vector<std::string> expected_window_join(const Script<Click>& clicks, const Script<Buy>& buys,
                                              int64_t size, int64_t slide) {
  std::vector<std::string> out;
  for (const auto& [c, ct] : clicks.records()) {
    for (const auto& [b, bt] : buys.records()) {
      if (c.user != b.user) continue;
      for (Timestamp start = std::min(ct, bt) / slide * slide; start + size > std::max(ct, bt);
           start -= slide) {
        out.push_back(pair_name(c, b) + "@" + std::to_string(start + size - 1));
      }
    }
  }
  return sorted(out);
}

class WindowJoinJobTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(WindowJoinJobTest, OutOfOrderInputMatchesBruteForce) {
  auto [backend, parallelism] = GetParam();
  // Timestamps from about 1000 on: the brute force rounds window starts towards zero.
  auto clicks = out_of_order<Click>(
      300, 3,
      [](int i, auto& rng) {
        return Click{static_cast<int64_t>(rng() % 11), "c" + std::to_string(i)};
      },
      1000);
  auto buys = out_of_order<Buy>(
      200, 4,
      [](int i, auto& rng) {
        return Buy{static_cast<int64_t>(rng() % 11), i};
      },
      1000);
  ExecutionConfig config = job_config(backend, parallelism);
  std::vector<std::string> tumbling = expected_window_join(clicks, buys, 50, 50);
  ASSERT_FALSE(tumbling.empty());
  EXPECT_EQ(window_join(clicks, buys, TumblingEventTimeWindows::of(milliseconds(50)), config),
            tumbling);
  std::vector<std::string> sliding = expected_window_join(clicks, buys, 60, 20);
  EXPECT_EQ(window_join(clicks, buys,
                        SlidingEventTimeWindows::of(milliseconds(60), milliseconds(20)), config),
            sliding);
}

INSTANTIATE_TEST_SUITE_P(BackendsAndParallelism, WindowJoinJobTest,
                         ::testing::Combine(::testing::Values("heap", "rocksdb"),
                                            ::testing::Values(1, 2, 4)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_p" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace eddy
