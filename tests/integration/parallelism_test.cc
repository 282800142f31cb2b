// The same job at parallelism 1, 2 and 4 gives the same results (compared without order
// where the order is not defined).
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "test_util.h"

namespace eddy {
namespace {

using testing::sorted;

struct Event {
  int64_t user;
  int64_t amount;
  std::string kind;
};

Event make_event(int64_t i) {
  uint64_t h = static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 29;
  return Event{static_cast<int64_t>(h % 97), static_cast<int64_t>(h % 1000), (h >> 7) % 3 == 0 ? "order" : "click"};
}

class ParallelismTest : public ::testing::TestWithParam<int> {};

// Final totals per user, computed with a rolling sum in batch mode.
std::vector<std::pair<int64_t, int64_t>> totals(int parallelism) {
  StreamEnvironment env;
  env.set_parallelism(parallelism).set_runtime_mode(RuntimeMode::kBatch);
  std::vector<std::pair<int64_t, int64_t>> out;
  env.from_generator(make_event, 50000)
      .filter([](const Event& e) { return e.kind == "order"; })
      .map([](const Event& e) { return std::pair<int64_t, int64_t>{e.user, e.amount}; })
      .key_by([](const auto& p) { return p.first; })
      .sum<1>()
      .sink_to(sinks::collect(out));
  JobResult result = env.execute();
  EXPECT_TRUE(result.ok()) << result.error;
  return sorted(out);
}

std::vector<std::pair<int64_t, int64_t>> expected_totals() {
  std::map<int64_t, int64_t> sums;
  for (int64_t i = 0; i < 50000; ++i) {
    Event e = make_event(i);
    if (e.kind == "order") sums[e.user] += e.amount;
  }
  return {sums.begin(), sums.end()};
}

TEST_P(ParallelismTest, KeyedTotalsMatchAHandComputedResult) {
  EXPECT_EQ(totals(GetParam()), expected_totals());
}

// Streaming mode: one update per record; each key's last update is its total, and each
// key's updates are its running sums in some order of its records.
TEST_P(ParallelismTest, StreamingRollingSumEmitsAnUpdatePerRecord) {
  StreamEnvironment env;
  env.set_parallelism(GetParam());
  std::vector<std::pair<int64_t, int64_t>> out;
  env.from_sequence(1, 20000)
      .map([](int64_t i) { return std::pair<int64_t, int64_t>{i % 10, 1}; })
      .key_by([](const auto& p) { return p.first; })
      .sum<1>()
      .sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  ASSERT_EQ(out.size(), 20000u);
  std::map<int64_t, std::vector<int64_t>> counts;
  for (auto& [key, count] : out) counts[key].push_back(count);
  for (auto& [key, seq] : counts) {
    ASSERT_EQ(seq.size(), 2000u);
    for (size_t i = 0; i < seq.size(); ++i) ASSERT_EQ(seq[i], static_cast<int64_t>(i + 1)) << "key " << key;
  }
}

// Word count over a text file read in several splits, through union and flat_map.
TEST_P(ParallelismTest, WordCountOverSplitFile) {
  testing::TempDir dir;
  std::string text;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 2000; ++i) {
    std::string line;
    for (int w = 0; w < 1 + i % 7; ++w) {
      std::string word = "w" + std::to_string((i * 31 + w * 7) % 113);
      line += (w ? " " : "") + word;
      ++expected[word];
    }
    text += line + "\n";
  }
  std::string path = dir.write("words.txt", text);
  sources::TextFileOptions options;
  options.split_bytes = 997;

  StreamEnvironment env;
  env.set_parallelism(GetParam()).set_runtime_mode(RuntimeMode::kBatch);
  std::vector<std::pair<std::string, int64_t>> out;
  auto lines = env.from_source(sources::text_file(path, options), "lines");
  auto words = lines.flat_map([](const std::string& line, Collector<std::pair<std::string, int64_t>>& c) {
    size_t start = 0;
    while (start <= line.size()) {
      size_t end = line.find(' ', start);
      if (end == std::string::npos) end = line.size();
      if (end > start) c.collect({line.substr(start, end - start), 1});
      start = end + 1;
    }
  });
  auto none = env.from_collection(std::vector<std::pair<std::string, int64_t>>{});
  words.union_with(none).key_by([](const auto& p) { return p.first; }).sum<1>().sink_to(sinks::collect(out));
  ASSERT_TRUE(env.execute().ok());
  EXPECT_EQ(sorted(out), (std::vector<std::pair<std::string, int64_t>>(expected.begin(), expected.end())));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ParallelismTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace eddy
