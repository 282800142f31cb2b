#include "eddy/operator_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace eddy {
namespace {

OperatorStateSnapshot subtask_with(std::vector<int64_t> offsets, std::vector<std::string> rules) {
  OperatorStateStore store;
  store.get_list_state(ListStateDescriptor<int64_t>("offsets")).update(offsets);
  store.get_union_list_state(ListStateDescriptor<std::string>("seen")).add("s" + std::to_string(offsets.size()));
  auto& broadcast = store.get_broadcast_state(MapStateDescriptor<std::string, int>("rules"));
  for (size_t i = 0; i < rules.size(); ++i) broadcast.put(rules[i], static_cast<int>(i));
  return store.snapshot();
}

TEST(OperatorStateTest, SnapshotAndRestoreAtTheSameParallelism) {
  OperatorStateSnapshot snapshot = subtask_with({1, 2, 3}, {"a", "b"});
  OperatorStateStore restored;
  restored.restore(snapshot);
  EXPECT_EQ(restored.get_list_state(ListStateDescriptor<int64_t>("offsets")).get(), (std::vector<int64_t>{1, 2, 3}));
  auto& rules = restored.get_broadcast_state(MapStateDescriptor<std::string, int>("rules"));
  EXPECT_EQ(rules.get("b"), 1);
  EXPECT_EQ(rules.keys().size(), 2u);
}

TEST(OperatorStateTest, RescaleSplitsListsUnitesUnionsAndCopiesBroadcast) {
  std::vector<OperatorStateSnapshot> old = {subtask_with({1, 2, 3, 4}, {"a", "b"}), subtask_with({5, 6}, {"a", "b"})};
  for (int parallelism : {1, 3, 4, 7}) {
    std::vector<OperatorStateSnapshot> parts = redistribute_operator_state(old, parallelism);
    ASSERT_EQ(parts.size(), static_cast<size_t>(parallelism));
    std::vector<int64_t> all_offsets;
    for (const auto& part : parts) {
      OperatorStateStore store;
      store.restore(part);
      auto offsets = store.get_list_state(ListStateDescriptor<int64_t>("offsets")).get();
      EXPECT_LE(offsets.size(), 6u / static_cast<size_t>(parallelism) + 1) << "uneven split";
      all_offsets.insert(all_offsets.end(), offsets.begin(), offsets.end());
      EXPECT_EQ(store.get_union_list_state(ListStateDescriptor<std::string>("seen")).get(),
                (std::vector<std::string>{"s4", "s2"}));
      EXPECT_EQ(store.get_broadcast_state(MapStateDescriptor<std::string, int>("rules")).keys(),
                (std::vector<std::string>{"a", "b"}));
    }
    std::sort(all_offsets.begin(), all_offsets.end());
    EXPECT_EQ(all_offsets, (std::vector<int64_t>{1, 2, 3, 4, 5, 6})) << "parallelism " << parallelism;
  }
}

TEST(OperatorStateTest, UnrequestedRestoredStateIsCarriedIntoTheNextSnapshot) {
  OperatorStateStore store;
  store.restore(subtask_with({7}, {}));
  store.get_list_state(ListStateDescriptor<int64_t>("offsets")).add(8);
  OperatorStateStore next;
  next.restore(store.snapshot());
  EXPECT_EQ(next.get_list_state(ListStateDescriptor<int64_t>("offsets")).get(), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(next.get_union_list_state(ListStateDescriptor<std::string>("seen")).get(), (std::vector<std::string>{"s1"}));
}

TEST(OperatorStateTest, MismatchedKindOrTypeIsRejected) {
  OperatorStateStore store;
  store.get_list_state(ListStateDescriptor<int64_t>("x"));
  EXPECT_THROW(store.get_union_list_state(ListStateDescriptor<int64_t>("x")), InvalidJobError);
  EXPECT_THROW(store.get_list_state(ListStateDescriptor<std::string>("x")), InvalidJobError);
  OperatorStateStore restored;
  restored.restore(store.snapshot());
  EXPECT_THROW(restored.get_list_state(ListStateDescriptor<std::string>("x")), Error);
}

}  // namespace
}  // namespace eddy
