// The files of the heap backend's incremental checkpoints, and reading a chain of them
// back into the canonical form.
//
// A checkpoint of the heap backend references a chain of files in the checkpoint
// directory's shared folder: one full file (every slot of every state) followed by delta
// files (the slots written or removed since the previous file's snapshot). Restoring
// applies them in order. A slot is everything one (key group, key, namespace) holds in
// one state, so a delta replaces slots whole: a MapState's slot carries all its user keys.
//
// Layout (docs/savepoints.md): magic "EDDYHEAP", u32 version (little endian), u8 kind (0
// full, 1 delta), then records, each a tag byte:
//   'S' bytes(state name)                       the following records are this state's
//   'E' bytes(entry key) bytes(entry value)     full files: a canonical entry (of a state
//                                               restored but not used since)
//   'R' bytes(slot key)                         the slot was removed
//   'V' bytes(slot key) varint(n) n x (bytes(suffix) bytes(value))
//                                               the slot's whole contents: canonical entries
//                                               slot key | suffix -> value; n = 0 removes it
//   'Z'                                         end of file (nothing may follow)
// bytes(x) is varint(len(x)) | x; a slot key is key_group (2 bytes, big endian) | map key
// (internal/state_encoding.h), the canonical entry key without the MapState user key.
// Integrity is the shared file's checksum (checked when it is fetched); a reader still
// checks every length and reports the file and offset of anything malformed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eddy/keyed_state_backend.h"  // first: it includes the state implementations in order
#include "eddy/internal/heap_state.h"
#include "eddy/internal/incremental_snapshot.h"

namespace eddy::state {

inline constexpr std::string_view kHeapFileMagic = "EDDYHEAP";
inline constexpr uint32_t kHeapFileVersion = 1;
enum class HeapFileKind : uint8_t { kFull = 0, kDelta = 1 };

// Writes one file into `out`, buffering up to 256 KiB.
class HeapFileWriter final : public internal::SlotSink {
 public:
  HeapFileWriter(SharedFileSink& out, HeapFileKind kind);
  void begin_state(std::string_view name);
  void raw_entry(std::string_view key, std::string_view value);
  void removed(int key_group, std::string_view map_key) override;
  void slot(int key_group, std::string_view map_key,
            const std::vector<std::pair<std::string, std::string>>& parts) override;
  // Writes the end mark and hands the rest to `out`. Call once, last.
  void finish();

 private:
  void bytes(std::string_view b);
  void slot_key(int key_group, std::string_view map_key);
  void maybe_flush();

  SharedFileSink& out_;
  std::string buffer_;
};

// Applies the files of a chain in order and gives the state they describe.
class HeapChainReader {
 public:
  // Applies one file; `file` names it in errors. Throws Error for a malformed file (naming
  // the file and the offset), or a delta with no full file before it.
  void apply(std::string_view contents, const std::string& file);
  // The canonical snapshot of `snapshot`'s states (those the chain never mentions are
  // empty). Entries sorted by key. Throws Error when a file held a state the snapshot
  // does not list.
  KeyedStateSnapshot canonical(const IncrementalKeyedSnapshot& snapshot);

 private:
  // Per state: slot key -> its canonical entries' (suffix, value).
  using Slots = std::unordered_map<std::string, std::vector<std::pair<std::string, std::string>>>;
  std::map<std::string, Slots, std::less<>> states_;
  bool has_full_ = false;
};

}  // namespace eddy::state
