// A source for event-time tests: emits a fixed script of records (with timestamps),
// watermarks and idle marks, in order, from one subtask. Optionally it then stays open
// (emitting nothing) until `release()` is called, so a test can check what happens while
// an input is idle but not finished.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/source.h"

namespace eddy::testing {

template <class T>
class ScriptedSource final : public Source<T> {
 public:
  struct Record {
    T value;
    Timestamp timestamp;
  };
  struct Watermark {
    Timestamp watermark;
  };
  struct Idle {};
  using Step = std::variant<Record, Watermark, Idle>;

  class Builder {
   public:
    Builder& record(T value, Timestamp timestamp) {
      steps_.push_back(Record{std::move(value), timestamp});
      return *this;
    }
    Builder& watermark(Timestamp watermark) {
      steps_.push_back(Watermark{watermark});
      return *this;
    }
    Builder& idle() {
      steps_.push_back(Idle{});
      return *this;
    }
    // After the script, stay open until release() (or `limit` passes, so a broken test
    // fails instead of hanging).
    Builder& hold_open(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
      hold_limit_ = limit;
      return *this;
    }
    std::shared_ptr<ScriptedSource> build() {
      return std::make_shared<ScriptedSource>(std::move(steps_), hold_limit_);
    }

   private:
    std::vector<Step> steps_;
    std::chrono::milliseconds hold_limit_{0};
  };

  ScriptedSource(std::vector<Step> steps, std::chrono::milliseconds hold_limit)
      : steps_(std::move(steps)), hold_limit_(hold_limit), released_(std::make_shared<std::atomic<bool>>(false)) {}

  void release() const { released_->store(true); }

  bool bounded() const override { return true; }
  std::optional<int> max_source_parallelism() const override { return 1; }
  std::unique_ptr<SplitEnumerator> create_enumerator(SplitEnumeratorContext& context) const override {
    SplitList splits;
    splits.push_back(std::make_unique<WholeSplit>());
    return std::make_unique<StaticSplitEnumerator>(context, std::move(splits));
  }
  std::unique_ptr<SourceReader<T>> create_reader(SourceReaderContext& context) const override {
    return std::make_unique<Reader>(context, *this);
  }

 private:
  struct WholeSplit final : SourceSplit {
    std::string split_id() const override { return "script"; }
    std::string describe() const override { return "script"; }
    std::unique_ptr<SourceSplit> clone() const override { return std::make_unique<WholeSplit>(); }
  };

  class Reader final : public SourceReader<T> {
   public:
    Reader(SourceReaderContext& context, const ScriptedSource& source) : context_(context), source_(source) {}
    void start() override { context_.send_split_request(); }
    InputStatus poll_next(SourceOutput<T>& output) override {
      if (!has_split_) return no_more_ ? InputStatus::kEndOfInput : InputStatus::kNothingAvailable;
      if (next_ < source_.steps_.size()) {
        const Step& step = source_.steps_[next_++];
        if (const auto* record = std::get_if<Record>(&step)) {
          output.collect(record->value, record->timestamp);
        } else if (const auto* watermark = std::get_if<Watermark>(&step)) {
          output.emit_watermark(watermark->watermark);
        } else {
          output.mark_idle();
        }
        return InputStatus::kMoreAvailable;
      }
      if (source_.hold_limit_.count() > 0) {
        if (held_since_ == std::chrono::steady_clock::time_point{}) held_since_ = std::chrono::steady_clock::now();
        if (!source_.released_->load() && std::chrono::steady_clock::now() - held_since_ < source_.hold_limit_) {
          context_.poll_again_after(std::chrono::milliseconds(1));
          return InputStatus::kNothingAvailable;
        }
      }
      return InputStatus::kEndOfInput;
    }
    void add_splits(SplitList splits) override { has_split_ = has_split_ || !splits.empty(); }
    void notify_no_more_splits() override { no_more_ = true; }
    SplitList snapshot_state() override { return {}; }

   private:
    SourceReaderContext& context_;
    const ScriptedSource& source_;
    bool has_split_ = false;
    bool no_more_ = false;
    size_t next_ = 0;
    std::chrono::steady_clock::time_point held_since_{};
  };

  std::vector<Step> steps_;
  std::chrono::milliseconds hold_limit_;
  std::shared_ptr<std::atomic<bool>> released_;
};

}  // namespace eddy::testing
