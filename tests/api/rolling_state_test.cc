// Rolling keyed aggregations keep their values in keyed state (behind a write-back
// cache): a snapshot holds them, and a restore at another parallelism resumes every key.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eddy/eddy.h"
#include "eddy/testing/operator_harness.h"
#include "test_util.h"

namespace eddy {
namespace {

using Record = std::pair<std::string, int64_t>;

struct KeyOfRecord {
  const std::string& operator()(const Record& r) const { return r.first; }
};
struct SumRecords {
  Record operator()(Record acc, const Record& r) const {
    acc.second += r.second;
    return acc;
  }
};
using RollingSum = internal::KeyedReduceOperator<Record, KeyOfRecord, SumRecords>;

class RollingStateTest : public ::testing::TestWithParam<std::string> {
 protected:
  testing::OperatorHarnessOptions options(KeyGroupRange range = {0, kDefaultMaxParallelism - 1}) const {
    testing::OperatorHarnessOptions o;
    o.keyed = true;
    o.config.state_backend.kind = GetParam();
    o.config.state_backend.rocksdb_dir = dir_.path();
    // Subtask whose range is `range` at parallelism 2 (the halves of 128 key groups).
    o.parallelism = range.size() == kDefaultMaxParallelism ? 1 : 2;
    o.subtask_index = range.first == 0 ? 0 : 1;
    return o;
  }
  testing::TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RollingStateTest, ::testing::Values("heap", "rocksdb"));

TEST_P(RollingStateTest, ASnapshotHoldsEveryKeysAggregateAndARestoreResumesIt) {
  std::vector<std::string> keys;
  for (int k = 0; k < 40; ++k) keys.push_back("key" + std::to_string(k));
  KeyedStateSnapshot snapshot;
  {
    testing::OneInputOperatorHarness<Record, Record> h(std::make_unique<RollingSum>(KeyOfRecord{}, SumRecords{}),
                                                       options());
    for (int round = 1; round <= 3; ++round) {
      for (const auto& key : keys) h.process_element({key, round}, 1);
      if (round == 2) h.op().prepare_snapshot_pre_barrier();  // an earlier checkpoint: the cache restarts
    }
    EXPECT_EQ(h.output().back().value.second, 6);
    h.op().prepare_snapshot_pre_barrier();
    snapshot = h.keyed_state_backend()->snapshot()->run();
  }
  EXPECT_EQ(snapshot.entry_count(), keys.size());

  // Resume at parallelism 2: each subtask takes its key groups and continues the sums.
  std::vector<Record> resumed;
  for (KeyGroupRange range : {KeyGroupRange{0, 63}, KeyGroupRange{64, 127}}) {
    testing::OneInputOperatorHarness<Record, Record> h(std::make_unique<RollingSum>(KeyOfRecord{}, SumRecords{}),
                                                       options(range));
    h.keyed_state_backend()->restore({&snapshot});
    for (const auto& key : keys) {
      if (range.contains(key_group_of(KeyHash<std::string>{}(key), kDefaultMaxParallelism))) {
        h.process_element({key, 100}, 2);
      }
    }
    for (const auto& record : h.output()) resumed.push_back(record.value);
  }
  ASSERT_EQ(resumed.size(), keys.size());
  for (const auto& [key, sum] : resumed) EXPECT_EQ(sum, 106) << key;
}

}  // namespace
}  // namespace eddy
