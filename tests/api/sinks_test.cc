// The built-in sinks.
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return testing::sorted(lines);
}

TEST(SinksTest, PrintWithoutParallelismHasNoPrefix) {
  StreamEnvironment env;
  env.from_collection(std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 2}}).print();
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(env.execute().ok());
  std::fflush(stdout);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "(a,1)\n(b,2)\n");
}

TEST(SinksTest, ParallelPrintPrefixesSubtaskNumber) {
  StreamEnvironment env;
  env.from_sequence(1, 4).rebalance().map([](int64_t v) { return v; }).set_parallelism(2).print().set_parallelism(2);
  env.from_sequence(5, 5).print("ids");
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(env.execute().ok());
  std::fflush(stdout);
  // Rebalance starts at the producer's own subtask: 1,3 go to subtask 1 and 2,4 to subtask 2.
  EXPECT_EQ(lines_of(::testing::internal::GetCapturedStdout()),
            (std::vector<std::string>{"1> 1", "1> 3", "2> 2", "2> 4", "ids> 5"}));
}

TEST(SinksTest, PrintWithIdentifierWhenParallel) {
  StreamEnvironment env;
  env.set_parallelism(2);
  env.from_sequence(1, 2).set_parallelism(1).rebalance().print("out");
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(env.execute().ok());
  std::fflush(stdout);
  EXPECT_EQ(lines_of(::testing::internal::GetCapturedStdout()), (std::vector<std::string>{"out:1> 1", "out:2> 2"}));
}

TEST(SinksTest, DiscardCountsRecords) {
  StreamEnvironment env;
  env.set_parallelism(2);
  env.from_sequence(1, 12345).sink_to(sinks::discard(), "void");
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.find_operator("void")->records_in, 12345u);
}

TEST(SinksTest, CallbackSeesEveryRecord) {
  StreamEnvironment env;
  env.set_parallelism(3);
  std::atomic<int64_t> sum{0};
  std::atomic<int> calls{0};
  env.from_sequence(1, 1000).sink_to(sinks::callback([&](int64_t v) {
    sum += v;
    ++calls;
  }));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(calls.load(), 1000);
  EXPECT_EQ(sum.load(), 500500);
}

TEST(SinksTest, CustomSinkWriterLifecycle) {
  struct Log {
    std::mutex mutex;
    std::vector<std::string> events;
    void add(std::string e) {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(std::move(e));
    }
  };
  auto log = std::make_shared<Log>();
  class Writer final : public SinkWriter<int64_t> {
   public:
    explicit Writer(std::shared_ptr<Log> log) : log_(std::move(log)) {}
    void write(int64_t&& v, Timestamp) override { sum_ += v; }
    void flush(bool end_of_input) override { log_->add("flush " + std::to_string(end_of_input) + " " + std::to_string(sum_)); }
    void close() override { log_->add("close"); }

   private:
    std::shared_ptr<Log> log_;
    int64_t sum_ = 0;
  };
  class LoggingSink final : public Sink<int64_t> {
   public:
    explicit LoggingSink(std::shared_ptr<Log> log) : log_(std::move(log)) {}
    std::unique_ptr<SinkWriter<int64_t>> create_writer(const RuntimeContext&) const override {
      return std::make_unique<Writer>(log_);
    }

   private:
    std::shared_ptr<Log> log_;
  };
  StreamEnvironment env;
  env.from_sequence(1, 10).sink_to(std::make_shared<LoggingSink>(log), "logging");
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(log->events, (std::vector<std::string>{"flush 1 55", "close"}));
}

}  // namespace
}  // namespace eddy
