// Keyed state used from functions inside running jobs, on every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::sorted;

// Emits (key, n) where n counts the records of the key seen so far.
class CountPerKey final : public ProcessFunction<int64_t, std::pair<int64_t, int64_t>> {
 public:
  void open(RuntimeContext& context) override {
    count_ = &context.get_state(ValueStateDescriptor<int64_t>("count"));
    seen_ = &context.get_list_state(ListStateDescriptor<int64_t>("seen"));
  }
  void process_element(const int64_t& value, Context&, Collector<std::pair<int64_t, int64_t>>& out) override {
    int64_t n = count_->value_or(0) + 1;
    count_->update(n);
    seen_->add(value);
    if (static_cast<int64_t>(seen_->get().size()) != n) throw std::logic_error("list and count disagree");
    out.collect({value % 10, n});
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  ListState<int64_t>* seen_ = nullptr;
};

class KeyedStateJobTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(KeyedStateJobTest, StateIsScopedToTheRecordsKey) {
  auto [backend, parallelism] = GetParam();
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.state_backend.kind = backend;
  StreamEnvironment env(config);
  std::vector<std::pair<int64_t, int64_t>> out;
  env.from_sequence(0, 999).key_by([](int64_t v) { return v % 10; }).process(CountPerKey{}).sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_EQ(out.size(), 1000u);
  std::map<int64_t, std::vector<int64_t>> counts;
  for (auto& [key, n] : out) counts[key].push_back(n);
  for (auto& [key, ns] : counts) {
    std::vector<int64_t> expected(100);
    for (int64_t i = 0; i < 100; ++i) expected[static_cast<size_t>(i)] = i + 1;
    EXPECT_EQ(sorted(ns), expected) << "key " << key;
  }
}

TEST_P(KeyedStateJobTest, KeyedMapWithMapStateDeduplicates) {
  auto [backend, parallelism] = GetParam();
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.state_backend.kind = backend;
  StreamEnvironment env(config);
  struct FirstSeen {
    MapState<std::string, int64_t>* seen = nullptr;
    void open(RuntimeContext& context) { seen = &context.get_map_state(MapStateDescriptor<std::string, int64_t>("seen")); }
    bool operator()(const std::pair<std::string, std::string>& p) const {
      if (seen->contains(p.second)) return false;
      seen->put(p.second, 1);
      return true;
    }
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < 300; ++i) input.push_back({"user" + std::to_string(i % 7), "page" + std::to_string(i % 11)});
  env.from_collection(input)
      .key_by([](const auto& p) { return p.first; })
      .filter(FirstSeen{})
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(out.size(), 7u * 11u);  // every (user, page) pair once
}

TEST(KeyedStateJobTest, StateOnANonKeyedStreamIsAnError) {
  StreamEnvironment env;
  struct UsesState {
    void open(RuntimeContext& context) { context.get_state(ValueStateDescriptor<int64_t>("x")); }
    int64_t operator()(int64_t v) const { return v; }
  };
  std::vector<int64_t> out;
  env.from_sequence(1, 3).map(UsesState{}).name("plain").sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_EQ(result.error,
            "operator 'plain' (subtask 1/1) failed: operator 'plain' asked for keyed state, which only operators on "
            "a keyed stream (after key_by) have");
}

TEST(OperatorStateJobTest, EveryOperatorSubtaskHasOperatorState) {
  StreamEnvironment env;
  env.set_parallelism(2);
  struct Buffering {
    ListState<int64_t>* buffer = nullptr;
    void open(RuntimeContext& context) {
      buffer = &context.operator_state().get_list_state(ListStateDescriptor<int64_t>("buffer"));
    }
    int64_t operator()(int64_t v) const {
      buffer->add(v);
      return static_cast<int64_t>(buffer->get().size());
    }
  };
  std::vector<int64_t> out;
  env.from_sequence(1, 100).set_parallelism(1).rebalance().map(Buffering{}).sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  // Each of the two subtasks buffered its 50 records.
  EXPECT_EQ(*std::max_element(out.begin(), out.end()), 50);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedStateJobTest,
                         ::testing::Combine(::testing::Values(std::string("heap"), std::string("rocksdb")),
                                            ::testing::Values(1, 2, 4)));

}  // namespace
}  // namespace eddy
