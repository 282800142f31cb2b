#include "eddy/serializer.h"

#include <cstdio>
#include <string>

namespace eddy {

namespace {

std::string where(size_t offset, size_t size) {
  return " at offset " + std::to_string(offset) + " of " + std::to_string(size);
}

std::string bytes_word(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

}  // namespace

void ByteReader::fail(std::string_view message, size_t offset) const {
  throw SerializationError(std::string(message) + where(offset, size_));
}

void ByteReader::throw_truncated(uint64_t needed, const char* what) const {
  throw SerializationError("truncated input: needed " + bytes_word(needed) + " for " + what +
                           where(pos_, size_));
}

void ByteReader::throw_count_too_large(uint64_t count, size_t min_bytes, const char* what) const {
  // count * min_bytes may overflow: say "at least <count> bytes" per byte of minimum size.
  std::string needed =
      min_bytes == 1 ? bytes_word(count) : std::to_string(count) + " x " + bytes_word(min_bytes);
  throw SerializationError("truncated input: needed at least " + needed + " for " +
                           std::to_string(count) + " " + what + " elements" + where(pos_, size_));
}

uint64_t ByteReader::read_varint_slow() {
  size_t start = pos_;
  uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    if (pos_ >= size_) {
      throw SerializationError("truncated input: varint" + where(start, size_) +
                               " continues past the end");
    }
    auto byte = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 63 && byte > 1) {
      throw SerializationError("malformed varint" + where(start, size_) + ": more than 64 bits");
    }
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) return value;
  }
}

namespace internal {

void throw_invalid_flag(const ByteReader& r, size_t offset, uint8_t byte, const char* what) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", byte);
  r.fail(std::string("invalid ") + what + ": byte " + hex + " is neither 0 nor 1", offset);
}

void throw_duplicate(const ByteReader& r, size_t offset, const char* what) {
  r.fail(std::string("corrupt input: duplicate ") + what + " element", offset);
}

void throw_too_many_fields(const ByteReader& r, size_t offset, uint64_t written, size_t known) {
  throw SerializationError("struct" + where(offset, r.size()) + " was written with " +
                           std::to_string(written) + " fields, this type has " +
                           std::to_string(known) +
                           ": fields can only be appended, never removed (is this state from "
                           "a newer release?)");
}

void throw_trailing_bytes(const ByteReader& r) {
  throw SerializationError("trailing bytes: " + bytes_word(r.remaining()) + " after the value" +
                           where(r.position(), r.size()));
}

}  // namespace internal
}  // namespace eddy
