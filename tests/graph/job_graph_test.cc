// Planning: chaining rules, partitioning resolution and explain().
#include "graph/job_graph.h"

#include <gtest/gtest.h>

#include "eddy/eddy.h"

namespace eddy {
namespace {

int64_t identity(int64_t v) { return v; }
int64_t key_of(int64_t v) { return v % 3; }

TEST(JobGraphTest, ForwardOperatorsChainIntoOneTask) {
  StreamEnvironment env;
  env.set_parallelism(2);
  env.from_sequence(1, 10).map(identity).filter([](int64_t) { return true; }).print();
  EXPECT_EQ(env.explain(),
            "Job graph: 1 task, 4 operators\n"
            "Task 1 [parallelism 2]: Sequence Source -> Map -> Filter -> Print to Std. Out\n");
}

TEST(JobGraphTest, KeyedExchangeSplitsChainsUnlessParallelismIsOne) {
  StreamEnvironment parallel;
  parallel.set_parallelism(2);
  parallel.from_sequence(1, 10).key_by(key_of).sum().print();
  EXPECT_EQ(parallel.explain(),
            "Job graph: 2 tasks, 3 operators\n"
            "Task 1 [parallelism 2]: Sequence Source\n"
            "  Sequence Source --HASH--> Task 2 (Sum)\n"
            "Task 2 [parallelism 2]: Sum -> Print to Std. Out\n");
  StreamEnvironment single;
  single.from_sequence(1, 10).key_by(key_of).sum().print();
  EXPECT_EQ(single.explain(),
            "Job graph: 1 task, 3 operators\n"
            "Task 1 [parallelism 1]: Sequence Source -> Sum -> Print to Std. Out\n");
}

TEST(JobGraphTest, ExplainShowsSideOutputsAndTheInputsOfConnectedStreams) {
  StreamEnvironment env;
  env.set_parallelism(2);
  const OutputTag<int64_t> odd("odd");
  auto main = env.from_sequence(1, 10).process<int64_t>(
      [odd](const int64_t& v, ProcessContext<int64_t, int64_t>& context, Collector<int64_t>& out) {
        if (v % 2 != 0) context.output(odd, v);
        out.collect(v);
      });
  main.side_output(odd).print();
  main.connect(env.from_elements(int64_t{1})).map(identity, identity).print();
  EXPECT_EQ(env.explain(),
            "Job graph: 3 tasks, 6 operators\n"
            "Task 1 [parallelism 2]: Sequence Source -> Process -> Print to Std. Out\n"
            "  Process [side output 'odd'] -> Print to Std. Out (chained)\n"
            "  Process --FORWARD--> Task 3 (Co-Process input 1)\n"
            "Task 2 [parallelism 1]: Elements Source\n"
            "  Elements Source --REBALANCE--> Task 3 (Co-Process input 2)\n"
            "Task 3 [parallelism 2]: Co-Process -> Print to Std. Out\n");
}

TEST(JobGraphTest, ParallelismChangeRebalancesByDefault) {
  StreamEnvironment env;
  env.from_sequence(1, 10).map(identity).set_parallelism(3).print().set_parallelism(1);
  EXPECT_EQ(env.explain(),
            "Job graph: 3 tasks, 3 operators\n"
            "Task 1 [parallelism 1]: Sequence Source\n"
            "  Sequence Source --REBALANCE--> Task 2 (Map)\n"
            "Task 2 [parallelism 3]: Map\n"
            "  Map --REBALANCE--> Task 3 (Print to Std. Out)\n"
            "Task 3 [parallelism 1]: Print to Std. Out\n");
}

TEST(JobGraphTest, ExplicitPartitioningAndChainingControls) {
  StreamEnvironment env;
  auto s = env.from_sequence(1, 10);
  s.rebalance().map(identity).name("a").map(identity).name("b").disable_chaining().map(identity).name("c").print();
  EXPECT_EQ(env.explain(),
            "Job graph: 4 tasks, 5 operators\n"
            "Task 1 [parallelism 1]: Sequence Source\n"
            "  Sequence Source --REBALANCE--> Task 2 (a)\n"
            "Task 2 [parallelism 1]: a\n"
            "  a --FORWARD--> Task 3 (b)\n"
            "Task 3 [parallelism 1]: b\n"
            "  b --FORWARD--> Task 4 (c)\n"
            "Task 4 [parallelism 1]: c -> Print to Std. Out\n");
  StreamEnvironment env2;
  env2.from_sequence(1, 10).map(identity).name("a").map(identity).name("b").start_new_chain().print();
  EXPECT_EQ(env2.explain(),
            "Job graph: 2 tasks, 4 operators\n"
            "Task 1 [parallelism 1]: Sequence Source -> a\n"
            "  a --FORWARD--> Task 2 (b)\n"
            "Task 2 [parallelism 1]: b -> Print to Std. Out\n");
}

TEST(JobGraphTest, UnionFeedsOneConsumerThatStartsAChain) {
  StreamEnvironment env;
  auto a = env.from_sequence(1, 10);
  auto b = env.from_sequence(11, 20).broadcast();
  a.union_with(b).map(identity).print();
  EXPECT_EQ(env.explain(),
            "Job graph: 3 tasks, 4 operators\n"
            "Task 1 [parallelism 1]: Sequence Source\n"
            "  Sequence Source --FORWARD--> Task 3 (Map)\n"
            "Task 2 [parallelism 1]: Sequence Source\n"
            "  Sequence Source --BROADCAST--> Task 3 (Map)\n"
            "Task 3 [parallelism 1]: Map -> Print to Std. Out\n");
}

TEST(JobGraphTest, FanOutWithinAChain) {
  StreamEnvironment env;
  auto s = env.from_sequence(1, 10).map(identity).name("m");
  s.print("a");
  s.filter([](int64_t) { return true; }).print("b");
  EXPECT_EQ(env.explain(),
            "Job graph: 1 task, 5 operators\n"
            "Task 1 [parallelism 1]: Sequence Source -> m -> Print to Std. Out -> Filter -> Print to Std. Out\n");
}

TEST(JobGraphTest, OuterPartitioningWins) {
  StreamEnvironment env;
  env.set_parallelism(2);
  env.from_sequence(1, 10).rebalance().key_by(key_of).sum().print();
  EXPECT_NE(env.explain().find("--HASH-->"), std::string::npos);
}

TEST(JobGraphTest, PointwiseTargets) {
  // 2 -> 4: each producer feeds two consumers.
  EXPECT_EQ(graph::pointwise_targets(0, 2, 4).first, 0);
  EXPECT_EQ(graph::pointwise_targets(0, 2, 4).count, 2);
  EXPECT_EQ(graph::pointwise_targets(1, 2, 4).first, 2);
  // 4 -> 2: two producers share each consumer.
  EXPECT_EQ(graph::pointwise_targets(1, 4, 2).first, 0);
  EXPECT_EQ(graph::pointwise_targets(2, 4, 2).first, 1);
  EXPECT_EQ(graph::pointwise_targets(3, 4, 2).count, 1);
  // 3 -> 5: every consumer is reached exactly once.
  std::vector<int> reached(5, 0);
  for (int p = 0; p < 3; ++p) {
    auto range = graph::pointwise_targets(p, 3, 5);
    for (int c = range.first; c < range.first + range.count; ++c) ++reached[static_cast<size_t>(c)];
  }
  EXPECT_EQ(reached, (std::vector<int>{1, 1, 1, 1, 1}));
}

}  // namespace
}  // namespace eddy
