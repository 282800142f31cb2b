// Checkpoints on disk: what a checkpoint holds (the snapshots of every operator subtask
// and of every source's enumerator), how it is encoded, and the folder it lives in.
//
// Layout under the checkpoint directory (docs/savepoints.md documents the format):
//
//   chk-<id>/                   one folder per checkpoint (savepoints: savepoint-<id>-<time>/)
//     op<index>-<subtask>.state one data file per operator subtask with state
//     _metadata                 written last: the checkpoint is complete once it exists
//
// Every file (data and metadata) is framed: magic "EDDYCKPT", a format version, the
// payload length, the payload, and an XXH3-64 checksum of all that precedes it. Files are
// written to a temporary name, fsync'ed and renamed, and the folder is fsync'ed after the
// rename, so a crash leaves either the whole file or none. A file that is truncated, too
// long, has the wrong magic or a checksum mismatch is reported with its path, and nothing
// is restored from it.
//
// Threading: CheckpointStorage's methods may be called from several threads for
// different files of one checkpoint (write_state_file), and from the coordinator for the
// rest; they share no mutable state except the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/error.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/operator_state.h"

namespace eddy::checkpoint {

// Versions of the format. Each is written into what it describes, and a reader accepts
// every version up to its own (so a newer Eddy restores older checkpoints) and rejects a
// newer one with a message naming both versions.
//   kFormatVersion        the framing of every file (magic, version, length, checksum)
//   kSubtaskStateVersion  the payload of a data file (OperatorSubtaskState)
//   kMetadataVersion      the payload of _metadata (CheckpointMetadata)
// The entries of keyed state carry KeyedStateSnapshot::kFormatVersion as well.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kSubtaskStateVersion = 1;
inline constexpr uint32_t kMetadataVersion = 1;

// The name of the metadata file in a checkpoint or savepoint folder.
inline constexpr std::string_view kMetadataFileName = "_metadata";

// The state of one operator subtask.
struct OperatorSubtaskState {
  // Keyed state (and timers) of the key groups the subtask owned; none for operators
  // that are not keyed.
  std::optional<KeyedStateSnapshot> keyed;
  // Operator state: list, union and broadcast states, including a source reader's splits.
  OperatorStateSnapshot operator_state;
  // Unaligned checkpoints: records in flight into this subtask, per input channel, each an
  // opaque blob of serialized records. Empty for aligned checkpoints.
  std::vector<std::string> channel_state;

  // Nothing to restore: no keyed states (a keyed snapshot listing no state counts as
  // none), no operator states, no channel state. Such a subtask needs no file.
  bool empty() const;
};

// Where one operator subtask's state was written.
struct StateFileHandle {
  std::string file;       // name inside the checkpoint folder
  uint64_t size = 0;      // bytes of the whole file
  uint64_t checksum = 0;  // the checksum in the file's trailer
};

struct OperatorMetadata {
  std::string uid;   // matches operators on restore
  std::string name;  // for messages
  int parallelism = 1;
  int max_parallelism = 1;
  // Per subtask (size == parallelism); none for a subtask without state.
  std::vector<std::optional<StateFileHandle>> subtasks;
  // Sources: the serialized splits their enumerator had not handed out yet.
  std::optional<std::vector<std::string>> enumerator_splits;
};

struct CheckpointMetadata {
  int64_t checkpoint_id = 0;
  bool savepoint = false;
  int64_t timestamp_ms = 0;  // wall-clock time the checkpoint was triggered
  std::vector<OperatorMetadata> operators;
};

// Encodings of the payloads (layouts in docs/savepoints.md). encode_* throw Error for
// input that breaks the structs' contracts (entry lists not matching the states,
// subtasks not matching the parallelism). decode_* throw SerializationError on
// malformed bytes, trailing bytes or a payload version newer than this build reads;
// they never allocate more than the input's size justifies.
std::string encode_subtask_state(const OperatorSubtaskState& state);
OperatorSubtaskState decode_subtask_state(std::string_view payload);
std::string encode_metadata(const CheckpointMetadata& metadata);
CheckpointMetadata decode_metadata(std::string_view payload);

// Frames `payload` (magic, version, length, payload, checksum) and writes it to `path`
// durably (to "<path>.tmp", fsync, rename, fsync of the folder). Throws Error naming the
// path (and the errno text: "No space left on device") on failure, leaving neither the
// temporary file nor `path`. The returned handle's `file` is `path`'s file name.
StateFileHandle write_framed_file(const std::string& path, std::string_view payload);
// Reads a framed file back and returns its payload after checking magic, version, length
// and checksum; `expected`, when given, must match its size and checksum too. Throws
// CorruptCheckpointError naming the path and what is wrong.
std::string read_framed_file(const std::string& path, const StateFileHandle* expected = nullptr);

class CorruptCheckpointError : public Error {
 public:
  using Error::Error;
};

class CheckpointStorage {
 public:
  // `directory` is created if missing (Error naming it when that fails). `retained`:
  // completed checkpoints to keep, at least 1 (InvalidJobError otherwise).
  CheckpointStorage(std::string directory, int retained);

  const std::string& directory() const { return directory_; }
  // The folder of checkpoint `id` ("<directory>/chk-<id>").
  std::string checkpoint_folder(int64_t id) const;
  // Creates the folder of a new checkpoint (or savepoint, "savepoint-<id>-<ms>") and
  // returns its path. Throws Error if the folder exists already (ids are never reused:
  // start above max_checkpoint_id()) or cannot be created.
  std::string begin(int64_t id, bool savepoint, int64_t timestamp_ms);
  // Writes one subtask's state into `folder`; returns the handle for the metadata.
  StateFileHandle write_state_file(const std::string& folder, const std::string& file_name,
                                   const OperatorSubtaskState& state) const;
  // Writes the metadata last, completing the checkpoint in `folder`. Then, for a
  // checkpoint (not a savepoint), deletes completed checkpoints beyond the `retained`
  // newest, and folders of checkpoints with a smaller id that never completed. Savepoint
  // folders are never deleted. A folder that cannot be deleted is left behind; that does
  // not fail the checkpoint.
  void complete(const std::string& folder, const CheckpointMetadata& metadata);
  // Removes the folder of a failed or aborted checkpoint. Never throws.
  void discard(const std::string& folder) noexcept;

  // The folder of the newest completed checkpoint (the chk-<id> folder with the highest
  // id that has a valid _metadata), if any. Savepoints are never picked. A folder whose
  // _metadata is missing is skipped; one whose _metadata is corrupt throws
  // CorruptCheckpointError (never falls back silently to an older one).
  std::optional<std::string> latest_completed() const;
  // The highest checkpoint id of any chk-<id> or savepoint-<id>-* folder, complete or not
  // (0 if none): new checkpoint ids start above it, so ids are never reused.
  int64_t max_checkpoint_id() const;

 private:
  std::string directory_;
  int retained_;
};

// A checkpoint or savepoint read back: its metadata and the folder it is in.
struct LoadedCheckpoint {
  std::string folder;
  CheckpointMetadata metadata;
  // The state of operator `op` (index in metadata.operators), subtask `subtask`; empty
  // state for a subtask that had none. Verifies the file's size and checksum against the
  // handle; throws CorruptCheckpointError naming the file, or Error for an index out of
  // range.
  OperatorSubtaskState read_subtask(size_t op, int subtask) const;
};

// Reads the checkpoint in `folder` (a chk-<id> or savepoint folder, or a _metadata file
// path; LoadedCheckpoint::folder is then its folder). Throws CorruptCheckpointError naming
// the file, or Error when there is no _metadata (the checkpoint never completed).
LoadedCheckpoint load_checkpoint(const std::string& folder);

}  // namespace eddy::checkpoint
