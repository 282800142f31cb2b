// Not API: the byte layout of keyed state entries, shared by every backend and by
// snapshots, so a snapshot written by one backend restores into another.
//
// Entry key:   key_group (2 bytes, big endian) | varint(len(key)) | key | varint(len(ns)) | ns
//              [| user key, for MapState: the serialized map key, to the end]
// Entry value: [expiry base: int64 little endian, last access/write time in ms, when the
//              state has a TTL] | Serializer<T> bytes of the value
//              ListState: the elements' encodings back to back, each with its own TTL
//              prefix when the state has a TTL (so appending is concatenation).
// key and ns are the serialized current key and namespace (empty for no namespace).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace eddy::internal::state_encoding {

inline void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at `pos`; false if malformed or truncated.
inline bool read_varint(std::string_view in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    auto byte = static_cast<uint8_t>(in[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Appends key_group | key | ns (without a user key).
inline void compose_key(std::string& out, int key_group, std::string_view key, std::string_view ns) {
  out.push_back(static_cast<char>((key_group >> 8) & 0xff));
  out.push_back(static_cast<char>(key_group & 0xff));
  append_varint(out, key.size());
  out.append(key);
  append_varint(out, ns.size());
  out.append(ns);
}

struct ParsedKey {
  int key_group = 0;
  std::string_view key;
  std::string_view ns;
  std::string_view user_key;  // the rest: MapState's key
};

inline bool parse_key(std::string_view in, ParsedKey& out) {
  if (in.size() < 2) return false;
  out.key_group = (static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]);
  size_t pos = 2;
  uint64_t len = 0;
  if (!read_varint(in, pos, len) || len > in.size() - pos) return false;
  out.key = in.substr(pos, len);
  pos += len;
  if (!read_varint(in, pos, len) || len > in.size() - pos) return false;
  out.ns = in.substr(pos, len);
  pos += len;
  out.user_key = in.substr(pos);
  return true;
}

inline void append_timestamp(std::string& out, int64_t ms) {
  char bytes[8];
  uint64_t v = static_cast<uint64_t>(ms);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(bytes, 8);
}

inline int64_t read_timestamp(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[static_cast<size_t>(i)])) << (8 * i);
  return static_cast<int64_t>(v);
}

}  // namespace eddy::internal::state_encoding
