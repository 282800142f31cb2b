// The failure-injection harness of docs/checkpoints.md: a deterministic source of (key,
// sequence) records, a keyed operator that checks every key's sequence numbers arrive
// contiguously (in keyed state) and counts them, and the exactly-once file sink. Failures
// are injected in process(), in the synchronous snapshot, in the asynchronous upload,
// during restore and between checkpoint completion and commit; with heap and RocksDB
// state. Every run must commit each record exactly once, see no gap or repeat, and
// restart exactly as often as failures were injected.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <ostream>
#include <string>
#include <vector>

#include <unistd.h>

#include "eddy/eddy.h"
#include "checkpoint/checkpoint_storage.h"
#include "eddy/file_sink.h"
#include "runtime/fault_injection.h"

namespace eddy {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kKeys = 16;

struct Record {
  int64_t key = 0;
  int64_t seq = 0;
  EDDY_SERIALIZE(key, seq)
  friend std::ostream& operator<<(std::ostream& out, const Record& r) { return out << r.key << " " << r.seq; }
};

// Records of one key must come from one source split to arrive in order: the generator
// cuts [0, n) into kSplits equal ranges (one per source subtask), and split s has the
// keys s * kKeys / kSplits, ... of their own.
constexpr int64_t kSplits = 2;
Record record_at(int64_t i, int64_t n) {
  const int64_t per_split = n / kSplits;
  const int64_t keys_per_split = kKeys / kSplits;
  int64_t split = i / per_split;
  int64_t j = i % per_split;
  return Record{split * keys_per_split + j % keys_per_split, j / keys_per_split};
}

// Shared between the job's functions and the test. Reset by each test.
struct Harness {
  std::atomic<int64_t> checkpoints_seen{0};  // notify_checkpoint_complete calls seen by the checker
  std::atomic<int> process_failures_left{0};
  std::atomic<int> snapshot_failures_left{0};
  std::mutex mutex;
  std::vector<std::string> violations;

  void violation(std::string what) {
    std::lock_guard<std::mutex> lock(mutex);
    violations.push_back(std::move(what));
  }
};

Harness* g_harness = nullptr;

// Takes one of `left` if a checkpoint has completed (so the failure hits a restored or
// checkpointed run, not only the first records).
bool take_failure(std::atomic<int>& left) {
  if (g_harness->checkpoints_seen.load() == 0) return false;
  int n = left.load();
  while (n > 0) {
    if (left.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

// Checks that each key's sequence numbers come as 0, 1, 2, ... with nothing missing or
// repeated (the last one seen is keyed state, so this holds across restores only if the
// state and the source positions are consistent).
class SequenceChecker {
 public:
  void open(RuntimeContext& context) {
    last_ = &context.get_state(ValueStateDescriptor<int64_t>("last-seq"));
    count_ = &context.get_state(ValueStateDescriptor<int64_t>("count"));
    // One subtask injects, so that two failures never land in one run.
    injects_ = context.subtask_index() == 0;
  }
  Record operator()(const Record& r) {
    if (injects_ && take_failure(g_harness->process_failures_left)) {
      throw std::runtime_error("injected failure in process()");
    }
    int64_t expected = last_->value_or(-1) + 1;
    if (r.seq != expected) {
      g_harness->violation("key " + std::to_string(r.key) + ": seq " + std::to_string(r.seq) + " after " +
                           std::to_string(expected - 1));
    }
    last_->update(r.seq);
    count_->update(count_->value_or(0) + 1);
    return r;
  }
  void snapshot_state(int64_t) {
    if (injects_ && take_failure(g_harness->snapshot_failures_left)) {
      throw std::runtime_error("injected failure in snapshot");
    }
  }
  void notify_checkpoint_complete(int64_t) { g_harness->checkpoints_seen.fetch_add(1); }

 private:
  ValueState<int64_t>* last_ = nullptr;
  ValueState<int64_t>* count_ = nullptr;
  bool injects_ = false;
};

// Passes records on and counts completed checkpoints (to arm the injected failures).
struct SequenceCheckpointsSeen {
  template <class T>
  T operator()(T value) const {
    return value;
  }
  void notify_checkpoint_complete(int64_t) const { g_harness->checkpoints_seen.fetch_add(1); }
};

struct Options {
  std::string backend = "heap";
  bool unaligned = false;
  int64_t records = 60000;
  double records_per_second = 100000;
  int parallelism = 2;
  CheckpointingMode mode = CheckpointingMode::kExactlyOnce;
  int tolerable_failures = 0;
  std::string restore;  // a checkpoint to start from ("latest": the newest in the directory)
  bool restart = true;  // restart after failures (else the job fails at the first)
};

class ExactlyOnceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    harness_ = std::make_unique<Harness>();
    g_harness = harness_.get();
    root_ = fs::path(::testing::TempDir()) /
            ("eddy-exactly-once-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    runtime::fault_injection().clear();
    g_harness = nullptr;
    fs::remove_all(root_);
  }

  JobResult run(const Options& options) {
    ExecutionConfig config;
    config.parallelism = options.parallelism;
    config.state_backend.kind = options.backend;
    config.checkpoints.unaligned = options.unaligned;
    config.state_backend.rocksdb_dir = (root_ / "rocksdb").string();
    config.checkpoints.interval = std::chrono::milliseconds(20);
    config.checkpoints.mode = options.mode;
    config.checkpoints.directory = (root_ / "checkpoints").string();
    config.checkpoints.retained = 2;
    config.checkpoints.tolerable_failures = options.tolerable_failures;
    config.restart.kind = options.restart ? RestartStrategyConfig::Kind::kFixedDelay : RestartStrategyConfig::Kind::kNone;
    config.restart.max_attempts = 10;
    config.restart.delay = std::chrono::milliseconds(0);
    config.restore.path = options.restore;
    count_incremental_checkpoints();
    StreamEnvironment env(config);
    sources::GeneratorOptions generator;
    generator.count = options.records;
    generator.records_per_second = options.records_per_second;
    FileSinkOptions<Record> sink;
    sink.base_path = (root_ / "out").string();
    sink.bucket_assigner = buckets::single<Record>();
    sink.encoder = [](const Record& r, std::string& out) {
      out += std::to_string(r.key) + " " + std::to_string(r.seq) + "\n";
    };
    const int64_t n = options.records;
    env.from_source(sources::generator([n](int64_t i) { return record_at(i, n); }, generator), "Records")
        .key_by([](const Record& r) { return r.key; })
        .map(SequenceChecker())
        .name("check")
        .uid("check")
        .sink_to(std::shared_ptr<const Sink<Record>>(sinks::file<Record>(sink)), "Files");
    return env.execute("exactly-once");
  }

  // Counts the completed checkpoints with incremental keyed state, keeping the test's own
  // after_complete hook.
  void count_incremental_checkpoints() {
    if (counting_) return;
    counting_ = true;
    auto& hook = runtime::fault_injection().after_complete;
    hook = [this, inner = hook](int64_t id) {
      checkpoint::LoadedCheckpoint loaded =
          checkpoint::load_checkpoint((root_ / "checkpoints" / ("chk-" + std::to_string(id))).string());
      // (RocksDB's may have no shared file: a checkpoint before the first flush is the
      // write-ahead log alone, a private file.)
      bool incremental = false;
      for (size_t op = 0; op < loaded.metadata.operators.size(); ++op) {
        const auto& subtasks = loaded.metadata.operators[op].subtasks;
        for (size_t subtask = 0; subtask < subtasks.size(); ++subtask) {
          if (!subtasks[subtask]) continue;
          incremental |= loaded.read_subtask(op, static_cast<int>(subtask)).incremental.has_value();
        }
      }
      if (incremental) ++incremental_checkpoints_;
      if (inner) inner(id);
    };
  }

  // The committed output: every (key, seq) line of the visible part files.
  std::map<std::pair<int64_t, int64_t>, int> committed() const {
    std::map<std::pair<int64_t, int64_t>, int> lines;
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "out")) {
      if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') continue;
      std::ifstream in(entry.path());
      int64_t key = 0;
      int64_t seq = 0;
      while (in >> key >> seq) ++lines[{key, seq}];
    }
    return lines;
  }

  void expect_exactly_once(const JobResult& result, const Options& options, int restarts) {
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.restarts, restarts) << result.error;
    EXPECT_GE(result.checkpoints_completed, 1);
    // Checkpoints of both backends are incremental: RocksDB's SST files and logs, the
    // heap's chain of full and delta files.
    EXPECT_GT(incremental_checkpoints_.load(), 0);
    {
      std::lock_guard<std::mutex> lock(harness_->mutex);
      EXPECT_TRUE(harness_->violations.empty()) << harness_->violations.front();
    }
    auto lines = committed();
    EXPECT_EQ(static_cast<int64_t>(lines.size()), options.records);
    int64_t duplicates = 0;
    for (const auto& [record, count] : lines) duplicates += count - 1;
    EXPECT_EQ(duplicates, 0);
    for (int64_t i = 0; i < options.records; ++i) {
      Record r = record_at(i, options.records);
      if (lines.count({r.key, r.seq}) == 0) {
        ADD_FAILURE() << "record " << r.key << " " << r.seq << " is missing";
        break;
      }
    }
    // No uncommitted part files are left behind.
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "out")) {
      if (entry.is_regular_file()) {
        EXPECT_NE(entry.path().filename().string().front(), '.') << "left over: " << entry.path();
      }
    }
  }

  // "heap", "rocksdb", "heap_unaligned", "rocksdb_unaligned".
  static void set_param(Options& options) {
    const std::string& param = GetParam();
    options.backend = param.substr(0, param.find('_'));
    options.unaligned = param.find("_unaligned") != std::string::npos;
  }

  std::unique_ptr<Harness> harness_;
  fs::path root_;
  std::atomic<int> incremental_checkpoints_{0};
  bool counting_ = false;
};

TEST_P(ExactlyOnceTest, NoFailures) {
  Options options;
  set_param(options);
  expect_exactly_once(run(options), options, 0);
}

TEST_P(ExactlyOnceTest, FailuresInProcess) {
  Options options;
  set_param(options);
  harness_->process_failures_left = 2;
  expect_exactly_once(run(options), options, 2);
}

TEST_P(ExactlyOnceTest, FailureInSynchronousSnapshot) {
  Options options;
  set_param(options);
  harness_->snapshot_failures_left = 1;
  expect_exactly_once(run(options), options, 1);
}

TEST_P(ExactlyOnceTest, FailureInAsynchronousUpload) {
  Options options;
  set_param(options);
  std::atomic<int> left{1};
  runtime::fault_injection().before_upload = [&](int64_t, int vertex, int subtask) {
    if (vertex == 1 && subtask == 0 && take_failure(left)) throw std::runtime_error("injected: disk full");
  };
  expect_exactly_once(run(options), options, 1);
}

TEST_P(ExactlyOnceTest, FailedUploadWithinToleranceNeedsNoRestart) {
  Options options;
  set_param(options);
  options.tolerable_failures = 1;
  std::atomic<int> left{1};
  runtime::fault_injection().before_upload = [&](int64_t, int vertex, int subtask) {
    if (vertex == 1 && subtask == 1 && take_failure(left)) throw std::runtime_error("injected: disk full");
  };
  JobResult result = run(options);
  EXPECT_GE(result.checkpoints_failed, 1);
  expect_exactly_once(result, options, 0);
}

TEST_P(ExactlyOnceTest, FailureDuringRestore) {
  Options options;
  set_param(options);
  harness_->process_failures_left = 1;
  std::atomic<int> left{1};
  runtime::fault_injection().before_restore = [&](int64_t) {
    if (left.fetch_sub(1) > 0) throw std::runtime_error("injected failure while restoring");
  };
  // The process failure restarts the job, whose restore fails and restarts it again.
  expect_exactly_once(run(options), options, 2);
}

TEST_P(ExactlyOnceTest, FailureBetweenCompletionAndCommit) {
  Options options;
  set_param(options);
  std::atomic<int> left{1};
  runtime::fault_injection().after_complete = [&](int64_t) {
    if (take_failure(left)) throw std::runtime_error("injected crash before commit");
  };
  expect_exactly_once(run(options), options, 1);
}

TEST_P(ExactlyOnceTest, AtLeastOnceModeWithoutFailuresIsExact) {
  Options options;
  set_param(options);
  options.mode = CheckpointingMode::kAtLeastOnce;
  expect_exactly_once(run(options), options, 0);
}

// A job that failed (no restarts) resumes from its latest checkpoint, an incremental one,
// at another parallelism and with the other backend: the keyed state is read from the
// checkpoint's shared files (SST files, or the heap's chain) into whichever backend takes it.
TEST_P(ExactlyOnceTest, ResumesFromTheLatestCheckpointAtAnotherParallelismAndBackend) {
  Options options;
  set_param(options);
  if (options.unaligned) GTEST_SKIP() << "in-flight records restore only at the same parallelism";
  struct Resume {
    std::string backend;
    int parallelism;
  };
  const std::string other = options.backend == "rocksdb" ? "heap" : "rocksdb";
  for (const Resume& resume :
       {Resume{options.backend, 2}, Resume{options.backend, 3}, Resume{other, 1}, Resume{other, 2}}) {
    SCOPED_TRACE(resume.backend + " at parallelism " + std::to_string(resume.parallelism));
    fs::remove_all(root_ / "out");
    fs::remove_all(root_ / "checkpoints");
    harness_->checkpoints_seen = 0;
    incremental_checkpoints_ = 0;
    Options first = options;
    first.restart = false;
    harness_->process_failures_left = 1;
    JobResult failed = run(first);
    ASSERT_FALSE(failed.ok());
    ASSERT_GE(failed.checkpoints_completed, 1);
    EXPECT_GT(incremental_checkpoints_.load(), 0);
    if (options.backend == "heap") {
      EXPECT_FALSE(fs::is_empty(root_ / "checkpoints" / "shared"));
    }

    Options second = options;
    second.backend = resume.backend;
    second.parallelism = resume.parallelism;
    second.restore = "latest";
    incremental_checkpoints_ = 0;
    JobResult resumed = run(second);
    EXPECT_FALSE(resumed.restored_from.empty());
    expect_exactly_once(resumed, second, 0);
  }
}

// Windows keep their contents, pre-aggregates and timers in checkpoints: event-time
// tumbling sums (pre-aggregated) and reduces (keyed state) over records with timestamps,
// with failures injected after the windows. The committed results equal the direct
// computation.
struct WindowSum {
  int64_t key = 0;
  int64_t window = 0;  // window start
  int64_t sum = 0;
  EDDY_SERIALIZE(key, window, sum)
  friend std::ostream& operator<<(std::ostream& out, const WindowSum& w) {
    return out << w.key << " " << w.window << " " << w.sum;
  }
};

std::atomic<int> g_window_failures_left{0};

TEST_P(ExactlyOnceTest, WindowsAndTimersSurviveFailures) {
  Options options;
  set_param(options);
  options.records = 40000;
  constexpr int64_t kWindow = 1000;  // in event time (= record index)
  for (bool user_reduce : {false, true}) {
    fs::remove_all(root_ / "out");
    fs::remove_all(root_ / "checkpoints");
    harness_->checkpoints_seen = 0;
    g_window_failures_left = 2;
    ExecutionConfig config;
    config.parallelism = 2;
    config.state_backend.kind = options.backend;
    config.state_backend.rocksdb_dir = (root_ / "rocksdb").string();
    config.checkpoints.interval = std::chrono::milliseconds(20);
    config.checkpoints.unaligned = options.unaligned;
    config.checkpoints.directory = (root_ / "checkpoints").string();
    config.restart.kind = RestartStrategyConfig::Kind::kFixedDelay;
    config.restart.max_attempts = 10;
    config.restart.delay = std::chrono::milliseconds(0);
    config.auto_watermark_interval = std::chrono::milliseconds(5);
    StreamEnvironment env(config);
    sources::GeneratorOptions generator;
    generator.count = options.records;
    generator.records_per_second = 60000;
    const int64_t n = options.records;
    // Event time: the record's index within its split (splits advance together).
    auto timed = WatermarkStrategy<std::pair<Record, int64_t>>::for_monotonous_timestamps().with_timestamp_assigner(
        [](const std::pair<Record, int64_t>& r, Timestamp) { return r.second; });
    FileSinkOptions<WindowSum> sink;
    sink.base_path = (root_ / "out").string();
    sink.bucket_assigner = buckets::single<WindowSum>();
    auto keyed =
        env.from_source(sources::generator(
                            [n](int64_t i) { return std::pair<Record, int64_t>{record_at(i, n), i % (n / kSplits)}; },
                            generator),
                        timed, "Records")
            .map([](const std::pair<Record, int64_t>& r) { return WindowSum{r.first.key, 0, r.first.seq}; })
            .key_by([](const WindowSum& w) { return w.key; })
            .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(kWindow)));
    DataStream<WindowSum> sums =
        user_reduce ? keyed.reduce([](WindowSum a, const WindowSum& b) {
          a.sum += b.sum;
          return a;
        })
                    : keyed.sum(&WindowSum::sum);
    sums.process([](const WindowSum& w, ProcessContext<WindowSum, WindowSum>& context, Collector<WindowSum>& out) {
          // One subtask injects, so that two failures never land in one run.
          if (context.runtime().subtask_index() == 0 && g_harness->checkpoints_seen.load() > 0) {
            int left = g_window_failures_left.load();
            if (left > 0 && g_window_failures_left.compare_exchange_strong(left, left - 1)) {
              throw std::runtime_error("injected failure after the window");
            }
          }
          WindowSum result = w;
          result.window = context.timestamp() - (kWindow - 1);  // a window's results carry its max timestamp
          out.collect(result);
        })
        .map(SequenceCheckpointsSeen())
        .sink_to(std::shared_ptr<const Sink<WindowSum>>(sinks::file<WindowSum>(sink)), "Files");
    JobResult result = env.execute("windows");
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.restarts, 2) << (user_reduce ? "reduce" : "sum");

    std::map<std::pair<int64_t, int64_t>, int64_t> expected;
    for (int64_t i = 0; i < n; ++i) {
      Record r = record_at(i, n);
      int64_t ts = i % (n / kSplits);
      expected[{r.key, ts - ts % kWindow}] += r.seq;
    }
    std::map<std::pair<int64_t, int64_t>, int64_t> got;
    int64_t lines = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "out")) {
      if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') continue;
      std::ifstream in(entry.path());
      int64_t key = 0, window = 0, sum = 0;
      while (in >> key >> window >> sum) {
        got[{key, window}] += sum;
        ++lines;
      }
    }
    EXPECT_EQ(lines, static_cast<int64_t>(expected.size())) << "a window result is missing or repeated";
    EXPECT_EQ(got, expected) << (user_reduce ? "reduce" : "sum");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ExactlyOnceTest,
                         ::testing::Values("heap", "rocksdb", "heap_unaligned", "rocksdb_unaligned"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace eddy
