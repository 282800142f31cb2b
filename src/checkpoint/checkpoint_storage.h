// Checkpoints on disk: what a checkpoint holds (the snapshots of every operator subtask
// and of every source's enumerator), how it is encoded, and the folder it lives in.
//
// Layout under the checkpoint directory (docs/savepoints.md documents the format):
//
//   chk-<id>/                   one folder per checkpoint (savepoints: savepoint-<id>-<time>/)
//     op<index>-<subtask>.state one data file per operator subtask with state
//     _metadata                 written last: the checkpoint is complete once it exists
//   shared/                     files of incremental checkpoints (RocksDB SST files), each
//                               uploaded once and referenced by one or more checkpoints
//
// Every file (data and metadata) is framed: magic "EDDYCKPT", a format version, the
// payload length, the payload, and an XXH3-64 checksum of all that precedes it. Files are
// written to a temporary name, fsync'ed and renamed, and the folder is fsync'ed after the
// rename, so a crash leaves either the whole file or none. A file that is truncated, too
// long, has the wrong magic or a checksum mismatch is reported with its path, and nothing
// is restored from it.
//
// Shared files are reference counted: a file is deleted once no retained completed
// checkpoint and no pending checkpoint references it. The counts live in memory and are
// rebuilt from the _metadata files (which list each subtask's shared files) when a
// CheckpointStorage is created; shared files that no checkpoint references (left by a
// process that crashed, or by checkpoints that failed) are deleted when the first
// checkpoint completes.
//
// Threading: CheckpointStorage's methods may be called from several threads for
// different files of one checkpoint (write_state_file, shared_file_uploader), and from the
// coordinator for the rest. The reference counts are under a mutex; file copies are not.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
//   kSubtaskStateVersion  the payload of a data file (OperatorSubtaskState); 2 adds the
//                         incremental keyed state
//   kMetadataVersion      the payload of _metadata (CheckpointMetadata); 2 adds each
//                         subtask's shared files
// The keyed state carries KeyedStateSnapshot::kFormatVersion as well, the incremental
// keyed state IncrementalKeyedSnapshot::kFormatVersion. Writers use the oldest version
// that can hold what they write (version 1 without incremental state), so savepoints,
// which are never incremental, stay readable by older Eddy versions.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kSubtaskStateVersion = 2;
inline constexpr uint32_t kMetadataVersion = 2;

// The name of the metadata file in a checkpoint or savepoint folder.
inline constexpr std::string_view kMetadataFileName = "_metadata";
// The folder of shared files in the checkpoint directory.
inline constexpr std::string_view kSharedFolderName = "shared";

// The state of one operator subtask.
struct OperatorSubtaskState {
  // Keyed state (and timers) of the key groups the subtask owned; none for operators
  // that are not keyed. With `incremental`, only the timers.
  std::optional<KeyedStateSnapshot> keyed;
  // Incremental checkpoints of the RocksDB backend: its keyed state (timers excepted) as
  // files, most of them in the shared folder.
  std::optional<IncrementalKeyedSnapshot> incremental;
  // Operator state: list, union and broadcast states, including a source reader's splits.
  OperatorStateSnapshot operator_state;
  // Unaligned checkpoints: records in flight into this subtask, per input channel, each an
  // opaque blob of serialized records. Empty for aligned checkpoints.
  std::vector<std::string> channel_state;

  // Nothing to restore: no keyed states (a keyed snapshot listing no state counts as
  // none), no incremental state, no operator states, no channel state. Such a subtask
  // needs no file.
  bool empty() const;
};

// Where one operator subtask's state was written.
struct StateFileHandle {
  std::string file;       // name inside the checkpoint folder
  uint64_t size = 0;      // bytes of the whole file
  uint64_t checksum = 0;  // the checksum in the file's trailer
  // The shared files the state references (names in the shared folder), so that the
  // metadata alone tells which shared files a checkpoint needs.
  std::vector<std::string> shared_files;
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

// Puts the shared file `file` of the checkpoint directory whose shared folder is
// `shared_folder` at `destination`: a hard link where the file system allows, else a copy.
// Checks its size and checksum; a missing or damaged file throws CorruptCheckpointError
// naming it (and leaves nothing at `destination`).
void fetch_shared_file(const std::string& shared_folder, const SharedFileHandle& file,
                       const std::string& destination);

// The size and XXH3-64 checksum of a file's bytes.
struct FileDigest {
  uint64_t size = 0;
  uint64_t checksum = 0;
};

class CheckpointStorage {
 public:
  // `directory` is created if missing (Error naming it when that fails). `retained`:
  // completed checkpoints to keep, at least 1 (InvalidJobError otherwise). Reads the
  // _metadata of every completed checkpoint in it to count shared-file references.
  CheckpointStorage(std::string directory, int retained);
  CheckpointStorage(const CheckpointStorage&) = delete;
  CheckpointStorage& operator=(const CheckpointStorage&) = delete;

  const std::string& directory() const { return directory_; }
  // "<directory>/shared".
  std::string shared_folder() const;
  // The folder of checkpoint `id` ("<directory>/chk-<id>").
  std::string checkpoint_folder(int64_t id) const;
  // Creates the folder of a new checkpoint (or savepoint, "savepoint-<id>-<ms>") and
  // returns its path. Throws Error if the folder exists already (ids are never reused:
  // start above max_checkpoint_id()) or cannot be created.
  std::string begin(int64_t id, bool savepoint, int64_t timestamp_ms);
  // Writes one subtask's state into `folder`; returns the handle for the metadata (with
  // the shared files of the state's incremental part).
  StateFileHandle write_state_file(const std::string& folder, const std::string& file_name,
                                   const OperatorSubtaskState& state) const;
  // The uploads of pending checkpoint `checkpoint_id` (begun, neither completed nor
  // discarded) into the shared folder. Every file it uploads or reuses is referenced by
  // the checkpoint from then on: kept while the checkpoint is pending or retained.
  std::unique_ptr<SharedFileUploader> shared_file_uploader(int64_t checkpoint_id);
  // Writes the metadata last, completing the checkpoint in `folder`. Then, for a
  // checkpoint (not a savepoint), deletes completed checkpoints beyond the `retained`
  // newest, and folders of checkpoints with a smaller id that never completed, and the
  // shared files no remaining checkpoint references. Savepoint folders are never deleted.
  // A folder that cannot be deleted is left behind; that does not fail the checkpoint.
  // Throws Error, writing nothing, when the metadata names a shared file the checkpoint
  // did not upload or reuse through shared_file_uploader().
  void complete(const std::string& folder, const CheckpointMetadata& metadata);
  // Removes the folder of a failed or aborted checkpoint (or of a completed one beyond
  // retention), and the shared files only it referenced. Never throws.
  void discard(const std::string& folder) noexcept;
  // The shared files some checkpoint references, with the ids of those checkpoints (for
  // tests and tools).
  std::map<std::string, std::set<int64_t>> shared_file_references() const;

  // The folder of the newest completed checkpoint (the chk-<id> folder with the highest
  // id that has a valid _metadata), if any. Savepoints are never picked. A folder whose
  // _metadata is missing is skipped; one whose _metadata is corrupt throws
  // CorruptCheckpointError (never falls back silently to an older one).
  std::optional<std::string> latest_completed() const;
  // The highest checkpoint id of any chk-<id> or savepoint-<id>-* folder, complete or not
  // (0 if none): new checkpoint ids start above it, so ids are never reused.
  int64_t max_checkpoint_id() const;

 private:
  class Uploader;
  struct SharedFile {
    std::set<int64_t> checkpoints;  // that reference the file, pending or completed
    bool uploaded = false;          // false while its upload is in progress
  };

  // Under mutex_: drops `checkpoint_id`'s references and deletes the shared files left
  // without any.
  void release_locked(int64_t checkpoint_id) noexcept;
  // Under mutex_: deletes files of the shared folder that no checkpoint references.
  void sweep_shared_folder_locked() noexcept;
  // Writes a new shared file named after `local_name` with the bytes `write` puts into the
  // open file it is given (returning their size and checksum); `what` names the source in
  // errors.
  using WriteFailure = std::function<void(const std::string& step, int err)>;
  using WriteContents = std::function<FileDigest(int fd, const WriteFailure& fail)>;
  SharedFileHandle upload_shared_file(int64_t checkpoint_id, const std::string& local_name,
                                      const std::string& what, const WriteContents& write);
  bool reuse_shared_file(int64_t checkpoint_id, const SharedFileHandle& file);

  std::string directory_;
  int retained_;
  mutable std::mutex mutex_;
  std::map<std::string, SharedFile> shared_;  // by name in the shared folder
  std::set<int64_t> pending_;                 // checkpoints begun, not completed or discarded
  // Unreferenced shared files are swept once, at the first completion; not at all when a
  // completed checkpoint's metadata could not be read (its references are unknown).
  bool swept_ = false;
  bool references_known_ = true;
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
  // Where the shared files of incremental state are: the shared folder beside the
  // checkpoint's folder.
  std::string shared_folder() const;
};

// Reads the checkpoint in `folder` (a chk-<id> or savepoint folder, or a _metadata file
// path; LoadedCheckpoint::folder is then its folder). Throws CorruptCheckpointError naming
// the file, or Error when there is no _metadata (the checkpoint never completed).
LoadedCheckpoint load_checkpoint(const std::string& folder);

}  // namespace eddy::checkpoint
