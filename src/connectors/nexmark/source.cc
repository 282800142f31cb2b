// The Nexmark source: splits that interleave the event numbers, a reader that reads its
// splits round-robin, and the event streams built on it.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/nexmark/source_splits.h"
#include "connectors/split_encoding.h"
#include "eddy/data_stream.h"
#include "eddy/environment.h"
#include "eddy/nexmark.h"
#include "eddy/serializer.h"
#include "eddy/watermark.h"

namespace eddy::nexmark {

namespace internal {

std::string NexmarkSplit::split_id() const { return "nexmark-" + std::to_string(index_); }

std::string NexmarkSplit::describe() const {
  return "nexmark split " + std::to_string(index_) + " of " + std::to_string(count_) +
         " at event " + std::to_string(next_);
}

namespace {

constexpr uint64_t kSplitVersion = 1;
constexpr std::string_view kWhat = "nexmark source: cannot restore a split from the checkpoint: ";

}  // namespace

std::string serialize_split(const SourceSplit& split) {
  const auto* nexmark = dynamic_cast<const NexmarkSplit*>(&split);
  if (nexmark == nullptr) {
    throw Error("nexmark source: cannot checkpoint split '" + split.split_id() +
                "': it is not one of this source's splits");
  }
  ByteWriter writer;
  writer.write_varint(kSplitVersion);
  writer.write_varint(static_cast<uint64_t>(nexmark->index()));
  writer.write_varint(static_cast<uint64_t>(nexmark->count()));
  writer.write_varint(static_cast<uint64_t>(nexmark->next()));
  return writer.take();
}

std::unique_ptr<NexmarkSplit> deserialize_split(std::string_view bytes) {
  std::string what(kWhat);
  ByteReader reader(bytes);
  sources::internal::read_split_version(reader, kSplitVersion, what);
  int64_t index = 0;
  int64_t count = 0;
  int64_t next = 0;
  try {
    constexpr auto kMaxInt = static_cast<uint64_t>(std::numeric_limits<int>::max());
    constexpr auto kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    index = sources::internal::read_split_field(reader, "split index", kMaxInt);
    count = sources::internal::read_split_field(reader, "split count", kMaxInt);
    next = sources::internal::read_split_field(reader, "position", kMaxInt64);
    if (!reader.at_end()) reader.fail("unexpected bytes after the split", reader.position());
  } catch (const SerializationError& e) {
    throw sources::internal::malformed_split(what, e);
  }
  if (count < 1 || index >= count) {
    throw SerializationError(what + "split index " + std::to_string(index) +
                             " is not below the split count " + std::to_string(count) +
                             " (corrupt bytes)");
  }
  if (next < index || (next - index) % count != 0) {
    throw SerializationError(what + "position " + std::to_string(next) +
                             " is not an event of split " + std::to_string(index) + " of " +
                             std::to_string(count) + " (events " + std::to_string(index) +
                             " + k * " + std::to_string(count) + "; corrupt bytes)");
  }
  return std::make_unique<NexmarkSplit>(static_cast<int>(index), static_cast<int>(count), next);
}

}  // namespace internal

namespace {

using internal::NexmarkSplit;

// Hands split k to subtask k mod parallelism, all at once on the subtask's first request,
// then tells it that no more will come. At the start there is one split per subtask; after
// a restore, the splits no reader had go the same way.
class NexmarkEnumerator final : public SplitEnumerator {
 public:
  NexmarkEnumerator(SplitEnumeratorContext& context, SplitList splits)
      : context_(context), pending_(std::move(splits)) {}

  void handle_split_request(int subtask) override {
    SplitList keep;
    for (auto& split : pending_) {
      int index = static_cast<const NexmarkSplit&>(*split).index();
      if (index % context_.parallelism() == subtask) {
        context_.assign_split(subtask, std::move(split));
      } else {
        keep.push_back(std::move(split));
      }
    }
    pending_ = std::move(keep);
    context_.signal_no_more_splits(subtask);
  }
  void add_splits_back(SplitList splits, int) override {
    for (auto& split : splits) pending_.push_back(std::move(split));
  }
  SplitList snapshot_state() override {
    SplitList splits;
    for (const auto& split : pending_) splits.push_back(split->clone());
    return splits;
  }

 private:
  SplitEnumeratorContext& context_;
  SplitList pending_;
};

// Reads its splits round-robin, a batch from each in turn (an endless split must not starve
// the others), each through its own output so that watermarks are per split. Positions
// advance as events are emitted, so snapshot_state() between polls is exact.
class NexmarkReader final : public SourceReader<Event> {
 public:
  NexmarkReader(SourceReaderContext& context, Generator generator, double rate)
      : context_(context), generator_(std::move(generator)), rate_(rate) {}

  void start() override { context_.send_split_request(); }

  InputStatus poll_next(SourceOutput<Event>& output) override {
    if (splits_.empty())
      return no_more_splits_ ? InputStatus::kEndOfInput : InputStatus::kNothingAvailable;
    int64_t budget = kBatch;
    if (rate_ > 0) {
      auto now = std::chrono::steady_clock::now();
      if (emitted_ == 0) started_ = now;
      // One event at the start, then `rate_` per second.
      double allowed = std::chrono::duration<double>(now - started_).count() * rate_ + 1;
      auto whole = static_cast<int64_t>(std::min(allowed, 9e18));
      if (emitted_ >= whole) {
        double wait_s = (static_cast<double>(emitted_ + 1) - allowed) / rate_;
        context_.poll_again_after(
            std::chrono::nanoseconds(static_cast<int64_t>(std::min(wait_s, 1e9) * 1e9) + 1));
        return InputStatus::kNothingAvailable;
      }
      budget = std::min<int64_t>(budget, whole - emitted_);
    }

    if (cursor_ >= splits_.size()) cursor_ = 0;
    NexmarkSplit& split = *splits_[cursor_];
    const int64_t end = generator_.config().events;
    const int64_t stride = split.count();
    SourceOutput<Event>& out = output.for_split(split.split_id());
    int64_t n = split.next();
    const int64_t emitted_before = emitted_;
    bool exhausted = false;
    for (int64_t i = 0; i < budget; ++i) {
      if (n >= end) {
        exhausted = true;
        break;
      }
      Event event = generator_.event(n);
      Timestamp timestamp = event.timestamp();
      out.collect(std::move(event), timestamp);
      ++emitted_;
      if (n > std::numeric_limits<int64_t>::max() - stride) {
        exhausted = true;  // the next event number does not exist
        break;
      }
      n += stride;
    }
    split.advance_to(n);
    if (const auto& counter = generator_.config().emitted_events) {
      counter->fetch_add(emitted_ - emitted_before, std::memory_order_relaxed);
    }
    if (exhausted || n >= end) {
      output.release_split(split.split_id());
      splits_.erase(splits_.begin() + static_cast<std::ptrdiff_t>(cursor_));
    } else {
      ++cursor_;
    }
    if (splits_.empty() && no_more_splits_) return InputStatus::kEndOfInput;
    return InputStatus::kMoreAvailable;
  }

  void add_splits(SplitList splits) override {
    for (auto& split : splits) {
      splits_.emplace_back(static_cast<NexmarkSplit*>(split.release()));
    }
  }
  void notify_no_more_splits() override { no_more_splits_ = true; }

  SplitList snapshot_state() override {
    SplitList splits;
    for (const auto& split : splits_) splits.push_back(split->clone());
    return splits;
  }

 private:
  static constexpr int64_t kBatch = 1024;

  SourceReaderContext& context_;
  Generator generator_;
  double rate_;  // events per wall-clock second for this reader; 0 = unlimited
  std::vector<std::unique_ptr<NexmarkSplit>> splits_;
  size_t cursor_ = 0;
  bool no_more_splits_ = false;
  int64_t emitted_ = 0;
  std::chrono::steady_clock::time_point started_;
};

class NexmarkSource final : public Source<Event> {
 public:
  explicit NexmarkSource(const GeneratorConfig& config) : generator_(config) {}

  bool bounded() const override {
    return generator_.config().events != GeneratorConfig::kUnboundedEvents;
  }

  std::unique_ptr<SplitEnumerator> create_enumerator(
      SplitEnumeratorContext& context) const override {
    int count = std::max(context.parallelism(), 1);
    SplitList splits;
    for (int k = 0; k < count; ++k) splits.push_back(std::make_unique<NexmarkSplit>(k, count, k));
    return std::make_unique<NexmarkEnumerator>(context, std::move(splits));
  }
  std::unique_ptr<SplitEnumerator> restore_enumerator(SplitEnumeratorContext& context,
                                                      SplitList unassigned) const override {
    return std::make_unique<NexmarkEnumerator>(context, std::move(unassigned));
  }

  std::string serialize_split(const SourceSplit& split) const override {
    return internal::serialize_split(split);
  }
  std::unique_ptr<SourceSplit> deserialize_split(std::string_view bytes) const override {
    return internal::deserialize_split(bytes);
  }

  std::unique_ptr<SourceReader<Event>> create_reader(SourceReaderContext& context) const override {
    double rate = 0;
    if (generator_.config().rate_limited) {
      rate = generator_.config().events_per_second / std::max(context.runtime().parallelism(), 1);
    }
    return std::make_unique<NexmarkReader>(context, generator_, rate);
  }

 private:
  Generator generator_;
};

}  // namespace

std::shared_ptr<const Source<Event>> source(const GeneratorConfig& config) {
  return std::make_shared<NexmarkSource>(config);
}

DataStream<Event> events(StreamEnvironment& env, const GeneratorConfig& config) {
  // The source gives every event its date_time as timestamp; the strategy adds watermarks.
  auto strategy = WatermarkStrategy<Event>::for_bounded_out_of_orderness(
      std::chrono::milliseconds(config.watermark_delay_ms));
  return env.from_source(source(config), std::move(strategy), "nexmark");
}

DataStream<Person> persons(const DataStream<Event>& events) {
  DataStream<Event> stream = events;
  return stream
      .flat_map([](Event&& event, Collector<Person>& out) {
        if (event.is_person()) out.collect(std::move(event.person()));
      })
      .name("persons");
}

DataStream<Auction> auctions(const DataStream<Event>& events) {
  DataStream<Event> stream = events;
  return stream
      .flat_map([](Event&& event, Collector<Auction>& out) {
        if (event.is_auction()) out.collect(std::move(event.auction()));
      })
      .name("auctions");
}

DataStream<Bid> bids(const DataStream<Event>& events) {
  DataStream<Event> stream = events;
  return stream
      .flat_map([](Event&& event, Collector<Bid>& out) {
        if (event.is_bid()) out.collect(std::move(event.bid()));
      })
      .name("bids");
}

}  // namespace eddy::nexmark
