// Sources in Flink's split model. A SplitEnumerator (one per source, on the coordinator)
// hands out splits: files, file blocks, number ranges, partitions. A SourceReader (one
// per subtask, on the task thread) reads the splits it was given and reports their
// positions, so a checkpoint can record where each split stands and a restore can resume
// there. Built-in sources live in eddy/sources.h; connectors implement these interfaces.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/operator.h"
#include "eddy/time.h"

namespace eddy {

// A unit of work: which part of the input, and how far reading it has got.
class SourceSplit {
 public:
  virtual ~SourceSplit() = default;
  // Unique within the source.
  virtual std::string split_id() const = 0;
  // Human-readable position, for errors and logs: "words.txt bytes [0, 4096) at 1024".
  virtual std::string describe() const = 0;
  virtual std::unique_ptr<SourceSplit> clone() const = 0;
};

using SplitList = std::vector<std::unique_ptr<SourceSplit>>;

// What the enumerator may do. Thread-safe; calls take effect as messages to the readers.
class SplitEnumeratorContext {
 public:
  virtual ~SplitEnumeratorContext() = default;
  virtual int parallelism() const = 0;
  virtual void assign_split(int subtask, std::unique_ptr<SourceSplit> split) = 0;
  virtual void signal_no_more_splits(int subtask) = 0;
};

// Decides which reader reads which split. Its methods are never called concurrently.
class SplitEnumerator {
 public:
  virtual ~SplitEnumerator() = default;
  virtual void start() {}
  virtual void add_reader(int subtask) {}
  // Reader `subtask` asked for work: assign it a split or signal that none remain.
  virtual void handle_split_request(int subtask) = 0;
  // Splits handed out but not finished come back (the reader failed).
  virtual void add_splits_back(SplitList splits, int subtask) = 0;
  // For checkpoints: the splits not yet handed out. A checkpoint stores them with the
  // readers' splits; a restore gives them to SourceBase::restore_enumerator().
  virtual SplitList snapshot_state() {
    throw Error("this source's split enumerator does not support checkpoints (implement snapshot_state)");
  }
};

// What a reader may do; only used from the reader's task thread.
class SourceReaderContext {
 public:
  virtual ~SourceReaderContext() = default;
  virtual const RuntimeContext& runtime() const = 0;
  // Ask the enumerator for a split; it arrives through SourceReader::add_splits().
  virtual void send_split_request() = 0;
  // After poll_next() returned kNothingAvailable, poll again after `delay` even if
  // nothing else wakes the task (rate limits, polling external systems).
  virtual void poll_again_after(std::chrono::nanoseconds delay) = 0;
};

enum class InputStatus {
  kMoreAvailable,     // call poll_next() again soon
  kNothingAvailable,  // nothing now; poll again after new splits, or the delay asked for
  kEndOfInput,        // this reader is done for good
};

template <class T>
class SourceOutput;

namespace internal {
// Not API: what a SourceOutput defers to when the source has a WatermarkStrategy
// (internal/watermarks.h): timestamps, per-split watermark generators and idleness.
template <class T>
class SourceWatermarkHooks {
 public:
  virtual ~SourceWatermarkHooks() = default;
  virtual void collect(int split, T&& value, Timestamp timestamp) = 0;
  virtual void emit_watermark(int split, Timestamp watermark) = 0;
  virtual void mark_idle(int split) = 0;
  virtual SourceOutput<T>& split_output(const std::string& split_id) = 0;
  virtual void release_split(const std::string& split_id) = 0;
};
}  // namespace internal

// What a reader emits records into. With a WatermarkStrategy on the source, records get
// their timestamps from its assigner and watermarks from its generator; a reader that
// reads several splits at once emits each split's records through for_split(id), so
// watermarks are generated per split and combined by minimum (as Flink's split-aware
// sources do).
template <class T>
class SourceOutput {
 public:
  explicit SourceOutput(Output<T>& output, internal::SourceWatermarkHooks<T>* hooks = nullptr, int split = 0)
      : output_(output), hooks_(hooks), split_(split) {}

  void collect(T value, Timestamp timestamp = kNoTimestamp) {
    if (hooks_ == nullptr) {
      output_.emit(std::move(value), timestamp);
    } else {
      hooks_->collect(split_, std::move(value), timestamp);
    }
  }
  // For sources that know their event-time progress themselves (and for tests that drive
  // watermarks by hand).
  void emit_watermark(Timestamp watermark) {
    if (hooks_ == nullptr) {
      output_.emit_watermark(watermark);
    } else {
      hooks_->emit_watermark(split_, watermark);
    }
  }
  // This output will not emit for a while; downstream watermarks need not wait for it.
  void mark_idle() {
    if (hooks_ == nullptr) {
      output_.emit_watermark_status(true);
    } else {
      hooks_->mark_idle(split_);
    }
  }
  // The output for the records of split `split_id` (this output when the source has no
  // WatermarkStrategy). Valid until release_split(split_id).
  SourceOutput& for_split(const std::string& split_id) {
    return hooks_ == nullptr ? *this : hooks_->split_output(split_id);
  }
  // The split is finished: its watermark no longer holds the others back.
  void release_split(const std::string& split_id) {
    if (hooks_ != nullptr) hooks_->release_split(split_id);
  }

 private:
  Output<T>& output_;
  internal::SourceWatermarkHooks<T>* hooks_;
  int split_;
};

template <class T>
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void start() {}
  // Emits what is ready, at most about one batch (~1000 records), and never blocks: the
  // task polls again, between handling its mailbox and cancellation.
  virtual InputStatus poll_next(SourceOutput<T>& output) = 0;
  virtual void add_splits(SplitList splits) = 0;
  virtual void notify_no_more_splits() = 0;
  // The splits this reader owns, with their current positions.
  virtual SplitList snapshot_state() = 0;
  virtual void close() {}
};

class SourceBase {
 public:
  virtual ~SourceBase() = default;
  virtual bool bounded() const = 0;
  // Some sources cannot run in parallel (a collection); they say so here.
  virtual std::optional<int> max_source_parallelism() const { return std::nullopt; }
  virtual std::unique_ptr<SplitEnumerator> create_enumerator(SplitEnumeratorContext& context) const = 0;

  // Checkpoint support (Flink's split serializer and restoreEnumerator). A source whose
  // positions are to survive failures implements all three; the defaults throw, and a
  // checkpoint of a job with such a source fails, naming it.
  //
  // The bytes must carry their own version, so a newer build reads what an older wrote.
  virtual std::string serialize_split(const SourceSplit& split) const;
  virtual std::unique_ptr<SourceSplit> deserialize_split(std::string_view bytes) const;
  // An enumerator that goes on from a checkpoint: `unassigned` are the splits no reader
  // had; readers get their own splits back directly. The default hands out `unassigned`
  // in order (a StaticSplitEnumerator).
  virtual std::unique_ptr<SplitEnumerator> restore_enumerator(SplitEnumeratorContext& context,
                                                              SplitList unassigned) const;
};

template <class T>
class Source : public SourceBase {
 public:
  using value_type = T;
  virtual std::unique_ptr<SourceReader<T>> create_reader(SourceReaderContext& context) const = 0;
};

// Hands out a fixed list of splits, one per request, in order; then signals that no
// more remain. Splits that come back are handed out after the others.
class StaticSplitEnumerator : public SplitEnumerator {
 public:
  StaticSplitEnumerator(SplitEnumeratorContext& context, SplitList splits)
      : context_(context), splits_(std::move(splits)) {}

  void handle_split_request(int subtask) override {
    if (next_ < splits_.size()) {
      context_.assign_split(subtask, std::move(splits_[next_++]));
    } else {
      context_.signal_no_more_splits(subtask);
    }
  }
  void add_splits_back(SplitList splits, int) override {
    for (auto& split : splits) splits_.push_back(std::move(split));
  }
  SplitList snapshot_state() override {
    SplitList remaining;
    for (size_t i = next_; i < splits_.size(); ++i) remaining.push_back(splits_[i]->clone());
    return remaining;
  }

 private:
  SplitEnumeratorContext& context_;
  SplitList splits_;
  size_t next_ = 0;
};

// A reader for sources whose splits are processed one after another: asks for a split,
// reads it to its end through read_split(), asks for the next, and ends when the
// enumerator has no more. Subclasses implement read_split() over their own split type.
template <class T, class SplitT>
class SequentialSplitReader : public SourceReader<T> {
 public:
  explicit SequentialSplitReader(SourceReaderContext& context) : context_(context) {}

  void start() override { request(); }

  InputStatus poll_next(SourceOutput<T>& output) override {
    if (current_ == nullptr) {
      if (!queue_.empty()) {
        current_.reset(static_cast<SplitT*>(queue_.front().release()));
        queue_.erase(queue_.begin());
      } else if (no_more_splits_) {
        return InputStatus::kEndOfInput;
      } else {
        request();
        return InputStatus::kNothingAvailable;
      }
    }
    if (!read_split(*current_, output.for_split(current_->split_id()))) {
      output.release_split(current_->split_id());
      current_.reset();
      if (queue_.empty() && !no_more_splits_) request();
    }
    return InputStatus::kMoreAvailable;
  }

  void add_splits(SplitList splits) override {
    requested_ = false;
    for (auto& split : splits) queue_.push_back(std::move(split));
  }
  void notify_no_more_splits() override { no_more_splits_ = true; }

  SplitList snapshot_state() override {
    SplitList splits;
    if (current_ != nullptr) splits.push_back(current_->clone());
    for (const auto& split : queue_) splits.push_back(split->clone());
    return splits;
  }

 protected:
  // Emits up to about one batch from `split`, advancing its position. Returns false when
  // the split is exhausted.
  virtual bool read_split(SplitT& split, SourceOutput<T>& output) = 0;
  SourceReaderContext& context() { return context_; }

 private:
  void request() {
    if (requested_) return;
    requested_ = true;
    context_.send_split_request();
  }

  SourceReaderContext& context_;
  std::unique_ptr<SplitT> current_;
  SplitList queue_;
  bool no_more_splits_ = false;
  bool requested_ = false;
};

}  // namespace eddy
