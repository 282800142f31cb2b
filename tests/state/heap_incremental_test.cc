// The heap backend's incremental checkpoints: a chain of a full file and deltas in the
// shared folder, read back into exactly what a full snapshot at the same point holds.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "eddy/eddy.h"
#include "eddy/internal/incremental_snapshot.h"
#include "state/heap/heap_keyed_state_backend.h"

namespace eddy {
namespace {

namespace fs = std::filesystem;
constexpr int kMaxParallelism = 128;

// The checkpoint storage's part, in memory: files by shared name; a file can be dropped
// to make a reuse fail.
class MemoryUploader final : public SharedFileUploader {
 public:
  bool reuse(const SharedFileHandle& file) override { return files.count(file.shared_name) > 0; }
  SharedFileHandle upload(const std::string& local_path, const std::string& local_name) override {
    std::ifstream in(local_path, std::ios::binary);
    return store(local_name, std::string(std::istreambuf_iterator<char>(in), {}));
  }
  SharedFileHandle upload_produced(const std::string& local_name,
                                   const std::function<void(SharedFileSink&)>& produce) override {
    struct Sink final : SharedFileSink {
      std::string bytes;
      void append(std::string_view b) override { bytes.append(b); }
    } sink;
    produce(sink);
    return store(local_name, std::move(sink.bytes));
  }
  SharedFileFetcher fetcher() {
    return [this](const SharedFileHandle& file, const std::string& destination) {
      std::ofstream out(destination, std::ios::binary);
      const std::string& bytes = files.at(file.shared_name);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    };
  }

  std::map<std::string, std::string> files;

 private:
  SharedFileHandle store(const std::string& local_name, std::string bytes) {
    std::string name = std::to_string(files.size()) + "-" + local_name;
    SharedFileHandle handle{local_name, name, bytes.size(), hash_bytes64(bytes.data(), bytes.size())};
    files[name] = std::move(bytes);
    return handle;
  }
};

class HeapIncrementalTest : public ::testing::Test {
 protected:
  HeapIncrementalTest()
      : backend_(KeyGroupRange{0, kMaxParallelism - 1}, kMaxParallelism, clock_, /*incremental_checkpoints=*/true),
        value_(backend_.get_state(ValueStateDescriptor<int64_t>("value"))),
        text_(backend_.get_state(ValueStateDescriptor<std::string>("text"))),
        list_(backend_.get_list_state(ListStateDescriptor<int64_t>("list"))),
        map_(backend_.get_map_state(MapStateDescriptor<int64_t, std::string>("map"))) {}

  void set_key(int64_t key) {
    backend_.set_current_key(keys_.emplace_back(key), key_group_of(KeyHash<int64_t>{}(key), kMaxParallelism));
  }
  // Writes every state of keys [from, to), the values depending on `round`.
  void write(int64_t from, int64_t to, int round) {
    for (int64_t k = from; k < to; ++k) {
      set_key(k);
      value_.update(k * 10 + round);
      text_.update(std::string(static_cast<size_t>(20 + k % 50), static_cast<char>('a' + (k + round) % 26)));
      list_.add(k + round);
      map_.put(k % 7, "r" + std::to_string(round));
    }
  }
  void clear(int64_t from, int64_t to) {
    for (int64_t k = from; k < to; ++k) {
      set_key(k);
      value_.clear();
      text_.clear();
      list_.clear();
      map_.clear();
    }
  }
  // The canonical form of the state as of now (a full snapshot).
  KeyedStateSnapshot full_snapshot() { return backend_.snapshot()->run(); }
  IncrementalKeyedSnapshot take(int64_t id) {
    std::unique_ptr<IncrementalSnapshotTask> task = backend_.snapshot_incremental(id);
    EXPECT_NE(task, nullptr);
    return task->run(uploader_);
  }
  KeyedStateSnapshot read(const IncrementalKeyedSnapshot& snapshot) {
    return state::HeapKeyedStateBackend::read_incremental(snapshot, uploader_.fetcher());
  }
  static void expect_same(const KeyedStateSnapshot& expected, const KeyedStateSnapshot& actual) {
    ASSERT_EQ(expected.states.size(), actual.states.size());
    for (size_t i = 0; i < expected.states.size(); ++i) {
      EXPECT_EQ(expected.states[i], actual.states[i]);
      EXPECT_EQ(expected.entries[i], actual.entries[i]) << "state " << expected.states[i].name;
    }
    EXPECT_EQ(expected.key_groups, actual.key_groups);
  }
  // Takes checkpoint `id` and tells the backend it completed.
  IncrementalKeyedSnapshot take_completed(int64_t id) {
    IncrementalKeyedSnapshot snapshot = take(id);
    backend_.notify_checkpoint_complete(id);
    return snapshot;
  }
  // Takes checkpoint `id`, checks that its chain has `chain_files` files and that it reads
  // back as a full snapshot taken at the same point.
  IncrementalKeyedSnapshot take_and_check(int64_t id, size_t chain_files) {
    KeyedStateSnapshot expected = full_snapshot();
    IncrementalKeyedSnapshot snapshot = take(id);
    EXPECT_EQ(snapshot.shared_files.size(), chain_files) << "checkpoint " << id;
    expect_same(expected, read(snapshot));
    return snapshot;
  }
  uint64_t size_of(const SharedFileHandle& file) { return uploader_.files.at(file.shared_name).size(); }

  ManualClock clock_{1000};
  state::HeapKeyedStateBackend backend_;
  ValueState<int64_t>& value_;
  ValueState<std::string>& text_;
  ListState<int64_t>& list_;
  MapState<int64_t, std::string>& map_;
  std::deque<int64_t> keys_;
  MemoryUploader uploader_;
};

TEST_F(HeapIncrementalTest, DeltasHoldOnlyWhatChangedAndTheChainReadsBackExactly) {
  write(0, 3000, 1);
  KeyedStateSnapshot as_of_first = full_snapshot();
  IncrementalKeyedSnapshot first = take(1);
  ASSERT_EQ(first.backend, "heap");
  ASSERT_EQ(first.shared_files.size(), 1u);
  expect_same(as_of_first, read(first));
  backend_.notify_checkpoint_complete(1);

  write(100, 130, 2);  // changed
  clear(200, 220);     // removed
  write(5000, 5010, 2);  // new
  set_key(7);
  map_.remove(3);  // one user key of a map slot
  KeyedStateSnapshot expected = full_snapshot();
  IncrementalKeyedSnapshot second = take(2);
  ASSERT_EQ(second.shared_files.size(), 2u);
  EXPECT_EQ(second.shared_files[0], first.shared_files[0]);  // the full file is reused
  EXPECT_LT(size_of(second.shared_files[1]) * 20, size_of(first.shared_files[0]));
  expect_same(expected, read(second));
  // Each checkpoint still reads as it was.
  write(0, 3000, 9);
  expect_same(as_of_first, read(first));
  expect_same(expected, read(second));
}

TEST_F(HeapIncrementalTest, ADeltaBuildsOnTheLatestCompletedCheckpointOnly) {
  write(0, 1000, 1);
  IncrementalKeyedSnapshot first = take_completed(1);
  write(0, 10, 2);
  IncrementalKeyedSnapshot aborted = take(2);
  backend_.notify_checkpoint_aborted(2);
  write(500, 510, 3);
  clear(600, 605);
  // A delta over checkpoint 1 that includes the changes of the aborted interval.
  IncrementalKeyedSnapshot third = take_and_check(3, 2);
  EXPECT_EQ(third.shared_files[0], first.shared_files[0]);
  // Checkpoint 2 never completed: checkpoint 4 builds on 3 only once 3 completes.
  backend_.notify_checkpoint_complete(3);
  write(0, 5, 4);
  take_and_check(4, 3);
}

TEST_F(HeapIncrementalTest, WritesAfterTheBarrierStayOutWhileTheTaskRunsOnAnotherThread) {
  write(0, 20000, 1);
  take_completed(1);
  write(0, 20000, 2);
  KeyedStateSnapshot expected = full_snapshot();
  std::unique_ptr<IncrementalSnapshotTask> task = backend_.snapshot_incremental(2);
  IncrementalKeyedSnapshot second;
  std::thread writer([&] { second = task->run(uploader_); });
  write(0, 20000, 3);  // copy-on-write: these must not reach the snapshot
  clear(0, 5000);
  writer.join();
  expect_same(expected, read(second));
}

TEST_F(HeapIncrementalTest, StartsANewChainWhenDeltasOutweighTheFullFileOrAFileIsGone) {
  write(0, 200, 1);
  IncrementalKeyedSnapshot first = take_completed(1);
  write(0, 200, 2);  // everything changed: the delta is as large as the full file
  take_and_check(2, 2);
  backend_.notify_checkpoint_complete(2);
  write(0, 1, 3);
  IncrementalKeyedSnapshot third = take_and_check(3, 1);  // full again
  backend_.notify_checkpoint_complete(3);

  write(0, 1, 4);
  uploader_.files.erase(third.shared_files[0].shared_name);  // the storage no longer keeps it
  take_and_check(4, 1);
}

TEST_F(HeapIncrementalTest, RestoresAtAnotherParallelism) {
  write(0, 2000, 1);
  take_completed(1);
  write(0, 50, 2);
  clear(60, 70);
  IncrementalKeyedSnapshot second = take(2);
  KeyedStateSnapshot canonical = read(second);
  // Two subtasks of a job at parallelism 2 each take their key groups.
  int64_t found = 0;
  for (int subtask = 0; subtask < 2; ++subtask) {
    KeyGroupRange range = KeyGroupRange::for_subtask(kMaxParallelism, 2, subtask);
    state::HeapKeyedStateBackend restored(range, kMaxParallelism, clock_, true);
    restored.restore({&canonical});
    auto& value = restored.get_state(ValueStateDescriptor<int64_t>("value"));
    auto& map = restored.get_map_state(MapStateDescriptor<int64_t, std::string>("map"));
    std::deque<int64_t> keys;
    for (int64_t k = 0; k < 2000; ++k) {
      int group = key_group_of(KeyHash<int64_t>{}(k), kMaxParallelism);
      if (!range.contains(group)) continue;
      restored.set_current_key(keys.emplace_back(k), group);
      std::optional<int64_t> v = value.value();
      if (k >= 60 && k < 70) {
        EXPECT_FALSE(v.has_value()) << k;
        EXPECT_TRUE(map.is_empty());
        continue;
      }
      ASSERT_TRUE(v.has_value()) << k;
      EXPECT_EQ(*v, k * 10 + (k < 50 ? 2 : 1));
      EXPECT_EQ(map.get(k % 7), k < 50 ? "r2" : "r1");
      ++found;
    }
  }
  EXPECT_EQ(found, 1990);
}

TEST_F(HeapIncrementalTest, RestoredStatesNotUsedYetTravelInTheFullFile) {
  write(0, 100, 1);
  KeyedStateSnapshot canonical = full_snapshot();
  state::HeapKeyedStateBackend restored(KeyGroupRange{0, kMaxParallelism - 1}, kMaxParallelism, clock_, true);
  restored.restore({&canonical});
  auto& value = restored.get_state(ValueStateDescriptor<int64_t>("value"));  // the others stay pending
  std::deque<int64_t> keys;
  restored.set_current_key(keys.emplace_back(5), key_group_of(KeyHash<int64_t>{}(int64_t{5}), kMaxParallelism));
  value.update(-5);
  KeyedStateSnapshot expected = restored.snapshot()->run();
  IncrementalKeyedSnapshot snapshot = restored.snapshot_incremental(1)->run(uploader_);
  EXPECT_EQ(snapshot.states.size(), 4u);
  expect_same(expected, read(snapshot));
}

TEST_F(HeapIncrementalTest, AMalformedFileIsReportedWithItsNameAndOffset) {
  write(0, 100, 1);
  IncrementalKeyedSnapshot first = take(1);
  std::string& bytes = uploader_.files.at(first.shared_files[0].shared_name);
  bytes.resize(bytes.size() / 2);
  try {
    read(first);
    FAIL() << "a truncated file was read";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(first.shared_files[0].shared_name), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
  }
  bytes = "EDDYHEAP\x01\x00\x00\x00\x01Z";  // a delta with no full file before it
  EXPECT_THROW(read(first), Error);
}

TEST_F(HeapIncrementalTest, OffWhenTheOptionIsOff) {
  state::HeapKeyedStateBackend full(KeyGroupRange{0, kMaxParallelism - 1}, kMaxParallelism, clock_, false);
  full.get_state(ValueStateDescriptor<int64_t>("value"));
  EXPECT_EQ(full.snapshot_incremental(1), nullptr);
}

}  // namespace
}  // namespace eddy
