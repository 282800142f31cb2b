// key_by and the rolling aggregations, in streaming and batch mode.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::sorted;

struct Trade {
  std::string symbol;
  int64_t price;
  int64_t volume;
  bool operator==(const Trade&) const = default;
  bool operator<(const Trade& o) const {
    return std::tie(symbol, price, volume) < std::tie(o.symbol, o.price, o.volume);
  }
};

std::vector<Trade> trades() {
  return {{"A", 10, 1}, {"B", 5, 2}, {"A", 7, 3}, {"A", 12, 4}, {"B", 5, 5}, {"B", 9, 6}};
}

// Rolling results per key, in arrival order within each key.
std::map<std::string, std::vector<Trade>> by_symbol(const std::vector<Trade>& out) {
  std::map<std::string, std::vector<Trade>> grouped;
  for (const Trade& t : out) grouped[t.symbol].push_back(t);
  return grouped;
}

std::vector<Trade> run(const std::function<DataStream<Trade>(KeyedStream<Trade, std::string (*)(const Trade&)>)>& agg,
                       int parallelism = 2, RuntimeMode mode = RuntimeMode::kStreaming) {
  StreamEnvironment env;
  env.set_parallelism(parallelism).set_runtime_mode(mode);
  std::vector<Trade> out;
  std::string (*symbol)(const Trade&) = [](const Trade& t) { return t.symbol; };
  agg(env.from_collection(trades()).key_by(symbol)).sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return out;
}

TEST(KeyedStreamTest, SumKeepsOtherFieldsOfTheFirstRecord) {
  auto out = by_symbol(run([](auto keyed) { return keyed.sum(&Trade::volume); }));
  EXPECT_EQ(out["A"], (std::vector<Trade>{{"A", 10, 1}, {"A", 10, 4}, {"A", 10, 8}}));
  EXPECT_EQ(out["B"], (std::vector<Trade>{{"B", 5, 2}, {"B", 5, 7}, {"B", 5, 13}}));
}

TEST(KeyedStreamTest, MinAndMaxUpdateOnlyTheField) {
  auto min = by_symbol(run([](auto keyed) { return keyed.min(&Trade::price); }));
  EXPECT_EQ(min["A"], (std::vector<Trade>{{"A", 10, 1}, {"A", 7, 1}, {"A", 7, 1}}));
  auto max = by_symbol(run([](auto keyed) { return keyed.max(&Trade::price); }));
  EXPECT_EQ(max["B"], (std::vector<Trade>{{"B", 5, 2}, {"B", 5, 2}, {"B", 9, 2}}));
}

TEST(KeyedStreamTest, MinByAndMaxByKeepWholeRecordFirstOnTies) {
  auto min_by = by_symbol(run([](auto keyed) { return keyed.min_by(&Trade::price); }));
  EXPECT_EQ(min_by["A"], (std::vector<Trade>{{"A", 10, 1}, {"A", 7, 3}, {"A", 7, 3}}));
  EXPECT_EQ(min_by["B"], (std::vector<Trade>{{"B", 5, 2}, {"B", 5, 2}, {"B", 5, 2}}));
  auto max_by = by_symbol(run([](auto keyed) { return keyed.max_by(&Trade::price); }));
  EXPECT_EQ(max_by["A"], (std::vector<Trade>{{"A", 10, 1}, {"A", 10, 1}, {"A", 12, 4}}));
  EXPECT_EQ(max_by["B"], (std::vector<Trade>{{"B", 5, 2}, {"B", 5, 2}, {"B", 9, 6}}));
}

TEST(KeyedStreamTest, ReduceWithUserFunction) {
  auto out = by_symbol(run([](auto keyed) {
    return keyed.reduce([](const Trade& acc, const Trade& t) {
      return Trade{acc.symbol, acc.price + t.price, acc.volume * t.volume};
    });
  }));
  EXPECT_EQ(out["A"].back(), (Trade{"A", 29, 12}));
  EXPECT_EQ(out["B"].back(), (Trade{"B", 19, 60}));
}

TEST(KeyedStreamTest, BatchModeEmitsOnlyFinalValuePerKey) {
  auto out = run([](auto keyed) { return keyed.sum(&Trade::volume); }, 3, RuntimeMode::kBatch);
  EXPECT_EQ(sorted(out), (std::vector<Trade>{{"A", 10, 8}, {"B", 5, 13}}));
}

TEST(KeyedStreamTest, SumOfNumbersAndOfTupleFields) {
  StreamEnvironment env;
  env.set_parallelism(2).set_runtime_mode(RuntimeMode::kBatch);
  std::vector<int64_t> sums;
  env.from_sequence(1, 100).key_by([](int64_t v) { return v % 2; }).sum().sink_to(sinks::collect(sums));
  std::vector<std::tuple<std::string, int, double>> tuples;
  env.from_elements(std::tuple<std::string, int, double>{"x", 1, 0.5}, std::tuple<std::string, int, double>{"x", 2, 0.25},
                    std::tuple<std::string, int, double>{"y", 3, 1.0})
      .key_by([](const auto& t) { return std::get<0>(t); })
      .sum<2>()
      .sink_to(sinks::collect(tuples));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(sums), (std::vector<int64_t>{2500, 2550}));
  EXPECT_EQ(sorted(tuples), (std::vector<std::tuple<std::string, int, double>>{{"x", 1, 0.75}, {"y", 3, 1.0}}));
}

// A user key type that opts in with key_fields().
struct Route {
  std::string from;
  std::string to;
  auto key_fields() const { return std::tie(from, to); }
  bool operator==(const Route&) const = default;
};

TEST(KeyedStreamTest, UserStructKeyAndKeyGroupPlacement) {
  constexpr int kParallelism = 4;
  StreamEnvironment env;
  env.set_parallelism(kParallelism);
  std::vector<std::pair<std::string, int>> seen;  // (route, subtask that processed it)
  env.from_sequence(0, 999)
      .map([](int64_t i) { return Route{"c" + std::to_string(i % 13), "c" + std::to_string(i % 5)}; })
      .key_by([](const Route& r) { return r; })
      .process([](const Route& r, ProcessContext<Route, std::pair<std::string, int>>& ctx,
                  Collector<std::pair<std::string, int>>& out) {
        out.collect({r.from + "-" + r.to, ctx.runtime().subtask_index()});
      })
      .sink_to(sinks::collect(seen));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_EQ(seen.size(), 1000u);
  std::map<std::string, std::set<int>> subtasks_of_key;
  for (auto& [key, subtask] : seen) subtasks_of_key[key].insert(subtask);
  std::set<int> used;
  for (auto& [key, subtasks] : subtasks_of_key) {
    ASSERT_EQ(subtasks.size(), 1u) << key << " was processed by several subtasks";
    auto dash = key.find('-');
    Route route{key.substr(0, dash), key.substr(dash + 1)};
    int group = key_group_of(KeyHash<Route>{}(route), kDefaultMaxParallelism);
    EXPECT_EQ(*subtasks.begin(), subtask_for_key_group(group, kDefaultMaxParallelism, kParallelism));
    used.insert(*subtasks.begin());
  }
  EXPECT_EQ(used.size(), 4u) << "65 keys should spread over all 4 subtasks";
}

TEST(KeyedStreamTest, MaxParallelismOfKeyedOperatorRoutesByItsKeyGroups) {
  StreamEnvironment env;
  env.set_parallelism(3).set_max_parallelism(7);
  std::vector<std::pair<int64_t, int>> seen;
  env.from_sequence(0, 199)
      .key_by([](int64_t v) { return v; })
      .process([](const int64_t& v, ProcessContext<int64_t, std::pair<int64_t, int>>& ctx,
                  Collector<std::pair<int64_t, int>>& out) { out.collect({v, ctx.runtime().subtask_index()}); })
      .sink_to(sinks::collect(seen));
  ASSERT_TRUE(env.execute().ok());
  for (auto& [v, subtask] : seen) {
    EXPECT_EQ(subtask, subtask_for_key_group(key_group_of(KeyHash<int64_t>{}(v), 7), 7, 3));
  }
}

}  // namespace
}  // namespace eddy
