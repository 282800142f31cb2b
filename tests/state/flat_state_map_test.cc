#include "eddy/internal/flat_state_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "eddy/eddy.h"
#include "eddy/internal/bucket_memory.h"
#include "eddy/internal/heap_state.h"
#include "eddy/internal/state_encoding.h"

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
        if (ref != reference.end()) {
          ASSERT_EQ(it->second, ref->second);
        }
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

// Few keys in a 16-bucket table: probe runs wrap around its end all the time, through the
// control bytes copied past the end. After every insert, erase (backward shift), shrink,
// copy and clear, every key is found where find_by_hash says, and no other key is.
TEST(FlatStateMapTest, ControlBytesFollowEveryChange) {
  std::mt19937_64 rng(7);
  FlatStateMap<int64_t> flat;
  std::unordered_map<std::string, int64_t> reference;
  auto check = [&](const FlatStateMap<int64_t>& map) {
    for (int k = 0; k < 24; ++k) {
      const std::string key = "c" + std::to_string(k);
      const MapKey prepared = MapKey::of(key);
      auto it = map.find(key);
      auto ref = reference.find(key);
      ASSERT_EQ(it == map.end(), ref == reference.end()) << key;
      map.prefetch(prepared.hash);  // hints only: must not disturb anything
      map.prefetch_entry(prepared.hash);
      if (ref != reference.end()) {
        ASSERT_EQ(it->second, ref->second) << key;
        ASSERT_EQ(map.find_by_hash(prepared.hash), &it->second) << key;
      }
    }
    ASSERT_EQ(map.size(), reference.size());
  };
  for (int step = 0; step < 50000; ++step) {
    const std::string key = "c" + std::to_string(rng() % 24);
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2:
        flat[key] = step;
        reference[key] = step;
        break;
      case 3:
      case 4:
        ASSERT_EQ(flat.erase(key), reference.erase(key));
        break;
      case 5:
        flat.shrink_to_fit();
        break;
      case 6: {
        FlatStateMap<int64_t> copy(flat);
        ASSERT_NO_FATAL_FAILURE(check(copy));
        FlatStateMap<int64_t> assigned;
        assigned["other"] = 1;
        assigned.assign(flat);
        ASSERT_NO_FATAL_FAILURE(check(assigned));
        break;
      }
      default:
        if (rng() % 64 == 0) {
          flat.clear();
          reference.clear();
        }
    }
    ASSERT_NO_FATAL_FAILURE(check(flat));
  }
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

// Keys longer than the 16 bytes that are compared and hashed as words.
TEST(FlatStateMapTest, LongKeysAgreeWithUnorderedMap) {
  std::mt19937_64 rng(7);
  FlatStateMap<int64_t> flat;
  std::unordered_map<std::string, int64_t> reference;
  for (int step = 0; step < 50000; ++step) {
    std::string key = std::string(rng() % 30, 'x') + std::to_string(rng() % 500);
    if (rng() % 3 == 0) {
      ASSERT_EQ(flat.erase(key), reference.erase(key));
    } else {
      flat[key] = step;
      reference[key] = step;
    }
    ASSERT_EQ(flat.size(), reference.size());
  }
  for (const auto& [key, value] : reference) ASSERT_EQ(flat.find(key)->second, value) << key;
}

// A key matches the stored string with exactly its bytes, whatever the stored string holds
// past its end (matches() reads whole words of it).
TEST(MapKeyTest, MatchesExactlyItsBytes) {
  std::mt19937_64 rng(3);
  for (size_t n = 0; n <= 40; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const MapKey key = MapKey::of(bytes);
    EXPECT_NE(key.hash, 0u);

    std::string stored = bytes + "garbage past the end";  // leaves bytes past size() below
    stored.resize(n);
    EXPECT_TRUE(key.matches(stored)) << n;
    EXPECT_EQ(MapKey::of(stored).hash, key.hash) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string other = stored;
      other[i] = static_cast<char>(other[i] ^ 0x01);
      EXPECT_FALSE(key.matches(other)) << n << " " << i;
    }
    EXPECT_FALSE(key.matches(bytes + "y")) << n;
    if (n > 0) {
      EXPECT_FALSE(key.matches(bytes.substr(0, n - 1))) << n;
    }
  }
}

// The builder's (key, namespace) bytes are the canonical layout, and its hash and words
// are MapKey::of's for those bytes, for short keys (assembled in registers) and long ones.
TEST(MapKeyTest, LookupKeyBuilderAgreesWithMapKey) {
  std::mt19937_64 rng(11);
  LookupKeyBuilder builder;
  for (size_t kl = 0; kl <= 20; ++kl) {
    for (size_t nl = 0; nl <= 20; ++nl) {
      std::string key(kl, '\0');
      std::string ns(nl, '\0');
      for (char& c : key) c = static_cast<char>(rng());
      for (char& c : ns) c = static_cast<char>(rng());
      std::string padded_key = key + "zzzzzzzzzzzzzzzzzzzz";  // bytes past the end
      padded_key.resize(kl);
      std::string expected;
      state_encoding::append_varint(expected, kl);
      expected += key;
      state_encoding::append_varint(expected, nl);
      expected += ns;
      const MapKey& built = builder.build(padded_key, ns);
      ASSERT_EQ(std::string(built.bytes), expected) << kl << " " << nl;
      const MapKey reference = MapKey::of(expected);
      EXPECT_EQ(built.hash, reference.hash) << kl << " " << nl;
      EXPECT_EQ(built.w0, reference.w0) << kl << " " << nl;
      EXPECT_EQ(built.w1, reference.w1) << kl << " " << nl;
      EXPECT_TRUE(built.matches(expected)) << kl << " " << nl;
    }
  }
}

// Bucket arrays: aligned, pooled arrays share 2 MiB chunks; a chunk whose pieces are all
// free is kept (a few of them) for the next chunk of any size, and large arrays are mapped
// on their own.
TEST(BucketMemoryTest, PoolsAndReleasesChunks) {
  const size_t before = bucket_memory_pooled_bytes();
  constexpr size_t kPiece = 64 << 10;
  std::vector<void*> pieces;
  for (int i = 0; i < 40; ++i) {  // 2.5 MiB: two chunks
    void* p = allocate_bucket_memory(kPiece, 64);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % kPiece, 0u);
    std::memset(p, 0xab, kPiece);
    pieces.push_back(p);
  }
  EXPECT_GE(bucket_memory_pooled_bytes(), before + (size_t{2} << 20));
  for (size_t i = 0; i + 1 < pieces.size(); ++i) free_bucket_memory(pieces[i], kPiece, 64);
  void* reused = allocate_bucket_memory(kPiece, 64);  // a freed piece, no new chunk
  EXPECT_LE(bucket_memory_pooled_bytes(), before + (size_t{4} << 20));
  free_bucket_memory(reused, kPiece, 64);
  free_bucket_memory(pieces.back(), kPiece, 64);
  EXPECT_EQ(bucket_memory_pooled_bytes(), before);
  // The freed chunks are kept (up to max(4, chunks in use)) and serve another size class:
  // as many 256 KiB arrays as fill them map no new memory.
  const size_t spare = bucket_memory_spare_bytes();
  ASSERT_GE(spare, size_t{2} << 20);
  EXPECT_LE(spare, std::max<size_t>(size_t{8} << 20, before));
  const size_t mapped = bucket_memory_pooled_bytes() + spare;
  std::vector<void*> larger;
  for (size_t i = 0; i < spare / (kPiece * 4); ++i) {
    larger.push_back(allocate_bucket_memory(kPiece * 4, 64));
    std::memset(larger.back(), 0xcd, kPiece * 4);
  }
  EXPECT_EQ(bucket_memory_pooled_bytes() + bucket_memory_spare_bytes(), mapped);
  EXPECT_LT(bucket_memory_spare_bytes(), spare);
  for (void* p : larger) free_bucket_memory(p, kPiece * 4, 64);
  EXPECT_EQ(bucket_memory_pooled_bytes(), before);

  void* large = allocate_bucket_memory(size_t{4} << 20, 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % (size_t{2} << 20), 0u);
  std::memset(large, 1, size_t{4} << 20);
  free_bucket_memory(large, size_t{4} << 20, 64);
  void* odd = allocate_bucket_memory(100 << 10, 64);  // not a power of two: operator new
  EXPECT_EQ(reinterpret_cast<uintptr_t>(odd) % 64, 0u);
  free_bucket_memory(odd, 100 << 10, 64);
  EXPECT_EQ(bucket_memory_pooled_bytes(), before);
}

// A map that grows through the pooled sizes into mapped arrays keeps every entry.
TEST(BucketMemoryTest, MapGrowsThroughAllArrayKinds) {
  FlatStateMap<int64_t> map;
  for (int64_t i = 0; i < 100000; ++i) map[std::to_string(i)] = i;  // up to 16 MiB of buckets
  EXPECT_GE(map.bucket_count() * FlatStateMap<int64_t>::bucket_bytes(), size_t{4} << 20);
  for (int64_t i = 0; i < 100000; ++i) ASSERT_EQ(map.find(std::to_string(i))->second, i);
  FlatStateMap<int64_t> copy;
  copy.assign(map);
  map.clear();
  for (int64_t i = 0; i < 100000; i += 7) ASSERT_EQ(copy.find(std::to_string(i))->second, i);
}

}  // namespace
}  // namespace eddy::internal
