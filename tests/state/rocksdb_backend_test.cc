// What is particular to the RocksDB backend: its data directory, native checkpoints, the
// TTL compaction filter, snapshots through RocksDB snapshots, and restores by key group.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "test_util.h"

namespace eddy {
namespace {

using state::RocksDbKeyedStateBackend;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 128;

class RocksDbBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksDbKeyedStateBackend> make_backend(KeyGroupRange key_groups = {0, 127},
                                                         const std::string& operator_name = "op",
                                                         int subtask_index = 0) {
    StateBackendOptions options;
    options.kind = "rocksdb";
    options.rocksdb_dir = dir_.file("db");
    return std::make_unique<RocksDbKeyedStateBackend>(options, key_groups, kMaxParallelism, clock_,
                                                      operator_name, subtask_index);
  }

  // `key` must outlive the state accesses that use it.
  template <class K>
  static void set_key(KeyedStateBackend& backend, const K& key) {
    backend.set_current_key(key, key_group_of(KeyHash<K>{}(key), kMaxParallelism));
  }

  ManualClock clock_{1'000'000};
  testing::TempDir dir_;
};

TEST_F(RocksDbBackendTest, EachBackendHasItsOwnDataDirectoryRemovedWithIt) {
  auto first = make_backend({0, 127}, "Count per key", 2);
  auto second = make_backend({0, 127}, "Count per key", 2);
  fs::path first_dir = first->data_dir();
  fs::path second_dir = second->data_dir();
  EXPECT_NE(first_dir, second_dir);
  EXPECT_TRUE(fs::is_directory(first_dir));
  EXPECT_EQ(first_dir.parent_path(), fs::path(dir_.file("db")));
  std::string name = first_dir.filename().string();
  EXPECT_NE(name.find("Count_per_key-2"), std::string::npos) << name;

  const int64_t key = 1;
  set_key(*first, key);
  first->get_state(ValueStateDescriptor<int64_t>("v")).update(1);
  first.reset();
  EXPECT_FALSE(fs::exists(first_dir));
  EXPECT_TRUE(fs::is_directory(second_dir));
  second.reset();
  EXPECT_FALSE(fs::exists(second_dir));
}

TEST_F(RocksDbBackendTest, NativeCheckpointWritesTheDatabaseFiles) {
  auto backend = make_backend();
  auto& value = backend->get_state(ValueStateDescriptor<std::string>("v"));
  for (int64_t k = 0; k < 1000; ++k) {
    set_key(*backend, k);
    value.update("value " + std::to_string(k));
  }
  std::string checkpoint = dir_.file("checkpoint");
  backend->create_native_checkpoint(checkpoint);
  int sst_files = 0;
  bool has_current = false;
  for (const auto& entry : fs::directory_iterator(checkpoint)) {
    if (entry.path().extension() == ".sst") ++sst_files;
    if (entry.path().filename() == "CURRENT") has_current = true;
  }
  EXPECT_GT(sst_files, 0);
  EXPECT_TRUE(has_current);
  // The checkpoint does not disturb the backend.
  const int64_t key = 7;
  set_key(*backend, key);
  EXPECT_EQ(value.value(), "value 7");
  EXPECT_THROW(backend->create_native_checkpoint(checkpoint), Error);  // exists already
}

TEST_F(RocksDbBackendTest, CompactionDropsExpiredEntries) {
  auto backend = make_backend();
  // Expired entries stay visible until cleaned up, so a read shows what compaction did.
  StateTtlConfig ttl = StateTtlConfig::of(milliseconds(100));
  ttl.visibility = StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
  StateTtlConfig kept_ttl = ttl;
  kept_ttl.cleanup_in_rocksdb_compaction = false;
  auto& value = backend->get_state(ValueStateDescriptor<int64_t>("value").enable_ttl(ttl));
  auto& map = backend->get_map_state(MapStateDescriptor<int64_t, int64_t>("map").enable_ttl(ttl));
  auto& list = backend->get_list_state(ListStateDescriptor<int64_t>("list").enable_ttl(ttl));
  auto& kept = backend->get_state(ValueStateDescriptor<int64_t>("kept").enable_ttl(kept_ttl));
  auto& plain = backend->get_state(ValueStateDescriptor<int64_t>("plain"));
  const int64_t old_key = 1;
  const int64_t new_key = 2;
  set_key(*backend, old_key);
  value.update(1);
  map.put(1, 1);
  list.add(1);
  list.add(2);
  kept.update(1);
  plain.update(1);
  clock_.advance(50);
  set_key(*backend, new_key);
  value.update(2);
  map.put(2, 2);
  set_key(*backend, old_key);
  map.put(3, 3);
  clock_.advance(60);  // old_key's first writes expired, the rest did not

  set_key(*backend, old_key);
  EXPECT_EQ(value.value(), 1);  // expired but not cleaned up yet
  backend->compact();
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_EQ(map.entries(), (std::vector<std::pair<int64_t, int64_t>>{{3, 3}}));
  EXPECT_EQ(kept.value(), 1);
  EXPECT_EQ(plain.value(), 1);
  EXPECT_EQ(list.get(), (std::vector<int64_t>{1, 2}));  // lists: filtered on read only
  set_key(*backend, new_key);
  EXPECT_EQ(value.value(), 2);
  EXPECT_EQ(map.get(2), 2);
}

TEST_F(RocksDbBackendTest, SnapshotTaskReadsTheStateOfTheSynchronousPart) {
  auto backend = make_backend();
  auto& value = backend->get_state(ValueStateDescriptor<std::string>("value"));
  auto& list = backend->get_list_state(ListStateDescriptor<int64_t>("list"));
  auto& map = backend->get_map_state(MapStateDescriptor<std::string, int64_t>("map"));
  const std::string key = "k";
  set_key(*backend, key);
  value.update("old");
  list.add_all({1, 2});
  map.put("a", 1);

  std::unique_ptr<SnapshotTask> task = backend->snapshot();
  value.update("new");
  list.add(3);
  map.clear();
  map.put("b", 2);
  backend->compact();  // flushed and rewritten: the snapshot still pins the old data
  KeyedStateSnapshot snapshot = task->run();
  task.reset();

  auto restored = make_backend();
  restored->restore({&snapshot});
  set_key(*restored, key);
  EXPECT_EQ(restored->get_state(ValueStateDescriptor<std::string>("value")).value(), "old");
  EXPECT_EQ(restored->get_list_state(ListStateDescriptor<int64_t>("list")).get(),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(restored->get_map_state(MapStateDescriptor<std::string, int64_t>("map")).entries(),
            (std::vector<std::pair<std::string, int64_t>>{{"a", 1}}));
  // And the backend itself has the new state.
  EXPECT_EQ(value.value(), "new");
  EXPECT_EQ(list.get(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(RocksDbBackendTest, SnapshotTaskMayOutliveTheBackend) {
  auto backend = make_backend();
  const int64_t key = 3;
  set_key(*backend, key);
  backend->get_state(ValueStateDescriptor<int64_t>("v")).update(3);
  std::unique_ptr<SnapshotTask> task = backend->snapshot();
  fs::path dir = backend->data_dir();
  backend.reset();
  EXPECT_TRUE(fs::exists(dir));  // the task still reads it
  EXPECT_EQ(task->run().entry_count(), 1u);
  task.reset();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(RocksDbBackendTest, RestoreKeepsOnlyTheBackendsKeyGroups) {
  auto full = make_backend();
  auto& value = full->get_state(ValueStateDescriptor<int64_t>("v"));
  auto& map = full->get_map_state(MapStateDescriptor<int64_t, int64_t>("m"));
  for (int64_t k = 0; k < 2000; ++k) {
    set_key(*full, k);
    value.update(k);
    map.put(k, k);
    map.put(-k, k);
  }
  KeyedStateSnapshot snapshot = full->snapshot()->run();

  const KeyGroupRange range{32, 95};
  auto part = make_backend(range);
  part->restore({&snapshot});
  KeyedStateSnapshot part_snapshot = part->snapshot()->run();
  EXPECT_EQ(part_snapshot.key_groups, range);
  size_t expected = 0;
  for (const auto& entries : snapshot.entries) {
    for (const auto& [key, _] : entries) {
      int group = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
      if (range.contains(group)) ++expected;
    }
  }
  EXPECT_GT(expected, 0u);
  EXPECT_LT(expected, snapshot.entry_count());
  EXPECT_EQ(part_snapshot.entry_count(), expected);
  for (const auto& entries : part_snapshot.entries) {
    for (const auto& [key, _] : entries) {
      int group = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
      EXPECT_TRUE(range.contains(group)) << group;
    }
  }
  auto& part_value = part->get_state(ValueStateDescriptor<int64_t>("v"));
  for (int64_t k = 0; k < 2000; ++k) {
    int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
    if (!range.contains(group)) continue;
    set_key(*part, k);
    ASSERT_EQ(part_value.value(), k);
  }
}

TEST_F(RocksDbBackendTest, RestoredStateWithAnotherSignatureIsRejected) {
  auto backend = make_backend();
  const int64_t key = 1;
  set_key(*backend, key);
  backend->get_map_state(MapStateDescriptor<int64_t, std::string>("m")).put(1, "one");
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  auto restored = make_backend();
  restored->restore({&snapshot});
  set_key(*restored, key);
  try {
    restored->get_map_state(MapStateDescriptor<int64_t, int64_t>("m"));
    FAIL() << "expected eddy::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "state 'm' holds entries of MapState<int64, string> (restored from a snapshot) but is "
        "now declared as MapState<int64, int64>: the state cannot be restored");
  }
  // The same declaration as before still works.
  EXPECT_EQ(restored->get_map_state(MapStateDescriptor<int64_t, std::string>("m")).get(1), "one");
}

TEST_F(RocksDbBackendTest, AccessForAKeyOfAnotherKeyGroupRangeThrows) {
  auto backend = make_backend({0, 63});
  auto& value = backend->get_state(ValueStateDescriptor<int64_t>("v"));
  EXPECT_THROW(value.value(), Error);  // no current key yet
  const int64_t key = 1;
  backend->set_current_key(key, 64);
  try {
    value.update(1);
    FAIL() << "expected eddy::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "state 'v': the current key is in key group 64, outside this subtask's key "
                 "groups 0..63");
  }
}

TEST_F(RocksDbBackendTest, AStateNamedDefaultIsAnOrdinaryState) {
  auto backend = make_backend();
  const int64_t key = 1;
  set_key(*backend, key);
  auto& state = backend->get_state(ValueStateDescriptor<int64_t>("default"));
  state.update(4);
  EXPECT_EQ(state.value(), 4);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  ASSERT_EQ(snapshot.states.size(), 1u);
  EXPECT_EQ(snapshot.states[0].name, "default");
  EXPECT_EQ(snapshot.entry_count(), 1u);
}

TEST_F(RocksDbBackendTest, MemoryIsReported) {
  auto backend = make_backend();
  auto& value = backend->get_state(ValueStateDescriptor<std::string>("v"));
  for (int64_t k = 0; k < 1000; ++k) {
    set_key(*backend, k);
    value.update(std::string(100, 'x'));
  }
  EXPECT_GT(backend->memory_bytes(), 100'000u);
}

}  // namespace
}  // namespace eddy
