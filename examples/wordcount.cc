// Word count, the "hello world" of stream processing.
//
//   wordcount --input FILE [--parallelism N]
//
// Reads the lines of FILE, splits them into lower-cased words (runs of ASCII letters and
// digits), counts each word with a keyed rolling sum and prints "word count" per distinct
// word, sorted by word. The job runs in batch mode, so the rolling sum emits only the
// final count of each word when the input ends (as Flink's BATCH runtime mode does).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "eddy/eddy.h"

namespace {

using WordCount = std::pair<std::string, int64_t>;

bool is_word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char ascii_lower(unsigned char c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

// Emits (word, 1) for every word of the line.
void tokenize(const std::string& line, eddy::Collector<WordCount>& out) {
  std::string word;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (is_word_char(c)) {
      word += ascii_lower(c);
    } else if (!word.empty()) {
      out.collect({std::move(word), 1});
      word.clear();
    }
  }
  if (!word.empty()) out.collect({std::move(word), 1});
}

int usage() {
  std::fputs("usage: wordcount --input FILE [--parallelism N]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto env = eddy::StreamEnvironment::from_args(argc, argv);
    auto input = env.args().get("input");
    if (!input || *input == "true") return usage();
    env.set_runtime_mode(eddy::RuntimeMode::kBatch);

    std::vector<WordCount> counts;
    env.read_text_file(*input)
        .flat_map(tokenize)
        .name("Tokenize")
        .key_by([](const WordCount& wc) -> const std::string& { return wc.first; })
        .sum<1>()
        .name("Count")
        .sink_to(eddy::sinks::collect(counts), "Collect");

    eddy::JobResult result = env.execute("wordcount");
    if (!result.ok()) {
      std::fprintf(stderr, "wordcount: %s\n", result.error.c_str());
      return 1;
    }
    if (result.status == eddy::JobStatus::kCancelled) return 130;

    std::sort(counts.begin(), counts.end());
    std::string out;
    for (const auto& [word, count] : counts) {
      out += word;
      out += ' ';
      out += std::to_string(count);
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  } catch (const eddy::Error& e) {
    std::fprintf(stderr, "wordcount: %s\n", e.what());
    return usage();
  }
}
