#include "checkpoint/checkpoint_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <system_error>
#include <utility>

#include <sys/stat.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "eddy/key.h"
#include "eddy/serializer.h"

namespace eddy::checkpoint {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------
// Payload building blocks. Flags and enums are one byte; counts, lengths and versions are
// varints; ids and times are zigzag varints (see docs/savepoints.md).

void write_flag(ByteWriter& w, bool flag) { w.write_fixed(uint8_t{flag}); }

bool read_flag(ByteReader& r, const char* what) {
  size_t at = r.position();
  auto byte = r.read_fixed<uint8_t>(what);
  if (byte > 1) {
    r.fail(std::string("invalid ") + what + ": " + std::to_string(byte) + " is neither 0 nor 1",
           at);
  }
  return byte == 1;
}

// An enum stored as one byte, checked against its largest enumerator.
template <class Enum>
Enum read_enum(ByteReader& r, const char* what, Enum largest) {
  size_t at = r.position();
  auto byte = r.read_fixed<uint8_t>(what);
  if (byte > static_cast<uint8_t>(largest)) {
    r.fail(std::string("unknown ") + what + " " + std::to_string(byte), at);
  }
  return static_cast<Enum>(byte);
}

// A varint that must lie in [min, max].
uint64_t read_bounded(ByteReader& r, const char* what, uint64_t min, uint64_t max) {
  size_t at = r.position();
  uint64_t value = r.read_varint();
  if (value < min || value > max) {
    r.fail(std::string(what) + " " + std::to_string(value) + " is out of range [" +
               std::to_string(min) + ", " + std::to_string(max) + "]",
           at);
  }
  return value;
}

int read_positive_int(ByteReader& r, const char* what) {
  return static_cast<int>(read_bounded(r, what, 1, std::numeric_limits<int>::max()));
}

int read_int(ByteReader& r, const char* what) {
  size_t at = r.position();
  int64_t value = r.read_signed_varint();
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    r.fail(std::string(what) + " " + std::to_string(value) + " does not fit an int", at);
  }
  return static_cast<int>(value);
}

// The version at the start of a payload: every version up to `supported` is accepted.
uint32_t read_version(ByteReader& r, const char* what, uint32_t supported) {
  size_t at = r.position();
  uint64_t version = r.read_varint();
  if (version == 0 || version > supported) {
    r.fail("unsupported " + std::string(what) + " version " + std::to_string(version) +
               " (this Eddy reads versions 1 to " + std::to_string(supported) +
               "; a newer Eddy may have written it)",
           at);
  }
  return static_cast<uint32_t>(version);
}

void write_strings(ByteWriter& w, const std::vector<std::string>& strings) {
  w.write_varint(strings.size());
  for (const std::string& s : strings) w.write_string(s);
}

std::vector<std::string> read_strings(ByteReader& r, const char* what) {
  std::vector<std::string> strings(r.read_count(what));  // each at least its length byte
  for (std::string& s : strings) s = r.read_string();
  return strings;
}

void expect_end(const ByteReader& r, const char* what) {
  if (!r.at_end()) {
    r.fail(std::to_string(r.remaining()) + " unexpected bytes after the " + what, r.position());
  }
}

// ---------------------------------------------------------------------------------------
// Keyed state: KeyedStateSnapshot::kFormatVersion, the key group range, then per state its
// StateMetaInfo followed by its entries.

void write_state_meta(ByteWriter& w, const StateMetaInfo& meta) {
  w.write_string(meta.name);
  w.write_fixed(static_cast<uint8_t>(meta.kind));
  w.write_string(meta.value_signature);
  w.write_string(meta.user_key_signature);
  write_flag(w, meta.ttl);
  w.write_varint(meta.serializer_version);
}

StateMetaInfo read_state_meta(ByteReader& r) {
  StateMetaInfo meta;
  meta.name = r.read_string();
  meta.kind = read_enum(r, "state kind", StateKind::kTimers);
  meta.value_signature = r.read_string();
  meta.user_key_signature = r.read_string();
  meta.ttl = read_flag(r, "TTL flag");
  meta.serializer_version = static_cast<uint32_t>(
      read_bounded(r, "serializer version", 0, std::numeric_limits<uint32_t>::max()));
  return meta;
}

void write_keyed(ByteWriter& w, const KeyedStateSnapshot& keyed) {
  if (keyed.entries.size() != keyed.states.size()) {
    throw Error("cannot encode keyed state: " + std::to_string(keyed.states.size()) +
                " states but " + std::to_string(keyed.entries.size()) +
                " entry lists (KeyedStateSnapshot needs one per state)");
  }
  w.write_varint(KeyedStateSnapshot::kFormatVersion);
  w.write_signed_varint(keyed.key_groups.first);
  w.write_signed_varint(keyed.key_groups.last);
  w.write_varint(keyed.states.size());
  for (size_t i = 0; i < keyed.states.size(); ++i) {
    write_state_meta(w, keyed.states[i]);
    w.write_varint(keyed.entries[i].size());
    for (const auto& [key, value] : keyed.entries[i]) {
      w.write_string(key);
      w.write_string(value);
    }
  }
}

KeyedStateSnapshot read_keyed(ByteReader& r) {
  KeyedStateSnapshot keyed;
  read_version(r, "keyed state", KeyedStateSnapshot::kFormatVersion);
  keyed.key_groups.first = read_int(r, "first key group");
  keyed.key_groups.last = read_int(r, "last key group");
  // A state takes at least 7 bytes: 3 string lengths, kind, TTL flag, serializer version
  // and entry count.
  size_t count = r.read_count("keyed state", 7);
  keyed.states.reserve(count);
  keyed.entries.resize(count);
  for (size_t i = 0; i < count; ++i) {
    keyed.states.push_back(read_state_meta(r));
    auto& entries = keyed.entries[i];
    entries.resize(r.read_count("keyed state entry", 2));  // two lengths
    for (auto& [key, value] : entries) {
      key = r.read_string();
      value = r.read_string();
    }
  }
  return keyed;
}

// ---------------------------------------------------------------------------------------
// Operator state: per state its name, mode, signature and elements.

void write_operator_state(ByteWriter& w, const OperatorStateSnapshot& snapshot) {
  w.write_varint(snapshot.states.size());
  for (const auto& state : snapshot.states) {
    w.write_string(state.name);
    w.write_fixed(static_cast<uint8_t>(state.mode));
    w.write_string(state.signature);
    write_strings(w, state.elements);
  }
}

OperatorStateSnapshot read_operator_state(ByteReader& r) {
  OperatorStateSnapshot snapshot;
  // Name and signature lengths, mode, element count.
  snapshot.states.resize(r.read_count("operator state", 4));
  for (auto& state : snapshot.states) {
    state.name = r.read_string();
    state.mode = read_enum(r, "operator state mode", OperatorStateMode::kBroadcast);
    state.signature = r.read_string();
    state.elements = read_strings(r, "operator state element");
  }
  return snapshot;
}

// ---------------------------------------------------------------------------------------
// Metadata.

// A data file named in metadata must be a plain name inside the checkpoint folder, so
// corrupt or crafted metadata cannot point a restore at other files.
bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// ---------------------------------------------------------------------------------------
// Incremental keyed state: IncrementalKeyedSnapshot::kFormatVersion, the backend, the key
// group range, the states, the shared files and the private files.

void check_plain(const std::string& name, const char* what) {
  if (!is_plain_file_name(name)) {
    throw Error(std::string("cannot encode incremental keyed state: ") + what + " '" + name +
                "' is not a plain file name");
  }
}

void write_incremental(ByteWriter& w, const IncrementalKeyedSnapshot& snapshot) {
  w.write_varint(IncrementalKeyedSnapshot::kFormatVersion);
  w.write_string(snapshot.backend);
  w.write_signed_varint(snapshot.key_groups.first);
  w.write_signed_varint(snapshot.key_groups.last);
  w.write_varint(snapshot.states.size());
  for (const StateMetaInfo& meta : snapshot.states) write_state_meta(w, meta);
  w.write_varint(snapshot.shared_files.size());
  for (const SharedFileHandle& file : snapshot.shared_files) {
    check_plain(file.local_name, "local file name");
    check_plain(file.shared_name, "shared file name");
    w.write_string(file.local_name);
    w.write_string(file.shared_name);
    w.write_varint(file.size);
    w.write_fixed(file.checksum);
  }
  w.write_varint(snapshot.private_files.size());
  for (const auto& [name, bytes] : snapshot.private_files) {
    check_plain(name, "private file name");
    w.write_string(name);
    w.write_string(bytes);
  }
}

// A file name that must be plain (it becomes a path on restore).
std::string read_plain_name(ByteReader& r, const char* what) {
  size_t at = r.position();
  std::string name = r.read_string();
  if (!is_plain_file_name(name)) {
    r.fail(std::string(what) + " '" + name + "' is not a plain file name", at);
  }
  return name;
}

IncrementalKeyedSnapshot read_incremental(ByteReader& r) {
  IncrementalKeyedSnapshot snapshot;
  read_version(r, "incremental keyed state", IncrementalKeyedSnapshot::kFormatVersion);
  snapshot.backend = r.read_string();
  snapshot.key_groups.first = read_int(r, "first key group");
  snapshot.key_groups.last = read_int(r, "last key group");
  // A state takes at least 6 bytes: 3 string lengths, kind, TTL flag, serializer version.
  snapshot.states.resize(r.read_count("incremental keyed state", 6));
  for (StateMetaInfo& meta : snapshot.states) meta = read_state_meta(r);
  // Two names, a size and an 8-byte checksum.
  snapshot.shared_files.resize(r.read_count("shared file", 11));
  for (SharedFileHandle& file : snapshot.shared_files) {
    file.local_name = read_plain_name(r, "local file name");
    file.shared_name = read_plain_name(r, "shared file name");
    file.size = r.read_varint();
    file.checksum = r.read_fixed<uint64_t>("shared file checksum");
  }
  snapshot.private_files.resize(r.read_count("private file", 2));
  for (auto& [name, bytes] : snapshot.private_files) {
    name = read_plain_name(r, "private file name");
    bytes = r.read_string();
  }
  return snapshot;
}

void write_operator_metadata(ByteWriter& w, const OperatorMetadata& op, uint32_t version) {
  if (op.parallelism < 1 || op.max_parallelism < 1 ||
      op.subtasks.size() != static_cast<size_t>(op.parallelism)) {
    throw Error("cannot encode checkpoint metadata of operator '" + op.name + "' (uid '" + op.uid +
                "'): parallelism " + std::to_string(op.parallelism) + ", max parallelism " +
                std::to_string(op.max_parallelism) + " and " + std::to_string(op.subtasks.size()) +
                " subtask entries (needs one entry per subtask, both at least 1)");
  }
  w.write_string(op.uid);
  w.write_string(op.name);
  w.write_varint(static_cast<uint64_t>(op.parallelism));
  w.write_varint(static_cast<uint64_t>(op.max_parallelism));
  w.write_varint(op.subtasks.size());
  for (const auto& handle : op.subtasks) {
    write_flag(w, handle.has_value());
    if (!handle) continue;
    if (!is_plain_file_name(handle->file)) {
      throw Error("cannot encode checkpoint metadata of operator '" + op.name + "': state file '" +
                  handle->file + "' is not a plain file name");
    }
    w.write_string(handle->file);
    w.write_varint(handle->size);
    w.write_fixed(handle->checksum);
    if (version < 2) continue;
    for (const std::string& name : handle->shared_files) {
      if (!is_plain_file_name(name)) {
        throw Error("cannot encode checkpoint metadata of operator '" + op.name + "': shared file '" +
                    name + "' is not a plain file name");
      }
    }
    write_strings(w, handle->shared_files);
  }
  write_flag(w, op.enumerator_splits.has_value());
  if (op.enumerator_splits) write_strings(w, *op.enumerator_splits);
}

OperatorMetadata read_operator_metadata(ByteReader& r, uint32_t version) {
  OperatorMetadata op;
  op.uid = r.read_string();
  op.name = r.read_string();
  op.parallelism = read_positive_int(r, "parallelism");
  op.max_parallelism = read_positive_int(r, "max parallelism");
  size_t at = r.position();
  size_t subtasks = r.read_count("subtask", 1);  // each at least its presence flag
  if (subtasks != static_cast<size_t>(op.parallelism)) {
    r.fail("operator '" + op.uid + "' has " + std::to_string(subtasks) +
               " subtask entries for parallelism " + std::to_string(op.parallelism),
           at);
  }
  op.subtasks.resize(subtasks);
  for (auto& handle : op.subtasks) {
    if (!read_flag(r, "state file flag")) continue;
    StateFileHandle h;
    at = r.position();
    h.file = r.read_string();
    if (!is_plain_file_name(h.file)) {
      r.fail("state file name '" + h.file + "' is not a plain file name", at);
    }
    h.size = r.read_varint();
    h.checksum = r.read_fixed<uint64_t>("state file checksum");
    if (version >= 2) {
      h.shared_files.resize(r.read_count("shared file", 1));
      for (std::string& name : h.shared_files) name = read_plain_name(r, "shared file name");
    }
    handle = std::move(h);
  }
  if (read_flag(r, "enumerator splits flag")) {
    op.enumerator_splits = read_strings(r, "enumerator split");
  }
  return op;
}

// ---------------------------------------------------------------------------------------
// Framing: magic, u32 version, u64 payload length, payload, u64 XXH3-64 of all before it.

constexpr std::string_view kMagic = "EDDYCKPT";
constexpr size_t kHeaderSize = kMagic.size() + 4 + 8;
constexpr size_t kTrailerSize = 8;
constexpr size_t kFrameSize = kHeaderSize + kTrailerSize;

std::string frame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameSize + payload.size());
  ByteWriter w(out);
  w.write_bytes(kMagic);
  w.write_fixed(kFormatVersion);
  w.write_fixed(static_cast<uint64_t>(payload.size()));
  w.write_bytes(payload);
  w.write_fixed(hash_bytes64(out.data(), out.size()));
  return out;
}

std::string hex64(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, value);
  return buf;
}

// The first bytes of `bytes`, in hex ("45 44 44 ..."), for a bad-magic message.
std::string hex_prefix(std::string_view bytes, size_t n) {
  std::string out;
  for (size_t i = 0; i < std::min(n, bytes.size()); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", static_cast<uint8_t>(bytes[i]));
    if (!out.empty()) out += ' ';
    out += buf;
  }
  return out;
}

// Checks the frame of the bytes of the file at `path` (and, when given, their size and
// checksum against `expected`) and returns the payload.
std::string_view unframe(std::string_view bytes, const StateFileHandle* expected,
                         const std::string& path) {
  auto corrupt = [&](const std::string& problem) {
    return CorruptCheckpointError("corrupt checkpoint file '" + path + "': " + problem);
  };
  const size_t size = bytes.size();
  auto truncated = [&](const std::string& expected_size) {
    return corrupt("truncated: " + std::to_string(size) + " bytes, expected " + expected_size);
  };
  if (bytes.substr(0, kMagic.size()) != kMagic.substr(0, std::min(size, kMagic.size()))) {
    throw corrupt("bad magic: starts with " + hex_prefix(bytes, kMagic.size()) +
                  ", not \"EDDYCKPT\" (not an Eddy checkpoint file)");
  }
  if (size < kFrameSize) throw truncated("at least " + std::to_string(kFrameSize));

  ByteReader r(bytes);
  r.read_bytes(kMagic.size());
  auto version = r.read_fixed<uint32_t>();
  if (version == 0 || version > kFormatVersion) {
    throw corrupt("unsupported format version " + std::to_string(version) +
                  " (this Eddy reads versions 1 to " + std::to_string(kFormatVersion) +
                  "; a newer Eddy may have written it)");
  }
  auto length = r.read_fixed<uint64_t>();
  if (length > size - kFrameSize) {
    throw truncated(length > std::numeric_limits<uint64_t>::max() - kFrameSize
                        ? "more than 2^64 (payload length field " + std::to_string(length) + ")"
                        : std::to_string(kFrameSize + length));
  }
  if (length < size - kFrameSize) {
    throw corrupt(std::to_string(size) + " bytes, expected " + std::to_string(kFrameSize + length) +
                  ": unexpected bytes after the checksum");
  }
  std::string_view payload = r.read_bytes(length);
  auto stored = r.read_fixed<uint64_t>();
  uint64_t computed = hash_bytes64(bytes.data(), size - kTrailerSize);
  if (stored != computed) {
    throw corrupt("checksum mismatch: the file says " + hex64(stored) + ", its bytes hash to " +
                  hex64(computed));
  }
  if (expected != nullptr && expected->size != size) {
    throw corrupt(std::to_string(size) + " bytes, but the checkpoint metadata recorded " +
                  std::to_string(expected->size));
  }
  if (expected != nullptr && expected->checksum != stored) {
    throw corrupt("checksum " + hex64(stored) + ", but the checkpoint metadata recorded " +
                  hex64(expected->checksum) + " (the file was replaced)");
  }
  return payload;
}

// ---------------------------------------------------------------------------------------
// File system.

// The text of an errno value; strerror_r, as state files are written from several threads.
[[maybe_unused]] std::string strerror_result(const char* gnu_result, const char*) {
  return gnu_result;
}
[[maybe_unused]] std::string strerror_result(int xsi_result, const char* buf) {
  return xsi_result == 0 ? std::string(buf) : "error";
}
std::string errno_text(int err) {
  char buf[256] = {};
  return strerror_result(strerror_r(err, buf, sizeof buf), buf) + " (errno " + std::to_string(err) +
         ")";
}

// Closes the descriptor it holds on destruction; close() reports the result.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // 0, or the errno of a failed close (which may report a failed earlier write).
  int close() {
    int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

[[noreturn]] void throw_write_error(const std::string& path, const std::string& step, int err) {
  throw Error("cannot write checkpoint file '" + path + "': " + step + ": " + errno_text(err));
}

std::string parent_folder(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// fsyncs a folder so that entries created or renamed in it survive a crash. 0 or errno.
int sync_folder(const std::string& folder) {
  UniqueFd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  // EINVAL: the file system cannot sync folders (some network file systems); nothing to do.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) return errno;
  return fd.close();
}

// Writes `bytes` to `tmp` and fsyncs it. Throws Error naming `path` (the file the caller
// is producing); the caller removes `tmp`.
void write_synced(const std::string& tmp, const std::string& path, std::string_view bytes) {
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) throw_write_error(path, "cannot create '" + tmp + "'", errno);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_write_error(path, "cannot write '" + tmp + "'", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw_write_error(path, "cannot fsync '" + tmp + "'", errno);
  if (int err = fd.close(); err != 0) throw_write_error(path, "cannot close '" + tmp + "'", err);
}

// The whole content of a file. Missing or unreadable: CorruptCheckpointError.
std::string read_whole_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) throw CorruptCheckpointError("checkpoint file '" + path + "' is missing");
    throw CorruptCheckpointError("cannot read checkpoint file '" + path + "': " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw CorruptCheckpointError("cannot read checkpoint file '" + path +
                                 "': " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw CorruptCheckpointError("checkpoint file '" + path + "' is not a regular file");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw CorruptCheckpointError("cannot read checkpoint file '" + path +
                                   "': " + errno_text(errno));
    }
    if (n == 0) break;  // shrank since fstat: the frame check reports it as truncated
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Shared files: raw copies (not framed: RocksDB opens them as they are), with their size
// and XXH3-64 recorded in the state that references them.

// Reads the file at `from` to its end, hashing it, and writes its bytes to `to` when `to`
// is open. `fail(step, errno)` throws.
template <class Fail>
FileDigest pump(const std::string& from, int to, const Fail& fail) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) fail("cannot open '" + from + "'", errno);
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                         &XXH3_freeState);
  if (state == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(state.get());
  std::string buffer(1 << 20, '\0');
  FileDigest digest;
  for (;;) {
    ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read '" + from + "'", errno);
    if (n == 0) break;
    XXH3_64bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
    digest.size += static_cast<uint64_t>(n);
    for (ssize_t done = 0; to >= 0 && done < n;) {
      ssize_t m = ::write(to, buffer.data() + done, static_cast<size_t>(n - done));
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) fail("cannot write", m < 0 ? errno : EIO);
      done += m;
    }
  }
  digest.checksum = XXH3_64bits_digest(state.get());
  return digest;
}

// Writes the bytes a producer appends to an open file, hashing them, in 1 MiB writes.
template <class Fail>
class HashingFileSink final : public SharedFileSink {
 public:
  HashingFileSink(int fd, const Fail& fail) : fd_(fd), fail_(fail), state_(XXH3_createState(), &XXH3_freeState) {
    if (state_ == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(state_.get());
    buffer_.reserve(kBufferBytes);
  }
  void append(std::string_view bytes) override {
    if (buffer_.size() + bytes.size() > kBufferBytes) flush();
    if (bytes.size() >= kBufferBytes) {
      write_out(bytes);
    } else {
      buffer_.append(bytes);
    }
  }
  FileDigest finish() {
    flush();
    digest_.checksum = XXH3_64bits_digest(state_.get());
    return digest_;
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  void flush() {
    write_out(buffer_);
    buffer_.clear();
  }
  void write_out(std::string_view bytes) {
    XXH3_64bits_update(state_.get(), bytes.data(), bytes.size());
    digest_.size += bytes.size();
    for (size_t done = 0; done < bytes.size();) {
      ssize_t m = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) fail_("cannot write", m < 0 ? errno : EIO);
      done += static_cast<size_t>(m);
    }
  }

  int fd_;
  const Fail& fail_;
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
  std::string buffer_;
  FileDigest digest_;
};

// Copies `from` to `to` (created or truncated), fsync'ed when `sync`. `fail(step, errno)`
// throws; the caller removes `to` on failure.
template <class Fail>
FileDigest copy_file(const std::string& from, const std::string& to, bool sync, const Fail& fail) {
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.valid()) fail("cannot create '" + to + "'", errno);
  FileDigest digest = pump(from, out.get(), fail);
  if (sync && ::fsync(out.get()) != 0) fail("cannot fsync '" + to + "'", errno);
  if (int err = out.close(); err != 0) fail("cannot close '" + to + "'", err);
  return digest;
}

// A new name for a shared file: the local name with 128 random bits before its extension
// ("000012.sst" -> "000012-<32 hex digits>.sst"), so that no two uploads, of any backend or
// process, share a name.
std::string unique_shared_name(const std::string& local_name) {
  static std::mutex mutex;
  static std::mt19937_64 random(std::random_device{}() ^
                                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                                (static_cast<uint64_t>(::getpid()) << 32));
  uint64_t a = 0;
  uint64_t b = 0;
  {
    std::lock_guard lock(mutex);
    a = random();
    b = random();
  }
  size_t dot = local_name.rfind('.');
  if (dot == 0 || dot == std::string::npos) dot = local_name.size();
  char digits[40];
  std::snprintf(digits, sizeof digits, "%016" PRIx64 "%016" PRIx64, a, b);
  return local_name.substr(0, dot) + "-" + digits + local_name.substr(dot);
}

// Decodes the payload of the file at `path`, reporting malformed bytes as corruption of
// that file.
template <class T>
T decode_file(const std::string& path, std::string_view payload, T (*decode)(std::string_view)) {
  try {
    return decode(payload);
  } catch (const SerializationError& e) {
    throw CorruptCheckpointError("corrupt checkpoint file '" + path +
                                 "': cannot decode its payload: " + e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Folder names.

constexpr std::string_view kCheckpointPrefix = "chk-";
constexpr std::string_view kSavepointPrefix = "savepoint-";

// `text` as a non-negative decimal number, if it is one and nothing else.
std::optional<int64_t> parse_number(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The id of a "chk-<id>" folder name.
std::optional<int64_t> checkpoint_id_of(std::string_view name) {
  if (!name.starts_with(kCheckpointPrefix)) return std::nullopt;
  return parse_number(name.substr(kCheckpointPrefix.size()));
}

// The id of a "savepoint-<id>-<ms>" folder name.
std::optional<int64_t> savepoint_id_of(std::string_view name) {
  if (!name.starts_with(kSavepointPrefix)) return std::nullopt;
  name.remove_prefix(kSavepointPrefix.size());
  size_t dash = name.find('-');
  if (dash == std::string_view::npos || !parse_number(name.substr(dash + 1))) return std::nullopt;
  return parse_number(name.substr(0, dash));
}

struct Folder {
  int64_t id;
  fs::path path;
  bool savepoint;
};

// The id in the name of a checkpoint or savepoint folder.
std::optional<int64_t> folder_id_of(const std::string& folder) {
  fs::path path(folder);
  if (path.filename().empty()) path = path.parent_path();
  std::string name = path.filename().string();
  if (auto id = checkpoint_id_of(name)) return id;
  return savepoint_id_of(name);
}

// The checkpoint and savepoint folders in `directory` (none if it does not exist), in
// ascending id order. Throws Error when the directory cannot be listed.
std::vector<Folder> list_folders(const std::string& directory) {
  std::vector<Folder> folders;
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  if (ec == std::errc::no_such_file_or_directory) return folders;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    std::string name = it->path().filename().string();
    if (auto id = checkpoint_id_of(name)) {
      folders.push_back({*id, it->path(), false});
    } else if (auto sp_id = savepoint_id_of(name)) {
      folders.push_back({*sp_id, it->path(), true});
    }
  }
  if (ec) {
    throw Error("cannot list checkpoint directory '" + directory + "': " + ec.message());
  }
  std::sort(folders.begin(), folders.end(),
            [](const Folder& a, const Folder& b) { return a.id < b.id; });
  return folders;
}

bool has_metadata(const fs::path& folder) {
  std::error_code ec;
  return fs::is_regular_file(folder / kMetadataFileName, ec);
}

}  // namespace

// -----------------------------------------------------------------------------------------

bool OperatorSubtaskState::empty() const {
  return (!keyed || keyed->states.empty()) && !incremental && operator_state.states.empty() &&
         channel_state.empty();
}

std::string encode_subtask_state(const OperatorSubtaskState& state) {
  ByteWriter w;
  // Version 1 where it suffices: what older Eddy versions read.
  w.write_varint(state.incremental ? 2 : 1);
  write_flag(w, state.keyed.has_value());
  if (state.keyed) write_keyed(w, *state.keyed);
  write_operator_state(w, state.operator_state);
  write_strings(w, state.channel_state);
  if (state.incremental) {
    write_flag(w, true);
    write_incremental(w, *state.incremental);
  }
  return w.take();
}

OperatorSubtaskState decode_subtask_state(std::string_view payload) {
  ByteReader r(payload);
  uint32_t version = read_version(r, "subtask state", kSubtaskStateVersion);
  OperatorSubtaskState state;
  if (read_flag(r, "keyed state flag")) state.keyed = read_keyed(r);
  state.operator_state = read_operator_state(r);
  state.channel_state = read_strings(r, "channel state");
  if (version >= 2 && read_flag(r, "incremental keyed state flag")) {
    state.incremental = read_incremental(r);
  }
  expect_end(r, "subtask state");
  return state;
}

std::string encode_metadata(const CheckpointMetadata& metadata) {
  // Version 1 where it suffices: no subtask references shared files.
  uint32_t version = 1;
  for (const OperatorMetadata& op : metadata.operators) {
    for (const auto& handle : op.subtasks) {
      if (handle && !handle->shared_files.empty()) version = 2;
    }
  }
  ByteWriter w;
  w.write_varint(version);
  w.write_signed_varint(metadata.checkpoint_id);
  write_flag(w, metadata.savepoint);
  w.write_signed_varint(metadata.timestamp_ms);
  w.write_varint(metadata.operators.size());
  for (const OperatorMetadata& op : metadata.operators) write_operator_metadata(w, op, version);
  return w.take();
}

CheckpointMetadata decode_metadata(std::string_view payload) {
  ByteReader r(payload);
  uint32_t version = read_version(r, "checkpoint metadata", kMetadataVersion);
  CheckpointMetadata metadata;
  metadata.checkpoint_id = r.read_signed_varint();
  metadata.savepoint = read_flag(r, "savepoint flag");
  metadata.timestamp_ms = r.read_signed_varint();
  // uid, name, parallelism, max parallelism, subtask count, enumerator flag.
  metadata.operators.resize(r.read_count("operator", 6));
  for (OperatorMetadata& op : metadata.operators) op = read_operator_metadata(r, version);
  expect_end(r, "checkpoint metadata");
  return metadata;
}

StateFileHandle write_framed_file(const std::string& path, std::string_view payload) {
  const std::string bytes = frame(payload);
  const std::string tmp = path + ".tmp";
  try {
    write_synced(tmp, path, bytes);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_write_error(path, "cannot rename '" + tmp + "' to it", err);
  }
  if (int err = sync_folder(parent_folder(path)); err != 0) {
    // The rename may not survive a crash: take the file back rather than claim it is there.
    ::unlink(path.c_str());
    throw_write_error(path, "cannot fsync its folder", err);
  }
  StateFileHandle handle;
  handle.file = fs::path(path).filename().string();
  handle.size = bytes.size();
  ByteReader trailer(std::string_view(bytes).substr(bytes.size() - kTrailerSize));
  handle.checksum = trailer.read_fixed<uint64_t>();
  return handle;
}

std::string read_framed_file(const std::string& path, const StateFileHandle* expected) {
  std::string bytes = read_whole_file(path);
  std::string_view payload = unframe(bytes, expected, path);
  return std::string(payload);
}

// -----------------------------------------------------------------------------------------

CheckpointStorage::CheckpointStorage(std::string directory, int retained)
    : directory_(std::move(directory)), retained_(retained) {
  if (directory_.empty()) throw InvalidJobError("the checkpoint directory is not set");
  if (retained_ < 1) {
    throw InvalidJobError("checkpoints to retain must be at least 1, not " +
                          std::to_string(retained_));
  }
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec) {
    throw Error("cannot create checkpoint directory '" + directory_ + "': " + ec.message());
  }
  // The shared files that completed checkpoints reference, by the ids of their folders
  // (which retention and discard go by).
  for (const Folder& folder : list_folders(directory_)) {
    if (!has_metadata(folder.path)) continue;
    try {
      LoadedCheckpoint loaded = load_checkpoint(folder.path.string());
      for (const OperatorMetadata& op : loaded.metadata.operators) {
        for (const auto& handle : op.subtasks) {
          if (!handle) continue;
          for (const std::string& name : handle->shared_files) {
            SharedFile& file = shared_[name];
            file.checkpoints.insert(folder.id);
            file.uploaded = true;
          }
        }
      }
    } catch (const std::exception&) {
      references_known_ = false;  // then no shared file is deleted as unreferenced
    }
  }
}

std::string CheckpointStorage::shared_folder() const {
  return (fs::path(directory_) / kSharedFolderName).string();
}

std::string CheckpointStorage::checkpoint_folder(int64_t id) const {
  return (fs::path(directory_) / (std::string(kCheckpointPrefix) + std::to_string(id))).string();
}

std::string CheckpointStorage::begin(int64_t id, bool savepoint, int64_t timestamp_ms) {
  if (id < 1 || timestamp_ms < 0) {
    throw Error("cannot begin checkpoint " + std::to_string(id) + " at " +
                std::to_string(timestamp_ms) + " ms: ids start at 1, times at 0");
  }
  std::string folder =
      savepoint ? (fs::path(directory_) / (std::string(kSavepointPrefix) + std::to_string(id) +
                                           "-" + std::to_string(timestamp_ms)))
                      .string()
                : checkpoint_folder(id);
  std::error_code ec;
  if (!fs::create_directory(folder, ec)) {
    if (ec) throw Error("cannot create checkpoint folder '" + folder + "': " + ec.message());
    throw Error("checkpoint folder '" + folder +
                "' exists already: checkpoint ids are never reused (start above "
                "max_checkpoint_id())");
  }
  // The folder's entry must be durable before a _metadata inside it can claim completion.
  if (int err = sync_folder(directory_); err != 0) {
    fs::remove(folder, ec);
    throw Error("cannot create checkpoint folder '" + folder + "': cannot fsync '" + directory_ +
                "': " + errno_text(err));
  }
  if (!savepoint) {
    std::lock_guard lock(mutex_);
    pending_.insert(id);
  }
  return folder;
}

StateFileHandle CheckpointStorage::write_state_file(const std::string& folder,
                                                    const std::string& file_name,
                                                    const OperatorSubtaskState& state) const {
  if (!is_plain_file_name(file_name) || file_name == kMetadataFileName) {
    throw Error("invalid state file name '" + file_name + "' in checkpoint folder '" + folder +
                "': needs a plain file name other than " + std::string(kMetadataFileName));
  }
  StateFileHandle handle =
      write_framed_file((fs::path(folder) / file_name).string(), encode_subtask_state(state));
  if (state.incremental) {
    for (const SharedFileHandle& file : state.incremental->shared_files) {
      handle.shared_files.push_back(file.shared_name);
    }
  }
  return handle;
}

class CheckpointStorage::Uploader final : public SharedFileUploader {
 public:
  Uploader(CheckpointStorage& storage, int64_t checkpoint_id)
      : storage_(storage), checkpoint_id_(checkpoint_id) {}
  bool reuse(const SharedFileHandle& file) override {
    return storage_.reuse_shared_file(checkpoint_id_, file);
  }
  SharedFileHandle upload(const std::string& local_path, const std::string& local_name) override {
    return storage_.upload_shared_file(checkpoint_id_, local_name, "'" + local_path + "'",
                                       [&](int fd, const WriteFailure& fail) { return pump(local_path, fd, fail); });
  }
  SharedFileHandle upload_produced(const std::string& local_name,
                                   const std::function<void(SharedFileSink&)>& produce) override {
    return storage_.upload_shared_file(checkpoint_id_, local_name, "'" + local_name + "'",
                                       [&](int fd, const WriteFailure& fail) {
                                         HashingFileSink sink(fd, fail);
                                         produce(sink);
                                         return sink.finish();
                                       });
  }

 private:
  CheckpointStorage& storage_;
  int64_t checkpoint_id_;
};

std::unique_ptr<SharedFileUploader> CheckpointStorage::shared_file_uploader(int64_t checkpoint_id) {
  return std::make_unique<Uploader>(*this, checkpoint_id);
}

bool CheckpointStorage::reuse_shared_file(int64_t checkpoint_id, const SharedFileHandle& file) {
  std::lock_guard lock(mutex_);
  if (pending_.count(checkpoint_id) == 0) return false;
  auto it = shared_.find(file.shared_name);
  if (it == shared_.end() || !it->second.uploaded) return false;
  it->second.checkpoints.insert(checkpoint_id);
  return true;
}

SharedFileHandle CheckpointStorage::upload_shared_file(int64_t checkpoint_id, const std::string& local_name,
                                                       const std::string& what, const WriteContents& write) {
  if (!is_plain_file_name(local_name)) {
    throw Error("cannot upload " + what + ": '" + local_name + "' is not a plain file name");
  }
  const std::string name = unique_shared_name(local_name);
  const std::string folder = shared_folder();
  const std::string path = (fs::path(folder) / name).string();
  const std::string tmp = path + ".tmp";
  auto not_pending = [&] {
    return Error("cannot upload " + what + " to '" + path + "': checkpoint " +
                 std::to_string(checkpoint_id) + " is no longer pending (aborted)");
  };
  {
    // Registered before the file exists, so that no sweep takes it for an orphan.
    std::lock_guard lock(mutex_);
    if (pending_.count(checkpoint_id) == 0) throw not_pending();
    shared_[name].checkpoints.insert(checkpoint_id);
  }
  FileDigest digest;
  try {
    WriteFailure fail = [&](const std::string& step, int err) { throw_write_error(path, step, err); };
    std::error_code ec;
    if (fs::create_directory(folder, ec)) {
      // Its entry must be as durable as the files in it.
      if (int err = sync_folder(directory_); err != 0) fail("cannot fsync '" + directory_ + "'", err);
    }
    if (ec) throw Error("cannot create the shared folder '" + folder + "': " + ec.message());
    {
      UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!out.valid()) fail("cannot create '" + tmp + "'", errno);
      digest = write(out.get(), fail);
      if (::fsync(out.get()) != 0) fail("cannot fsync '" + tmp + "'", errno);
      if (int err = out.close(); err != 0) fail("cannot close '" + tmp + "'", err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename '" + tmp + "' to it", errno);
    if (int err = sync_folder(folder); err != 0) fail("cannot fsync its folder", err);
  } catch (...) {
    ::unlink(tmp.c_str());
    ::unlink(path.c_str());
    std::lock_guard lock(mutex_);
    auto it = shared_.find(name);
    if (it != shared_.end()) shared_.erase(it);
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    auto it = shared_.find(name);
    if (it != shared_.end() && it->second.checkpoints.count(checkpoint_id) > 0) {
      it->second.uploaded = true;
      return SharedFileHandle{local_name, name, digest.size, digest.checksum};
    }
  }
  // The checkpoint was discarded while the file was copied: nobody references it.
  ::unlink(path.c_str());
  throw not_pending();
}

void CheckpointStorage::release_locked(int64_t checkpoint_id) noexcept {
  const fs::path folder(shared_folder());
  for (auto it = shared_.begin(); it != shared_.end();) {
    if (it->second.checkpoints.erase(checkpoint_id) > 0 && it->second.checkpoints.empty()) {
      ::unlink((folder / it->first).c_str());
      it = shared_.erase(it);
    } else {
      ++it;
    }
  }
}

void CheckpointStorage::sweep_shared_folder_locked() noexcept {
  try {
    std::error_code ec;
    for (fs::directory_iterator it(shared_folder(), ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::string name = it->path().filename().string();
      // "<name>.tmp": being uploaded (then <name> is registered) or left by a crash.
      std::string base = name.ends_with(".tmp") ? name.substr(0, name.size() - 4) : name;
      if (shared_.count(base) == 0) ::unlink(it->path().c_str());
    }
  } catch (...) {  // allocation failure: the files stay until the next run
  }
}

std::map<std::string, std::set<int64_t>> CheckpointStorage::shared_file_references() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::set<int64_t>> out;
  for (const auto& [name, file] : shared_) out.emplace(name, file.checkpoints);
  return out;
}

void CheckpointStorage::complete(const std::string& folder, const CheckpointMetadata& metadata) {
  const int64_t id = metadata.checkpoint_id;
  std::set<std::string> referenced;
  for (const OperatorMetadata& op : metadata.operators) {
    for (const auto& handle : op.subtasks) {
      if (handle) referenced.insert(handle->shared_files.begin(), handle->shared_files.end());
    }
  }
  if (!referenced.empty()) {
    std::lock_guard lock(mutex_);
    for (const std::string& name : referenced) {
      auto it = shared_.find(name);
      if (it == shared_.end() || !it->second.uploaded || it->second.checkpoints.count(id) == 0) {
        throw Error("cannot complete checkpoint " + std::to_string(id) + " in '" + folder +
                    "': its state references the shared file '" + name +
                    "', which it did not upload or reuse");
      }
    }
  }
  write_framed_file((fs::path(folder) / kMetadataFileName).string(), encode_metadata(metadata));
  if (metadata.savepoint) return;
  {
    // References the checkpoint took but does not keep (none, unless a subtask's upload
    // was replaced) go now.
    std::lock_guard lock(mutex_);
    pending_.erase(id);
    const fs::path shared(shared_folder());
    for (auto it = shared_.begin(); it != shared_.end();) {
      if (referenced.count(it->first) == 0 && it->second.checkpoints.erase(id) > 0 &&
          it->second.checkpoints.empty()) {
        ::unlink((shared / it->first).c_str());
        it = shared_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Retention is best effort: the checkpoint is complete whatever happens here, and a
  // folder left behind is removed when a later checkpoint completes.
  try {
    std::vector<Folder> folders = list_folders(directory_);
    int kept = 0;
    for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
      if (it->savepoint) continue;
      if (has_metadata(it->path)) {
        if (kept < retained_) {
          ++kept;
        } else {
          discard(it->path.string());
        }
      } else if (it->id < metadata.checkpoint_id) {
        discard(it->path.string());
      }
    }
  } catch (const std::exception&) {
  }
  std::lock_guard lock(mutex_);
  if (!swept_) {
    // Shared files of checkpoints that failed in an earlier run, or that a crash left.
    swept_ = true;
    if (references_known_) sweep_shared_folder_locked();
  }
}

void CheckpointStorage::discard(const std::string& folder) noexcept {
  try {
    // _metadata first: a crash half-way leaves an incomplete folder, never one that claims
    // to be complete but lacks data or shared files.
    std::error_code ec;
    fs::remove(fs::path(folder) / kMetadataFileName, ec);
    if (std::optional<int64_t> id = folder_id_of(folder)) {
      std::lock_guard lock(mutex_);
      pending_.erase(*id);
      release_locked(*id);
    }
    fs::remove_all(folder, ec);
  } catch (...) {  // allocation failure building the paths: leave the folder
  }
}

std::optional<std::string> CheckpointStorage::latest_completed() const {
  std::vector<Folder> folders = list_folders(directory_);
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    if (it->savepoint || !has_metadata(it->path)) continue;
    load_checkpoint(it->path.string());  // throws if the metadata is corrupt
    return it->path.string();
  }
  return std::nullopt;
}

int64_t CheckpointStorage::max_checkpoint_id() const {
  std::vector<Folder> folders = list_folders(directory_);
  return folders.empty() ? 0 : folders.back().id;
}

// -----------------------------------------------------------------------------------------

OperatorSubtaskState LoadedCheckpoint::read_subtask(size_t op, int subtask) const {
  if (op >= metadata.operators.size()) {
    throw Error("checkpoint '" + folder + "' has " + std::to_string(metadata.operators.size()) +
                " operators: there is no operator " + std::to_string(op));
  }
  const OperatorMetadata& meta = metadata.operators[op];
  if (subtask < 0 || static_cast<size_t>(subtask) >= meta.subtasks.size()) {
    throw Error("operator '" + meta.name + "' (uid '" + meta.uid + "') in checkpoint '" + folder +
                "' has " + std::to_string(meta.subtasks.size()) +
                " subtasks: there is no subtask " + std::to_string(subtask));
  }
  const std::optional<StateFileHandle>& handle = meta.subtasks[static_cast<size_t>(subtask)];
  if (!handle) return {};
  std::string path = (fs::path(folder) / handle->file).string();
  return decode_file(path, read_framed_file(path, &*handle), &decode_subtask_state);
}

std::string LoadedCheckpoint::shared_folder() const {
  fs::path path = fs::absolute(fs::path(folder)).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return (path.parent_path() / kSharedFolderName).string();
}

void fetch_shared_file(const std::string& shared_folder, const SharedFileHandle& file,
                       const std::string& destination) {
  const std::string path = (fs::path(shared_folder) / file.shared_name).string();
  if (!is_plain_file_name(file.shared_name)) {
    throw CorruptCheckpointError("invalid shared file name '" + file.shared_name +
                                 "' in a checkpoint: not a plain file name");
  }
  auto read_failure = [&](const std::string& step, int err) {
    if (err == ENOENT && step.find(path) != std::string::npos) {
      throw CorruptCheckpointError("checkpoint file '" + path + "' is missing");
    }
    throw CorruptCheckpointError("cannot restore checkpoint file '" + path + "' to '" +
                                 destination + "': " + step + ": " + errno_text(err));
  };
  FileDigest digest;
  try {
    if (::link(path.c_str(), destination.c_str()) == 0) {
      digest = pump(path, -1, read_failure);
    } else {
      // Another file system, or one without hard links: copy.
      digest = copy_file(path, destination, /*sync=*/false, read_failure);
    }
  } catch (...) {
    ::unlink(destination.c_str());
    throw;
  }
  auto corrupt = [&](const std::string& problem) {
    ::unlink(destination.c_str());
    return CorruptCheckpointError("corrupt checkpoint file '" + path + "': " + problem);
  };
  if (digest.size != file.size) {
    throw corrupt(std::to_string(digest.size) + " bytes, but the checkpoint recorded " +
                  std::to_string(file.size));
  }
  if (digest.checksum != file.checksum) {
    throw corrupt("checksum mismatch: the checkpoint recorded " + hex64(file.checksum) +
                  ", its bytes hash to " + hex64(digest.checksum));
  }
}

LoadedCheckpoint load_checkpoint(const std::string& folder) {
  fs::path dir(folder);
  if (dir.filename() == kMetadataFileName) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  const std::string metadata_path = (dir / kMetadataFileName).string();
  std::error_code ec;
  if (!fs::exists(metadata_path, ec)) {
    if (!fs::exists(dir, ec)) {
      throw Error("no checkpoint at '" + folder + "': the folder does not exist");
    }
    throw Error("no checkpoint at '" + dir.string() + "': '" + metadata_path +
                "' is missing (the checkpoint never completed)");
  }
  std::string payload = read_framed_file(metadata_path);
  return LoadedCheckpoint{dir.string(), decode_file(metadata_path, payload, &decode_metadata)};
}

}  // namespace eddy::checkpoint
