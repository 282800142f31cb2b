#include <limits>
#include <string>

#include "eddy/serializer.h"
#include "eddy/sources.h"
#include "connectors/split_encoding.h"

namespace eddy::sources {

namespace {

constexpr uint64_t kNumberRangeSplitVersion = 1;

std::string prefix(std::string_view source_kind) { return std::string(source_kind) + ": "; }

}  // namespace

std::string NumberRangeSplit::describe() const {
  return "generator range " + std::to_string(index_) + " at index " + std::to_string(next_) +
         " of [.., " + std::to_string(end_) + ")";
}

SplitList split_number_range(int64_t count, int num_splits) {
  SplitList splits;
  if (num_splits < 1) num_splits = 1;
  for (int i = 0; i < num_splits; ++i) {
    // Evenly sized ranges; computed without overflow for count up to INT64_MAX.
    auto bound = [&](int k) {
      __int128 b = static_cast<__int128>(count) * k / num_splits;
      return static_cast<int64_t>(b);
    };
    int64_t from = bound(i);
    int64_t to = bound(i + 1);
    if (to > from) splits.push_back(std::make_unique<NumberRangeSplit>(i, from, to));
  }
  return splits;
}

std::string serialize_number_range_split(const SourceSplit& split, std::string_view source_kind) {
  const auto* range = dynamic_cast<const NumberRangeSplit*>(&split);
  if (range == nullptr) {
    throw Error(prefix(source_kind) + "cannot checkpoint split '" + split.split_id() +
                "': it is not one of this source's splits");
  }
  ByteWriter writer;
  writer.write_varint(kNumberRangeSplitVersion);
  writer.write_varint(static_cast<uint64_t>(range->index()));
  writer.write_varint(static_cast<uint64_t>(range->next()));
  writer.write_varint(static_cast<uint64_t>(range->end()));
  return writer.take();
}

std::unique_ptr<NumberRangeSplit> deserialize_number_range_split(std::string_view bytes,
                                                                 int64_t count,
                                                                 std::string_view source_kind) {
  std::string what = prefix(source_kind) + "cannot restore a split from the checkpoint: ";
  ByteReader reader(bytes);
  internal::read_split_version(reader, kNumberRangeSplitVersion, what);
  int64_t index = 0;
  int64_t next = 0;
  int64_t end = 0;
  try {
    auto read_int = [&](const char* name, uint64_t max) { return internal::read_split_field(reader, name, max); };
    constexpr auto kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    index = read_int("split index", static_cast<uint64_t>(std::numeric_limits<int>::max()));
    next = read_int("position", kMaxInt64);
    end = read_int("end", kMaxInt64);
    if (!reader.at_end()) reader.fail("unexpected bytes after the split", reader.position());
  } catch (const SerializationError& e) {
    throw internal::malformed_split(what, e);
  }
  if (next > end) {
    throw SerializationError(what + "position " + std::to_string(next) +
                             " is past the range's end " + std::to_string(end) +
                             " (corrupt bytes)");
  }
  if (end > count) {
    throw SerializationError(what + "split range-" + std::to_string(index) + " ends at index " +
                             std::to_string(end) + ", but the source now has only " +
                             std::to_string(count) +
                             " records (did its input change since the checkpoint?)");
  }
  return std::make_unique<NumberRangeSplit>(static_cast<int>(index), next, end);
}

}  // namespace eddy::sources
