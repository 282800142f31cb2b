// What is particular to the RocksDB backend: its data directory, native checkpoints, the
// TTL compaction filter, snapshots through RocksDB snapshots, restores by key group, and
// incremental snapshots (uploads of new SST files only, restores of the files as they are
// or through the canonical form).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"
#include "state/heap/heap_keyed_state_backend.h"
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

// --- incremental snapshots ---------------------------------------------------------------

std::string file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The checkpoint storage's part, faked with a folder: uploads are copies under new names,
// reuses succeed while the file is there, fetches copy back.
class FolderUploader final : public SharedFileUploader {
 public:
  explicit FolderUploader(std::string folder) : folder_(std::move(folder)) {
    fs::create_directories(folder_);
  }
  bool reuse(const SharedFileHandle& file) override {
    if (!fs::exists(fs::path(folder_) / file.shared_name)) return false;
    ++reused;
    return true;
  }
  SharedFileHandle upload(const std::string& local_path, const std::string& local_name) override {
    ++uploaded;
    std::string name = std::to_string(++counter_) + "-" + local_name;
    fs::copy_file(local_path, fs::path(folder_) / name);
    std::string bytes = file_content(local_path);
    return SharedFileHandle{local_name, name, bytes.size(), hash_bytes64(bytes.data(), bytes.size())};
  }
  SharedFileFetcher fetcher() const {
    return [folder = folder_](const SharedFileHandle& file, const std::string& destination) {
      fs::copy_file(fs::path(folder) / file.shared_name, destination);
    };
  }
  void forget(const SharedFileHandle& file) { fs::remove(fs::path(folder_) / file.shared_name); }

  int uploaded = 0;
  int reused = 0;

 private:
  std::string folder_;
  int counter_ = 0;
};

std::set<std::string> shared_names(const IncrementalKeyedSnapshot& snapshot) {
  std::set<std::string> names;
  for (const SharedFileHandle& file : snapshot.shared_files) names.insert(file.shared_name);
  return names;
}

class RocksDbIncrementalTest : public RocksDbBackendTest {
 protected:
  // Writes value k * factor and appends k to a list for the keys in [from, to) that the
  // backend owns.
  static void write_keys(RocksDbKeyedStateBackend& backend, int64_t from, int64_t to, int64_t factor) {
    auto& value = backend.get_state(ValueStateDescriptor<int64_t>("value"));
    auto& list = backend.get_list_state(ListStateDescriptor<int64_t>("list"));
    for (int64_t k = from; k < to; ++k) {
      if (!backend.key_groups().contains(key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism))) continue;
      set_key(backend, k);
      value.update(k * factor);
      list.add(k);
    }
  }

  IncrementalKeyedSnapshot take(RocksDbKeyedStateBackend& backend, int64_t id) {
    std::unique_ptr<IncrementalSnapshotTask> task = backend.snapshot_incremental(id);
    EXPECT_NE(task, nullptr);
    return task->run(uploader_);
  }

  // Expects value k * factor and list [k] for the keys in [from, to) the backend owns.
  static void expect_keys(KeyedStateBackend& backend, int64_t from, int64_t to, int64_t factor) {
    auto& value = backend.get_state(ValueStateDescriptor<int64_t>("value"));
    auto& list = backend.get_list_state(ListStateDescriptor<int64_t>("list"));
    for (int64_t k = from; k < to; ++k) {
      if (!backend.key_groups().contains(key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism))) continue;
      set_key(backend, k);
      ASSERT_EQ(value.value(), k * factor) << k;
      ASSERT_EQ(list.get(), (std::vector<int64_t>{k})) << k;
    }
  }

  FolderUploader uploader_{dir_.file("shared")};
};

TEST_F(RocksDbIncrementalTest, LaterCheckpointsUploadOnlyNewSstFiles) {
  auto backend = make_backend();
  write_keys(*backend, 0, 1000, 1);
  backend->flush();  // as RocksDB does once the memtables fill up
  IncrementalKeyedSnapshot first = take(*backend, 1);
  EXPECT_EQ(first.backend, "rocksdb");
  EXPECT_EQ(first.key_groups, (KeyGroupRange{0, 127}));
  ASSERT_EQ(first.states.size(), 2u);
  EXPECT_EQ(first.states[0].name, "value");
  EXPECT_FALSE(first.shared_files.empty());
  EXPECT_EQ(uploader_.uploaded, static_cast<int>(first.shared_files.size()));
  std::set<std::string> private_names;
  for (const auto& [name, bytes] : first.private_files) private_names.insert(name);
  EXPECT_TRUE(private_names.count("CURRENT"));
  // Everything was flushed: no write-ahead log is needed.
  for (const std::string& name : private_names) EXPECT_FALSE(name.ends_with(".log")) << name;
  for (const SharedFileHandle& file : first.shared_files) {
    EXPECT_TRUE(file.local_name.ends_with(".sst")) << file.local_name;
    EXPECT_GT(file.size, 0u);
  }
  backend->notify_checkpoint_complete(1);

  write_keys(*backend, 1000, 1100, 1);
  backend->flush();
  uploader_.uploaded = 0;
  IncrementalKeyedSnapshot second = take(*backend, 2);
  // Every file of the first is still live (nothing compacted yet) and reused; only the
  // new writes are uploaded.
  EXPECT_EQ(uploader_.reused, static_cast<int>(first.shared_files.size()));
  EXPECT_EQ(uploader_.uploaded, static_cast<int>(second.shared_files.size() - first.shared_files.size()));
  EXPECT_GT(uploader_.uploaded, 0);
  for (const std::string& name : shared_names(first)) EXPECT_TRUE(shared_names(second).count(name)) << name;
  backend->notify_checkpoint_complete(2);

  // Nothing written: nothing to upload.
  uploader_.uploaded = 0;
  IncrementalKeyedSnapshot third = take(*backend, 3);
  EXPECT_EQ(uploader_.uploaded, 0);
  EXPECT_EQ(shared_names(third), shared_names(second));
}

TEST_F(RocksDbIncrementalTest, OnlyFilesOfCompletedCheckpointsAreReused) {
  auto backend = make_backend();
  write_keys(*backend, 0, 100, 1);
  backend->flush();
  IncrementalKeyedSnapshot first = take(*backend, 1);
  backend->notify_checkpoint_aborted(1);
  IncrementalKeyedSnapshot second = take(*backend, 2);  // 1 never completed: upload again
  EXPECT_EQ(uploader_.reused, 0);
  for (const std::string& name : shared_names(first)) EXPECT_FALSE(shared_names(second).count(name));
  backend->notify_checkpoint_complete(2);
  // A reuse the storage refuses (the file is gone) is an upload.
  uploader_.forget(second.shared_files.front());
  IncrementalKeyedSnapshot third = take(*backend, 3);
  EXPECT_EQ(uploader_.reused, static_cast<int>(second.shared_files.size()) - 1);
  EXPECT_FALSE(shared_names(third).count(second.shared_files.front().shared_name));
  EXPECT_EQ(third.shared_files.size(), second.shared_files.size());
}

TEST_F(RocksDbIncrementalTest, TheSnapshotIsTheStateOfTheSynchronousPart) {
  auto backend = make_backend();
  write_keys(*backend, 0, 500, 1);
  std::unique_ptr<IncrementalSnapshotTask> task = backend->snapshot_incremental(1);
  write_keys(*backend, 0, 500, 7);  // after the barrier
  backend->compact();
  IncrementalKeyedSnapshot snapshot = task->run(uploader_);
  auto restored = make_backend();
  ASSERT_TRUE(restored->can_restore_incremental(snapshot));
  restored->restore_incremental(snapshot, uploader_.fetcher());
  expect_keys(*restored, 0, 500, 1);
}

TEST_F(RocksDbIncrementalTest, RestoresTheFilesAsTheyAreAndReusesThem) {
  auto backend = make_backend();
  write_keys(*backend, 0, 2000, 3);
  backend->flush();
  // In SST files and, since the flush, in the write-ahead log.
  auto& map = backend->get_map_state(MapStateDescriptor<std::string, int64_t>("map"));
  const std::string key = "k";
  set_key(*backend, key);
  map.put("a", 1);
  IncrementalKeyedSnapshot snapshot = take(*backend, 5);
  ASSERT_FALSE(snapshot.shared_files.empty());
  backend.reset();

  auto restored = make_backend();
  restored->restore_incremental(snapshot, uploader_.fetcher());
  expect_keys(*restored, 0, 2000, 3);
  set_key(*restored, key);
  EXPECT_EQ(restored->get_map_state(MapStateDescriptor<std::string, int64_t>("map")).get("a"), 1);
  // The restored database goes on, and its next checkpoint reuses the restored files.
  write_keys(*restored, 2000, 2100, 3);
  uploader_.uploaded = 0;
  IncrementalKeyedSnapshot next = take(*restored, 6);
  EXPECT_EQ(uploader_.reused, static_cast<int>(snapshot.shared_files.size()));
  EXPECT_GT(uploader_.uploaded, 0);
  auto again = make_backend();
  again->restore_incremental(next, uploader_.fetcher());
  expect_keys(*again, 0, 2100, 3);
}

TEST_F(RocksDbIncrementalTest, ReadsIntoTheCanonicalFormForOtherKeyGroupsAndTheHeapBackend) {
  auto backend = make_backend({0, 63});
  write_keys(*backend, 0, 3000, 2);
  backend->compact();
  write_keys(*backend, 3000, 3100, 2);  // one more file, in level 0
  KeyedStateSnapshot full = backend->snapshot()->run();
  IncrementalKeyedSnapshot snapshot = take(*backend, 1);

  StateBackendOptions options;
  options.rocksdb_dir = dir_.file("db");
  KeyedStateSnapshot canonical = read_incremental_snapshot(snapshot, options, uploader_.fetcher());
  EXPECT_EQ(canonical.key_groups, full.key_groups);
  EXPECT_EQ(canonical.states, full.states);
  EXPECT_EQ(canonical.entries, full.entries);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.file("db")), fs::directory_iterator()), 1)
      << "the temporary folder is removed";

  // A backend with part of the key groups takes its part; the heap backend takes all.
  EXPECT_FALSE(make_backend({32, 63})->can_restore_incremental(snapshot));
  auto part = make_backend({32, 63});
  part->restore({&canonical});
  expect_keys(*part, 0, 3100, 2);
  state::HeapKeyedStateBackend heap({0, 63}, kMaxParallelism, clock_);
  EXPECT_FALSE(heap.can_restore_incremental(snapshot));
  EXPECT_THROW(heap.restore_incremental(snapshot, uploader_.fetcher()), Error);
  heap.restore({&canonical});
  expect_keys(heap, 0, 3100, 2);
}

TEST_F(RocksDbIncrementalTest, ABackendWithoutStatesWritesNoFiles) {
  auto backend = make_backend();
  IncrementalKeyedSnapshot snapshot = take(*backend, 1);
  EXPECT_TRUE(snapshot.states.empty());
  EXPECT_TRUE(snapshot.shared_files.empty());
  EXPECT_TRUE(snapshot.private_files.empty());
  auto restored = make_backend();
  restored->restore_incremental(snapshot, uploader_.fetcher());
  StateBackendOptions options;
  EXPECT_TRUE(read_incremental_snapshot(snapshot, options, uploader_.fetcher()).states.empty());
}

std::set<std::string> sst_files(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") names.insert(entry.path().filename().string());
  }
  return names;
}

TEST_F(RocksDbIncrementalTest, TheTaskKeepsItsFilesUntilItIsDoneAndMayOutliveTheBackend) {
  auto backend = make_backend();
  write_keys(*backend, 0, 100, 1);
  backend->flush();
  std::unique_ptr<IncrementalSnapshotTask> unused = backend->snapshot_incremental(1);
  std::set<std::string> listed = sst_files(backend->data_dir());
  ASSERT_FALSE(listed.empty());
  write_keys(*backend, 100, 200, 1);
  backend->compact();  // makes the listed files obsolete, but they are not deleted yet
  for (const std::string& name : listed) EXPECT_TRUE(fs::exists(backend->data_dir() / name)) << name;
  unused.reset();  // file deletions are enabled again
  write_keys(*backend, 200, 300, 1);
  backend->compact();
  for (const std::string& name : listed) EXPECT_FALSE(fs::exists(backend->data_dir() / name)) << name;

  std::unique_ptr<IncrementalSnapshotTask> task = backend->snapshot_incremental(2);
  backend.reset();
  IncrementalKeyedSnapshot snapshot = task->run(uploader_);
  EXPECT_FALSE(snapshot.shared_files.empty());
  EXPECT_THROW(task->run(uploader_), Error);
  auto restored = make_backend();
  restored->restore_incremental(snapshot, uploader_.fetcher());
  expect_keys(*restored, 0, 300, 1);
}

TEST_F(RocksDbIncrementalTest, RestoreRefusesOtherKeyGroupsAndExistingStates) {
  auto backend = make_backend({0, 63});
  write_keys(*backend, 0, 10, 1);
  backend->flush();  // an SST file to fetch
  IncrementalKeyedSnapshot snapshot = take(*backend, 1);
  EXPECT_THROW(make_backend({0, 127})->restore_incremental(snapshot, uploader_.fetcher()), Error);
  auto used = make_backend({0, 63});
  used->get_state(ValueStateDescriptor<int64_t>("other"));
  EXPECT_THROW(used->restore_incremental(snapshot, uploader_.fetcher()), Error);
  // A fetch that fails leaves a working, empty backend.
  auto failing = make_backend({0, 63});
  EXPECT_THROW(failing->restore_incremental(
                   snapshot, [](const SharedFileHandle& file, const std::string&) {
                     throw Error("corrupt checkpoint file '" + file.shared_name + "'");
                   }),
               Error);
  write_keys(*failing, 0, 10, 5);
  expect_keys(*failing, 0, 10, 5);
}

// --- what was not flushed at the barrier comes from the write-ahead log ------------------

// The barrier lists the write-ahead logs with their lengths and never flushes or switches
// memtables: RocksDB does, on its own, in the writes before and after the barrier (with the
// default 64 MiB budget, at 32 MiB of memtable).
class RocksDbLogTailTest : public RocksDbIncrementalTest {
 protected:
  // A 1 MiB write buffer budget (512 KiB memtables): RocksDB switches and flushes
  // memtables on its own after a few hundred KB of writes.
  StateBackendOptions small_write_buffer_options() {
    StateBackendOptions options;
    options.kind = "rocksdb";
    options.rocksdb_dir = dir_.file("db");
    options.rocksdb_write_buffer_bytes = 1 << 20;
    return options;
  }

  // For the keys in [from, to) the backend owns: a payload of `payload_bytes` times `tag`
  // (2000 keys: 20 MB of log with the default), value k * factor, k appended to a list;
  // and removes the payload of every 10th key.
  static void write_round(RocksDbKeyedStateBackend& backend, int64_t from, int64_t to, char tag,
                          int64_t factor, size_t payload_bytes = 10'000) {
    auto& payload = backend.get_state(ValueStateDescriptor<std::string>("payload"));
    auto& value = backend.get_state(ValueStateDescriptor<int64_t>("value"));
    auto& list = backend.get_list_state(ListStateDescriptor<int64_t>("list"));
    for (int64_t k = from; k < to; ++k) {
      if (!backend.key_groups().contains(key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism))) continue;
      set_key(backend, k);
      payload.update(std::string(payload_bytes, tag));
      value.update(k * factor);
      list.add(k);
      if (k % 10 == 0) payload.clear();
    }
  }

  static bool has_log(const IncrementalKeyedSnapshot& snapshot) {
    for (const auto& [name, bytes] : snapshot.private_files) {
      if (name.ends_with(".log")) return true;
    }
    return false;
  }

  // The write-ahead log the snapshot takes up to the barrier (the one open there).
  static std::pair<std::string, size_t> open_log(const IncrementalKeyedSnapshot& snapshot) {
    for (const auto& [name, bytes] : snapshot.private_files) {
      if (name.ends_with(".log")) return {name, bytes.size()};
    }
    return {};
  }

  // The files of the database folder with the extension `extension` (".log", ".sst").
  static std::map<std::string, uintmax_t> files_of(const RocksDbKeyedStateBackend& backend,
                                                   const std::string& extension) {
    std::map<std::string, uintmax_t> out;
    for (const auto& entry : fs::directory_iterator(backend.data_dir())) {
      if (entry.path().extension() == extension) out[entry.path().filename().string()] = entry.file_size();
    }
    return out;
  }

  // A barrier: the full snapshot (what the state is) and the incremental one.
  struct Barrier {
    std::unique_ptr<SnapshotTask> full;
    std::unique_ptr<IncrementalSnapshotTask> incremental;
  };
  static Barrier barrier(RocksDbKeyedStateBackend& backend, int64_t id) {
    Barrier out;
    out.full = backend.snapshot();
    out.incremental = backend.snapshot_incremental(id);
    return out;
  }

  // The incremental snapshot holds exactly the state of the full one, read both ways: as
  // the files are (restore with the same key groups) and into the canonical form.
  void expect_same_state(const IncrementalKeyedSnapshot& snapshot, const KeyedStateSnapshot& full) {
    StateBackendOptions options;
    options.rocksdb_dir = dir_.file("db");
    KeyedStateSnapshot canonical = read_incremental_snapshot(snapshot, options, uploader_.fetcher());
    EXPECT_EQ(canonical.states, full.states);
    EXPECT_EQ(canonical.entries, full.entries);
    auto restored = make_backend(snapshot.key_groups);
    restored->restore_incremental(snapshot, uploader_.fetcher());
    KeyedStateSnapshot reread = restored->snapshot()->run();
    EXPECT_EQ(reread.states, full.states);
    EXPECT_EQ(reread.entries, full.entries);
  }
};

TEST_F(RocksDbLogTailTest, WritesAfterTheBarrierStayOutWhateverFlushesAndCompactionsDo) {
  auto backend = make_backend();
  write_round(*backend, 0, 2000, 'a', 1);
  Barrier at = barrier(*backend, 1);
  // After the barrier: every entry rewritten, some removed, the memtables flushed (the
  // barrier's and these) and everything compacted together into new files.
  write_round(*backend, 0, 2000, 'b', 2);
  auto& value = backend->get_state(ValueStateDescriptor<int64_t>("value"));
  for (int64_t k = 0; k < 2000; k += 7) {
    set_key(*backend, k);
    value.clear();
  }
  backend->compact();
  IncrementalKeyedSnapshot snapshot = at.incremental->run(uploader_);
  KeyedStateSnapshot full = at.full->run();
  EXPECT_TRUE(has_log(snapshot));
  expect_same_state(snapshot, full);
  auto restored = make_backend();
  restored->restore_incremental(snapshot, uploader_.fetcher());
  expect_keys(*restored, 0, 2000, 1);
}

TEST_F(RocksDbLogTailTest, ClosedLogsAreSharedAndTheOpenOneIsTakenUpToTheBarrier) {
  auto backend = make_backend();
  write_round(*backend, 0, 2000, 'a', 1);
  backend->set_background_work_paused(true);  // the barrier's memtables stay unflushed
  Barrier first = barrier(*backend, 1);
  write_round(*backend, 2000, 4000, 'b', 1);  // 40 MB in all: RocksDB switches the memtables
  // The log open at the first barrier is closed now and still needed: it is shared; the one
  // written since is taken up to this barrier.
  Barrier second = barrier(*backend, 2);
  backend->set_background_work_paused(false);
  write_round(*backend, 0, 4000, 'c', 3);  // after both barriers
  backend->compact();

  IncrementalKeyedSnapshot one = first.incremental->run(uploader_);
  backend->notify_checkpoint_complete(1);
  IncrementalKeyedSnapshot two = second.incremental->run(uploader_);
  EXPECT_TRUE(has_log(one));
  EXPECT_TRUE(has_log(two));
  EXPECT_NE(open_log(one).first, open_log(two).first);
  std::set<std::string> shared_logs;
  for (const SharedFileHandle& file : two.shared_files) {
    if (file.local_name.ends_with(".log")) shared_logs.insert(file.local_name);
  }
  EXPECT_TRUE(shared_logs.count(open_log(one).first));
  expect_same_state(one, first.full->run());
  expect_same_state(two, second.full->run());

  // The restored database goes on from the barrier and checkpoints again.
  auto restored = make_backend();
  restored->restore_incremental(two, uploader_.fetcher());
  expect_keys(*restored, 0, 4000, 1);
  write_round(*restored, 0, 500, 'd', 5);
  Barrier third = barrier(*restored, 3);
  write_round(*restored, 0, 4000, 'e', 7);
  expect_same_state(third.incremental->run(uploader_), third.full->run());
}

TEST_F(RocksDbLogTailTest, TheOpenLogGrowsAfterTheBarrierAndIsCutThere) {
  auto backend = make_backend();
  write_round(*backend, 0, 2000, 'a', 1);
  Barrier first = barrier(*backend, 1);
  write_round(*backend, 0, 3000, 'b', 2);  // into the log the barrier listed
  Barrier second = barrier(*backend, 2);
  write_round(*backend, 0, 3000, 'c', 3);
  backend->compact();
  IncrementalKeyedSnapshot one = first.incremental->run(uploader_);
  EXPECT_TRUE(has_log(one));
  expect_same_state(one, first.full->run());
  expect_same_state(second.incremental->run(uploader_), second.full->run());
}

// The synchronous part wakes no background work: whatever the logs hold (here 20 MB, then
// 20 KB), it leaves the memtables and the files as they are, and the checkpoint takes the
// logs. The open log is never much longer than a memtable (32 MiB with the default budget).
TEST_F(RocksDbLogTailTest, TheBarrierNeitherFlushesNorSwitchesMemtables) {
  auto backend = make_backend();
  backend->set_background_work_paused(true);  // what is in the folder changes only by writes
  write_round(*backend, 0, 2000, 'a', 1);
  std::vector<Barrier> barriers;
  for (size_t payload_bytes : {0, 10}) {
    if (payload_bytes > 0) write_round(*backend, 2000, 2200, 'b', 1, payload_bytes);
    std::map<std::string, uintmax_t> logs = files_of(*backend, ".log");
    std::map<std::string, uintmax_t> tables = files_of(*backend, ".sst");
    barriers.push_back(barrier(*backend, static_cast<int64_t>(barriers.size()) + 1));
    EXPECT_EQ(files_of(*backend, ".sst"), tables);
    std::map<std::string, uintmax_t> logs_after = files_of(*backend, ".log");
    ASSERT_EQ(logs_after.size(), logs.size()) << "a new log: the memtables were switched";
    EXPECT_EQ(logs_after.rbegin()->first, logs.rbegin()->first);
  }
  backend->set_background_work_paused(false);
  write_round(*backend, 0, 4000, 'c', 3);
  backend->compact();
  for (Barrier& b : barriers) {
    IncrementalKeyedSnapshot snapshot = b.incremental->run(uploader_);
    ASSERT_TRUE(has_log(snapshot));
    EXPECT_LE(open_log(snapshot).second, size_t{33} << 20);
    expect_same_state(snapshot, b.full->run());
  }
}

// RocksDB switches the memtables in the writes after the barrier (a 1 MiB budget: 512 KiB
// memtables) and flushes them while the asynchronous part waits: the log open at the barrier
// is closed by then, and the checkpoint still takes it only up to the barrier.
TEST_F(RocksDbLogTailTest, MemtablesSwitchedAfterTheBarrierWhileWritesGoOn) {
  RocksDbKeyedStateBackend backend(small_write_buffer_options(), {0, 127}, kMaxParallelism, clock_, "op", 0);
  write_round(backend, 0, 100, 'a', 1, 1000);  // 100 KB: one memtable
  Barrier at = barrier(backend, 1);
  const std::string open_at_barrier = files_of(backend, ".log").rbegin()->first;
  write_round(backend, 0, 3000, 'b', 2, 1000);  // 3 MB: several switches
  EXPECT_NE(files_of(backend, ".log").rbegin()->first, open_at_barrier);
  IncrementalKeyedSnapshot snapshot = at.incremental->run(uploader_);
  EXPECT_EQ(open_log(snapshot).first, open_at_barrier);
  expect_same_state(snapshot, at.full->run());
}

TEST_F(RocksDbLogTailTest, CheckpointsInARowWithBackgroundFlushesAndASmallWriteBuffer) {
  // A 1 MiB write buffer budget: RocksDB switches and flushes memtables on its own between
  // and during the rounds (1.5 to 9 MB each, too little for the barrier to switch), so
  // barriers meet logs and flushes in all states.
  RocksDbKeyedStateBackend backend(small_write_buffer_options(), {0, 127}, kMaxParallelism, clock_, "op", 0);
  std::vector<Barrier> barriers;
  for (int64_t round = 1; round <= 6; ++round) {
    write_round(backend, 0, 1500 * round, static_cast<char>('a' + round), round, 1000);
    barriers.push_back(barrier(backend, round));
    if (round % 2 == 0) backend.compact();
    // Each asynchronous part runs one round late, after more writes.
    if (round >= 2) {
      Barrier& previous = barriers[static_cast<size_t>(round - 2)];
      IncrementalKeyedSnapshot snapshot = previous.incremental->run(uploader_);
      backend.notify_checkpoint_complete(round - 1);
      expect_same_state(snapshot, previous.full->run());
    }
  }
}

TEST_F(RocksDbIncrementalTest, TurnedOffItTakesNoIncrementalSnapshots) {
  StateBackendOptions options;
  options.kind = "rocksdb";
  options.rocksdb_dir = dir_.file("db");
  options.incremental_checkpoints = false;
  RocksDbKeyedStateBackend backend(options, {0, 127}, kMaxParallelism, clock_, "op", 0);
  EXPECT_EQ(backend.snapshot_incremental(1), nullptr);
  state::HeapKeyedStateBackend heap({0, 127}, kMaxParallelism, clock_);
  EXPECT_EQ(heap.snapshot_incremental(1), nullptr);
}

}  // namespace
}  // namespace eddy
