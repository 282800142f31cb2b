// Built-in sources: a collection, a generator function (bounded or unbounded, parallel),
// a number sequence, and text files read by lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/source.h"

namespace eddy::sources {

// A range [next, end) of generator indices; `next` is the position.
class NumberRangeSplit final : public SourceSplit {
 public:
  NumberRangeSplit(int index, int64_t next, int64_t end) : index_(index), next_(next), end_(end) {}
  std::string split_id() const override { return "range-" + std::to_string(index_); }
  std::string describe() const override;
  std::unique_ptr<SourceSplit> clone() const override {
    return std::make_unique<NumberRangeSplit>(*this);
  }
  int index() const { return index_; }
  int64_t next() const { return next_; }
  int64_t end() const { return end_; }
  void advance_to(int64_t next) { next_ = next; }

 private:
  int index_;
  int64_t next_;
  int64_t end_;
};

// Splits [0, count) into `num_splits` contiguous ranges.
SplitList split_number_range(int64_t count, int num_splits);

// The checkpoint form of a NumberRangeSplit: a version varint (1), then the index, the
// position and the end as varints. `source_kind` names the source in errors.
std::string serialize_number_range_split(const SourceSplit& split, std::string_view source_kind);
// Throws SerializationError, naming `source_kind`, for bytes of an unknown version, malformed
// bytes, and ranges that end past `count` (the source's input shrank since the checkpoint).
std::unique_ptr<NumberRangeSplit> deserialize_number_range_split(std::string_view bytes,
                                                                 int64_t count,
                                                                 std::string_view source_kind);

inline constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

struct GeneratorOptions {
  // Total records over all subtasks; kUnbounded for an endless source.
  int64_t count = kUnbounded;
  // Records per second over all subtasks (divided evenly among them); 0 = as fast as possible.
  double records_per_second = 0;
  // The source cannot run with more subtasks than this (a collection: 1).
  std::optional<int> max_parallelism;
};

// Emits fn(i) for every index i in its splits, as Flink's DataGeneratorSource does.
template <class T, class F>
class GeneratorSource final : public Source<T> {
 public:
  GeneratorSource(F fn, GeneratorOptions options) : fn_(std::move(fn)), options_(options) {}

  bool bounded() const override { return options_.count != kUnbounded; }
  std::optional<int> max_source_parallelism() const override { return options_.max_parallelism; }

  std::unique_ptr<SplitEnumerator> create_enumerator(SplitEnumeratorContext& context) const override {
    return std::make_unique<StaticSplitEnumerator>(
        context, split_number_range(options_.count, context.parallelism()));
  }

  std::string serialize_split(const SourceSplit& split) const override {
    return serialize_number_range_split(split, kKind);
  }
  std::unique_ptr<SourceSplit> deserialize_split(std::string_view bytes) const override {
    return deserialize_number_range_split(bytes, options_.count, kKind);
  }

  std::unique_ptr<SourceReader<T>> create_reader(SourceReaderContext& context) const override {
    double rate = options_.records_per_second / context.runtime().parallelism();
    return std::make_unique<Reader>(context, fn_, rate);
  }

 private:
  static constexpr std::string_view kKind = "generator source (generator, sequence or collection)";

  // Positions advance as records are emitted, so snapshot_state() between polls reports
  // exactly the next index to emit.
  class Reader final : public SequentialSplitReader<T, NumberRangeSplit> {
   public:
    Reader(SourceReaderContext& context, F fn, double rate)
        : SequentialSplitReader<T, NumberRangeSplit>(context), fn_(std::move(fn)), rate_(rate) {}

    InputStatus poll_next(SourceOutput<T>& output) override {
      if (rate_ > 0) {
        auto now = std::chrono::steady_clock::now();
        if (emitted_ == 0) started_ = now;
        double allowed = std::chrono::duration<double>(now - started_).count() * rate_ + 1;
        if (static_cast<double>(emitted_) >= allowed) {
          this->context().poll_again_after(std::chrono::nanoseconds(
              static_cast<int64_t>((static_cast<double>(emitted_) - allowed + 1) / rate_ * 1e9)));
          return InputStatus::kNothingAvailable;
        }
        budget_ = static_cast<int64_t>(allowed) - emitted_;
      }
      return SequentialSplitReader<T, NumberRangeSplit>::poll_next(output);
    }

   protected:
    bool read_split(NumberRangeSplit& split, SourceOutput<T>& output) override {
      int64_t i = split.next();
      int64_t limit = split.end() - i < kBatch ? split.end() : i + kBatch;
      if (rate_ > 0 && limit - i > budget_) limit = i + budget_;
      for (; i < limit; ++i) output.collect(fn_(i));
      emitted_ += i - split.next();
      split.advance_to(i);
      return i < split.end();
    }

   private:
    static constexpr int64_t kBatch = 1024;
    F fn_;
    double rate_;
    int64_t emitted_ = 0;
    int64_t budget_ = 0;
    std::chrono::steady_clock::time_point started_;
  };

  F fn_;
  GeneratorOptions options_;
};

// A source that emits fn(0), fn(1), ... fn(count - 1), split over the subtasks.
template <class F>
auto generator(F fn, GeneratorOptions options = {}) {
  using T = std::decay_t<std::invoke_result_t<F&, int64_t>>;
  return std::make_shared<GeneratorSource<T, F>>(std::move(fn), options);
}

// from, from + 1, ..., to (inclusive), as Flink's fromSequence.
inline auto sequence(int64_t from, int64_t to) {
  GeneratorOptions options;
  options.count = to - from + 1;
  return generator([from](int64_t i) { return from + i; }, options);
}

// The values in order. Not parallel (max parallelism 1), like Flink's fromData.
template <class T>
auto collection(std::vector<T> values) {
  auto data = std::make_shared<const std::vector<T>>(std::move(values));
  GeneratorOptions options;
  options.count = static_cast<int64_t>(data->size());
  options.max_parallelism = 1;
  return generator([data](int64_t i) -> T { return (*data)[static_cast<size_t>(i)]; }, options);
}

struct TextFileOptions {
  // Files larger than this are read as several splits, in parallel.
  int64_t split_bytes = 32 << 20;
};

// Lines of a text file, or of every regular file in a directory (sorted by name), without
// their line terminator ("\n" or "\r\n"). Splits are byte ranges; a split reads every
// line that starts in it. A file that cannot be read fails the job, naming the file.
std::shared_ptr<Source<std::string>> text_file(std::string path, TextFileOptions options = {});

}  // namespace eddy::sources
