// Checkpointable source positions: the built-in sources' splits survive a round trip through
// their serialized form, and a reader restored from them goes on exactly where the
// checkpoint was taken (no record lost, none repeated).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::TempDir;

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

class FakeEnumeratorContext final : public SplitEnumeratorContext {
 public:
  explicit FakeEnumeratorContext(int parallelism = 1) : parallelism_(parallelism) {}
  int parallelism() const override { return parallelism_; }
  void assign_split(int, std::unique_ptr<SourceSplit> split) override {
    assigned.push_back(std::move(split));
  }
  void signal_no_more_splits(int) override { no_more = true; }
  SplitList assigned;
  bool no_more = false;

 private:
  int parallelism_;
};

template <class T>
class VectorOutput final : public Output<T> {
 public:
  void emit(T&& value, Timestamp) override { values.push_back(std::move(value)); }
  void emit_watermark(Timestamp) override {}
  void emit_watermark_status(bool) override {}
  std::vector<T> values;
};

// What a checkpoint of a one-subtask source holds: the enumerator's unassigned splits and
// the reader's splits, as bytes.
struct SourceCheckpoint {
  std::vector<std::string> unassigned;
  std::vector<std::string> reader;
};

SplitList deserialize_all(const SourceBase& source, const std::vector<std::string>& bytes) {
  SplitList splits;
  for (const std::string& b : bytes) splits.push_back(source.deserialize_split(b));
  return splits;
}

// One enumerator and one reader, wired together the way the runtime wires them: split
// requests go to the enumerator, its assignments come back to the reader.
template <class T>
class SourceDriver {
 public:
  // A fresh start.
  explicit SourceDriver(const Source<T>& source, int enumerator_parallelism = 1)
      : source_(source), enumerator_context_(enumerator_parallelism) {
    enumerator_ = source.create_enumerator(enumerator_context_);
    enumerator_->start();
    reader_ = source.create_reader(reader_context_);
    reader_->start();
  }
  // A restore from `checkpoint` (taken from a driver of an equivalent source).
  SourceDriver(const Source<T>& source, const SourceCheckpoint& checkpoint) : source_(source) {
    enumerator_ = source.restore_enumerator(enumerator_context_,
                                            deserialize_all(source, checkpoint.unassigned));
    enumerator_->start();
    reader_ = source.create_reader(reader_context_);
    reader_->add_splits(deserialize_all(source, checkpoint.reader));
    reader_->start();
  }
  ~SourceDriver() { reader_->close(); }

  // One poll; false once the reader reached the end of its input.
  bool poll() {
    deliver();
    InputStatus status = reader_->poll_next(output_);
    deliver();
    return status != InputStatus::kEndOfInput;
  }
  void run_to_end() {
    for (int i = 0; poll(); ++i) ASSERT_LT(i, 1000000) << "the reader never ends";
  }

  SourceCheckpoint checkpoint() {
    SourceCheckpoint checkpoint;
    for (const auto& split : enumerator_->snapshot_state()) {
      checkpoint.unassigned.push_back(source_.serialize_split(*split));
    }
    for (const auto& split : reader_->snapshot_state())
      checkpoint.reader.push_back(source_.serialize_split(*split));
    return checkpoint;
  }

  const std::vector<T>& records() const { return out_.values; }
  SplitEnumerator& enumerator() { return *enumerator_; }

 private:
  void deliver() {
    while (handled_requests_ < reader_context_.requests) {
      ++handled_requests_;
      enumerator_->handle_split_request(0);
    }
    if (!enumerator_context_.assigned.empty()) {
      SplitList splits = std::move(enumerator_context_.assigned);
      enumerator_context_.assigned.clear();
      reader_->add_splits(std::move(splits));
    }
    if (enumerator_context_.no_more && !no_more_delivered_) {
      no_more_delivered_ = true;
      reader_->notify_no_more_splits();
    }
  }

  const Source<T>& source_;
  FakeEnumeratorContext enumerator_context_;
  FakeReaderContext reader_context_;
  std::unique_ptr<SplitEnumerator> enumerator_;
  std::unique_ptr<SourceReader<T>> reader_;
  VectorOutput<T> out_;
  SourceOutput<T> output_{out_};
  int handled_requests_ = 0;
  bool no_more_delivered_ = false;
};

template <class T>
std::vector<T> read_all(const Source<T>& source, int enumerator_parallelism = 1) {
  SourceDriver<T> driver(source, enumerator_parallelism);
  driver.run_to_end();
  return driver.records();
}

// For every number of polls k, from 0 until the input ends: poll k times, checkpoint,
// restore into a reader of `restored_source` and read the rest. The records before and
// after the checkpoint together must be exactly `expected`.
template <class T>
void expect_exact_resume_at_every_poll(const Source<T>& source, const Source<T>& restored_source,
                                       const std::vector<T>& expected,
                                       int enumerator_parallelism = 1) {
  for (int k = 0;; ++k) {
    SCOPED_TRACE("checkpoint after " + std::to_string(k) + " polls");
    SourceDriver<T> before(source, enumerator_parallelism);
    bool more = true;
    for (int i = 0; i < k && more; ++i) more = before.poll();
    SourceCheckpoint checkpoint = before.checkpoint();

    SourceDriver<T> after(restored_source, checkpoint);
    after.run_to_end();
    std::vector<T> all = before.records();
    all.insert(all.end(), after.records().begin(), after.records().end());
    ASSERT_EQ(all.size(), expected.size());
    ASSERT_EQ(all, expected);
    if (!more) break;
    ASSERT_LT(k, 100000);
  }
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no eddy::Error)";
}

// --- generator, sequence, collection ---

TEST(SourceCheckpointTest, SequenceResumesExactlyAtEveryPoll) {
  auto source = sources::sequence(10, 5009);
  std::vector<int64_t> expected;
  for (int64_t i = 10; i <= 5009; ++i) expected.push_back(i);
  EXPECT_EQ(read_all(*source), expected);
  // Three splits (as with three subtasks), all read by one reader, 1024 records a poll.
  expect_exact_resume_at_every_poll(*source, *sources::sequence(10, 5009), expected, 3);
}

TEST(SourceCheckpointTest, GeneratorResumesMidSplit) {
  auto make = [] {
    sources::GeneratorOptions options;
    options.count = 2500;
    return sources::generator([](int64_t i) { return "record-" + std::to_string(i * 7); }, options);
  };
  auto source = make();
  std::vector<std::string> expected;
  for (int64_t i = 0; i < 2500; ++i) expected.push_back("record-" + std::to_string(i * 7));
  expect_exact_resume_at_every_poll(*source, *make(), expected);

  // After one poll the reader stands inside its only split.
  SourceDriver<std::string> driver(*source);
  ASSERT_TRUE(driver.poll());
  ASSERT_EQ(driver.records().size(), 1024u);
  SourceCheckpoint checkpoint = driver.checkpoint();
  ASSERT_EQ(checkpoint.reader.size(), 1u);
  auto split = source->deserialize_split(checkpoint.reader[0]);
  const auto& range = dynamic_cast<const sources::NumberRangeSplit&>(*split);
  EXPECT_EQ(range.next(), 1024);
  EXPECT_EQ(range.end(), 2500);
  EXPECT_EQ(split->split_id(), "range-0");
}

TEST(SourceCheckpointTest, CollectionResumesExactlyAtEveryPoll) {
  std::vector<std::string> values;
  for (int i = 0; i < 2100; ++i)
    values.push_back(std::string(static_cast<size_t>(i % 5), 'x') + std::to_string(i));
  auto source = sources::collection(values);
  expect_exact_resume_at_every_poll(*source, *sources::collection(values), values);
}

TEST(SourceCheckpointTest, NumberRangeSplitRoundTripsItsPosition) {
  auto source = sources::sequence(0, 99);
  sources::NumberRangeSplit split(4, 17, 60);
  std::string bytes = source->serialize_split(split);
  EXPECT_EQ(bytes[0], 1) << "the encoding starts with its version";
  auto restored = source->deserialize_split(bytes);
  const auto& range = dynamic_cast<const sources::NumberRangeSplit&>(*restored);
  EXPECT_EQ(range.index(), 4);
  EXPECT_EQ(range.next(), 17);
  EXPECT_EQ(range.end(), 60);
  EXPECT_EQ(restored->split_id(), split.split_id());

  // The unbounded generator's last range ends at INT64_MAX.
  auto unbounded = sources::generator([](int64_t i) { return i; });
  sources::NumberRangeSplit endless(0, 123456789012, sources::kUnbounded);
  auto back = unbounded->deserialize_split(unbounded->serialize_split(endless));
  EXPECT_EQ(dynamic_cast<const sources::NumberRangeSplit&>(*back).end(), sources::kUnbounded);
}

TEST(SourceCheckpointTest, GeneratorRejectsUnknownVersionsAndMalformedBytes) {
  auto source = sources::sequence(0, 99);
  std::string good = source->serialize_split(sources::NumberRangeSplit(0, 5, 50));
  auto error = [&](std::string bytes) {
    return error_of([&] { source->deserialize_split(bytes); });
  };

  std::string newer = good;
  newer[0] = 2;
  EXPECT_NE(error(newer).find("generator source"), std::string::npos) << error(newer);
  EXPECT_NE(error(newer).find("unknown split version 2 (this build reads version 1)"),
            std::string::npos)
      << error(newer);

  EXPECT_NE(error("").find("generator source"), std::string::npos) << error("");
  EXPECT_NE(error("").find("malformed"), std::string::npos) << error("");
  std::string truncated = good.substr(0, good.size() - 1);
  EXPECT_NE(error(truncated).find("truncated"), std::string::npos) << error(truncated);
  EXPECT_NE(error(good + "x").find("unexpected bytes after the split"), std::string::npos)
      << error(good + "x");

  // Position after the end, and a range the source no longer has.
  std::string backwards = source->serialize_split(sources::NumberRangeSplit(0, 60, 50));
  EXPECT_NE(error(backwards).find("position 60 is past the range's end 50"), std::string::npos)
      << error(backwards);
  std::string too_long = source->serialize_split(sources::NumberRangeSplit(1, 100, 200));
  EXPECT_NE(error(too_long).find("ends at index 200, but the source now has only 100 records"),
            std::string::npos)
      << error(too_long);
  EXPECT_THROW(source->deserialize_split(too_long), SerializationError);
}

TEST(SourceCheckpointTest, CollectionThatShrankSinceTheCheckpointIsRejected) {
  auto source = sources::collection(std::vector<int>{1, 2, 3, 4, 5, 6});
  std::string bytes = source->serialize_split(sources::NumberRangeSplit(0, 2, 6));
  auto smaller = sources::collection(std::vector<int>{1, 2, 3});
  std::string message = error_of([&] { smaller->deserialize_split(bytes); });
  EXPECT_NE(message.find("ends at index 6, but the source now has only 3 records"),
            std::string::npos)
      << message;
}

TEST(SourceCheckpointTest, SourcesRejectSplitsOfOtherSources) {
  TempDir dir;
  auto file_source = sources::text_file(dir.write("a.txt", "a\nb\n"));
  auto generator = sources::sequence(0, 9);
  sources::NumberRangeSplit range(0, 0, 10);
  EXPECT_NE(error_of([&] {
              file_source->serialize_split(range);
            }).find("not one of this source's splits"),
            std::string::npos);

  FakeEnumeratorContext context;
  auto enumerator = file_source->create_enumerator(context);
  enumerator->handle_split_request(0);
  ASSERT_EQ(context.assigned.size(), 1u);
  std::string message = error_of([&] { generator->serialize_split(*context.assigned[0]); });
  EXPECT_NE(message.find("generator source"), std::string::npos) << message;
  EXPECT_NE(message.find("not one of this source's splits"), std::string::npos) << message;
}

// --- enumerators ---

TEST(SourceCheckpointTest, StaticEnumeratorSnapshotHoldsExactlyTheUnassignedSplits) {
  auto source = sources::sequence(0, 899);
  FakeEnumeratorContext context(3);
  auto enumerator = source->create_enumerator(context);
  EXPECT_EQ(enumerator->snapshot_state().size(), 3u);
  enumerator->handle_split_request(0);
  ASSERT_EQ(context.assigned.size(), 1u);
  EXPECT_EQ(context.assigned[0]->split_id(), "range-0");

  SplitList unassigned = enumerator->snapshot_state();
  ASSERT_EQ(unassigned.size(), 2u);
  std::vector<std::string> bytes;
  for (const auto& split : unassigned) bytes.push_back(source->serialize_split(*split));

  FakeEnumeratorContext restored_context(3);
  auto restored = source->restore_enumerator(restored_context, deserialize_all(*source, bytes));
  for (int i = 0; i < 3; ++i) restored->handle_split_request(0);
  ASSERT_EQ(restored_context.assigned.size(), 2u);
  EXPECT_EQ(restored_context.assigned[0]->split_id(), "range-1");
  EXPECT_EQ(restored_context.assigned[1]->split_id(), "range-2");
  EXPECT_TRUE(restored_context.no_more);

  // A split that came back from a failed reader is unassigned again.
  enumerator->add_splits_back(std::move(context.assigned), 0);
  EXPECT_EQ(enumerator->snapshot_state().size(), 3u);
}

std::vector<std::string> split_ids(const SplitList& splits) {
  std::vector<std::string> ids;
  for (const auto& split : splits) ids.push_back(split->split_id());
  return ids;
}

TEST(SourceCheckpointTest, TextFileEnumeratorSnapshotHoldsExactlyTheUnassignedSplits) {
  TempDir dir;
  dir.write("a.txt", std::string(25, 'a'));
  dir.write("b.txt", std::string(10, 'b'));
  sources::TextFileOptions options;
  options.split_bytes = 10;
  auto source = sources::text_file(dir.path(), options);
  std::string a = dir.file("a.txt");
  std::string b = dir.file("b.txt");
  std::vector<std::string> all = {a + ":0+10", a + ":10+10", a + ":20+5", b + ":0+10"};

  // Before any reader asked, the snapshot lists the files: every split is unassigned.
  FakeEnumeratorContext context;
  auto enumerator = source->create_enumerator(context);
  EXPECT_EQ(split_ids(enumerator->snapshot_state()), all);

  enumerator->handle_split_request(0);
  enumerator->handle_split_request(0);
  EXPECT_EQ(split_ids(context.assigned), (std::vector<std::string>{all[0], all[1]}));
  SplitList unassigned = enumerator->snapshot_state();
  EXPECT_EQ(split_ids(unassigned), (std::vector<std::string>{all[2], all[3]}));

  std::vector<std::string> bytes;
  for (const auto& split : unassigned) bytes.push_back(source->serialize_split(*split));
  FakeEnumeratorContext restored_context;
  auto restored = source->restore_enumerator(restored_context, deserialize_all(*source, bytes));
  EXPECT_EQ(split_ids(restored->snapshot_state()), (std::vector<std::string>{all[2], all[3]}));
  for (int i = 0; i < 3; ++i) restored->handle_split_request(0);
  EXPECT_EQ(split_ids(restored_context.assigned), (std::vector<std::string>{all[2], all[3]}));
  EXPECT_TRUE(restored_context.no_more);
  EXPECT_TRUE(restored->snapshot_state().empty());

  // Splits that come back go out next, and are in the snapshot until they do.
  enumerator->add_splits_back(std::move(context.assigned), 0);
  EXPECT_EQ(enumerator->snapshot_state().size(), 4u);
}

// --- text files ---

// Lines of `content` as the text file source should read them.
std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < content.size()) {
    size_t newline = content.find('\n', begin);
    size_t end = newline == std::string::npos ? content.size() : newline;
    std::string line = content.substr(begin, end - begin);
    if (newline != std::string::npos && !line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    begin = end + 1;
  }
  return lines;
}

TEST(SourceCheckpointTest, TextFileResumesExactlyWhereverSplitsAndCheckpointsFall) {
  // LF and CRLF lines, empty lines, a line of only "\r", no terminator at the end: every
  // split size puts split boundaries at every kind of place (mid-line, between '\r' and
  // '\n', right after a terminator), and a checkpoint is taken after every poll.
  std::string content =
      "alpha\r\nbeta\n\n\r\ngamma delta\r\n\r\nx\nlonger line number seven\r\ny\r\nz";
  TempDir dir;
  std::string path = dir.write("mixed.txt", content);
  std::vector<std::string> expected = lines_of(content);
  ASSERT_EQ(expected.size(), 10u);
  for (int64_t split_bytes = 1; split_bytes <= static_cast<int64_t>(content.size()) + 1;
       ++split_bytes) {
    SCOPED_TRACE("split_bytes " + std::to_string(split_bytes));
    sources::TextFileOptions options;
    options.split_bytes = split_bytes;
    auto source = sources::text_file(path, options);
    ASSERT_EQ(read_all(*source), expected);
    expect_exact_resume_at_every_poll(*source, *sources::text_file(path, options), expected);
  }
}

TEST(SourceCheckpointTest, TextFileResumesMidSplitAtTheNextUnreadLine) {
  // Splits of several batches (1024 lines a poll), cut mid-line, CRLF and LF mixed.
  std::string content;
  for (int i = 0; i < 3500; ++i) {
    content += "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 7), '.');
    content += i % 3 == 0 ? "\r\n" : "\n";
  }
  TempDir dir;
  std::string path = dir.write("big.txt", content);
  std::vector<std::string> expected = lines_of(content);
  sources::TextFileOptions options;
  options.split_bytes = 20011;
  auto source = sources::text_file(path, options);
  ASSERT_EQ(read_all(*source), expected);
  expect_exact_resume_at_every_poll(*source, *sources::text_file(path, options), expected);

  // The stored position is the byte offset of the next line's start.
  SourceDriver<std::string> driver(*source);
  while (driver.records().empty()) ASSERT_TRUE(driver.poll());
  SourceCheckpoint checkpoint = driver.checkpoint();
  ASSERT_FALSE(checkpoint.reader.empty());
  auto split = source->deserialize_split(checkpoint.reader[0]);
  size_t next_line = 0;
  for (size_t i = 0; i < driver.records().size(); ++i)
    next_line = content.find('\n', next_line) + 1;
  EXPECT_NE(split->describe().find("at offset " + std::to_string(next_line)), std::string::npos)
      << split->describe();
  std::string next = "line " + std::to_string(driver.records().size());
  EXPECT_EQ(content.compare(next_line, next.size(), next), 0);
}

TEST(SourceCheckpointTest, TextFileDirectoryResumesAcrossFiles) {
  TempDir dir;
  std::vector<std::string> expected;
  for (int f = 0; f < 3; ++f) {
    std::string content;
    for (int i = 0; i < 700; ++i)
      content += "f" + std::to_string(f) + "-" + std::to_string(i) + "\r\n";
    dir.write("part-" + std::to_string(f) + ".txt", content);
    for (const std::string& line : lines_of(content)) expected.push_back(line);
  }
  sources::TextFileOptions options;
  options.split_bytes = 3001;
  auto source = sources::text_file(dir.path(), options);
  expect_exact_resume_at_every_poll(*source, *sources::text_file(dir.path(), options), expected);
}

TEST(SourceCheckpointTest, TextFileSplitRoundTripsAndRejectsBadBytes) {
  TempDir dir;
  std::string path = dir.write("f.txt", "one\ntwo\nthree\n");
  auto source = sources::text_file(path);
  SourceDriver<std::string> driver(*source);
  SourceCheckpoint checkpoint = driver.checkpoint();
  ASSERT_EQ(checkpoint.unassigned.size(), 1u);
  std::string good = checkpoint.unassigned[0];
  EXPECT_EQ(good[0], 1) << "the encoding starts with its version";
  auto split = source->deserialize_split(good);
  EXPECT_EQ(split->split_id(), path + ":0+14");
  EXPECT_EQ(source->serialize_split(*split), good);

  auto error = [&](std::string bytes) {
    return error_of([&] { source->deserialize_split(bytes); });
  };
  std::string newer = good;
  newer[0] = 9;
  EXPECT_NE(error(newer).find("text file source"), std::string::npos) << error(newer);
  EXPECT_NE(error(newer).find("unknown split version 9 (this build reads version 1)"),
            std::string::npos)
      << error(newer);
  for (size_t n = 0; n < good.size(); ++n) {
    std::string message = error(good.substr(0, n));
    EXPECT_NE(message.find(
                  "text file source: cannot restore a split from the checkpoint: malformed bytes"),
              std::string::npos)
        << n << ": " << message;
  }
  EXPECT_NE(error(good + '\0').find("unexpected bytes after the split"), std::string::npos);
  // The offset (fourth field; here one byte) past the file's size.
  std::string past_end = good;
  past_end[good.size() - 2] = 100;
  EXPECT_NE(error(past_end).find("inconsistent split of '" + path + "'"), std::string::npos)
      << error(past_end);
  EXPECT_THROW(source->deserialize_split(past_end), SerializationError);
}

// Reads the first poll of `path` (more lines than a poll reads) and returns the checkpoint.
SourceCheckpoint checkpoint_after_one_batch(const Source<std::string>& source) {
  SourceDriver<std::string> driver(source);
  while (driver.records().empty()) EXPECT_TRUE(driver.poll());
  return driver.checkpoint();
}

std::string numbered_lines(int n) {
  std::string content;
  for (int i = 0; i < n; ++i) content += "line" + std::to_string(i) + "\n";
  return content;
}

TEST(SourceCheckpointTest, TextFileThatChangedSinceTheCheckpointFailsNamingIt) {
  TempDir dir;
  std::string path = dir.write("f.txt", numbered_lines(3000));
  auto source = sources::text_file(path);
  SourceCheckpoint checkpoint = checkpoint_after_one_batch(*source);
  ASSERT_EQ(checkpoint.reader.size(), 1u);

  std::ofstream(path, std::ios::app) << "appended\n";
  SourceDriver<std::string> resumed(*source, checkpoint);
  std::string message = error_of([&] { resumed.run_to_end(); });
  EXPECT_NE(message.find("cannot resume reading '" + path + "' from the checkpoint"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("the file changed since the checkpoint (" +
                         std::to_string(numbered_lines(3000).size()) + " bytes then, " +
                         std::to_string(numbered_lines(3000).size() + 9) + " now)"),
            std::string::npos)
      << message;
}

TEST(SourceCheckpointTest, TextFileThatDisappearedSinceTheCheckpointFailsNamingIt) {
  TempDir dir;
  std::string path = dir.write("f.txt", numbered_lines(3000));
  auto source = sources::text_file(path);
  SourceCheckpoint checkpoint = checkpoint_after_one_batch(*source);
  std::filesystem::remove(path);
  SourceDriver<std::string> resumed(*source, checkpoint);
  std::string message = error_of([&] { resumed.run_to_end(); });
  EXPECT_NE(message.find("cannot resume reading '" + path +
                         "' from the checkpoint: the file no longer exists"),
            std::string::npos)
      << message;
}

TEST(SourceCheckpointTest, UnassignedTextSplitsAlsoCheckTheirFile) {
  TempDir dir;
  std::string path = dir.write("f.txt", numbered_lines(100));
  sources::TextFileOptions options;
  options.split_bytes = 100;
  auto source = sources::text_file(path, options);
  SourceDriver<std::string> driver(*source);
  SourceCheckpoint checkpoint = driver.checkpoint();  // before the reader got a split
  ASSERT_TRUE(checkpoint.reader.empty());
  ASSERT_EQ(checkpoint.unassigned.size(), 7u);

  dir.write("f.txt", numbered_lines(50));  // rewritten, shorter
  SourceDriver<std::string> resumed(*source, checkpoint);
  std::string message = error_of([&] { resumed.run_to_end(); });
  EXPECT_NE(
      message.find("cannot resume reading '" + path + "' from the checkpoint: the file changed"),
      std::string::npos)
      << message;
}

}  // namespace
}  // namespace eddy
