// The part files of the file sink (eddy/file_sink.h): names, buffered writes, rolling, and
// the renames and deletions of the part-file life cycle.
#include "eddy/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <system_error>

#include <sys/stat.h>

namespace eddy::internal {

namespace {

namespace fs = std::filesystem;

constexpr size_t kWriteBufferBytes = size_t{64} << 10;
constexpr Timestamp kNever = std::numeric_limits<Timestamp>::max();
constexpr std::string_view kInProgress = ".inprogress";
constexpr std::string_view kPending = ".pending";

[[noreturn]] void throw_system_error(const std::string& what, const std::string& path, int error) {
  throw Error("file sink: " + what + " '" + path + "': " + std::strerror(error));
}

// 16 hex digits from the system's random source: unique per writer instance.
std::string random_token() {
  std::random_device random;
  uint64_t bits = (uint64_t{random()} << 32) ^ random();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token(16, '0');
  for (char& c : token) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return token;
}

// "part-<token>-<subtask>-" without the leading dot of hidden files.
std::string part_stem(const std::string& token, int subtask) {
  return "part-" + token + "-" + std::to_string(subtask) + "-";
}

std::string hidden_name(const std::string& token, int subtask, int64_t sequence,
                        std::string_view state) {
  return "." + part_stem(token, subtask) + std::to_string(sequence) + std::string(state);
}

std::string final_name(const std::string& token, int subtask, int64_t sequence,
                       const std::string& suffix) {
  return part_stem(token, subtask) + std::to_string(sequence) + suffix;
}

void check_bucket(const std::string& bucket) {
  if (bucket.empty()) return;
  auto invalid = [&](const char* why) {
    throw Error("file sink: invalid bucket '" + bucket + "': " + why);
  };
  if (bucket.front() == '/') invalid("it must be a relative path");
  size_t start = 0;
  while (true) {
    size_t end = bucket.find('/', start);
    std::string_view part = std::string_view(bucket).substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty()) invalid("it has an empty path component");
    if (part == "." || part == "..") invalid("it may not contain '.' or '..' components");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (bucket.find('\0') != std::string::npos) invalid("it contains a NUL character");
}

// fsync of a folder, so that renames and new entries in it survive a machine crash.
void sync_folder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_system_error("cannot open folder", folder, errno);
  if (::fsync(fd) != 0) {
    int error = errno;
    ::close(fd);
    throw_system_error("cannot fsync folder", folder, error);
  }
  ::close(fd);
}

void remove_if_exists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw_system_error("cannot delete", path, errno);
}

// The sequence number of a hidden part file name ".<stem><n>.inprogress" / ".pending";
// -1 when the name is not one of those.
int64_t hidden_sequence(std::string_view name, const std::string& stem) {
  if (name.size() <= stem.size() + 1 || name[0] != '.' || name.substr(1, stem.size()) != stem)
    return -1;
  std::string_view rest = name.substr(1 + stem.size());
  int64_t sequence = -1;
  auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), sequence);
  if (error != std::errc() || end == rest.data()) return -1;
  std::string_view state(end, rest.data() + rest.size() - end);
  if (state != kInProgress && state != kPending) return -1;
  return sequence;
}

}  // namespace

std::string format_utc_time(Timestamp time_ms, const std::string& format) {
  Timestamp seconds = time_ms / 1000 - (time_ms % 1000 < 0 ? 1 : 0);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr)
    throw Error("cannot format time " + std::to_string(time_ms) + " ms in UTC");
  char buffer[256];
  size_t n = std::strftime(buffer, sizeof(buffer), format.c_str(), &tm);
  if (n == 0 && !format.empty()) {
    throw Error("cannot format time with '" + format + "': empty or longer than 255 bytes");
  }
  return std::string(buffer, n);
}

void delete_unreferenced_parts(const std::string& base_path, const std::vector<FileTransaction>& keep) {
  std::error_code error;
  if (!fs::exists(base_path, error)) return;
  std::set<std::string> kept;
  for (const FileTransaction& transaction : keep) {
    for (const FilePart& part : transaction.parts) {
      fs::path folder = part.bucket.empty() ? fs::path(base_path) : fs::path(base_path) / part.bucket;
      kept.insert((folder / hidden_name(transaction.token, transaction.subtask, part.sequence, kPending))
                      .lexically_normal()
                      .string());
    }
  }
  auto is_hidden_part = [](const std::string& name) {
    auto ends_with = [&](std::string_view suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return name.rfind(".part-", 0) == 0 && (ends_with(kInProgress) || ends_with(kPending));
  };
  std::vector<std::string> doomed;
  fs::recursive_directory_iterator it(base_path, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!is_hidden_part(it->path().filename().string()) || !it->is_regular_file(error)) continue;
    std::string path = it->path().lexically_normal().string();
    if (kept.count(path) == 0) doomed.push_back(std::move(path));
  }
  if (error) throw Error("file sink: cannot list '" + base_path + "': " + error.message());
  for (const std::string& path : doomed) remove_if_exists(path);
}

void validate_file_sink_options(const std::string& base_path, const std::string& part_suffix,
                                const RollingPolicy& rolling) {
  if (base_path.empty())
    throw InvalidJobError("file sink: base_path is empty; set the folder to write to");
  if (part_suffix.find('/') != std::string::npos) {
    throw InvalidJobError("file sink: part_suffix '" + part_suffix + "' contains a '/'");
  }
  if (rolling.max_part_size_bytes == 0) {
    throw InvalidJobError("file sink: rolling.max_part_size_bytes must be positive");
  }
  if (rolling.rollover_interval.count() < 0 || rolling.inactivity_interval.count() < 0) {
    throw InvalidJobError("file sink: rolling intervals must not be negative (0 turns one off)");
  }
}

FilePartWriter::FilePartWriter(std::string base_path, std::string part_suffix,
                               RollingPolicy rolling, int subtask_index)
    : base_path_(std::move(base_path)),
      part_suffix_(std::move(part_suffix)),
      rolling_(rolling),
      subtask_index_(subtask_index),
      token_(random_token()),
      next_deadline_(kNever) {}

FilePartWriter::~FilePartWriter() {
  for (auto& [bucket, part] : open_parts_) {
    if (part.fd >= 0) ::close(part.fd);
  }
}

FileTransaction FilePartWriter::begin_transaction() const {
  FileTransaction transaction;
  transaction.token = token_;
  transaction.subtask = subtask_index_;
  transaction.first_sequence = next_sequence_;
  transaction.suffix = part_suffix_;
  return transaction;
}

std::string FilePartWriter::folder_of(const std::string& bucket) const {
  return bucket.empty() ? base_path_ : base_path_ + "/" + bucket;
}

Timestamp FilePartWriter::deadline_of(const OpenPart& part) const {
  Timestamp deadline = kNever;
  if (rolling_.rollover_interval.count() > 0) {
    deadline = std::min(deadline, part.opened_at + rolling_.rollover_interval.count());
  }
  if (rolling_.inactivity_interval.count() > 0) {
    deadline = std::min(deadline, part.last_write_at + rolling_.inactivity_interval.count());
  }
  return deadline;
}

FilePartWriter::OpenPart& FilePartWriter::open_part(const std::string& bucket, Timestamp now) {
  auto it = open_parts_.find(bucket);
  if (it != open_parts_.end()) return it->second;
  check_bucket(bucket);
  const std::string folder = folder_of(bucket);
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw Error("file sink: cannot create folder '" + folder + "': " + error.message());
  OpenPart part;
  part.sequence = next_sequence_;
  part.path = folder + "/" + hidden_name(token_, subtask_index_, part.sequence, kInProgress);
  part.fd = ::open(part.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (part.fd < 0) throw_system_error("cannot create part file", part.path, errno);
  ++next_sequence_;
  part.opened_at = now;
  part.last_write_at = now;
  OpenPart& opened = open_parts_.emplace(bucket, std::move(part)).first->second;
  next_deadline_ = std::min(next_deadline_, deadline_of(opened));
  return opened;
}

void FilePartWriter::flush_buffer(OpenPart& part) {
  const char* data = part.buffer.data();
  size_t left = part.buffer.size();
  while (left > 0) {
    ssize_t n = ::write(part.fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot write part file", part.path, errno);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  part.buffer.clear();
}

void FilePartWriter::write(FileTransaction& transaction, const std::string& bucket,
                           std::string_view bytes, Timestamp now) {
  if (now >= next_deadline_) roll_expired(transaction, now);
  OpenPart& part = open_part(bucket, now);
  part.buffer.append(bytes.data(), bytes.size());
  part.size += bytes.size();
  part.last_write_at = now;
  if (part.size >= rolling_.max_part_size_bytes) {
    roll(transaction, open_parts_.find(bucket));
  } else if (part.buffer.size() >= kWriteBufferBytes) {
    flush_buffer(part);
  }
}

void FilePartWriter::roll(FileTransaction& transaction,
                          std::map<std::string, OpenPart>::iterator it) {
  OpenPart& part = it->second;
  flush_buffer(part);
  if (::fsync(part.fd) != 0) throw_system_error("cannot fsync part file", part.path, errno);
  int fd = part.fd;
  part.fd = -1;
  if (::close(fd) != 0) throw_system_error("cannot close part file", part.path, errno);
  const std::string pending =
      folder_of(it->first) + "/" + hidden_name(token_, subtask_index_, part.sequence, kPending);
  if (::rename(part.path.c_str(), pending.c_str()) != 0) {
    throw_system_error("cannot rename '" + part.path + "' to", pending, errno);
  }
  transaction.parts.push_back(FilePart{it->first, part.sequence});
  open_parts_.erase(it);
}

void FilePartWriter::roll_expired(FileTransaction& transaction, Timestamp now) {
  next_deadline_ = kNever;
  for (auto it = open_parts_.begin(); it != open_parts_.end();) {
    auto next = std::next(it);
    Timestamp deadline = deadline_of(it->second);
    if (deadline <= now) {
      roll(transaction, it);
    } else {
      next_deadline_ = std::min(next_deadline_, deadline);
    }
    it = next;
  }
}

void FilePartWriter::pre_commit(FileTransaction& transaction) {
  while (!open_parts_.empty()) roll(transaction, open_parts_.begin());
  next_deadline_ = kNever;
  std::set<std::string> buckets;
  for (const FilePart& part : transaction.parts) buckets.insert(part.bucket);
  for (const std::string& bucket : buckets) sync_folder(folder_of(bucket));
}

void FilePartWriter::commit(const FileTransaction& transaction) const {
  std::set<std::string> renamed_in;
  for (const FilePart& part : transaction.parts) {
    const std::string folder = folder_of(part.bucket);
    const std::string pending =
        folder + "/" + hidden_name(transaction.token, transaction.subtask, part.sequence, kPending);
    const std::string committed =
        folder + "/" +
        final_name(transaction.token, transaction.subtask, part.sequence, transaction.suffix);
    if (::rename(pending.c_str(), committed.c_str()) == 0) {
      renamed_in.insert(folder);
      continue;
    }
    int error = errno;
    if (error != ENOENT) throw_system_error("cannot rename '" + pending + "' to", committed, error);
    struct stat st {};
    if (::stat(committed.c_str(), &st) == 0) continue;  // committed before: commit is idempotent
    throw Error("file sink: cannot commit part file '" + pending + "': it is missing and '" +
                committed +
                "' does not exist either, so the sink cannot guarantee exactly-once (was the "
                "file deleted, or the job restored with another base path?)");
  }
  for (const std::string& folder : renamed_in) sync_folder(folder);
}

void FilePartWriter::abort(const FileTransaction& transaction) {
  for (auto& [bucket, part] : open_parts_) {
    if (part.fd >= 0) ::close(part.fd);
    part.fd = -1;
    remove_if_exists(part.path);
  }
  open_parts_.clear();
  next_deadline_ = kNever;
  for (const FilePart& part : transaction.parts) {
    remove_if_exists(folder_of(part.bucket) + "/" +
                     hidden_name(transaction.token, transaction.subtask, part.sequence, kPending));
  }
}

void FilePartWriter::recover_and_abort(const FileTransaction& transaction) const {
  std::error_code error;
  if (!fs::exists(base_path_, error)) return;
  const std::string stem = part_stem(transaction.token, transaction.subtask);
  std::vector<std::string> doomed;
  fs::recursive_directory_iterator it(base_path_, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    int64_t sequence = hidden_sequence(name, stem);
    if (sequence >= transaction.first_sequence && it->is_regular_file(error)) {
      doomed.push_back(it->path().string());
    }
  }
  if (error) throw Error("file sink: cannot list '" + base_path_ + "': " + error.message());
  for (const std::string& path : doomed) remove_if_exists(path);
}

}  // namespace eddy::internal
