// Incremental RocksDB checkpoints through the real checkpoint storage: checkpoints share
// SST files, a damaged shared file is reported by name on restore, and a restore at
// another parallelism or into the heap backend gives the same state as the original.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "checkpoint/checkpoint_storage.h"
#include "eddy/clock.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"

namespace eddy::checkpoint {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxParallelism = 128;

class IncrementalRocksDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "eddy-incremental-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    root_ = pattern;
    options_.kind = "rocksdb";
    options_.rocksdb_dir = (root_ / "db").string();
    storage_ = std::make_unique<CheckpointStorage>((root_ / "checkpoints").string(), 2);
  }
  void TearDown() override {
    storage_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::unique_ptr<KeyedStateBackend> backend(KeyGroupRange range, const std::string& kind = "rocksdb") {
    StateBackendOptions options = options_;
    options.kind = kind;
    return create_keyed_state_backend(options, range, kMaxParallelism, clock_, "counts", 0);
  }

  // Adds `delta` to the count of every key in [from, to) that `b` owns, and k to its list.
  static void add(KeyedStateBackend& b, int64_t from, int64_t to, int64_t delta) {
    auto& count = b.get_state(ValueStateDescriptor<int64_t>("count"));
    auto& seen = b.get_list_state(ListStateDescriptor<int64_t>("seen"));
    for (int64_t k = from; k < to; ++k) {
      int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
      if (!b.key_groups().contains(group)) continue;
      b.set_current_key(k, group);
      count.update(count.value_or(0) + delta);
      seen.add(k);
    }
  }

  // Flushes the memtables of `b`, as RocksDB does on its own once they fill up (checkpoints
  // never flush: what is not in SST files, they take from the write-ahead log).
  static void flush(KeyedStateBackend& b) {
    auto* rocksdb = dynamic_cast<state::RocksDbKeyedStateBackend*>(&b);
    ASSERT_NE(rocksdb, nullptr);
    rocksdb->flush();
  }

  // Checkpoint `id` of the subtasks `backends` (one operator), completed in the storage;
  // the backends are told it completed. Returns its folder.
  std::string checkpoint(int64_t id, const std::vector<KeyedStateBackend*>& backends) {
    std::string folder = storage_->begin(id, false, 1000 + id);
    CheckpointMetadata metadata;
    metadata.checkpoint_id = id;
    metadata.timestamp_ms = 1000 + id;
    OperatorMetadata op;
    op.uid = "counts";
    op.name = "counts";
    op.parallelism = static_cast<int>(backends.size());
    op.max_parallelism = kMaxParallelism;
    auto uploader = storage_->shared_file_uploader(id);
    for (size_t s = 0; s < backends.size(); ++s) {
      std::unique_ptr<IncrementalSnapshotTask> task = backends[s]->snapshot_incremental(id);
      EXPECT_NE(task, nullptr);
      OperatorSubtaskState state;
      state.incremental = task->run(*uploader);
      op.subtasks.push_back(storage_->write_state_file(folder, "op0-" + std::to_string(s) + ".state", state));
    }
    metadata.operators.push_back(op);
    storage_->complete(folder, metadata);
    for (KeyedStateBackend* b : backends) b->notify_checkpoint_complete(id);
    return folder;
  }

  // Restores a backend of `kind` with key groups `range` from the checkpoint in `folder`,
  // as the runtime does: the files as they are when a snapshot has exactly its key groups,
  // else through the canonical form.
  std::unique_ptr<KeyedStateBackend> restore(const std::string& folder, KeyGroupRange range,
                                             const std::string& kind = "rocksdb") {
    LoadedCheckpoint loaded = load_checkpoint(folder);
    SharedFileFetcher fetch = [shared = loaded.shared_folder()](const SharedFileHandle& file,
                                                               const std::string& destination) {
      fetch_shared_file(shared, file, destination);
    };
    auto b = backend(range, kind);
    std::vector<KeyedStateSnapshot> canonical;
    for (int s = 0; s < loaded.metadata.operators[0].parallelism; ++s) {
      OperatorSubtaskState state = loaded.read_subtask(0, s);
      EXPECT_TRUE(state.incremental.has_value());
      if (b->can_restore_incremental(*state.incremental)) {
        b->restore_incremental(*state.incremental, fetch);
      } else {
        canonical.push_back(read_incremental_snapshot(*state.incremental, options_, fetch));
      }
    }
    std::vector<const KeyedStateSnapshot*> pointers;
    for (const KeyedStateSnapshot& snapshot : canonical) pointers.push_back(&snapshot);
    b->restore(pointers);
    return b;
  }

  // A job's subtasks at `parallelism`, restored from the checkpoint in `folder`.
  struct Restored {
    std::vector<std::unique_ptr<KeyedStateBackend>> owned;
    std::vector<KeyedStateBackend*> backends;
  };
  Restored restore_all(const std::string& folder, int parallelism, const std::string& kind) {
    Restored out;
    for (int s = 0; s < parallelism; ++s) {
      out.owned.push_back(restore(folder, KeyGroupRange::for_subtask(kMaxParallelism, parallelism, s), kind));
      out.backends.push_back(out.owned.back().get());
    }
    return out;
  }

  // Every (key, count, list) the backends hold for keys [0, n).
  static std::map<int64_t, std::pair<int64_t, std::vector<int64_t>>> contents(
      const std::vector<KeyedStateBackend*>& backends, int64_t n) {
    std::map<int64_t, std::pair<int64_t, std::vector<int64_t>>> out;
    for (KeyedStateBackend* b : backends) {
      auto& count = b->get_state(ValueStateDescriptor<int64_t>("count"));
      auto& seen = b->get_list_state(ListStateDescriptor<int64_t>("seen"));
      for (int64_t k = 0; k < n; ++k) {
        int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
        if (!b->key_groups().contains(group)) continue;
        b->set_current_key(k, group);
        if (auto value = count.value()) out[k] = {*value, seen.get()};
      }
    }
    return out;
  }

  std::set<std::string> shared_files_of(const std::string& folder) {
    std::set<std::string> names;
    for (const auto& op : load_checkpoint(folder).metadata.operators) {
      for (const auto& handle : op.subtasks) {
        if (handle) names.insert(handle->shared_files.begin(), handle->shared_files.end());
      }
    }
    return names;
  }

  fs::path root_;
  StateBackendOptions options_;
  ManualClock clock_{0};
  std::unique_ptr<CheckpointStorage> storage_;
};

TEST_F(IncrementalRocksDbTest, CheckpointsShareSstFilesAndRestoreAsTheyWere) {
  auto b = backend({0, 127});
  add(*b, 0, 2000, 1);
  flush(*b);
  std::string first = checkpoint(1, {b.get()});
  std::set<std::string> files1 = shared_files_of(first);
  add(*b, 2000, 2200, 1);
  flush(*b);
  std::string second = checkpoint(2, {b.get()});
  add(*b, 0, 100, 1);  // in the write-ahead log only
  std::string third = checkpoint(3, {b.get()});

  std::set<std::string> files3 = shared_files_of(third);
  ASSERT_FALSE(files1.empty());
  // Nothing compacted the first checkpoint's file away: every later checkpoint shares it.
  for (const std::string& name : files1) {
    EXPECT_TRUE(shared_files_of(second).count(name)) << name;
    EXPECT_TRUE(files3.count(name)) << name;
  }
  EXPECT_GT(shared_files_of(second).size(), files1.size());
  EXPECT_EQ(files3, shared_files_of(second));
  // Checkpoint 1 is beyond retention (2); its files stay for 2 and 3.
  EXPECT_FALSE(fs::exists(first));
  for (const std::string& name : files1) {
    EXPECT_EQ(storage_->shared_file_references()[name], (std::set<int64_t>{2, 3})) << name;
    EXPECT_TRUE(fs::exists(fs::path(storage_->shared_folder()) / name)) << name;
  }

  auto restored = restore(third, {0, 127});
  EXPECT_EQ(contents({restored.get()}, 2200), contents({b.get()}, 2200));
  auto at_two = restore(second, {0, 127});
  auto expected = contents({restored.get()}, 2200);
  for (int64_t k = 0; k < 100; ++k) {
    if (expected.count(k)) {
      expected[k].first -= 1;
      expected[k].second.pop_back();
    }
  }
  EXPECT_EQ(contents({at_two.get()}, 2200), expected);
}

TEST_F(IncrementalRocksDbTest, ACorruptSharedFileIsReportedByNameOnRestore) {
  auto b = backend({0, 127});
  add(*b, 0, 1000, 1);
  flush(*b);
  std::string folder = checkpoint(1, {b.get()});
  std::string name = *shared_files_of(folder).begin();
  std::string path = (fs::path(storage_->shared_folder()) / name).string();
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 3] ^= 0x04;
  fs::remove(path);  // a hard link: writing in place would change the backend's file too
  std::ofstream(path, std::ios::binary) << bytes;

  for (std::string kind : {"rocksdb", "heap"}) {
    SCOPED_TRACE(kind);
    try {
      restore(folder, {0, 127}, kind);
      ADD_FAILURE() << "restored from a corrupt file";
    } catch (const CorruptCheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("corrupt checkpoint file '" + path + "'"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
    }
  }
  fs::remove(path);
  try {
    restore(folder, {0, 127});
    ADD_FAILURE() << "restored without a file";
  } catch (const CorruptCheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint file '" + path + "' is missing"), std::string::npos)
        << e.what();
  }
}

TEST_F(IncrementalRocksDbTest, RestoresAtAnotherParallelismAndIntoTheHeapBackendWithTheSameState) {
  // Parallelism 2, with a checkpoint before the last writes so that the files are several.
  auto left = backend(KeyGroupRange::for_subtask(kMaxParallelism, 2, 0));
  auto right = backend(KeyGroupRange::for_subtask(kMaxParallelism, 2, 1));
  add(*left, 0, 3000, 1);
  add(*right, 0, 3000, 1);
  checkpoint(1, {left.get(), right.get()});
  add(*left, 0, 500, 2);
  add(*right, 0, 500, 2);
  std::string folder = checkpoint(2, {left.get(), right.get()});
  const auto expected = contents({left.get(), right.get()}, 3000);
  ASSERT_EQ(expected.size(), 3000u);

  for (std::string kind : {"rocksdb", "heap"}) {
    for (int parallelism : {1, 2, 3}) {
      SCOPED_TRACE(kind + " at parallelism " + std::to_string(parallelism));
      Restored restored = restore_all(folder, parallelism, kind);
      EXPECT_EQ(contents(restored.backends, 3000), expected);
    }
  }
}

// Values of at least 512 bytes live in RocksDB blob files (key-value separation), which never
// change, like SST files: checkpoints share them, and every kind of restore reads them back.
TEST_F(IncrementalRocksDbTest, LargeValuesInBlobFilesAreSharedAndRestoredEverywhere) {
  auto left = backend(KeyGroupRange::for_subtask(kMaxParallelism, 2, 0));
  auto right = backend(KeyGroupRange::for_subtask(kMaxParallelism, 2, 1));
  auto payload_of = [](int64_t k, int round) {
    return std::string(600 + static_cast<size_t>(k % 7) * 300, static_cast<char>('a' + (k + round) % 26));
  };
  // The values of the first checkpoint were flushed: they are in blob files. The second
  // takes the later ones from the write-ahead log, beside the first's blobs.
  auto write = [&](int64_t from, int64_t to, int round) {
    for (KeyedStateBackend* b : {left.get(), right.get()}) {
      auto& payload = b->get_state(ValueStateDescriptor<std::string>("payload"));
      for (int64_t k = from; k < to; ++k) {
        int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
        if (!b->key_groups().contains(group)) continue;
        b->set_current_key(k, group);
        payload.update(payload_of(k, round));
      }
    }
  };
  write(0, 150, 0);
  flush(*left);
  flush(*right);
  std::string first = checkpoint(1, {left.get(), right.get()});
  write(150, 600, 0);
  write(0, 50, 1);
  add(*left, 0, 600, 1);
  add(*right, 0, 600, 1);
  std::string second = checkpoint(2, {left.get(), right.get()});

  std::set<std::string> blobs1;
  for (const std::string& name : shared_files_of(first)) {
    if (name.ends_with(".blob")) blobs1.insert(name);
  }
  ASSERT_FALSE(blobs1.empty()) << "no blob file in the first checkpoint";
  std::set<std::string> files2 = shared_files_of(second);
  for (const std::string& name : blobs1) EXPECT_TRUE(files2.count(name)) << name;

  std::map<int64_t, std::string> expected;
  for (int64_t k = 0; k < 600; ++k) expected[k] = payload_of(k, k < 50 ? 1 : 0);
  auto payloads = [](const std::vector<KeyedStateBackend*>& backends) {
    std::map<int64_t, std::string> out;
    for (KeyedStateBackend* b : backends) {
      auto& payload = b->get_state(ValueStateDescriptor<std::string>("payload"));
      for (int64_t k = 0; k < 600; ++k) {
        int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
        if (!b->key_groups().contains(group)) continue;
        b->set_current_key(k, group);
        if (auto value = payload.value()) out[k] = *value;
      }
    }
    return out;
  };
  ASSERT_EQ(payloads({left.get(), right.get()}), expected);
  const auto counts = contents({left.get(), right.get()}, 600);

  for (std::string kind : {"rocksdb", "heap"}) {
    for (int parallelism : {1, 2, 3}) {
      SCOPED_TRACE(kind + " at parallelism " + std::to_string(parallelism));
      Restored restored = restore_all(second, parallelism, kind);
      EXPECT_EQ(payloads(restored.backends), expected);
      EXPECT_EQ(contents(restored.backends, 600), counts);
    }
  }
}

}  // namespace
}  // namespace eddy::checkpoint
