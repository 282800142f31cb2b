#include "state/heap/heap_snapshot_file.h"

#include <algorithm>

#include "eddy/error.h"
#include "eddy/internal/state_encoding.h"

namespace eddy::state {

namespace enc = internal::state_encoding;

namespace {
constexpr size_t kFlushBytes = 256 << 10;
constexpr char kStateTag = 'S';
constexpr char kEntryTag = 'E';
constexpr char kRemovedTag = 'R';
constexpr char kSlotTag = 'V';
constexpr char kEndTag = 'Z';
}  // namespace

HeapFileWriter::HeapFileWriter(SharedFileSink& out, HeapFileKind kind) : out_(out) {
  buffer_.reserve(kFlushBytes + 4096);
  buffer_.append(kHeapFileMagic);
  for (int i = 0; i < 4; ++i) buffer_.push_back(static_cast<char>((kHeapFileVersion >> (8 * i)) & 0xff));
  buffer_.push_back(static_cast<char>(kind));
}

void HeapFileWriter::bytes(std::string_view b) {
  enc::append_varint(buffer_, b.size());
  buffer_.append(b);
}

void HeapFileWriter::slot_key(int key_group, std::string_view map_key) {
  enc::append_varint(buffer_, map_key.size() + 2);
  buffer_.push_back(static_cast<char>((key_group >> 8) & 0xff));
  buffer_.push_back(static_cast<char>(key_group & 0xff));
  buffer_.append(map_key);
}

void HeapFileWriter::maybe_flush() {
  if (buffer_.size() < kFlushBytes) return;
  out_.append(buffer_);
  buffer_.clear();
}

void HeapFileWriter::begin_state(std::string_view name) {
  buffer_.push_back(kStateTag);
  bytes(name);
  maybe_flush();
}

void HeapFileWriter::raw_entry(std::string_view key, std::string_view value) {
  buffer_.push_back(kEntryTag);
  bytes(key);
  bytes(value);
  maybe_flush();
}

void HeapFileWriter::removed(int key_group, std::string_view map_key) {
  buffer_.push_back(kRemovedTag);
  slot_key(key_group, map_key);
  maybe_flush();
}

void HeapFileWriter::slot(int key_group, std::string_view map_key,
                          const std::vector<std::pair<std::string, std::string>>& parts) {
  buffer_.push_back(kSlotTag);
  slot_key(key_group, map_key);
  enc::append_varint(buffer_, parts.size());
  for (const auto& [suffix, value] : parts) {
    bytes(suffix);
    bytes(value);
  }
  maybe_flush();
}

void HeapFileWriter::finish() {
  buffer_.push_back(kEndTag);
  out_.append(buffer_);
  buffer_.clear();
}

namespace {

// Reads a file's records with every length checked; errors name the file and offset.
class Cursor {
 public:
  Cursor(std::string_view in, const std::string& file) : in_(in), file_(file) {}
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= in_.size(); }
  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw Error("heap checkpoint file '" + file_ + "' is malformed at offset " + std::to_string(at) + ": " + what);
  }
  char byte() {
    if (pos_ >= in_.size()) fail("truncated (no end mark)", pos_);
    return in_[pos_++];
  }
  std::string_view take(size_t n) {
    if (n > in_.size() - pos_) fail("truncated: " + std::to_string(n) + " bytes expected", pos_);
    std::string_view out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t varint() {
    size_t at = pos_;
    uint64_t v = 0;
    if (!enc::read_varint(in_, pos_, v)) fail("malformed length", at);
    return v;
  }
  std::string_view bytes() {
    size_t at = pos_;
    uint64_t n = varint();
    if (n > in_.size() - pos_) fail("a length of " + std::to_string(n) + " runs past the end", at);
    return take(static_cast<size_t>(n));
  }

 private:
  std::string_view in_;
  const std::string& file_;
  size_t pos_ = 0;
};

}  // namespace

void HeapChainReader::apply(std::string_view contents, const std::string& file) {
  Cursor in(contents, file);
  if (in.take(std::min(contents.size(), kHeapFileMagic.size())) != kHeapFileMagic) {
    in.fail("not a heap checkpoint file (wrong magic)", 0);
  }
  std::string_view version_bytes = in.take(4);
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version |= static_cast<uint32_t>(static_cast<uint8_t>(version_bytes[i])) << (8 * i);
  if (version == 0 || version > kHeapFileVersion) {
    in.fail("format version " + std::to_string(version) + " (this build reads up to " +
                std::to_string(kHeapFileVersion) + ")",
            kHeapFileMagic.size());
  }
  const size_t kind_at = in.pos();
  const auto kind = static_cast<uint8_t>(in.byte());
  if (kind == static_cast<uint8_t>(HeapFileKind::kFull)) {
    states_.clear();
    has_full_ = true;
  } else if (kind != static_cast<uint8_t>(HeapFileKind::kDelta)) {
    in.fail("unknown file kind " + std::to_string(kind), kind_at);
  } else if (!has_full_) {
    in.fail("a delta file with no full file before it in the chain", kind_at);
  }
  Slots* state = nullptr;
  enc::ParsedKey parsed;
  for (;;) {
    const size_t at = in.pos();
    const char tag = in.byte();
    if (tag == kEndTag) break;
    if (tag == kStateTag) {
      state = &states_[std::string(in.bytes())];
      continue;
    }
    if (state == nullptr) in.fail("a record before any state", at);
    switch (tag) {
      case kEntryTag: {
        std::string_view key = in.bytes();
        std::string_view value = in.bytes();
        if (!enc::parse_key(key, parsed)) in.fail("malformed entry key", at);
        std::string_view slot_key = key.substr(0, key.size() - parsed.user_key.size());
        (*state)[std::string(slot_key)].emplace_back(std::string(parsed.user_key), std::string(value));
        break;
      }
      case kRemovedTag:
        state->erase(std::string(in.bytes()));
        break;
      case kSlotTag: {
        std::string slot_key(in.bytes());
        if (!enc::parse_key(slot_key, parsed) || !parsed.user_key.empty()) in.fail("malformed slot key", at);
        uint64_t n = in.varint();
        if (n > contents.size() - in.pos()) in.fail("a part count of " + std::to_string(n) + " runs past the end", at);
        std::vector<std::pair<std::string, std::string>> parts;
        parts.reserve(static_cast<size_t>(n));
        for (uint64_t i = 0; i < n; ++i) {
          std::string_view suffix = in.bytes();
          std::string_view value = in.bytes();
          parts.emplace_back(std::string(suffix), std::string(value));
        }
        if (parts.empty()) {
          state->erase(slot_key);
        } else {
          (*state)[std::move(slot_key)] = std::move(parts);
        }
        break;
      }
      default:
        in.fail("unknown record tag " + std::to_string(static_cast<uint8_t>(tag)), at);
    }
  }
  if (!in.at_end()) in.fail("bytes after the end mark", in.pos());
}

KeyedStateSnapshot HeapChainReader::canonical(const IncrementalKeyedSnapshot& snapshot) {
  KeyedStateSnapshot out;
  out.key_groups = snapshot.key_groups;
  for (const auto& [name, slots] : states_) {
    bool listed = std::any_of(snapshot.states.begin(), snapshot.states.end(),
                              [&](const StateMetaInfo& meta) { return meta.name == name; });
    if (!listed) throw Error("heap checkpoint files hold state '" + name + "', which the checkpoint does not list");
  }
  for (const StateMetaInfo& meta : snapshot.states) {
    out.states.push_back(meta);
    auto& entries = out.entries.emplace_back();
    auto it = states_.find(meta.name);
    if (it == states_.end()) continue;
    for (auto& [slot_key, parts] : it->second) {
      for (auto& [suffix, value] : parts) entries.emplace_back(slot_key + suffix, std::move(value));
    }
    it->second.clear();
    std::sort(entries.begin(), entries.end());
  }
  return out;
}

}  // namespace eddy::state
