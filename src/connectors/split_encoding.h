// Not API: what the built-in sources' split encodings share. Every encoding starts with a
// version varint; errors name the source and say that a split could not be restored.
#pragma once

#include <cstdint>
#include <string>

#include "eddy/serializer.h"

namespace eddy::sources::internal {

// SerializationError("<what>malformed bytes: <cause>"), `what` ending in ": ".
inline SerializationError malformed_split(const std::string& what, const SerializationError& cause) {
  return SerializationError(what + "malformed bytes: " + cause.what());
}

// Reads the leading version and throws unless it is `expected`.
inline void read_split_version(ByteReader& reader, uint64_t expected, const std::string& what) {
  uint64_t version = 0;
  try {
    version = reader.read_varint();
  } catch (const SerializationError& e) {
    throw malformed_split(what, e);
  }
  if (version != expected) {
    throw SerializationError(what + "unknown split version " + std::to_string(version) +
                             " (this build reads version " + std::to_string(expected) + ")");
  }
}

// A varint field of at most `max`, as int64; `name` goes into the error.
inline int64_t read_split_field(ByteReader& reader, const char* name, uint64_t max) {
  size_t at = reader.position();
  uint64_t value = reader.read_varint();
  if (value > max) reader.fail(std::string(name) + " " + std::to_string(value) + " is out of range", at);
  return static_cast<int64_t>(value);
}

}  // namespace eddy::sources::internal
