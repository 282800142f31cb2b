// Built-in sources: generator, collection, text files, and the split model.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::sorted;
using testing::TempDir;

TEST(SourcesTest, GeneratorSplitsIndicesOverSubtasks) {
  StreamEnvironment env;
  env.set_parallelism(3);
  std::vector<int64_t> out;
  env.from_generator([](int64_t i) { return i * 10; }, 1000).sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(out.size(), 1000u);
  auto values = sorted(out);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(values[static_cast<size_t>(i)], i * 10);
  EXPECT_EQ(result.find_operator("Generator Source")->parallelism, 3);
}

TEST(SourcesTest, SplitNumberRangeCoversEveryIndexOnce) {
  for (int64_t count : {0, 1, 7, 1000}) {
    for (int n : {1, 2, 3, 8}) {
      SplitList splits = sources::split_number_range(count, n);
      int64_t expected_next = 0;
      for (auto& split : splits) {
        auto& range = static_cast<sources::NumberRangeSplit&>(*split);
        EXPECT_EQ(range.next(), expected_next);
        EXPECT_GT(range.end(), range.next());
        expected_next = range.end();
      }
      EXPECT_EQ(expected_next, count);
    }
  }
  // An unbounded count splits without overflow.
  SplitList unbounded = sources::split_number_range(sources::kUnbounded, 3);
  EXPECT_EQ(static_cast<sources::NumberRangeSplit&>(*unbounded.back()).end(), sources::kUnbounded);
}

TEST(SourcesTest, CollectionIsNotParallel) {
  StreamEnvironment env;
  env.set_parallelism(4);
  std::vector<int> out;
  auto stream = env.from_collection(std::vector<int>{3, 1, 2});
  stream.sink_to(sinks::collect(out)).set_parallelism(1);
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(out, (std::vector<int>{3, 1, 2}));  // one subtask keeps the order
  EXPECT_EQ(result.operators.front().parallelism, 1);
  EXPECT_THROW(stream.set_parallelism(2), InvalidJobError);
}

TEST(SourcesTest, UnboundedGeneratorRunsUntilCancelled) {
  StreamEnvironment env;
  env.set_parallelism(2);
  std::atomic<int64_t> seen{0};
  env.from_generator([](int64_t i) { return i; }, sources::kUnbounded)
      .sink_to(sinks::callback([&](int64_t) {
        if (++seen == 50000) env.cancel();
      }));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.status, JobStatus::kCancelled);
  EXPECT_GE(seen.load(), 50000);
}

TEST(SourcesTest, RateLimitedGeneratorStillDeliversEverything) {
  StreamEnvironment env;
  sources::GeneratorOptions options;
  options.count = 2000;
  options.records_per_second = 200000;  // ~10 ms of waiting in total
  std::vector<int64_t> out;
  env.from_source(sources::generator([](int64_t i) { return i; }, options), "rated").sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(out.size(), 2000u);
}

std::vector<std::string> read_lines(const std::string& path, int parallelism, int64_t split_bytes) {
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  std::vector<std::string> out;
  sources::TextFileOptions options;
  options.split_bytes = split_bytes;
  env.from_source(sources::text_file(path, options), "file").sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return out;
}

TEST(SourcesTest, TextFileLinesWithTerminatorsStripped) {
  TempDir dir;
  std::string path = dir.write("a.txt", "one\r\ntwo\n\nthree");
  EXPECT_EQ(read_lines(path, 1, 1 << 20), (std::vector<std::string>{"one", "two", "", "three"}));
}

TEST(SourcesTest, TextFileSplitsReadEachLineExactlyOnce) {
  TempDir dir;
  std::string content;
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    std::string line = std::string(static_cast<size_t>(i % 17), 'a' + static_cast<char>(i % 26)) + std::to_string(i);
    content += line + "\n";
    expected.push_back(line);
  }
  content += "\n";
  expected.push_back("");
  std::string path = dir.write("big.txt", content);
  // Every split size, from a byte to the whole file, at several parallelisms.
  for (int64_t split_bytes : {1, 2, 3, 7, 16, 100, 4096}) {
    for (int parallelism : {1, 3}) {
      EXPECT_EQ(sorted(read_lines(path, parallelism, split_bytes)), sorted(expected))
          << "split_bytes " << split_bytes << " parallelism " << parallelism;
    }
  }
}

TEST(SourcesTest, TextFileDirectoryReadsAllFilesInOrder) {
  TempDir dir;
  dir.write("b.txt", "b1\nb2\n");
  dir.write("a.txt", "a1\n");
  dir.write(".hidden", "h\n");
  EXPECT_EQ(read_lines(dir.path(), 1, 1 << 20), (std::vector<std::string>{"a1", "b1", "b2"}));
}

TEST(SourcesTest, MissingFileFailsNamingTheFileAndTheSource) {
  StreamEnvironment env;
  std::vector<std::string> out;
  env.read_text_file("/nonexistent/eddy-input.txt").sink_to(sinks::collect(out));
  JobResult result = env.execute();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.failed_operator, "File Source: /nonexistent/eddy-input.txt");
  EXPECT_NE(result.error.find("cannot read '/nonexistent/eddy-input.txt': No such file or directory"),
            std::string::npos)
      << result.error;
}

// A reader driven by hand: its splits report their positions.
class FakeReaderContext final : public SourceReaderContext {
 public:
  class Runtime final : public RuntimeContext {
   public:
    const std::string& operator_name() const override { return name_; }
    int subtask_index() const override { return 0; }
    int parallelism() const override { return 1; }
    int max_parallelism() const override { return 128; }
    const ExecutionConfig& config() const override { return config_; }
    const Clock& clock() const override { return clock_; }
    ProcessingTimeService& processing_time_service() const override {
      throw std::logic_error("the fake reader context has no timers");
    }

   private:
    std::string name_ = "fake";
    ExecutionConfig config_;
    ManualClock clock_;
  };
  const RuntimeContext& runtime() const override { return runtime_; }
  void send_split_request() override { ++requests; }
  void poll_again_after(std::chrono::nanoseconds) override {}
  int requests = 0;

 private:
  Runtime runtime_;
};

template <class T>
class VectorOutput final : public Output<T> {
 public:
  void emit(T&& value, Timestamp) override { values.push_back(std::move(value)); }
  void emit_watermark(Timestamp) override {}
  void emit_watermark_status(bool) override {}
  std::vector<T> values;
};

TEST(SourcesTest, GeneratorReaderReportsPositionAndResumesFromIt) {
  auto source = sources::generator([](int64_t i) { return i; });
  FakeReaderContext context;
  auto reader = source->create_reader(context);
  reader->start();
  EXPECT_EQ(context.requests, 1);
  SplitList splits;
  splits.push_back(std::make_unique<sources::NumberRangeSplit>(0, 100, 3000));
  reader->add_splits(std::move(splits));
  VectorOutput<int64_t> out;
  SourceOutput<int64_t> output(out);
  EXPECT_EQ(reader->poll_next(output), InputStatus::kMoreAvailable);
  SplitList state = reader->snapshot_state();
  ASSERT_EQ(state.size(), 1u);
  auto& position = static_cast<sources::NumberRangeSplit&>(*state[0]);
  EXPECT_EQ(position.next(), 100 + static_cast<int64_t>(out.values.size()));
  EXPECT_NE(state[0]->describe().find("at index " + std::to_string(position.next())), std::string::npos);

  // A new reader given the snapshot continues where the first one stopped.
  FakeReaderContext context2;
  auto resumed = source->create_reader(context2);
  resumed->start();
  resumed->add_splits(std::move(state));
  resumed->notify_no_more_splits();
  VectorOutput<int64_t> rest;
  SourceOutput<int64_t> rest_output(rest);
  while (resumed->poll_next(rest_output) != InputStatus::kEndOfInput) {
  }
  EXPECT_EQ(out.values.size() + rest.values.size(), 2900u);
  EXPECT_EQ(rest.values.front(), out.values.back() + 1);
  EXPECT_EQ(rest.values.back(), 2999);
}

TEST(SourcesTest, TextFileReaderResumesFromSnapshotOffset) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 3000; ++i) content += "line" + std::to_string(i) + "\n";
  std::string path = dir.write("f.txt", content);

  struct OneSplitEnumeratorContext final : SplitEnumeratorContext {
    int parallelism() const override { return 1; }
    void assign_split(int, std::unique_ptr<SourceSplit> split) override { splits.push_back(std::move(split)); }
    void signal_no_more_splits(int) override {}
    SplitList splits;
  } enumerator_context;
  auto source = sources::text_file(path);
  auto enumerator = source->create_enumerator(enumerator_context);
  enumerator->handle_split_request(0);
  ASSERT_EQ(enumerator_context.splits.size(), 1u);

  FakeReaderContext context;
  auto reader = source->create_reader(context);
  reader->add_splits(std::move(enumerator_context.splits));
  VectorOutput<std::string> out;
  SourceOutput<std::string> output(out);
  reader->poll_next(output);  // reads one batch of lines, not all 3000
  ASSERT_GT(out.values.size(), 0u);
  ASSERT_LT(out.values.size(), 3000u);
  SplitList state = reader->snapshot_state();
  reader->close();

  FakeReaderContext context2;
  auto resumed = source->create_reader(context2);
  resumed->add_splits(std::move(state));
  resumed->notify_no_more_splits();
  VectorOutput<std::string> rest;
  SourceOutput<std::string> rest_output(rest);
  while (resumed->poll_next(rest_output) != InputStatus::kEndOfInput) {
  }
  ASSERT_EQ(out.values.size() + rest.values.size(), 3000u);
  EXPECT_EQ(rest.values.front(), "line" + std::to_string(out.values.size()));
}

}  // namespace
}  // namespace eddy
