// The two-phase-commit sink base and the exactly-once file sink. Most tests drive a sink
// writer by hand, as the runtime would (records, checkpoint barriers, notifications,
// crashes, restores from stored operator state), on a ManualClock; one runs a whole job.
#include "eddy/file_sink.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "eddy/operator_state.h"
#include "eddy/testing/operator_harness.h"
#include "eddy/two_phase_commit_sink.h"
#include "test_util.h"

namespace eddy {
namespace {

namespace fs = std::filesystem;

// 2024-05-01T13:59:59Z in ms since the epoch.
constexpr Timestamp kMay1st135959 = 1714571999000;

struct SubtaskOptions {
  int subtask_index = 0;
  int parallelism = 1;
  bool checkpointing = true;
};

// The context a sink writer gets from the runtime: a manual clock, an operator state store.
class FakeRuntimeContext final : public RuntimeContext {
 public:
  FakeRuntimeContext(ManualClock& clock, SubtaskOptions options, OperatorStateStore& store,
                     std::optional<int64_t> restored_checkpoint)
      : clock_(clock),
        timers_(clock),
        options_(options),
        store_(store),
        restored_checkpoint_(restored_checkpoint) {
    if (options.checkpointing) config_.checkpoints.interval = std::chrono::seconds(1);
  }
  const std::string& operator_name() const override { return name_; }
  int subtask_index() const override { return options_.subtask_index; }
  int parallelism() const override { return options_.parallelism; }
  int max_parallelism() const override { return kDefaultMaxParallelism; }
  const ExecutionConfig& config() const override { return config_; }
  const Clock& clock() const override { return clock_; }
  ProcessingTimeService& processing_time_service() const override { return timers_; }
  OperatorStateStore* operator_state_store() const override { return &store_; }
  std::optional<int64_t> restored_checkpoint_id() const override { return restored_checkpoint_; }

 private:
  std::string name_ = "file sink under test";
  ManualClock& clock_;
  mutable testing::ManualProcessingTimeService timers_;
  SubtaskOptions options_;
  ExecutionConfig config_;
  OperatorStateStore& store_;
  std::optional<int64_t> restored_checkpoint_;
};

// One sink subtask driven by hand, as the runtime drives it.
class SinkSubtask {
 public:
  // A fresh start, or a restore from `restored` (the subtask's operator state at checkpoint
  // `checkpoint_id`), followed by the notification the runtime sends after a restore.
  SinkSubtask(const Sink<std::string>& sink, ManualClock& clock, SubtaskOptions options = {},
              const OperatorStateSnapshot* restored = nullptr, int64_t checkpoint_id = 0)
      : context_(clock, options, store_,
                 restored != nullptr ? std::optional<int64_t>(checkpoint_id) : std::nullopt) {
    if (restored != nullptr) store_.restore(*restored);
    writer_ = sink.create_writer(context_);
    if (restored != nullptr) writer_->notify_checkpoint_complete(checkpoint_id);
  }

  void write(std::string value) { writer_->write(std::move(value), kNoTimestamp); }
  void write_all(const std::vector<std::string>& values) {
    for (const std::string& v : values) write(v);
  }
  // The barrier of `checkpoint_id`: returns what the checkpoint stores for this subtask.
  OperatorStateSnapshot checkpoint(int64_t checkpoint_id) {
    writer_->snapshot_state(checkpoint_id);
    return store_.snapshot();
  }
  void complete(int64_t checkpoint_id) { writer_->notify_checkpoint_complete(checkpoint_id); }
  void abort_checkpoint(int64_t checkpoint_id) {
    writer_->notify_checkpoint_aborted(checkpoint_id);
  }
  void end_input() { writer_->flush(true); }
  void close() { writer_->close(); }
  // The process dies: no close(), nothing is cleaned up.
  void crash() { writer_.reset(); }

 private:
  OperatorStateStore store_;
  FakeRuntimeContext context_;
  std::unique_ptr<SinkWriter<std::string>> writer_;
};

// ---------------------------------------------------------------------------------------
// TwoPhaseCommitSink with a transaction type that records what happens to it.

struct RecordedTxn {
  int64_t id = 0;
  std::vector<std::string> values;
  EDDY_SERIALIZE(id, values)
};

struct TxnLog {
  std::vector<std::string> calls;
  int64_t next_id = 1;
  bool fail_commit = false;
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

class RecordingSink final : public TwoPhaseCommitSink<std::string, RecordedTxn> {
 public:
  explicit RecordingSink(TxnLog& log) : log_(log) {}

 protected:
  std::unique_ptr<Transactions> create_transactions(const RuntimeContext&) const override {
    return std::make_unique<Recorder>(log_);
  }

 private:
  class Recorder final : public Transactions {
   public:
    explicit Recorder(TxnLog& log) : log_(log) {}
    RecordedTxn begin_transaction() override {
      RecordedTxn txn{log_.next_id++, {}};
      log(txn, "begin");
      return txn;
    }
    void invoke(RecordedTxn& txn, std::string&& value, Timestamp) override {
      log_.calls.push_back("invoke " + std::to_string(txn.id) + " " + value);
      txn.values.push_back(std::move(value));
    }
    void pre_commit(RecordedTxn& txn) override { log(txn, "pre_commit"); }
    void commit(const RecordedTxn& txn) override {
      if (log_.fail_commit) throw std::runtime_error("commit failed");
      log(txn, "commit");
    }
    void abort(const RecordedTxn& txn) override { log(txn, "abort"); }
    void recover_and_commit(const RecordedTxn& txn) override { log(txn, "recover_and_commit"); }
    void recover_and_abort(const RecordedTxn& txn) override { log(txn, "recover_and_abort"); }

   private:
    void log(const RecordedTxn& txn, const std::string& what) {
      std::string entry = what + " " + std::to_string(txn.id);
      for (const std::string& v : txn.values) entry += " " + v;
      log_.calls.push_back(entry);
    }
    TxnLog& log_;
  };

  TxnLog& log_;
};

using Calls = std::vector<std::string>;

TEST(TwoPhaseCommitSinkTest, CommitsPendingTransactionsWhenTheirCheckpointCompletes) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  SinkSubtask subtask(sink, clock);
  EXPECT_EQ(log.take(), (Calls{"begin 1"}));

  subtask.write("a");
  subtask.checkpoint(1);
  EXPECT_EQ(log.take(), (Calls{"invoke 1 a", "pre_commit 1 a", "begin 2"}));
  subtask.write("b");
  subtask.checkpoint(2);
  subtask.write("c");
  subtask.checkpoint(3);
  log.take();

  // Complete 2 (1 is covered by it): both commit, in order; 3 stays pending.
  subtask.complete(2);
  EXPECT_EQ(log.take(), (Calls{"commit 1 a", "commit 2 b"}));
  subtask.complete(2);
  EXPECT_EQ(log.take(), Calls{});
  subtask.complete(3);
  EXPECT_EQ(log.take(), (Calls{"commit 3 c"}));

  // close() aborts the open transaction only.
  subtask.write("d");
  subtask.close();
  EXPECT_EQ(log.take(), (Calls{"invoke 4 d", "abort 4 d"}));
}

TEST(TwoPhaseCommitSinkTest, AbortedCheckpointIsCommittedWithTheNextOne) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  SinkSubtask subtask(sink, clock);
  subtask.write("a");
  subtask.checkpoint(1);
  subtask.abort_checkpoint(1);
  subtask.write("b");
  subtask.checkpoint(2);
  log.take();
  subtask.complete(2);
  EXPECT_EQ(log.take(), (Calls{"commit 1 a", "commit 2 b"}));
}

TEST(TwoPhaseCommitSinkTest, RestoreCommitsPendingAndAbortsTheOpenTransaction) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  OperatorStateSnapshot state;
  {
    SinkSubtask subtask(sink, clock);
    subtask.write("a");
    subtask.checkpoint(1);
    subtask.write("b");
    state = subtask.checkpoint(2);
    subtask.write("c");
    subtask.crash();
  }
  log.take();
  // Checkpoint 2 completed but the notification never came.
  SinkSubtask restored(sink, clock, {}, &state, 2);
  EXPECT_EQ(log.take(), (Calls{"recover_and_commit 1 a", "recover_and_commit 2 b",
                               "recover_and_abort 3", "begin 4"}));
}

TEST(TwoPhaseCommitSinkTest, WithoutCheckpointingEndOfInputCommits) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  SinkSubtask subtask(sink, clock, {.checkpointing = false});
  subtask.write("a");
  subtask.write("b");
  subtask.end_input();
  subtask.close();
  EXPECT_EQ(log.take(),
            (Calls{"begin 1", "invoke 1 a", "invoke 1 b", "pre_commit 1 a b", "commit 1 a b"}));
}

TEST(TwoPhaseCommitSinkTest, WithCheckpointingEndOfInputWaitsForTheFinalCheckpoint) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  SinkSubtask subtask(sink, clock);
  subtask.write("a");
  subtask.end_input();
  EXPECT_EQ(log.take(), (Calls{"begin 1", "invoke 1 a"}));
  subtask.checkpoint(7);
  subtask.complete(7);
  subtask.close();
  EXPECT_EQ(log.take(), (Calls{"pre_commit 1 a", "begin 2", "commit 1 a", "abort 2"}));
}

TEST(TwoPhaseCommitSinkTest, FailedCommitPropagatesAndIsRetried) {
  TxnLog log;
  RecordingSink sink(log);
  ManualClock clock;
  SinkSubtask subtask(sink, clock);
  subtask.write("a");
  subtask.checkpoint(1);
  log.take();
  log.fail_commit = true;
  EXPECT_THROW(subtask.complete(1), std::runtime_error);
  log.fail_commit = false;
  subtask.complete(1);
  EXPECT_EQ(log.take(), (Calls{"commit 1 a"}));
}

// ---------------------------------------------------------------------------------------
// The file sink.

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool is_hidden(const fs::path& path) { return path.filename().string().front() == '.'; }

// Files under `base`, relative, sorted; visible (committed) or hidden ones.
std::vector<std::string> files_under(const std::string& base, bool hidden) {
  std::vector<std::string> files;
  if (!fs::exists(base)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(base)) {
    if (entry.is_regular_file() && is_hidden(entry.path()) == hidden) {
      files.push_back(fs::relative(entry.path(), base).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> committed_files(const std::string& base) {
  return files_under(base, false);
}
std::vector<std::string> hidden_files(const std::string& base) { return files_under(base, true); }

// Every line of every committed file, sorted.
std::vector<std::string> committed_lines(const std::string& base) {
  std::vector<std::string> lines;
  for (const std::string& file : committed_files(base)) {
    std::istringstream in(read_file(fs::path(base) / file));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return testing::sorted(lines);
}

// The sequence number <n> of "part-<token>-<subtask>-<n><suffix>".
int64_t sequence_of(const std::string& file, const std::string& suffix = "") {
  std::string name = fs::path(file).filename().string();
  name.resize(name.size() - suffix.size());
  return std::stoll(name.substr(name.rfind('-') + 1));
}

// The contents of the committed files in `bucket` (one writer's), in the order written.
std::vector<std::string> committed_contents(const std::string& base,
                                            const std::string& bucket = "") {
  std::map<int64_t, std::string> by_sequence;
  for (const std::string& file : committed_files(base)) {
    if (fs::path(file).parent_path().string() != bucket) continue;
    by_sequence[sequence_of(file)] = read_file(fs::path(base) / file);
  }
  std::vector<std::string> contents;
  for (auto& [sequence, content] : by_sequence) contents.push_back(content);
  return contents;
}

class FileSinkTest : public ::testing::Test {
 protected:
  // Everything in the base path itself.
  FileSinkOptions<std::string> options(RollingPolicy rolling = {}) const {
    FileSinkOptions<std::string> options;
    options.base_path = base();
    options.bucket_assigner = buckets::single<std::string>();
    options.rolling = rolling;
    return options;
  }
  std::shared_ptr<FileSink<std::string>> make_sink(RollingPolicy rolling = {}) const {
    return std::make_shared<FileSink<std::string>>(options(rolling));
  }
  static RollingPolicy roll_at_bytes(uint64_t bytes) {
    RollingPolicy rolling;
    rolling.max_part_size_bytes = bytes;
    return rolling;
  }
  static RollingPolicy roll_after(std::chrono::milliseconds rollover,
                                  std::chrono::milliseconds inactivity) {
    RollingPolicy rolling;
    rolling.rollover_interval = rollover;
    rolling.inactivity_interval = inactivity;
    return rolling;
  }
  std::string base() const { return dir_.file("out"); }

  testing::TempDir dir_;
  ManualClock clock_{kMay1st135959};
};

TEST_F(FileSinkTest, RecordsBecomeVisibleWhenTheirCheckpointCompletes) {
  auto sink = make_sink();
  SinkSubtask subtask(*sink, clock_);
  subtask.write_all({"a", "b"});
  subtask.checkpoint(1);
  EXPECT_EQ(committed_files(base()), std::vector<std::string>{});
  ASSERT_EQ(hidden_files(base()).size(), 1u);
  EXPECT_TRUE(hidden_files(base())[0].ends_with(".pending")) << hidden_files(base())[0];

  subtask.write("c");  // after the barrier: belongs to checkpoint 2
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base()), std::vector<std::string>{"a\nb\n"});
  const std::string name = committed_files(base())[0];
  EXPECT_TRUE(name.starts_with("part-")) << name;
  EXPECT_EQ(sequence_of(name), 0);

  subtask.checkpoint(2);
  subtask.complete(2);
  EXPECT_EQ(committed_contents(base()), (std::vector<std::string>{"a\nb\n", "c\n"}));
  subtask.close();
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
}

TEST_F(FileSinkTest, CloseDeletesWhatNoCheckpointHolds) {
  auto sink = make_sink(roll_at_bytes(2));
  SinkSubtask subtask(*sink, clock_);
  subtask.write_all({"a", "b", "c"});  // two parts rolled (pending), one in progress
  EXPECT_EQ(hidden_files(base()).size(), 3u);
  subtask.close();
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
  EXPECT_EQ(committed_files(base()), std::vector<std::string>{});
}

TEST_F(FileSinkTest, CrashThenRestoreFromFirstCheckpointCommitsItOnceAndDeletesTheRest) {
  auto sink = make_sink(roll_at_bytes(4));
  OperatorStateSnapshot checkpoint1;
  {
    SinkSubtask subtask(*sink, clock_);
    subtask.write_all({"a", "b"});
    checkpoint1 = subtask.checkpoint(1);
    subtask.write_all({"c", "d", "e"});  // one rolled part (c, d), one in progress (e)
    subtask.checkpoint(2);
    subtask.write("f");
    subtask.crash();  // before any notification
  }
  EXPECT_EQ(committed_files(base()), std::vector<std::string>{});
  EXPECT_EQ(hidden_files(base()).size(), 4u);  // 1, 2 and 3 pending, 4 in progress

  // The job restarts from checkpoint 1 and replays what came after it.
  SinkSubtask restored(*sink, clock_, {}, &checkpoint1, 1);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
  restored.write_all({"c", "d", "e", "f"});
  restored.checkpoint(2);
  restored.complete(2);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
}

// A run that dies before its first checkpoint leaves files under a token no checkpoint
// knows; the next run's prepare_run (before any writer exists) removes them, and keeps
// the pending files of the checkpoint it restores.
TEST_F(FileSinkTest, PrepareRunRemovesWhatNoRestoredTransactionRefersTo) {
  auto sink = make_sink(roll_at_bytes(4));
  OperatorStateSnapshot checkpoint1;
  {
    SinkSubtask subtask(*sink, clock_);
    subtask.write_all({"a", "b"});
    checkpoint1 = subtask.checkpoint(1);  // "a b" pending, referenced by checkpoint 1
    subtask.crash();
  }
  {
    // A run restored from checkpoint 1 that dies before its next checkpoint: its writer
    // has a new token, which checkpoint 1 does not know.
    SinkSubtask orphan(*sink, clock_, {}, &checkpoint1, 1);
    orphan.write_all({"c", "d", "e"});  // one part rolled (pending), one in progress
    orphan.crash();
  }
  // The restore committed checkpoint 1's file; the orphan run's two parts are left.
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(hidden_files(base()).size(), 2u);
  sink->prepare_run({checkpoint1});
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b"}));

  // A pending file that the restored checkpoint still refers to stays for its writer.
  OperatorStateSnapshot checkpoint2;
  {
    SinkSubtask subtask(*sink, clock_, {}, &checkpoint1, 1);
    subtask.write("f");
    checkpoint2 = subtask.checkpoint(2);
    subtask.crash();
  }
  ASSERT_EQ(hidden_files(base()).size(), 1u);
  sink->prepare_run({checkpoint2});
  EXPECT_EQ(hidden_files(base()).size(), 1u);
  SinkSubtask restored(*sink, clock_, {}, &checkpoint2, 2);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b", "f"}));
  // A fresh start removes every hidden part file.
  restored.write("g");
  restored.crash();
  sink->prepare_run({});
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
}

TEST_F(FileSinkTest, RestoreFromCompletedButUnnotifiedCheckpointCommitsItExactlyOnce) {
  auto sink = make_sink();
  OperatorStateSnapshot checkpoint2;
  {
    SinkSubtask subtask(*sink, clock_);
    subtask.write("a");
    subtask.checkpoint(1);
    subtask.complete(1);
    subtask.write("b");
    checkpoint2 = subtask.checkpoint(2);
    subtask.write("c");
    subtask.crash();  // checkpoint 2 completed, its notification lost
  }
  SinkSubtask restored(*sink, clock_, {}, &checkpoint2, 2);
  EXPECT_EQ(committed_files(base()).size(), 2u);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});

  // Restoring from the same checkpoint again (another failure) changes nothing.
  restored.crash();
  SinkSubtask again(*sink, clock_, {}, &checkpoint2, 2);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(FileSinkTest, CommitIsIdempotent) {
  auto sink = make_sink();
  SinkSubtask subtask(*sink, clock_);
  subtask.write("a");
  OperatorStateSnapshot checkpoint1 = subtask.checkpoint(1);
  subtask.complete(1);
  subtask.complete(1);
  EXPECT_EQ(committed_lines(base()), std::vector<std::string>{"a"});
  // A restore commits checkpoint 1's pending file again: it is there already.
  subtask.crash();
  SinkSubtask restored(*sink, clock_, {}, &checkpoint1, 1);
  EXPECT_EQ(committed_files(base()).size(), 1u);
  EXPECT_EQ(committed_lines(base()), std::vector<std::string>{"a"});
}

TEST_F(FileSinkTest, MissingPendingFileAtCommitIsAnErrorNamingIt) {
  auto sink = make_sink();
  SinkSubtask subtask(*sink, clock_);
  subtask.write("a");
  subtask.checkpoint(1);
  ASSERT_EQ(hidden_files(base()).size(), 1u);
  const std::string pending = (fs::path(base()) / hidden_files(base())[0]).string();
  fs::remove(pending);
  try {
    subtask.complete(1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(pending), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exactly-once"), std::string::npos) << e.what();
  }
}

TEST_F(FileSinkTest, RollsBySize) {
  auto sink = make_sink(roll_at_bytes(4));
  SinkSubtask subtask(*sink, clock_);
  subtask.write_all({"a", "b", "c", "d", "e"});  // 2 bytes each: 2 per part
  EXPECT_EQ(hidden_files(base()).size(), 3u);
  subtask.checkpoint(1);
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base()), (std::vector<std::string>{"a\nb\n", "c\nd\n", "e\n"}));
}

TEST_F(FileSinkTest, RollsByAge) {
  auto sink = make_sink(roll_after(std::chrono::seconds(1), {}));
  SinkSubtask subtask(*sink, clock_);
  subtask.write("a");
  clock_.advance(600);
  subtask.write("b");
  clock_.advance(400);  // the part is 1 s old now
  subtask.write("c");
  clock_.advance(999);
  subtask.write("d");
  subtask.checkpoint(1);
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base()), (std::vector<std::string>{"a\nb\n", "c\nd\n"}));
}

TEST_F(FileSinkTest, RollsOnInactivity) {
  FileSinkOptions<std::string> by_letter = options(roll_after({}, std::chrono::seconds(1)));
  by_letter.bucket_assigner =
      buckets::by<std::string>([](const std::string& s) { return s.substr(0, 1); });
  auto sink = std::make_shared<FileSink<std::string>>(by_letter);
  SinkSubtask subtask(*sink, clock_);
  subtask.write("x1");
  clock_.advance(500);
  subtask.write("y1");
  clock_.advance(500);  // x idle for 1 s, y for 0.5 s
  subtask.write("y2");  // any record checks every open part
  EXPECT_EQ(hidden_files(base()).size(), 2u);
  EXPECT_TRUE(hidden_files(base())[0].starts_with("x/") &&
              hidden_files(base())[0].ends_with(".pending"));
  subtask.write("x2");
  clock_.advance(999);
  subtask.write("y3");  // y was written 0.999 s ago: stays open
  subtask.checkpoint(1);
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base(), "x"), (std::vector<std::string>{"x1\n", "x2\n"}));
  EXPECT_EQ(committed_contents(base(), "y"), (std::vector<std::string>{"y1\ny2\ny3\n"}));
}

TEST_F(FileSinkTest, RollsAtEveryCheckpoint) {
  auto sink = make_sink();
  SinkSubtask subtask(*sink, clock_);
  subtask.write("a");
  subtask.checkpoint(1);
  subtask.write("b");
  subtask.checkpoint(2);
  subtask.checkpoint(3);  // nothing written: no empty part
  subtask.complete(3);
  EXPECT_EQ(committed_contents(base()), (std::vector<std::string>{"a\n", "b\n"}));
}

TEST_F(FileSinkTest, BucketsByFunctionWithSuffixAndEncoder) {
  FileSinkOptions<std::string> csv = options();
  csv.bucket_assigner =
      buckets::by<std::string>([](const std::string& s) { return "region=" + s.substr(0, 2); });
  csv.encoder = [](const std::string& s, std::string& out) { out += s + ";"; };
  csv.part_suffix = ".csv";
  auto sink = std::make_shared<FileSink<std::string>>(csv);
  SinkSubtask subtask(*sink, clock_);
  subtask.write_all({"eu-1", "us-1", "eu-2"});
  subtask.checkpoint(1);
  subtask.complete(1);
  std::vector<std::string> files = committed_files(base());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].starts_with("region=eu/part-") && files[0].ends_with(".csv")) << files[0];
  EXPECT_TRUE(files[1].starts_with("region=us/part-") && files[1].ends_with(".csv")) << files[1];
  EXPECT_EQ(read_file(fs::path(base()) / files[0]), "eu-1;eu-2;");
  EXPECT_EQ(read_file(fs::path(base()) / files[1]), "us-1;");
}

TEST_F(FileSinkTest, BucketsByProcessingTimeHourInUtcByDefault) {
  FileSinkOptions<std::string> defaults;
  defaults.base_path = base();
  auto sink = std::make_shared<FileSink<std::string>>(defaults);
  SinkSubtask subtask(*sink, clock_);
  subtask.write("a");
  clock_.advance(999);
  subtask.write("b");
  clock_.advance(1);  // 14:00:00
  subtask.write("c");
  subtask.checkpoint(1);
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base(), "2024-05-01--13"), std::vector<std::string>{"a\nb\n"});
  EXPECT_EQ(committed_contents(base(), "2024-05-01--14"), std::vector<std::string>{"c\n"});
}

TEST_F(FileSinkTest, InvalidBucketFailsNamingIt) {
  FileSinkOptions<std::string> by_value = options();
  by_value.bucket_assigner = buckets::by<std::string>([](const std::string& s) { return s; });
  auto sink = std::make_shared<FileSink<std::string>>(by_value);
  SinkSubtask subtask(*sink, clock_);
  for (const char* bucket : {"../escape", "/abs", "a//b", "a/./b"}) {
    try {
      subtask.write(bucket);
      FAIL() << "expected an error for " << bucket;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bucket), std::string::npos) << e.what();
    }
  }
  subtask.write("a/b");
  subtask.checkpoint(1);
  subtask.complete(1);
  EXPECT_EQ(committed_contents(base(), "a/b"), std::vector<std::string>{"a/b\n"});
}

TEST_F(FileSinkTest, InvalidOptionsAreRejected) {
  EXPECT_THROW(FileSink<std::string>(FileSinkOptions<std::string>{}), InvalidJobError);
  FileSinkOptions<std::string> slash = options();
  slash.part_suffix = "a/b";
  EXPECT_THROW(FileSink<std::string>{slash}, InvalidJobError);
  EXPECT_THROW(FileSink<std::string>(options(roll_at_bytes(0))), InvalidJobError);
  FileSinkOptions<std::string> no_encoder = options();
  no_encoder.encoder = nullptr;
  EXPECT_THROW(FileSink<std::string>{no_encoder}, InvalidJobError);
}

TEST_F(FileSinkTest, RescaleDownRestoresBothSubtasksIntoOne) {
  auto sink = make_sink();
  std::vector<OperatorStateSnapshot> checkpoint1;
  for (int i = 0; i < 2; ++i) {
    SinkSubtask subtask(*sink, clock_, {.subtask_index = i, .parallelism = 2});
    subtask.write("before-" + std::to_string(i));
    checkpoint1.push_back(subtask.checkpoint(1));
    subtask.write("after-" + std::to_string(i));
    subtask.checkpoint(2);
    subtask.write("later-" + std::to_string(i));
    subtask.crash();
  }
  std::vector<OperatorStateSnapshot> rescaled = redistribute_operator_state(checkpoint1, 1);
  ASSERT_EQ(rescaled.size(), 1u);
  // Subtask 0 of the new job takes over the files of old subtasks 0 and 1.
  SinkSubtask restored(*sink, clock_, {.subtask_index = 0, .parallelism = 1}, &rescaled[0], 1);
  EXPECT_EQ(committed_lines(base()), (std::vector<std::string>{"before-0", "before-1"}));
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});

  restored.write_all({"after-0", "after-1"});
  restored.checkpoint(2);
  restored.complete(2);
  EXPECT_EQ(committed_lines(base()),
            (std::vector<std::string>{"after-0", "after-1", "before-0", "before-1"}));
  EXPECT_EQ(committed_files(base()).size(), 3u);  // no name collides with an old one
}

TEST_F(FileSinkTest, RescaleUpSpreadsTheTransactionsOverTheNewSubtasks) {
  auto sink = make_sink();
  OperatorStateSnapshot checkpoint1;
  {
    SinkSubtask subtask(*sink, clock_);
    subtask.write("a");
    checkpoint1 = subtask.checkpoint(1);  // one pending and one open transaction
    subtask.write("b");
    subtask.checkpoint(2);
    subtask.crash();
  }
  std::vector<OperatorStateSnapshot> rescaled = redistribute_operator_state({checkpoint1}, 2);
  ASSERT_EQ(rescaled.size(), 2u);
  SinkSubtask first(*sink, clock_, {.subtask_index = 0, .parallelism = 2}, &rescaled[0], 1);
  SinkSubtask second(*sink, clock_, {.subtask_index = 1, .parallelism = 2}, &rescaled[1], 1);
  EXPECT_EQ(committed_lines(base()), std::vector<std::string>{"a"});
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
}

TEST_F(FileSinkTest, JobWithoutCheckpointingCommitsEverythingAtTheEnd) {
  std::vector<int64_t> input;
  for (int64_t i = 1; i <= 1000; ++i) input.push_back(i);
  StreamEnvironment env;
  env.set_parallelism(2);
  FileSinkOptions<int64_t> options;
  options.base_path = base();
  options.bucket_assigner =
      buckets::by<int64_t>([](int64_t v) { return v % 2 == 0 ? "even" : "odd"; });
  options.part_suffix = ".txt";
  options.rolling.max_part_size_bytes = 500;
  env.from_collection(input).rebalance().sink_to(sinks::file<int64_t>(options), "Files");
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;

  std::vector<std::string> expected;
  for (int64_t v : input) expected.push_back(std::to_string(v));
  EXPECT_EQ(committed_lines(base()), testing::sorted(expected));
  EXPECT_EQ(hidden_files(base()), std::vector<std::string>{});
  for (const std::string& file : committed_files(base())) {
    EXPECT_TRUE(file.starts_with("even/part-") || file.starts_with("odd/part-")) << file;
    EXPECT_TRUE(file.ends_with(".txt")) << file;
  }
  EXPECT_GT(committed_files(base()).size(), 4u);  // rolled by size
}

}  // namespace
}  // namespace eddy
