#include "eddy/internal/flat_state_map.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace eddy::internal {
namespace {

// Random inserts, updates and erasures agree with std::unordered_map at every step.
TEST(FlatStateMapTest, AgreesWithUnorderedMap) {
  std::mt19937_64 rng(42);
  FlatStateMap<int64_t> flat;
  std::unordered_map<std::string, int64_t> reference;
  for (int step = 0; step < 200000; ++step) {
    std::string key = "k" + std::to_string(rng() % 3000);
    switch (rng() % 4) {
      case 0:
      case 1: {
        int64_t v = static_cast<int64_t>(rng() % 1000);
        flat[key] = v;
        reference[key] = v;
        break;
      }
      case 2:
        ASSERT_EQ(flat.erase(key), reference.erase(key));
        break;
      default: {
        auto it = flat.find(key);
        auto ref = reference.find(key);
        ASSERT_EQ(it == flat.end(), ref == reference.end()) << key;
        if (ref != reference.end()) ASSERT_EQ(it->second, ref->second);
      }
    }
    ASSERT_EQ(flat.size(), reference.size());
  }
  size_t seen = 0;
  for (const auto& [key, value] : flat) {
    ASSERT_EQ(reference.at(key), value);
    ++seen;
  }
  EXPECT_EQ(seen, reference.size());
}

TEST(FlatStateMapTest, EraseWhileIteratingAndShrink) {
  FlatStateMap<int> map;
  for (int i = 0; i < 10000; ++i) map[std::to_string(i)] = i;
  size_t full = map.bucket_count();
  for (auto it = map.begin(); it != map.end();) {
    if (it->second % 100 != 0) {
      it = map.erase(it);
    } else {
      ++it;
    }
  }
  // Entries shifted back into a freed position are visited too, so all odd ones went.
  for (const auto& [key, value] : map) EXPECT_EQ(value % 100, 0);
  EXPECT_EQ(map.size(), 100u);
  map.shrink_to_fit();
  EXPECT_LT(map.bucket_count(), full / 8);
  for (int i = 0; i < 10000; i += 100) EXPECT_EQ(map.find(std::to_string(i))->second, i);
}

}  // namespace
}  // namespace eddy::internal
