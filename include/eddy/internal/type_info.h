// Not API: the typed plumbing the runtime builds tasks from. The planner and the runtime
// are not templates; everything that must know a record's type is reached through the
// TypeInfo of the stream, created where the type is known (the DataStream API).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/internal/channel_message.h"
#include "eddy/internal/partitioning.h"

namespace eddy::internal {

std::string demangle(const char* mangled_name);

[[noreturn]] void throw_operator_failure(const OperatorBase& op, const char* cause);

// Runs `f` (which calls into `op`); an exception escaping it fails the task with an error
// naming `op`. Failures already attributed to an operator further down pass unchanged.
template <class F>
inline void run_attributed(const OperatorBase& op, F&& f) {
  try {
    f();
  } catch (const TaskFailure&) {
    throw;
  } catch (const TaskCancelled&) {
    throw;
  } catch (const std::exception& e) {
    throw_operator_failure(op, e.what());
  } catch (...) {
    throw_operator_failure(op, "unknown exception (not derived from std::exception)");
  }
}

// The task-level handle on a network output.
class NetworkOutputBase {
 public:
  virtual ~NetworkOutputBase() = default;
  virtual bool has_pending() const = 0;
  // Sends partly filled batches.
  virtual void flush() = 0;
  // Flushes, then tells every channel that no more records come.
  virtual void end_of_partition() = 0;
  // Flushes, then sends the barrier into every channel, behind the records before it.
  virtual void send_barrier(const CheckpointBarrier& barrier) = 0;
};

// Reads batches of one input channel into an operator input.
class BatchConsumerBase {
 public:
  virtual ~BatchConsumerBase() = default;
  virtual void consume(BatchBase& batch) = 0;
  virtual void watermark(Timestamp watermark) = 0;
  virtual void watermark_status(bool idle) = 0;
  // Unaligned checkpoints: appends the batch's records (and timestamps) to `out` before
  // they are consumed, and later feeds such bytes back in on restore. Throw Error when the
  // record type has no Serializer.
  virtual void append_in_flight(const BatchBase& batch, std::string& out) const = 0;
  virtual void replay_in_flight(std::string_view bytes) = 0;
};

struct NetworkOutputOptions {
  size_t batch_bytes = 16 * 1024;
  int producer_subtask = 0;
  int consumer_max_parallelism = 128;
  int consumer_parallelism = 1;
};

class TypeInfo {
 public:
  virtual ~TypeInfo() = default;
  virtual std::string name() const = 0;
  virtual bool copyable() const = 0;

  // Calls `next` (input `input_index`) directly. Counts into `out_counter` unless null.
  virtual std::unique_ptr<OutputBase> make_chained_output(OperatorBase& next, int input_index,
                                                          uint64_t* out_counter) const = 0;
  // Sends each record to all `children` (copies for all but the last), and watermarks to
  // them and to `watermark_only` (side outputs, which get their records elsewhere).
  virtual std::unique_ptr<OutputBase> make_fan_out(std::vector<OutputBase*> children, uint64_t* out_counter,
                                                   std::vector<OutputBase*> watermark_only) const = 0;
  // Batches records per channel and routes them by `spec`. `channels` are this producer's
  // channels of the edge, in consumer-subtask order. `*handle` receives the task-level view.
  virtual std::unique_ptr<OutputBase> make_network_output(const PartitionSpec& spec,
                                                          std::vector<ChannelWriter*> channels,
                                                          const NetworkOutputOptions& options,
                                                          uint64_t* out_counter,
                                                          NetworkOutputBase** handle) const = 0;
  virtual std::unique_ptr<BatchConsumerBase> make_batch_consumer(OperatorBase& head,
                                                                 int input_index) const = 0;
};

template <class T>
class ChainedOutput final : public Output<T> {
 public:
  ChainedOutput(OperatorBase& next, int input_index, uint64_t* out_counter)
      : next_op_(next),
        next_(static_cast<Input<T>&>(next.input(input_index))),
        input_index_(input_index),
        out_counter_(out_counter) {}

  void emit(T&& value, Timestamp timestamp) override {
    if (out_counter_ != nullptr) ++*out_counter_;
    ++next_op_.metrics().records_in;
    run_attributed(next_op_, [&] { next_.process(std::move(value), timestamp); });
  }
  void emit_watermark(Timestamp watermark) override {
    run_attributed(next_op_, [&] { next_op_.process_watermark(watermark, input_index_); });
  }
  void emit_watermark_status(bool idle) override {
    run_attributed(next_op_, [&] { next_op_.process_watermark_status(idle, input_index_); });
  }

 private:
  OperatorBase& next_op_;
  Input<T>& next_;
  int input_index_;
  uint64_t* out_counter_;
};

template <class T>
class FanOutOutput final : public Output<T> {
 public:
  FanOutOutput(std::vector<OutputBase*> children, uint64_t* out_counter, std::vector<OutputBase*> watermark_only)
      : watermark_only_(std::move(watermark_only)), out_counter_(out_counter) {
    for (OutputBase* child : children) children_.push_back(static_cast<Output<T>*>(child));
  }
  void emit(T&& value, Timestamp timestamp) override {
    if (out_counter_ != nullptr) ++*out_counter_;
    if (children_.empty()) return;
    if constexpr (std::is_copy_constructible_v<T>) {
      for (size_t i = 0; i + 1 < children_.size(); ++i) {
        T copy(value);
        children_[i]->emit(std::move(copy), timestamp);
      }
    }
    children_.back()->emit(std::move(value), timestamp);
  }
  void emit_watermark(Timestamp watermark) override {
    for (Output<T>* child : children_) child->emit_watermark(watermark);
    for (OutputBase* other : watermark_only_) other->emit_watermark(watermark);
  }
  void emit_watermark_status(bool idle) override {
    for (Output<T>* child : children_) child->emit_watermark_status(idle);
    for (OutputBase* other : watermark_only_) other->emit_watermark_status(idle);
  }

 private:
  std::vector<Output<T>*> children_;
  std::vector<OutputBase*> watermark_only_;
  uint64_t* out_counter_;
};

template <class T>
class NetworkOutput final : public Output<T>, public NetworkOutputBase {
 public:
  NetworkOutput(const PartitionSpec& spec, std::vector<ChannelWriter*> channels,
                const NetworkOutputOptions& options, uint64_t* out_counter)
      : kind_(spec.kind),
        channels_(std::move(channels)),
        pending_(channels_.size()),
        out_counter_(out_counter) {
    batch_records_ = std::clamp<size_t>(options.batch_bytes / std::max<size_t>(sizeof(T), 16), 1,
                                        4096);
    if (routes_by_record(kind_)) {
      router_ = static_cast<const RouterFactory<T>&>(*spec.router)
                    .create(options.consumer_max_parallelism, options.consumer_parallelism);
    }
    next_channel_ = static_cast<size_t>(options.producer_subtask) % channels_.size();
    rng_ = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(options.producer_subtask + 1);
  }

  void emit(T&& value, Timestamp timestamp) override {
    if (out_counter_ != nullptr) ++*out_counter_;
    const size_t n = channels_.size();
    switch (kind_) {
      case PartitionKind::kHash:
      case PartitionKind::kCustom:
        append(static_cast<size_t>(router_->route(value)), std::move(value), timestamp);
        return;
      case PartitionKind::kBroadcast:
        if constexpr (std::is_copy_constructible_v<T>) {
          for (size_t i = 0; i + 1 < n; ++i) append(i, T(value), timestamp);
        }
        append(n - 1, std::move(value), timestamp);
        return;
      case PartitionKind::kShuffle: {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        append(static_cast<size_t>(rng_ % n), std::move(value), timestamp);
        return;
      }
      default: {  // forward, rebalance, rescale: round robin over this producer's channels
        size_t i = next_channel_;
        if (++next_channel_ == n) next_channel_ = 0;
        append(i, std::move(value), timestamp);
        return;
      }
    }
  }

  void emit_watermark(Timestamp watermark) override {
    flush();
    for (ChannelWriter* channel : channels_) {
      ChannelMessage message;
      message.kind = ChannelMessage::Kind::kWatermark;
      message.watermark = watermark;
      channel->write(std::move(message));
    }
  }

  void emit_watermark_status(bool idle) override {
    flush();
    for (ChannelWriter* channel : channels_) {
      ChannelMessage message;
      message.kind = ChannelMessage::Kind::kWatermarkStatus;
      message.idle = idle;
      channel->write(std::move(message));
    }
  }

  bool has_pending() const override { return pending_count_ > 0; }

  void flush() override {
    if (pending_count_ == 0) return;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i] != nullptr && !pending_[i]->values.empty()) send(i);
    }
  }

  void end_of_partition() override {
    flush();
    for (ChannelWriter* channel : channels_) {
      ChannelMessage message;
      message.kind = ChannelMessage::Kind::kEndOfPartition;
      channel->write(std::move(message));
    }
  }

  void send_barrier(const CheckpointBarrier& barrier) override {
    flush();
    for (ChannelWriter* channel : channels_) {
      ChannelMessage message;
      message.kind = ChannelMessage::Kind::kBarrier;
      message.barrier = barrier;
      channel->write(std::move(message));
    }
  }

 private:
  void append(size_t channel, T&& value, Timestamp timestamp) {
    std::unique_ptr<Batch<T>>& batch = pending_[channel];
    if (batch == nullptr) {
      batch = std::make_unique<Batch<T>>();
      batch->values.reserve(batch_records_);
      batch->timestamps.reserve(batch_records_);
    }
    if (batch->values.empty()) ++pending_count_;
    batch->values.push_back(std::move(value));
    batch->timestamps.push_back(timestamp);
    if (batch->values.size() >= batch_records_) send(channel);
  }

  void send(size_t channel) {
    ChannelMessage message;
    message.kind = ChannelMessage::Kind::kData;
    message.batch = std::move(pending_[channel]);
    --pending_count_;
    channels_[channel]->write(std::move(message));
  }

  PartitionKind kind_;
  std::vector<ChannelWriter*> channels_;
  std::vector<std::unique_ptr<Batch<T>>> pending_;
  size_t pending_count_ = 0;  // channels with a non-empty pending batch
  size_t batch_records_ = 1;
  std::unique_ptr<RecordRouter<T>> router_;
  size_t next_channel_ = 0;
  uint64_t rng_ = 1;
  uint64_t* out_counter_;
};

template <class T>
class BatchConsumer final : public BatchConsumerBase {
 public:
  BatchConsumer(OperatorBase& head, int input_index)
      : head_(head),
        input_(static_cast<Input<T>&>(head.input(input_index))),
        input_index_(input_index) {}

  void consume(BatchBase& base) override {
    auto& batch = static_cast<Batch<T>&>(base);
    const size_t n = batch.values.size();
    head_.metrics().records_in += n;
    if (!prefetch_known_) {  // asked once, after open()
      prefetch_ = input_.prefetches();
      prefetch_known_ = true;
    }
    run_attributed(head_, [&] {
      if (!prefetch_) {
        for (size_t i = 0; i < n; ++i) input_.process(std::move(batch.values[i]), batch.timestamps[i]);
        return;
      }
      // Keyed state in memory: while processing record i, prefetch record i + kPrefetchDistance's
      // state, so the cache misses of several records overlap instead of each stalling.
      for (size_t i = 0; i < std::min(n, kPrefetchDistance); ++i) input_.prefetch(batch.values[i]);
      for (size_t i = 0; i < n; ++i) {
        if (i + kPrefetchDistance < n) input_.prefetch(batch.values[i + kPrefetchDistance]);
        input_.process(std::move(batch.values[i]), batch.timestamps[i]);
      }
    });
  }
  void watermark(Timestamp watermark) override {
    run_attributed(head_, [&] { head_.process_watermark(watermark, input_index_); });
  }
  void watermark_status(bool idle) override {
    run_attributed(head_, [&] { head_.process_watermark_status(idle, input_index_); });
  }
  void append_in_flight(const BatchBase& base, std::string& out) const override {
    if constexpr (Serializable<T>) {
      const auto& batch = static_cast<const Batch<T>&>(base);
      ByteWriter w(out);
      for (size_t i = 0; i < batch.values.size(); ++i) {
        w.write_signed_varint(batch.timestamps[i]);
        Serializer<T>::write(w, batch.values[i]);
      }
    } else {
      throw Error("unaligned checkpoints store the records in flight, but records of type " + demangle(typeid(T).name()) +
                  " into '" + head_.context().operator_name() +
                  "' have no eddy::Serializer (add EDDY_SERIALIZE(...)), or use aligned checkpoints");
    }
  }
  void replay_in_flight(std::string_view bytes) override {
    if constexpr (Serializable<T>) {
      ByteReader r(bytes);
      while (!r.at_end()) {
        Timestamp timestamp = r.read_signed_varint();
        T value = Serializer<T>::read(r);
        ++head_.metrics().records_in;
        run_attributed(head_, [&] { input_.process(std::move(value), timestamp); });
      }
    } else {
      throw Error("cannot replay records in flight of a type without eddy::Serializer");
    }
  }

 private:
  bool prefetch_known_ = false;
  bool prefetch_ = false;
  OperatorBase& head_;
  Input<T>& input_;
  int input_index_;
};

template <class T>
class TypeInfoImpl final : public TypeInfo {
 public:
  std::string name() const override { return demangle(typeid(T).name()); }
  bool copyable() const override { return std::is_copy_constructible_v<T>; }

  std::unique_ptr<OutputBase> make_chained_output(OperatorBase& next, int input_index,
                                                  uint64_t* out_counter) const override {
    return std::make_unique<ChainedOutput<T>>(next, input_index, out_counter);
  }
  std::unique_ptr<OutputBase> make_fan_out(std::vector<OutputBase*> children, uint64_t* out_counter,
                                           std::vector<OutputBase*> watermark_only) const override {
    return std::make_unique<FanOutOutput<T>>(std::move(children), out_counter, std::move(watermark_only));
  }
  std::unique_ptr<OutputBase> make_network_output(const PartitionSpec& spec,
                                                  std::vector<ChannelWriter*> channels,
                                                  const NetworkOutputOptions& options,
                                                  uint64_t* out_counter,
                                                  NetworkOutputBase** handle) const override {
    auto output = std::make_unique<NetworkOutput<T>>(spec, std::move(channels), options, out_counter);
    *handle = output.get();
    return output;
  }
  std::unique_ptr<BatchConsumerBase> make_batch_consumer(OperatorBase& head,
                                                         int input_index) const override {
    return std::make_unique<BatchConsumer<T>>(head, input_index);
  }
};

template <class T>
std::shared_ptr<const TypeInfo> type_info_of() {
  static const std::shared_ptr<const TypeInfo> info = std::make_shared<TypeInfoImpl<T>>();
  return info;
}

}  // namespace eddy::internal
