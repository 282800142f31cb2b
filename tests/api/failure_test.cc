// Invalid jobs are rejected when built; failures while running end the job with an error
// that names the operator, the subtask and the cause.
#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/eddy.h"

namespace eddy {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidJobError& e) {
    return e.what();
  }
  return "(no InvalidJobError)";
}

TEST(FailureTest, ExceptionInUserFunctionNamesOperatorAndSubtask) {
  StreamEnvironment env;
  env.set_parallelism(2);
  std::vector<int64_t> out;
  env.from_sequence(0, 999)
      .set_parallelism(1)
      .rebalance()
      .map([](int64_t v) {
        if (v == 777) throw std::invalid_argument("bad record 777");
        return v;
      })
      .name("parse")
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_EQ(result.failed_operator, "parse");
  // Round robin from one producer: odd records go to the second subtask.
  EXPECT_EQ(result.failed_subtask, 1);
  EXPECT_EQ(result.error, "operator 'parse' (subtask 2/2) failed: bad record 777");
}

TEST(FailureTest, ExceptionAfterNetworkExchangeIsAttributedDownstream) {
  StreamEnvironment env;
  env.set_parallelism(3);
  std::vector<int64_t> out;
  env.from_sequence(0, 100000)
      .key_by([](int64_t v) { return v % 10; })
      .reduce([](int64_t a, int64_t b) {
        if (b == 50000) throw std::runtime_error("overflow");
        return a + b;
      })
      .name("total")
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.failed_operator, "total");
  EXPECT_NE(result.error.find("failed: overflow"), std::string::npos) << result.error;
}

TEST(FailureTest, ExceptionInOpenFailsTheJob) {
  struct FailsToOpen {
    void open(RuntimeContext&) { throw std::runtime_error("cannot connect"); }
    int64_t operator()(int64_t v) const { return v; }
  };
  StreamEnvironment env;
  std::vector<int64_t> out;
  env.from_sequence(1, 10).map(FailsToOpen{}).name("lookup").sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_EQ(result.error, "operator 'lookup' (subtask 1/1) failed: cannot connect");
}

TEST(FailureTest, ExceptionInSinkFailsTheJob) {
  StreamEnvironment env;
  env.from_sequence(1, 10).sink_to(sinks::callback([](int64_t v) {
    if (v == 5) throw std::runtime_error("disk full");
  }), "writer");
  JobResult result = env.execute();
  EXPECT_EQ(result.error, "operator 'writer' (subtask 1/1) failed: disk full");
}

TEST(FailureTest, FailureUnblocksBackpressuredProducers) {
  // The sink fails while its producers are blocked on full channels: the job must still end.
  ExecutionConfig config;
  config.parallelism = 2;
  config.channel_capacity = 1;
  StreamEnvironment env(config);
  env.from_generator([](int64_t i) { return i; }, sources::kUnbounded)
      .rebalance()
      .map([](int64_t v) { return v; })
      .sink_to(sinks::callback([](int64_t v) {
        if (v > 100000) throw std::runtime_error("stop");
      }));
  JobResult result = env.execute();
  EXPECT_EQ(result.status, JobStatus::kFailed);
}

TEST(FailureTest, InvalidParallelismIsRejectedAtTheCall) {
  StreamEnvironment env;
  EXPECT_EQ(error_of([&] { env.set_parallelism(0); }), "the parallelism of the job must be at least 1, not 0");
  auto stream = env.from_sequence(1, 2).map([](int64_t v) { return v; }).name("m");
  EXPECT_EQ(error_of([&] { stream.set_parallelism(-1); }),
            "the parallelism of operator 'm' must be at least 1, not -1");
  EXPECT_THROW(env.set_max_parallelism(0), InvalidJobError);
  EXPECT_THROW(env.set_max_parallelism(40000), InvalidJobError);
}

TEST(FailureTest, ParallelismAboveMaxParallelismIsRejected) {
  StreamEnvironment env;
  env.from_sequence(1, 2).map([](int64_t v) { return v; }).name("m").set_parallelism(8).set_max_parallelism(4).print();
  EXPECT_EQ(error_of([&] { env.explain(); }),
            "operator 'm' has parallelism 8, above its max parallelism 4: lower the parallelism or raise "
            "the max parallelism");
}

TEST(FailureTest, ForwardBetweenDifferentParallelismIsRejected) {
  StreamEnvironment env;
  env.from_sequence(1, 2).forward().map([](int64_t v) { return v; }).name("m").set_parallelism(2).print();
  EXPECT_NE(error_of([&] { env.execute(); }).find("forward partitioning does not allow a change of parallelism"),
            std::string::npos);
}

TEST(FailureTest, JobWithoutSinkOrEmptyIsRejected) {
  StreamEnvironment empty;
  EXPECT_NE(error_of([&] { empty.execute(); }).find("the job is empty"), std::string::npos);
  StreamEnvironment no_sink;
  no_sink.from_sequence(1, 2).map([](int64_t v) { return v; });
  EXPECT_NE(error_of([&] { no_sink.execute(); }).find("the job has no sink"), std::string::npos);
}

TEST(FailureTest, DuplicateUidIsRejected) {
  StreamEnvironment env;
  auto s = env.from_sequence(1, 2);
  s.map([](int64_t v) { return v; }).uid("a").print();
  s.map([](int64_t v) { return v; }).uid("a").print();
  EXPECT_NE(error_of([&] { env.explain(); }).find("uid 'a' is used by more than one operator"), std::string::npos);
}

TEST(FailureTest, OperatorSettingsOnVirtualNodesAreRejected) {
  StreamEnvironment env;
  auto s = env.from_sequence(1, 2);
  EXPECT_EQ(error_of([&] { s.rebalance().set_parallelism(2); }),
            "set_parallelism() applies to an operator, and 'Rebalance' is not one: call it on the operator "
            "before or after it");
  EXPECT_THROW(s.union_with(s).uid("u"), InvalidJobError);
}

TEST(FailureTest, FromArgsRejectsBadOptions) {
  const char* bad_number[] = {"prog", "--parallelism", "many"};
  EXPECT_EQ(error_of([&] { StreamEnvironment::from_args(3, bad_number); }),
            "option --parallelism needs an integer, not 'many'");
  const char* zero[] = {"prog", "--parallelism", "0"};
  EXPECT_THROW(StreamEnvironment::from_args(3, zero), InvalidJobError);
  const char* stray[] = {"prog", "input.txt"};
  EXPECT_THROW(StreamEnvironment::from_args(2, stray), InvalidJobError);
  const char* mode[] = {"prog", "--runtime-mode", "turbo"};
  EXPECT_THROW(StreamEnvironment::from_args(3, mode), InvalidJobError);
  const char* backend[] = {"prog", "--state-backend", "leveldb"};
  EXPECT_EQ(error_of([&] { StreamEnvironment::from_args(3, backend); }),
            "option --state-backend needs 'heap' or 'rocksdb', not 'leveldb'");
}

TEST(FailureTest, FromArgsReadsRuntimeOptionsAndKeepsTheRest) {
  const char* argv[] = {"prog", "--parallelism", "3", "--input=words.txt", "--verbose", "--runtime-mode", "batch",
                        "--state-backend", "rocksdb", "--rocksdb-dir", "/tmp/x"};
  auto env = StreamEnvironment::from_args(11, argv);
  EXPECT_EQ(env.config().state_backend.kind, "rocksdb");
  EXPECT_EQ(env.config().state_backend.rocksdb_dir, "/tmp/x");
  EXPECT_EQ(env.config().parallelism, 3);
  EXPECT_EQ(env.config().runtime_mode, RuntimeMode::kBatch);
  EXPECT_EQ(env.args().get("input", ""), "words.txt");
  EXPECT_TRUE(env.args().get_bool("verbose", false));
}

TEST(FailureTest, SigintCancelsCleanly) {
  const char* argv[] = {"prog", "--parallelism", "2"};
  auto env = StreamEnvironment::from_args(3, argv);
  std::atomic<int64_t> seen{0};
  env.from_generator([](int64_t i) { return i; }, sources::kUnbounded)
      .sink_to(sinks::callback([&](int64_t) {
        if (++seen == 1000) std::raise(SIGINT);
      }));
  ::testing::internal::CaptureStderr();
  JobResult result = env.execute("endless");
  std::string summary = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(result.status, JobStatus::kCancelled);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.error, "cancelled by signal SIGINT");
  EXPECT_NE(summary.find("Job 'endless' CANCELLED"), std::string::npos) << summary;
}

}  // namespace
}  // namespace eddy
