#include "eddy/key.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <tuple>

namespace eddy {
namespace {

TEST(KeyTest, HashesAreStableAcrossReleases) {
  // Key groups decide where state lives, and state outlives processes: these values must
  // never change. A change here breaks restoring state written by earlier releases.
  EXPECT_EQ(KeyHash<int64_t>{}(0), hash_u64(0));
  EXPECT_EQ(KeyHash<int32_t>{}(42), KeyHash<int64_t>{}(42)) << "integers hash by value, whatever their width";
  EXPECT_EQ(KeyHash<std::string>{}("auction"), KeyHash<std::string_view>{}("auction"));
  EXPECT_EQ(hash_u64(1), 2157213648u);
  EXPECT_EQ(hash_bytes("", 0), 366286023u);
  EXPECT_EQ(KeyHash<std::string>{}("hello"), 3375838376u);
}

TEST(KeyTest, FloatingPointKeysTreatZerosAndNaNsAlike) {
  EXPECT_EQ(KeyHash<double>{}(0.0), KeyHash<double>{}(-0.0));
  EXPECT_EQ(KeyHash<double>{}(std::nan("1")), KeyHash<double>{}(std::nan("2")));
  EXPECT_NE(KeyHash<double>{}(1.0), KeyHash<double>{}(2.0));
}

TEST(KeyTest, CompositeKeysDependOnEveryFieldAndItsPosition) {
  using P = std::pair<int, std::string>;
  EXPECT_NE(KeyHash<P>{}({1, "a"}), KeyHash<P>{}({1, "b"}));
  EXPECT_NE(KeyHash<P>{}({1, "a"}), KeyHash<P>{}({2, "a"}));
  using T = std::tuple<int, int>;
  EXPECT_NE(KeyHash<T>{}({1, 2}), KeyHash<T>{}({2, 1}));
}

struct UserKey {
  int region;
  std::string name;
  auto key_fields() const { return std::tie(region, name); }
  bool operator==(const UserKey&) const = default;
};

TEST(KeyTest, UserStructsOptInWithKeyFields) {
  static_assert(Key<UserKey>);
  EXPECT_EQ(KeyHash<UserKey>{}({1, "x"}), (KeyHash<std::tuple<int, std::string>>{}({1, "x"})));
}

TEST(KeyTest, KeyGroupRangesMatchFlinksAssignment) {
  // KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(128, 3, i).
  EXPECT_EQ(KeyGroupRange::for_subtask(128, 3, 0), (KeyGroupRange{0, 42}));
  EXPECT_EQ(KeyGroupRange::for_subtask(128, 3, 1), (KeyGroupRange{43, 85}));
  EXPECT_EQ(KeyGroupRange::for_subtask(128, 3, 2), (KeyGroupRange{86, 127}));
  for (int max_parallelism : {1, 7, 128, 1000}) {
    for (int parallelism = 1; parallelism <= std::min(max_parallelism, 9); ++parallelism) {
      int covered = 0;
      for (int subtask = 0; subtask < parallelism; ++subtask) {
        KeyGroupRange range = KeyGroupRange::for_subtask(max_parallelism, parallelism, subtask);
        covered += range.size();
        for (int group = range.first; group <= range.last; ++group) {
          ASSERT_EQ(subtask_for_key_group(group, max_parallelism, parallelism), subtask)
              << "group " << group << " max " << max_parallelism << " parallelism " << parallelism;
        }
      }
      EXPECT_EQ(covered, max_parallelism);
    }
  }
}

TEST(KeyTest, KeyGroupsSpreadKeys) {
  std::set<int> groups;
  for (int64_t k = 0; k < 10000; ++k) groups.insert(key_group_of(KeyHash<int64_t>{}(k), 128));
  EXPECT_EQ(groups.size(), 128u);
}

}  // namespace
}  // namespace eddy
