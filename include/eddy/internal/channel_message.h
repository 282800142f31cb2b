// Not API: what travels between tasks. Records move in typed batches; a channel also
// carries watermarks, checkpoint barriers and the end-of-partition marker, in order with the data.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "eddy/time.h"

namespace eddy::internal {

struct BatchBase {
  virtual ~BatchBase() = default;
  virtual size_t size() const = 0;
};

template <class T>
struct Batch final : BatchBase {
  std::vector<T> values;
  std::vector<Timestamp> timestamps;  // parallel to values
  size_t size() const override { return values.size(); }
};

// Marks, in a channel, the point of checkpoint `checkpoint_id` in the producer's output:
// the records before it are reflected in the checkpoint, those after it are not.
struct CheckpointBarrier {
  int64_t checkpoint_id = 0;
  bool savepoint = false;  // savepoints are always full (never incremental) snapshots
};

struct ChannelMessage {
  enum class Kind : uint8_t { kData, kWatermark, kWatermarkStatus, kBarrier, kEndOfPartition };
  Kind kind = Kind::kData;
  std::unique_ptr<BatchBase> batch;  // kData only
  Timestamp watermark = 0;           // kWatermark only
  bool idle = false;                 // kWatermarkStatus only: the producer went idle / active
  CheckpointBarrier barrier;         // kBarrier only
};

// The sending end of one channel. write() blocks while the channel is full (that is the
// backpressure) and throws TaskCancelled if the job is cancelled while it waits.
class ChannelWriter {
 public:
  virtual ~ChannelWriter() = default;
  virtual void write(ChannelMessage&& message) = 0;
};

}  // namespace eddy::internal
