// Not API: incremental snapshots of keyed state (the RocksDB backend's checkpoints). Instead
// of the canonical entries (KeyedStateSnapshot), the backend's own files: those that never
// change once written (RocksDB's SST files) are uploaded once into the checkpoint
// directory's shared/ folder and referenced by every later checkpoint that still needs them
// (the checkpoint storage counts the references); the few small files that do change
// (MANIFEST, CURRENT, OPTIONS) travel inside the checkpoint itself. Savepoints never use
// this: they are always canonical.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/key.h"
#include "eddy/state.h"

namespace eddy {

// A file in the shared folder of a checkpoint directory.
struct SharedFileHandle {
  std::string local_name;   // the file's name in the backend's database ("000012.sst")
  std::string shared_name;  // its name in <checkpoint directory>/shared/ (unique)
  uint64_t size = 0;        // bytes
  uint64_t checksum = 0;    // XXH3-64 (seed 0) of its bytes
  bool operator==(const SharedFileHandle&) const = default;
};

// The keyed state of one operator subtask as its backend's files.
struct IncrementalKeyedSnapshot {
  static constexpr uint32_t kFormatVersion = 1;
  std::string backend;  // the backend that wrote it: "rocksdb"
  KeyGroupRange key_groups;
  // The backend's states (RocksDB: one column family each). Timers are not here: they stay
  // in the canonical part of the subtask's state.
  std::vector<StateMetaInfo> states;
  std::vector<SharedFileHandle> shared_files;
  // Files of this checkpoint alone, (name, bytes): RocksDB's MANIFEST, CURRENT, OPTIONS.
  std::vector<std::pair<std::string, std::string>> private_files;
  bool operator==(const IncrementalKeyedSnapshot&) const = default;
};

// Receives the bytes of a shared file as they are produced.
class SharedFileSink {
 public:
  virtual ~SharedFileSink() = default;
  virtual void append(std::string_view bytes) = 0;
};

// The checkpoint storage's side of one checkpoint's asynchronous part. Thread-safe.
class SharedFileUploader {
 public:
  virtual ~SharedFileUploader() = default;
  // Makes this checkpoint reference `file` too, which an earlier checkpoint uploaded. False
  // when the storage no longer keeps it (no retained checkpoint references it): upload the
  // file again.
  virtual bool reuse(const SharedFileHandle& file) = 0;
  // Copies the file at `local_path` into the shared folder under a new unique name. Throws
  // Error naming the file when that fails, or when the checkpoint was aborted meanwhile.
  virtual SharedFileHandle upload(const std::string& local_path, const std::string& local_name) = 0;
  // Writes a new file into the shared folder, under a new unique name made from
  // `local_name`, with the bytes `produce` appends to the sink it is given (a backend that
  // keeps its state in memory writes it this way, with no local copy). Errors as upload();
  // an exception from `produce` leaves no file. The default writes a temporary local file
  // and upload()s it.
  virtual SharedFileHandle upload_produced(const std::string& local_name,
                                           const std::function<void(SharedFileSink&)>& produce);
};

// Restores: puts shared file `file` at `destination` (a hard link or a copy), checking its
// size and checksum first. Throws an error naming the shared file when it is missing or
// damaged.
using SharedFileFetcher =
    std::function<void(const SharedFileHandle& file, const std::string& destination)>;

// The asynchronous part of an incremental snapshot. May run on any thread, once; may
// outlive its backend.
class IncrementalSnapshotTask {
 public:
  virtual ~IncrementalSnapshotTask() = default;
  virtual IncrementalKeyedSnapshot run(SharedFileUploader& uploader) = 0;
};

}  // namespace eddy
