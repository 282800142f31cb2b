// Savepoints and rescaling: a job stops with a savepoint part-way (triggered through the
// API), and a second job resumes from it at another parallelism and/or with the other
// state backend. The committed output of the two runs together must be exactly the
// output of one uninterrupted run: every record once, with each key's running count
// continuing from the savepoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include <unistd.h>

#include "eddy/eddy.h"
#include "eddy/file_sink.h"

namespace eddy {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kKeys = 16;
// The first run's parallelism: it cuts the input into this many splits, which later runs
// restore (split over their own source subtasks).
constexpr int64_t kSplits = 2;
constexpr int64_t kRecords = 40000;

struct Record {
  int64_t key = 0;
  int64_t seq = 0;
  int64_t count = 0;  // records of the key so far, from keyed state
  EDDY_SERIALIZE(key, seq, count)
  friend std::ostream& operator<<(std::ostream& out, const Record& r) {
    return out << r.key << " " << r.seq << " " << r.count;
  }
};

// Each key's records come from one split, in order (see exactly_once_test.cc).
Record record_at(int64_t i) {
  const int64_t per_split = kRecords / kSplits;
  const int64_t keys_per_split = kKeys / kSplits;
  int64_t split = i / per_split;
  int64_t j = i % per_split;
  return Record{split * keys_per_split + j % keys_per_split, j / keys_per_split, 0};
}

struct Shared {
  StreamEnvironment* env = nullptr;
  std::atomic<bool> triggered{false};
  int64_t stop_at_seq = -1;  // key 0's sequence number at which to stop with a savepoint
  std::mutex mutex;
  std::future<std::string> savepoint;
  std::vector<std::string> violations;
};

Shared* g_shared = nullptr;

// Counts each key's records in keyed state and checks the sequence is contiguous.
class CountingChecker {
 public:
  void open(RuntimeContext& context) {
    last_ = &context.get_state(ValueStateDescriptor<int64_t>("last-seq"));
    count_ = &context.get_state(ValueStateDescriptor<int64_t>("count"));
  }
  Record operator()(Record r) {
    int64_t expected = last_->value_or(-1) + 1;
    if (r.seq != expected) {
      std::lock_guard<std::mutex> lock(g_shared->mutex);
      g_shared->violations.push_back("key " + std::to_string(r.key) + ": seq " + std::to_string(r.seq) +
                                     " after " + std::to_string(expected - 1));
    }
    last_->update(r.seq);
    r.count = count_->value_or(0) + 1;
    count_->update(r.count);
    if (r.key == 0 && r.seq == g_shared->stop_at_seq && !g_shared->triggered.exchange(true)) {
      std::lock_guard<std::mutex> lock(g_shared->mutex);
      g_shared->savepoint = g_shared->env->trigger_savepoint(/*stop=*/true);
    }
    return r;
  }

 private:
  ValueState<int64_t>* last_ = nullptr;
  ValueState<int64_t>* count_ = nullptr;
};

struct RunOptions {
  int parallelism = 2;
  std::string backend = "heap";
  std::string restore;
  std::string checker_uid = "check";
  bool allow_non_restored = false;
};

class SavepointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_ = std::make_unique<Shared>();
    g_shared = shared_.get();
    root_ = fs::path(::testing::TempDir()) /
            ("eddy-savepoint-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    g_shared = nullptr;
    fs::remove_all(root_);
  }

  JobResult run(const RunOptions& options) {
    ExecutionConfig config;
    config.parallelism = options.parallelism;
    config.state_backend.kind = options.backend;
    config.state_backend.rocksdb_dir = (root_ / "rocksdb").string();
    config.checkpoints.interval = std::chrono::milliseconds(50);
    config.checkpoints.directory = (root_ / "checkpoints").string();
    config.restore.path = options.restore;
    config.restore.allow_non_restored_state = options.allow_non_restored;
    StreamEnvironment env(config);
    g_shared->env = &env;
    sources::GeneratorOptions generator;
    generator.count = kRecords;
    generator.records_per_second = 80000;
    FileSinkOptions<Record> sink;
    sink.base_path = (root_ / "out").string();
    sink.bucket_assigner = buckets::single<Record>();
    env.from_source(sources::generator(record_at, generator), "Records")
        .uid("records")
        .key_by([](const Record& r) { return r.key; })
        .map(CountingChecker())
        .name("check")
        .uid(options.checker_uid)
        .sink_to(std::shared_ptr<const Sink<Record>>(sinks::file<Record>(sink)), "Files")
        .uid("files");
    JobResult result = env.execute("savepoint test");
    g_shared->env = nullptr;
    return result;
  }

  // Runs at parallelism 2 until key 0 reaches `stop_at_seq`, stopping with a savepoint.
  std::string run_until_savepoint(int64_t stop_at_seq, const std::string& backend = "heap") {
    shared_->stop_at_seq = stop_at_seq;
    JobResult first = run(RunOptions{2, backend});
    EXPECT_EQ(first.status, JobStatus::kCancelled) << first.error;
    std::string folder;
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      folder = shared_->savepoint.get();
    }
    EXPECT_EQ(first.savepoint_path, folder);
    EXPECT_TRUE(fs::exists(fs::path(folder) / "_metadata")) << folder;
    EXPECT_NE(fs::path(folder).filename().string().find("savepoint-"), std::string::npos);
    return folder;
  }

  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> committed() const {
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> lines;
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "out")) {
      if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') continue;
      std::ifstream in(entry.path());
      int64_t key = 0, seq = 0, count = 0;
      while (in >> key >> seq >> count) lines[{key, seq}].push_back(count);
    }
    return lines;
  }

  // What one uninterrupted run commits: every record once, count = seq + 1.
  void expect_uninterrupted_output() {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      EXPECT_TRUE(shared_->violations.empty()) << shared_->violations.front();
    }
    auto lines = committed();
    EXPECT_EQ(static_cast<int64_t>(lines.size()), kRecords);
    for (int64_t i = 0; i < kRecords; ++i) {
      Record r = record_at(i);
      auto it = lines.find({r.key, r.seq});
      if (it == lines.end() || it->second != std::vector<int64_t>{r.seq + 1}) {
        ADD_FAILURE() << "record " << r.key << " " << r.seq << ": committed counts "
                      << (it == lines.end() ? std::string("none") : ::testing::PrintToString(it->second));
        return;
      }
    }
  }

  std::unique_ptr<Shared> shared_;
  fs::path root_;
};

TEST_F(SavepointTest, UninterruptedRunIsTheReference) {
  JobResult result = run(RunOptions{2});
  ASSERT_TRUE(result.ok()) << result.error;
  expect_uninterrupted_output();
}

class RescaleTest : public SavepointTest, public ::testing::WithParamInterface<std::tuple<int, std::string>> {};

TEST_P(RescaleTest, ResumeFromSavepointAtAnotherParallelismAndBackend) {
  auto [parallelism, backend] = GetParam();
  std::string savepoint = run_until_savepoint(600);
  JobResult second = run(RunOptions{parallelism, backend, savepoint});
  ASSERT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(second.restored_from, savepoint);
  expect_uninterrupted_output();
}

INSTANTIATE_TEST_SUITE_P(Parallelism, RescaleTest,
                         ::testing::Values(std::tuple{1, std::string("heap")}, std::tuple{3, std::string("heap")},
                                           std::tuple{4, std::string("heap")}, std::tuple{3, std::string("rocksdb")},
                                           std::tuple{1, std::string("rocksdb")}),
                         [](const auto& info) {
                           return "p" + std::to_string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
                         });

TEST_F(SavepointTest, RocksDbSavepointResumesOnHeap) {
  std::string savepoint = run_until_savepoint(900, "rocksdb");
  JobResult second = run(RunOptions{4, "heap", savepoint});
  ASSERT_TRUE(second.ok()) << second.error;
  expect_uninterrupted_output();
}

TEST_F(SavepointTest, StateWithoutMatchingOperatorFailsTheRestoreUnlessAllowed) {
  std::string savepoint = run_until_savepoint(300);
  RunOptions renamed{2, "heap", savepoint, "renamed-check"};
  JobResult refused = run(renamed);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error.find("uid 'check'"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("allow-non-restored-state"), std::string::npos) << refused.error;

  // Allowed: the source goes on from its savepoint position; the renamed checker starts
  // empty, so its counts restart (and its sequence check sees the jump).
  renamed.allow_non_restored = true;
  JobResult allowed = run(renamed);
  ASSERT_TRUE(allowed.ok()) << allowed.error;
  EXPECT_EQ(static_cast<int64_t>(committed().size()), kRecords);
}

TEST_F(SavepointTest, CorruptOrTruncatedStateFileFailsTheRestoreNamingIt) {
  std::string savepoint = run_until_savepoint(300);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(savepoint)) {
    if (entry.path().extension() == ".state") files.push_back(entry.path());
  }
  ASSERT_FALSE(files.empty());
  std::sort(files.begin(), files.end());
  const fs::path& victim = files.front();
  std::string bytes;
  {
    std::ifstream in(victim, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A flipped bit in the middle of the file.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << flipped;
  JobResult corrupt = run(RunOptions{2, "heap", savepoint});
  EXPECT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error.find(victim.string()), std::string::npos) << corrupt.error;
  // Cut short.
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3);
  JobResult truncated = run(RunOptions{2, "heap", savepoint});
  EXPECT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error.find(victim.string()), std::string::npos) << truncated.error;
}

TEST_F(SavepointTest, SavepointWithoutCheckpointDirectoryFails) {
  StreamEnvironment env;
  std::future<std::string> future = env.trigger_savepoint();
  EXPECT_THROW(future.get(), Error);
}

}  // namespace
}  // namespace eddy
