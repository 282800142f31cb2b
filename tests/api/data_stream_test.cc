// The stateless DataStream transformations and partitioning, run as real jobs.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::sorted;

TEST(DataStreamTest, MapFilterFlatMap) {
  StreamEnvironment env;
  std::vector<std::string> out;
  env.from_elements<std::string>("a b", "c", "", "d e f")
      .flat_map([](const std::string& line, Collector<std::string>& words) {
        size_t start = 0;
        while (start < line.size()) {
          size_t end = line.find(' ', start);
          if (end == std::string::npos) end = line.size();
          if (end > start) words.collect(line.substr(start, end - start));
          start = end + 1;
        }
      })
      .filter([](const std::string& w) { return w != "c"; })
      .map([](std::string w) { return w + w; })
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(out, (std::vector<std::string>{"aa", "bb", "dd", "ee", "ff"}));
  EXPECT_EQ(result.find_operator("Flat Map")->records_in, 4u);
  EXPECT_EQ(result.find_operator("Flat Map")->records_out, 6u);
  EXPECT_EQ(result.find_operator("Filter")->records_out, 5u);
}

TEST(DataStreamTest, MapChangesType) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, std::string>> out;
  env.from_sequence(1, 3)
      .map([](int64_t i) { return std::pair<int64_t, std::string>{i, std::string(static_cast<size_t>(i), 'x')}; })
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out, (std::vector<std::pair<int64_t, std::string>>{{1, "x"}, {2, "xx"}, {3, "xxx"}}));
}

// A rich function: open() sees its subtask; each subtask has its own copy.
struct TagWithSubtask {
  int subtask = -1;
  void open(RuntimeContext& context) { subtask = context.subtask_index(); }
  std::pair<int64_t, int> operator()(int64_t v) const { return {v, subtask}; }
};

TEST(DataStreamTest, RichFunctionOpenSeesItsSubtask) {
  StreamEnvironment env;
  env.set_parallelism(3);
  std::vector<std::pair<int64_t, int>> out;
  env.from_sequence(0, 299).set_parallelism(1).rebalance().map(TagWithSubtask{}).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_EQ(out.size(), 300u);
  std::set<int> subtasks;
  for (auto& [v, s] : out) subtasks.insert(s);
  EXPECT_EQ(subtasks, (std::set<int>{0, 1, 2}));
}

class SplitEvenOdd final : public ProcessFunction<int64_t, std::string> {
 public:
  void open(RuntimeContext& context) override { name_ = context.operator_name(); }
  void process_element(const int64_t& value, Context& context, Collector<std::string>& out) override {
    EXPECT_EQ(context.timestamp(), kNoTimestamp);
    out.collect(name_ + ":" + std::to_string(value));
    if (value % 2 == 0) out.collect("even");
  }

 private:
  std::string name_;
};

TEST(DataStreamTest, ProcessFunctionClassAndLambda) {
  StreamEnvironment env;
  std::vector<std::string> out;
  std::vector<int64_t> doubled;
  auto numbers = env.from_sequence(1, 4);
  numbers.process(SplitEvenOdd{}).name("split").sink_to(sinks::collect(out));
  numbers
      .process([](const int64_t& v, ProcessContext<int64_t, int64_t>&, Collector<int64_t>& c) {
        c.collect(v * 2);
      })
      .sink_to(sinks::collect(doubled));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out, (std::vector<std::string>{"split:1", "split:2", "even", "split:3", "split:4", "even"}));
  EXPECT_EQ(doubled, (std::vector<int64_t>{2, 4, 6, 8}));
}

TEST(DataStreamTest, UnionMergesStreams) {
  StreamEnvironment env;
  env.set_parallelism(2);
  std::vector<int64_t> out;
  auto a = env.from_sequence(1, 100);
  auto b = env.from_sequence(101, 150);
  auto c = env.from_sequence(151, 160).map([](int64_t v) { return v; });
  a.union_with(b, c).map([](int64_t v) { return v; }).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  std::vector<int64_t> expected;
  for (int64_t i = 1; i <= 160; ++i) expected.push_back(i);
  EXPECT_EQ(sorted(out), expected);
}

// Collects (value, subtask of the consuming operator).
struct Where {
  int subtask = -1;
  void open(RuntimeContext& context) { subtask = context.subtask_index(); }
  std::pair<int64_t, int> operator()(int64_t v) const { return {v, subtask}; }
};

std::map<int, int> count_per_subtask(const std::vector<std::pair<int64_t, int>>& out) {
  std::map<int, int> counts;
  for (auto& [v, s] : out) ++counts[s];
  return counts;
}

TEST(DataStreamTest, BroadcastSendsEveryRecordToEverySubtask) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, int>> out;
  env.from_sequence(1, 10).broadcast().map(Where{}).set_parallelism(3).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out.size(), 30u);
  EXPECT_EQ(count_per_subtask(out), (std::map<int, int>{{0, 10}, {1, 10}, {2, 10}}));
}

TEST(DataStreamTest, RebalanceSpreadsEvenly) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, int>> out;
  env.from_sequence(1, 400).rebalance().map(Where{}).set_parallelism(4).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(count_per_subtask(out), (std::map<int, int>{{0, 100}, {1, 100}, {2, 100}, {3, 100}}));
}

TEST(DataStreamTest, ShuffleReachesAllSubtasksAndLosesNothing) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, int>> out;
  env.from_sequence(1, 4000).shuffle().map(Where{}).set_parallelism(4).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out.size(), 4000u);
  EXPECT_EQ(count_per_subtask(out).size(), 4u);
}

TEST(DataStreamTest, RescaleSendsToALocalSubset) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, int>> upstream_and_downstream;
  // 2 producers, 4 consumers: producer 0 feeds consumers {0,1}, producer 1 feeds {2,3}.
  env.from_sequence(0, 999)
      .set_parallelism(2)
      .map(Where{})
      .set_parallelism(2)
      .rescale()
      .map([sub = -1](std::pair<int64_t, int> p) mutable { return p; })
      .set_parallelism(4)
      .process([](const std::pair<int64_t, int>& p, ProcessContext<std::pair<int64_t, int>, std::pair<int64_t, int>>& c,
                  Collector<std::pair<int64_t, int>>& out) {
        out.collect({p.second, c.runtime().subtask_index()});
      })
      .set_parallelism(4)
      .sink_to(sinks::collect(upstream_and_downstream));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_EQ(upstream_and_downstream.size(), 1000u);
  for (auto& [producer, consumer] : upstream_and_downstream) {
    EXPECT_EQ(consumer / 2, producer) << "consumer " << consumer << " got data from producer " << producer;
  }
}

TEST(DataStreamTest, CustomPartitioner) {
  StreamEnvironment env;
  std::vector<std::pair<int64_t, int>> out;
  env.from_sequence(0, 99)
      .partition_custom([](int64_t key, int n) { return key < 50 ? 0 : n - 1; },
                        [](int64_t v) { return v; })
      .map(Where{})
      .set_parallelism(3)
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  for (auto& [v, s] : out) EXPECT_EQ(s, v < 50 ? 0 : 2);
  EXPECT_EQ(out.size(), 100u);
}

TEST(DataStreamTest, CustomPartitionerOutOfRangeFailsTheJob) {
  StreamEnvironment env;
  std::vector<int64_t> out;
  env.from_sequence(0, 9)
      .partition_custom([](int64_t, int n) { return n; }, [](int64_t v) { return v; })
      .map([](int64_t v) { return v; })
      .name("after")
      .set_parallelism(2)
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("custom partitioner returned partition 2, outside [0, 2)"), std::string::npos)
      << result.error;
}

TEST(DataStreamTest, FanOutGivesEachConsumerEveryRecord) {
  StreamEnvironment env;
  std::vector<std::string> a;
  std::vector<std::string> b;
  auto words = env.from_elements<std::string>("x", "y", "z");
  words.map([](std::string s) { return s + "1"; }).sink_to(sinks::collect(a));
  words.map([](std::string s) { return s + "2"; }).sink_to(sinks::collect(b));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(a, (std::vector<std::string>{"x1", "y1", "z1"}));
  EXPECT_EQ(b, (std::vector<std::string>{"x2", "y2", "z2"}));
}

TEST(DataStreamTest, MoveOnlyRecordsFlowThroughChainsAndChannels) {
  StreamEnvironment env;
  env.set_parallelism(2);
  std::vector<int64_t> out;
  env.from_sequence(1, 1000)
      .map([](int64_t v) { return std::make_unique<int64_t>(v); })
      .rebalance()
      .map([](std::unique_ptr<int64_t> p) { return *p; })
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out.size(), 1000u);
}

TEST(DataStreamTest, MoveOnlyRecordsToTwoConsumersAreRejected) {
  StreamEnvironment env;
  std::vector<int64_t> out;
  auto boxes = env.from_sequence(1, 10).map([](int64_t v) { return std::make_unique<int64_t>(v); }).name("box");
  boxes.map([](std::unique_ptr<int64_t> p) { return *p; }).sink_to(sinks::collect(out));
  boxes.map([](std::unique_ptr<int64_t> p) { return *p; }).sink_to(sinks::collect(out));
  EXPECT_THROW(env.execute(), InvalidJobError);
}

TEST(DataStreamTest, JobCanRunAgain) {
  StreamEnvironment env;
  std::vector<int64_t> out;
  env.from_sequence(1, 5).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out.size(), 10u);
}

TEST(DataStreamTest, TinyBatchesAndChannelsStillDeliverEverything) {
  ExecutionConfig config;
  config.parallelism = 3;
  config.batch_bytes = 1;  // one record per batch
  config.channel_capacity = 1;
  StreamEnvironment env(config);
  std::vector<int64_t> out;
  env.from_sequence(1, 3000).rebalance().map([](int64_t v) { return v; }).key_by([](int64_t v) { return v % 7; })
      .map([](int64_t v) { return v; })
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(out.size(), 3000u);
  EXPECT_LE(result.peak_channel_batches, 1u);
}

}  // namespace
}  // namespace eddy
