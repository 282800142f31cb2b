// Not API: the Nexmark source's splits and their checkpoint form.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "eddy/source.h"

namespace eddy::nexmark::internal {

// Split `index` of `count` emits the event numbers index, index + count, index + 2 * count,
// ... below the config's events; `next` is the next one to emit (its position).
class NexmarkSplit final : public SourceSplit {
 public:
  NexmarkSplit(int index, int count, int64_t next) : index_(index), count_(count), next_(next) {}
  std::string split_id() const override;
  std::string describe() const override;
  std::unique_ptr<SourceSplit> clone() const override {
    return std::make_unique<NexmarkSplit>(*this);
  }

  int index() const { return index_; }
  int count() const { return count_; }
  int64_t next() const { return next_; }
  void advance_to(int64_t next) { next_ = next; }

 private:
  int index_;
  int count_;
  int64_t next_;
};

// A version varint (1), then the index, the count and the position as varints.
std::string serialize_split(const SourceSplit& split);
// Throws SerializationError, starting "nexmark source: cannot restore a split from the
// checkpoint: ", for an unknown version, malformed bytes, or a split that cannot exist (an
// index not below the count, a position that is not one of the split's events).
std::unique_ptr<NexmarkSplit> deserialize_split(std::string_view bytes);

}  // namespace eddy::nexmark::internal
