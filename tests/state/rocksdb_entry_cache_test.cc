// The entry cache of the RocksDB backend: the cache on its own (EntryCache), then through
// the backend against a model, with a tiny cache and tiny pending batches so that evictions
// and batch writes happen all the time; TTL against the backend without a cache; and the
// exactly-once rule: a checkpoint holds every write before its barrier, pending or not, and
// none after it.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/clock.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"
#include "state/rocksdb/entry_cache.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "test_util.h"

namespace eddy {
namespace {

using state::EntryCache;
using state::EntryCacheBudget;
using state::RocksDbKeyedStateBackend;
using Found = EntryCache::Found;
using WriteResult = EntryCache::WriteResult;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 128;

std::shared_ptr<EntryCacheBudget> budget(size_t bytes) { return std::make_shared<EntryCacheBudget>(bytes); }

std::string key_of(int64_t i) { return "key-" + std::to_string(i); }

// What find() says, as a string: "miss", "absent" or the value.
std::string look(EntryCache& cache, int column, std::string_view key) {
  std::string value;
  switch (cache.find(column, key, value)) {
    case Found::kMiss: return "miss";
    case Found::kAbsent: return "absent";
    case Found::kValue: return value;
  }
  return "?";
}

void fill(EntryCache& cache, int column, std::string_view key, std::string_view value) {
  cache.fill(column, key, &value);
}

WriteResult write(EntryCache& cache, int column, std::string_view key, std::string_view value) {
  return cache.write(column, key, &value);
}

// ---- EntryCache on its own ------------------------------------------------------------

TEST(EntryCacheTest, FindsWhatWasFilledOrWrittenByColumnAndKey) {
  EntryCache cache(budget(1 << 20));
  EXPECT_EQ(look(cache, 0, "k"), "miss");
  fill(cache, 0, "k", "v1");
  EXPECT_EQ(look(cache, 0, "k"), "v1");
  EXPECT_EQ(look(cache, 1, "k"), "miss");  // another column
  EXPECT_EQ(look(cache, 0, "k2"), "miss");
  EXPECT_EQ(write(cache, 0, "k", "value two"), WriteResult::kCached);
  EXPECT_EQ(look(cache, 0, "k"), "value two");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.dirty(), 1u);
  fill(cache, 0, "k", "stale");  // a read of the store cannot be newer than a pending write
  EXPECT_EQ(look(cache, 0, "k"), "value two");
  cache.mark_clean();
  EXPECT_EQ(cache.dirty(), 0u);
  fill(cache, 0, "k", "v3");
  EXPECT_EQ(look(cache, 0, "k"), "v3");
  EXPECT_EQ(write(cache, 0, "k", ""), WriteResult::kCached);  // empty, not absent
  EXPECT_EQ(look(cache, 0, "k"), "");
}

TEST(EntryCacheTest, RemembersAbsences) {
  EntryCache cache(budget(1 << 20));
  cache.fill(0, "never", nullptr);
  EXPECT_EQ(look(cache, 0, "never"), "absent");
  EXPECT_EQ(write(cache, 0, "k", "v"), WriteResult::kCached);
  EXPECT_EQ(cache.write(0, "k", nullptr), WriteResult::kCached);
  EXPECT_EQ(look(cache, 0, "k"), "absent");
  EXPECT_EQ(write(cache, 0, "k", "back"), WriteResult::kCached);
  EXPECT_EQ(look(cache, 0, "k"), "back");
}

TEST(EntryCacheTest, LongKeysAndValuesLiveOutOfLine) {
  auto shared = budget(1 << 20);
  EntryCache cache(shared);
  fill(cache, 0, "first", "x");
  const size_t table_only = cache.memory_bytes();
  EXPECT_EQ(shared->used.load(), table_only);
  const std::string long_key(100, 'k');
  const std::string long_value(1000, 'v');
  EXPECT_EQ(write(cache, 0, long_key, long_value), WriteResult::kCached);
  EXPECT_EQ(look(cache, 0, long_key), long_value);
  EXPECT_GE(cache.memory_bytes(), table_only + 1100);
  EXPECT_EQ(shared->used.load(), cache.memory_bytes());
  EXPECT_EQ(write(cache, 0, long_key, "short"), WriteResult::kCached);
  EXPECT_EQ(look(cache, 0, long_key), "short");
  const size_t with_short = cache.memory_bytes();  // 105 bytes: out of line still
  EXPECT_GT(with_short, table_only + 100);
  EXPECT_LT(with_short, table_only + 200);
  EXPECT_EQ(write(cache, 0, "k", std::string(34, 'v')), WriteResult::kCached);  // 35: inline
  EXPECT_EQ(cache.memory_bytes(), with_short);
  EXPECT_EQ(write(cache, 0, "kk", std::string(34, 'v')), WriteResult::kCached);  // 36: out of line
  EXPECT_GT(cache.memory_bytes(), with_short + 35);
  EXPECT_EQ(look(cache, 0, "k"), std::string(34, 'v'));
  EXPECT_EQ(look(cache, 0, "kk"), std::string(34, 'v'));
  fill(cache, 0, "", "");  // empty key and value
  EXPECT_EQ(look(cache, 0, ""), "");
  cache.erase(0, long_key);
  cache.erase(0, "kk");
  EXPECT_EQ(look(cache, 0, long_key), "miss");
  EXPECT_EQ(cache.memory_bytes(), table_only);
  cache.clear();
  EXPECT_EQ(shared->used.load(), 0u);
}

TEST(EntryCacheTest, EntriesTooLargeAreNotCachedAndForgetTheKey) {
  EntryCache cache(budget(1 << 20));
  fill(cache, 0, "k", "small");
  const std::string large(EntryCache::kMaxEntryBytes, 'v');
  EXPECT_EQ(write(cache, 0, "k", large), WriteResult::kNotCached);
  EXPECT_EQ(look(cache, 0, "k"), "miss");
  fill(cache, 0, "k", large);
  EXPECT_EQ(look(cache, 0, "k"), "miss");
}

TEST(EntryCacheTest, GrowsWithinItsBudgetThenEvictsCleanEntries) {
  auto shared = budget(64 << 10);
  EntryCache cache(shared);
  for (int64_t i = 0; i < 10'000; ++i) fill(cache, 0, key_of(i), std::to_string(i));
  EXPECT_GT(cache.capacity(), 1024u);  // it grew
  EXPECT_LE(shared->used.load(), shared->limit);
  EXPECT_LE(cache.size(), cache.capacity() - cache.capacity() / 5);
  EXPECT_GT(cache.size(), cache.capacity() / 2);
  EXPECT_EQ(look(cache, 0, key_of(9'999)), "9999");  // the newest
  size_t present = 0;
  for (int64_t i = 0; i < 10'000; ++i) {
    std::string found = look(cache, 0, key_of(i));
    if (found == "miss") continue;
    EXPECT_EQ(found, std::to_string(i));
    ++present;
  }
  EXPECT_EQ(present, cache.size());
}

TEST(EntryCacheTest, GrowingKeepsEveryEntry) {
  EntryCache cache(budget(64 << 20));
  for (int64_t i = 0; i < 100'000; ++i) fill(cache, static_cast<int>(i % 3), key_of(i), std::to_string(i));
  EXPECT_EQ(cache.size(), 100'000u);
  for (int64_t i = 0; i < 100'000; ++i) ASSERT_EQ(look(cache, static_cast<int>(i % 3), key_of(i)), std::to_string(i));
}

TEST(EntryCacheTest, NeverEvictsEntriesWithPendingWrites) {
  EntryCache cache(budget(64 << 10));
  for (int64_t i = 0; i < 200; ++i) ASSERT_EQ(write(cache, 1, key_of(i), "dirty"), WriteResult::kCached);
  for (int64_t i = 0; i < 20'000; ++i) fill(cache, 0, key_of(i), "clean");
  EXPECT_EQ(cache.dirty(), 200u);
  for (int64_t i = 0; i < 200; ++i) ASSERT_EQ(look(cache, 1, key_of(i)), "dirty") << i;
  // Writes until every entry is dirty: then there is no room without writing them out.
  int64_t i = 200;
  WriteResult result = WriteResult::kCached;
  for (; i < 100'000 && result == WriteResult::kCached; ++i) result = write(cache, 1, key_of(i), "dirty");
  ASSERT_EQ(result, WriteResult::kFull);
  const int64_t refused = i - 1;
  EXPECT_EQ(cache.size(), cache.dirty());
  EXPECT_EQ(look(cache, 1, key_of(refused)), "miss");  // kFull records nothing
  for (int64_t j = 0; j < refused; ++j) ASSERT_EQ(look(cache, 1, key_of(j)), "dirty") << j;
  cache.mark_clean();
  EXPECT_EQ(write(cache, 1, key_of(refused), "dirty"), WriteResult::kCached);
  EXPECT_EQ(cache.dirty(), 1u);
}

TEST(EntryCacheTest, TheClockGivesEntriesUsedSinceItPassedASecondChance) {
  EntryCache cache(budget(64 << 10));
  // Filled until the first eviction: the hand went round once, taking every entry's mark.
  int64_t next = 0;
  size_t before = 0;
  do {
    before = cache.size();
    fill(cache, 0, key_of(next++), "v");
  } while (cache.size() > before);
  std::vector<int64_t> used;
  for (int64_t i = 0; i < next && used.size() < 20; i += 7) {
    if (look(cache, 0, key_of(i)) != "miss") used.push_back(i);  // marks them again
  }
  ASSERT_EQ(used.size(), 20u);
  for (int64_t i = 0; i < 20; ++i) fill(cache, 0, key_of(next++), "v");
  for (int64_t i : used) EXPECT_EQ(look(cache, 0, key_of(i)), "v") << i;
  size_t evicted = 0;
  for (int64_t i = 0; i < next; ++i) evicted += look(cache, 0, key_of(i)) == "miss";
  EXPECT_EQ(evicted, 21u);
}

// Evictions keep the table evenly loaded. With a hand going round (CLOCK), the slots in
// front of it filled up; with sweeps from random slots, empty or not, the entries at the
// starts of runs went first: either way entries sat 14 to 18 slots from home on average.
TEST(EntryCacheTest, EvictionsKeepEntriesNearTheirHomeSlots) {
  EntryCache cache(budget(1 << 20));  // about 21 800 slots
  std::mt19937_64 rng(3);
  for (int64_t i = 0; i < 300'000; ++i) {
    fill(cache, 0, key_of(i), "v");
    look(cache, 0, key_of(static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))));
  }
  EXPECT_GT(cache.size(), cache.capacity() * 3 / 4);
  // Linear probing at a load of 0.8 with keys spread evenly: about 2.
  EXPECT_LT(cache.mean_displacement(), 4.0) << "capacity " << cache.capacity();
}

TEST(EntryCacheTest, CachesShareOneBudget) {
  auto shared = budget(256 << 10);
  auto first = std::make_unique<EntryCache>(shared);
  EntryCache second(shared);
  for (int64_t i = 0; i < 20'000; ++i) fill(*first, 0, key_of(i), "v");
  EXPECT_LE(shared->used.load(), shared->limit);
  EXPECT_GT(first->memory_bytes(), (256u << 10) - 1024 * 48);  // no room for another table
  // Nothing left for the second: it caches nothing, and says so for writes.
  fill(second, 0, "k", "v");
  EXPECT_EQ(look(second, 0, "k"), "miss");
  EXPECT_EQ(write(second, 0, "k", "v"), WriteResult::kNotCached);
  EXPECT_EQ(shared->used.load(), first->memory_bytes());
  first.reset();
  EXPECT_EQ(shared->used.load(), 0u);
  for (int64_t i = 0; i < 20'000; ++i) fill(second, 0, key_of(i), "v");
  EXPECT_GT(second.capacity(), 1024u);
  EXPECT_EQ(shared->used.load(), second.memory_bytes());
}

TEST(EntryCacheTest, OutOfLineEntriesAreEvictedWhenTheyPutTheBudgetOver) {
  auto shared = budget(128 << 10);
  EntryCache cache(shared);
  const std::string value(1000, 'v');
  for (int64_t i = 0; i < 1000; ++i) fill(cache, 0, key_of(i), value);
  // A table of 1024 slots (48 KiB) and at most some 80 KiB of values.
  EXPECT_LE(shared->used.load(), shared->limit + 2 * 1100);  // an insertion behind at most
  EXPECT_LT(cache.size(), 100u);
  EXPECT_EQ(look(cache, 0, key_of(999)), value);
}

TEST(EntryCacheTest, AColumnIsCompleteUntilOneOfItsEntriesIsForgotten) {
  EntryCache cache(budget(64 << 10));
  EXPECT_FALSE(cache.complete(3));
  cache.set_complete(3);
  EXPECT_TRUE(cache.complete(3));
  EXPECT_FALSE(cache.complete(2));
  // Absences may be evicted without loss: the column stays complete.
  for (int64_t i = 0; i < 5'000; ++i) {
    ASSERT_EQ(cache.write(3, key_of(i), nullptr), WriteResult::kCached);
    cache.mark_clean();
  }
  EXPECT_LT(cache.size(), 5'000u);
  EXPECT_TRUE(cache.complete(3));
  for (int64_t i = 0; i < 5'000; ++i) {
    ASSERT_EQ(write(cache, 3, key_of(i), "v"), WriteResult::kCached);
    cache.mark_clean();
  }
  EXPECT_FALSE(cache.complete(3));  // a value was evicted

  cache.set_complete(4);
  ASSERT_EQ(write(cache, 4, "k", "v"), WriteResult::kCached);
  cache.erase(4, "k");
  EXPECT_FALSE(cache.complete(4));
  cache.set_complete(5);
  EXPECT_EQ(write(cache, 5, "k", std::string(EntryCache::kMaxEntryBytes, 'v')), WriteResult::kNotCached);
  EXPECT_FALSE(cache.complete(5));
  cache.set_complete(6);
  cache.clear();
  EXPECT_FALSE(cache.complete(6));
}

// ---- Through the backend ----------------------------------------------------------------

// The checkpoint storage's part, faked with a folder: uploads are copies under new names.
class FolderUploader final : public SharedFileUploader {
 public:
  explicit FolderUploader(std::string folder) : folder_(std::move(folder)) { fs::create_directories(folder_); }
  bool reuse(const SharedFileHandle& file) override { return fs::exists(fs::path(folder_) / file.shared_name); }
  SharedFileHandle upload(const std::string& local_path, const std::string& local_name) override {
    std::string name = std::to_string(++counter_) + "-" + local_name;
    fs::copy_file(local_path, fs::path(folder_) / name);
    std::ifstream in(local_path, std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    return SharedFileHandle{local_name, name, bytes.size(), hash_bytes64(bytes.data(), bytes.size())};
  }
  SharedFileFetcher fetcher() const {
    return [folder = folder_](const SharedFileHandle& file, const std::string& destination) {
      fs::copy_file(fs::path(folder) / file.shared_name, destination);
    };
  }

 private:
  std::string folder_;
  int counter_ = 0;
};

// `key` must outlive the state accesses that use it.
void set_key(KeyedStateBackend& backend, const int64_t& key) {
  backend.set_current_key(key, key_group_of(KeyHash<int64_t>{}(key), kMaxParallelism));
}

class RocksDbEntryCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksDbKeyedStateBackend> make_backend(size_t cache_bytes, uint32_t pending_bound) {
    StateBackendOptions options;
    options.kind = "rocksdb";
    options.rocksdb_dir = dir_.file("db");
    options.rocksdb_entry_cache_bytes = cache_bytes;
    auto backend = std::make_unique<RocksDbKeyedStateBackend>(options, KeyGroupRange{0, 127},
                                                              kMaxParallelism, clock_, "op", 0);
    backend->set_pending_write_bound(pending_bound);
    return backend;
  }

  ManualClock clock_{1'000'000};
  testing::TempDir dir_;
  FolderUploader uploader_{dir_.file("shared")};
};

ValueStateDescriptor<int64_t> value_descriptor() { return ValueStateDescriptor<int64_t>("value"); }
ReducingStateDescriptor<int64_t> sum_descriptor() {
  return ReducingStateDescriptor<int64_t>("sum", [](const int64_t& a, const int64_t& b) { return a + b; });
}

// Random updates, additions, clears and reads of a value and a reducing state over 2000 keys
// in three namespaces (12 000 possible entries) with a cache of about a thousand, checked
// against a std::map; every 2500 operations, the state goes through a checkpoint (full or
// incremental, in turn) into a fresh backend that goes on from there.
void run_against_model(uint32_t pending_bound,
                       const std::function<std::unique_ptr<RocksDbKeyedStateBackend>()>& make,
                       FolderUploader& uploader) {
  std::mt19937_64 rng(42 + pending_bound);
  const std::vector<std::string> namespaces{"", "a", "bb"};
  std::map<std::tuple<int, int64_t, std::string>, int64_t> model;  // (state, key, ns) -> value
  std::unique_ptr<RocksDbKeyedStateBackend> backend = make();
  int64_t key = 0;
  for (int round = 0; round < 8; ++round) {
    auto& value = backend->get_state(value_descriptor());
    auto& sum = backend->get_reducing_state(sum_descriptor());
    for (int op = 0; op < 2500; ++op) {
      key = static_cast<int64_t>(rng() % 2000);
      const std::string& ns = namespaces[rng() % namespaces.size()];
      const int state = static_cast<int>(rng() % 2);
      set_key(*backend, key);
      backend->set_current_namespace(ns);
      auto entry = std::make_tuple(state, key, ns);
      auto it = model.find(entry);
      std::optional<int64_t> expected = it == model.end() ? std::nullopt : std::optional<int64_t>(it->second);
      const uint64_t action = rng() % 20;
      const auto x = static_cast<int64_t>(rng() % 1000);
      if (action < 8) {  // write
        if (state == 0) {
          value.update(x);
          model[entry] = x;
        } else {
          sum.add(x);
          model[entry] = expected.value_or(0) + x;
        }
      } else if (action < 11) {
        if (state == 0) {
          value.clear();
        } else {
          sum.clear();
        }
        model.erase(entry);
      } else {
        ASSERT_EQ(state == 0 ? value.value() : sum.get(), expected)
            << "round " << round << " op " << op << " key " << key << " ns '" << ns << "'";
      }
    }
    // Through a checkpoint into a fresh backend.
    std::unique_ptr<RocksDbKeyedStateBackend> next = make();
    if (round % 2 == 0) {
      KeyedStateSnapshot snapshot = backend->snapshot()->run();
      size_t entries = 0;
      for (const auto& column : snapshot.entries) entries += column.size();
      ASSERT_EQ(entries, model.size()) << "round " << round;
      next->restore({&snapshot});
    } else {
      IncrementalKeyedSnapshot snapshot = backend->snapshot_incremental(round)->run(uploader);
      next->restore_incremental(snapshot, uploader.fetcher());
    }
    backend = std::move(next);
  }
  // Everything, read back.
  auto& value = backend->get_state(value_descriptor());
  auto& sum = backend->get_reducing_state(sum_descriptor());
  for (int64_t k = 0; k < 2000; ++k) {
    set_key(*backend, k);
    for (const std::string& ns : namespaces) {
      backend->set_current_namespace(ns);
      for (int state = 0; state < 2; ++state) {
        auto it = model.find(std::make_tuple(state, k, ns));
        std::optional<int64_t> expected = it == model.end() ? std::nullopt : std::optional<int64_t>(it->second);
        ASSERT_EQ(state == 0 ? value.value() : sum.get(), expected) << k << " '" << ns << "'";
      }
    }
  }
}

TEST_F(RocksDbEntryCacheTest, MatchesAModelThroughEvictionsBatchWritesAndCheckpoints) {
  // Pending bounds: every write at once; a few at a time; more than the cache holds
  // entries (eviction then finds only pending entries and writes them out first).
  for (uint32_t bound : {1u, 7u, 5000u}) {
    SCOPED_TRACE("pending bound " + std::to_string(bound));
    run_against_model(bound, [&] { return make_backend(64 << 10, bound); }, uploader_);
    if (HasFatalFailure()) return;
  }
}

TEST_F(RocksDbEntryCacheTest, MatchesAModelWithALargeCache) {
  run_against_model(1024, [&] { return make_backend(64 << 20, 1024); }, uploader_);
}

// TTL through the cache reads as through RocksDB alone: the same operations on a backend
// with a tiny cache and one without, on one clock, with reads that refresh timestamps,
// expiries, and compactions that drop expired entries.
TEST_F(RocksDbEntryCacheTest, TtlReadsAsWithoutTheCache) {
  auto cached = make_backend(64 << 10, 5);
  auto uncached = make_backend(0, 5);
  StateTtlConfig never_expired = StateTtlConfig::of(milliseconds(100));
  never_expired.update_type = StateTtlConfig::UpdateType::kOnReadAndWrite;
  never_expired.visibility = StateTtlConfig::Visibility::kNeverReturnExpired;
  StateTtlConfig return_expired = StateTtlConfig::of(milliseconds(100));
  return_expired.visibility = StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
  struct States {
    ValueState<int64_t>* never;
    ValueState<int64_t>* returned;
    ReducingState<int64_t>* sum;
  };
  auto states_of = [&](RocksDbKeyedStateBackend& backend) {
    return States{&backend.get_state(ValueStateDescriptor<int64_t>("never").enable_ttl(never_expired)),
                  &backend.get_state(ValueStateDescriptor<int64_t>("returned").enable_ttl(return_expired)),
                  &backend.get_reducing_state(sum_descriptor().enable_ttl(return_expired))};
  };
  States a = states_of(*cached);
  States b = states_of(*uncached);
  std::mt19937_64 rng(7);
  for (int op = 0; op < 20'000; ++op) {
    const auto key = static_cast<int64_t>(rng() % 3000);
    set_key(*cached, key);
    set_key(*uncached, key);
    const uint64_t action = rng() % 100;
    const auto x = static_cast<int64_t>(rng() % 1000);
    if (action < 2) {
      clock_.advance(static_cast<int64_t>(rng() % 40));
    } else if (action == 2 && op % 50 == 0) {
      cached->compact();
      uncached->compact();
    } else if (action < 30) {
      a.never->update(x);
      b.never->update(x);
    } else if (action < 45) {
      a.returned->update(x);
      b.returned->update(x);
    } else if (action < 55) {
      a.sum->add(x);
      b.sum->add(x);
    } else if (action < 60) {
      a.returned->clear();
      b.returned->clear();
    } else if (action < 75) {
      ASSERT_EQ(a.never->value(), b.never->value()) << "op " << op << " key " << key;
    } else if (action < 90) {
      ASSERT_EQ(a.returned->value(), b.returned->value()) << "op " << op << " key " << key;
    } else {
      ASSERT_EQ(a.sum->get(), b.sum->get()) << "op " << op << " key " << key;
    }
  }
  KeyedStateSnapshot one = cached->snapshot()->run();
  KeyedStateSnapshot two = uncached->snapshot()->run();
  EXPECT_EQ(one.entries, two.entries);
}

// ---- Exactly once: the barrier writes the pending batch out ------------------------------

// Value k * factor for the keys [from, to).
void write_values(RocksDbKeyedStateBackend& backend, int64_t from, int64_t to, int64_t factor) {
  auto& value = backend.get_state(value_descriptor());
  for (int64_t k = from; k < to; ++k) {
    set_key(backend, k);
    value.update(k * factor);
  }
}

// The state at the barrier (RocksDbEntryCacheBarrierTest::backend_at_barrier): value k for
// the keys [0, 300), none for [300, 700).
void expect_barrier_state(KeyedStateBackend& backend) {
  auto& value = backend.get_state(value_descriptor());
  for (int64_t k = 0; k < 700; ++k) {
    set_key(backend, k);
    std::optional<int64_t> expected = k < 300 ? std::optional<int64_t>(k) : std::nullopt;
    ASSERT_EQ(value.value(), expected) << k;
  }
}

class RocksDbEntryCacheBarrierTest : public RocksDbEntryCacheTest {
 protected:
  // Before the barrier: 0..399 written into RocksDB (100 of them then removed, pending),
  // 0..299 rewritten (pending): nothing but the first writes has reached RocksDB.
  std::unique_ptr<RocksDbKeyedStateBackend> backend_at_barrier() {
    auto backend = make_backend(64 << 20, 1'000'000);
    write_values(*backend, 0, 400, 7);
    backend->flush();  // these reached RocksDB (its SST files)
    EXPECT_EQ(backend->pending_writes(), 0u);
    write_values(*backend, 0, 300, 1);
    auto& value = backend->get_state(value_descriptor());
    for (int64_t k = 300; k < 400; ++k) {
      set_key(*backend, k);
      value.clear();
    }
    EXPECT_EQ(backend->pending_writes(), 400u);
    return backend;
  }

  // After the barrier: everything rewritten, new keys, removals; and into RocksDB.
  static void after_barrier(RocksDbKeyedStateBackend& backend) {
    write_values(backend, 0, 700, 3);
    auto& value = backend.get_state(value_descriptor());
    for (int64_t k = 0; k < 100; ++k) {
      set_key(backend, k);
      value.clear();
    }
    backend.flush();
  }
};

TEST_F(RocksDbEntryCacheBarrierTest, AnIncrementalCheckpointHoldsThePendingWritesAndNoLaterOnes) {
  auto backend = backend_at_barrier();
  std::unique_ptr<IncrementalSnapshotTask> task = backend->snapshot_incremental(1);
  EXPECT_EQ(backend->pending_writes(), 0u);
  after_barrier(*backend);
  IncrementalKeyedSnapshot snapshot = task->run(uploader_);
  auto restored = make_backend(64 << 20, 1024);
  restored->restore_incremental(snapshot, uploader_.fetcher());
  expect_barrier_state(*restored);
  // And read into the canonical form, as another parallelism would.
  StateBackendOptions options;
  options.rocksdb_dir = dir_.file("db");
  KeyedStateSnapshot canonical = read_incremental_snapshot(snapshot, options, uploader_.fetcher());
  ASSERT_EQ(canonical.entries.size(), 1u);
  EXPECT_EQ(canonical.entries[0].size(), 300u);
}

TEST_F(RocksDbEntryCacheBarrierTest, AFullCheckpointHoldsThePendingWritesAndNoLaterOnes) {
  auto backend = backend_at_barrier();
  std::unique_ptr<SnapshotTask> task = backend->snapshot();
  EXPECT_EQ(backend->pending_writes(), 0u);
  after_barrier(*backend);
  KeyedStateSnapshot snapshot = task->run();
  ASSERT_EQ(snapshot.entries.size(), 1u);
  EXPECT_EQ(snapshot.entries[0].size(), 300u);
  auto restored = make_backend(64 << 20, 1024);
  restored->restore({&snapshot});
  expect_barrier_state(*restored);
}

TEST_F(RocksDbEntryCacheBarrierTest, ARestoreReplacesWhatTheCacheHeld) {
  auto backend = backend_at_barrier();
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  after_barrier(*backend);  // the cache holds these now
  backend->restore({&snapshot});  // the snapshot's entries overwrite; the others stay
  auto& value = backend->get_state(value_descriptor());
  for (int64_t k = 0; k < 700; ++k) {
    set_key(*backend, k);
    const int64_t expected = k < 300 ? k : 3 * k;
    ASSERT_EQ(value.value(), expected) << k;
  }
}

// A full snapshot reads the active point memtable on its own thread while the task thread
// goes on writing into it (RocksDB's contract for memtables: one writer, concurrent readers).
TEST_F(RocksDbEntryCacheTest, ASnapshotTaskReadsThePointMemtableWhileWritesGoOn) {
  auto backend = make_backend(64 << 20, 64);
  write_values(*backend, 0, 20'000, 1);
  std::unique_ptr<SnapshotTask> task = backend->snapshot();
  KeyedStateSnapshot snapshot;
  std::thread reader([&] { snapshot = task->run(); });
  for (int64_t round = 2; round < 12; ++round) write_values(*backend, 0, 20'000, round);
  reader.join();
  auto restored = make_backend(64 << 20, 1024);
  restored->restore({&snapshot});
  auto& value = restored->get_state(value_descriptor());
  for (int64_t k = 0; k < 20'000; ++k) {
    set_key(*restored, k);
    ASSERT_EQ(value.value(), k) << k;
  }
}

TEST_F(RocksDbEntryCacheTest, WithoutACacheEveryWriteGoesStraightToRocksDb) {
  auto backend = make_backend(0, 1024);
  write_values(*backend, 0, 100, 1);
  EXPECT_EQ(backend->pending_writes(), 0u);
  EXPECT_FALSE(backend->prefetches());
  auto cached = make_backend(64 << 20, 1024);
  EXPECT_TRUE(cached->prefetches());
}

TEST_F(RocksDbEntryCacheTest, ListsAndMapsBypassTheCache) {
  auto backend = make_backend(64 << 20, 1'000'000);
  auto& list = backend->get_list_state(ListStateDescriptor<int64_t>("list"));
  auto& map = backend->get_map_state(MapStateDescriptor<int64_t, int64_t>("map"));
  auto& value = backend->get_state(value_descriptor());
  for (int64_t k = 0; k < 100; ++k) {
    set_key(*backend, k);
    list.add(k);
    map.put(k, k);
    value.update(k);
  }
  EXPECT_EQ(backend->pending_writes(), 100u);  // the value state's only
  for (int64_t k = 0; k < 100; ++k) {
    set_key(*backend, k);
    ASSERT_EQ(list.get(), std::vector<int64_t>{k});
    ASSERT_EQ(map.entries(), (std::vector<std::pair<int64_t, int64_t>>{{k, k}}));
    ASSERT_EQ(value.value(), k);
  }
  EXPECT_EQ(backend->pending_writes(), 100u);  // scans of uncached columns write nothing out
  const size_t memory = backend->memory_bytes();
  EXPECT_GT(memory, 0u);
}

}  // namespace
}  // namespace eddy
