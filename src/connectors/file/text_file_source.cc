// Text files read by lines. Each file is cut into byte-range splits; a split reads every
// line that starts inside its range (the line crossing its end included), so the splits
// of a file together read each line exactly once. A split's position is the offset of
// the next line to read.
//
// Checkpoints store each split with its position and the size the file had when it was
// cut into splits; a split restored from a checkpoint checks, when it is opened, that the
// file still has that size, since its byte offsets mean nothing in a changed file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/serializer.h"
#include "eddy/sources.h"
#include "connectors/split_encoding.h"

namespace eddy::sources {

namespace {

std::string system_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

constexpr std::string_view kKind = "text file source";

class FileSplit final : public SourceSplit {
 public:
  // Bytes [start, end) of `path`, a file of `file_size` bytes.
  FileSplit(std::string path, int64_t start, int64_t end, int64_t file_size)
      : path_(std::move(path)), start_(start), end_(end), offset_(start), file_size_(file_size) {}
  std::string split_id() const override {
    return path_ + ":" + std::to_string(start_) + "+" + std::to_string(end_ - start_);
  }
  std::string describe() const override {
    return "'" + path_ + "' bytes [" + std::to_string(start_) + ", " + std::to_string(end_) +
           ") at offset " + std::to_string(offset_);
  }
  std::unique_ptr<SourceSplit> clone() const override { return std::make_unique<FileSplit>(*this); }

  const std::string& path() const { return path_; }
  int64_t start() const { return start_; }
  int64_t end() const { return end_; }
  int64_t offset() const { return offset_; }
  void set_offset(int64_t offset) { offset_ = offset; }
  int64_t file_size() const { return file_size_; }
  // Came from a checkpoint: the reader checks that the file is unchanged before reading.
  bool restored() const { return restored_; }
  void set_restored() { restored_ = true; }

  // Version 1: path, start, end, offset (the next line's start), file size.
  static constexpr uint64_t kVersion = 1;
  std::string serialize() const;
  static std::unique_ptr<FileSplit> deserialize(std::string_view bytes);

 private:
  std::string path_;
  int64_t start_;
  int64_t end_;
  int64_t offset_;
  int64_t file_size_;
  bool restored_ = false;
};

std::string FileSplit::serialize() const {
  ByteWriter writer;
  writer.write_varint(kVersion);
  writer.write_string(path_);
  writer.write_varint(static_cast<uint64_t>(start_));
  writer.write_varint(static_cast<uint64_t>(end_));
  writer.write_varint(static_cast<uint64_t>(offset_));
  writer.write_varint(static_cast<uint64_t>(file_size_));
  return writer.take();
}

std::unique_ptr<FileSplit> FileSplit::deserialize(std::string_view bytes) {
  std::string what = std::string(kKind) + ": cannot restore a split from the checkpoint: ";
  ByteReader reader(bytes);
  internal::read_split_version(reader, kVersion, what);
  std::unique_ptr<FileSplit> split;
  try {
    std::string path = reader.read_string();
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    auto read_offset = [&](const char* name) { return internal::read_split_field(reader, name, kMax); };
    int64_t start = read_offset("start");
    int64_t end = read_offset("end");
    int64_t offset = read_offset("offset");
    int64_t file_size = read_offset("file size");
    if (!reader.at_end()) reader.fail("unexpected bytes after the split", reader.position());
    if (path.empty() ||
        !(start < end && end <= file_size && start <= offset && offset <= file_size)) {
      reader.fail("inconsistent split of '" + path + "': bytes [" + std::to_string(start) + ", " +
                      std::to_string(end) + ") at offset " + std::to_string(offset) + " of a " +
                      std::to_string(file_size) + "-byte file",
                  0);
    }
    split = std::make_unique<FileSplit>(std::move(path), start, end, file_size);
    split->set_offset(offset);
    split->set_restored();
  } catch (const SerializationError& e) {
    throw internal::malformed_split(what, e);
  }
  return split;
}

std::vector<std::string> list_files(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(system_error("cannot read", path));
  if (S_ISREG(st.st_mode)) return {path};
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error("'" + path + "' is neither a file nor a directory");
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) throw std::runtime_error(system_error("cannot list directory", path));
  std::vector<std::string> files;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || name[0] == '.') continue;  // hidden files are skipped
    std::string child = path + "/" + name;
    struct stat child_st {};
    if (::stat(child.c_str(), &child_st) == 0 && S_ISREG(child_st.st_mode)) files.push_back(child);
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

class TextFileEnumerator final : public SplitEnumerator {
 public:
  TextFileEnumerator(SplitEnumeratorContext& context, std::string path, TextFileOptions options)
      : context_(context), path_(std::move(path)), options_(options) {}

  void handle_split_request(int subtask) override {
    if (!listed_) list();  // on first demand, so a missing file fails the source's task
    if (!pending_.empty()) {
      context_.assign_split(subtask, std::move(pending_.back()));
      pending_.pop_back();
    } else {
      context_.signal_no_more_splits(subtask);
    }
  }
  void add_splits_back(SplitList splits, int) override {
    for (auto& split : splits) pending_.push_back(std::move(split));
  }
  // The splits not handed out yet, in the order they would go out. Lists the files if no
  // reader has asked yet, so a restore does not list them again.
  SplitList snapshot_state() override {
    if (!listed_) list();
    SplitList splits;
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) splits.push_back((*it)->clone());
    return splits;
  }

 private:
  void list() {
    listed_ = true;
    SplitList splits;
    for (const std::string& file : list_files(path_)) {
      struct stat st {};
      if (::stat(file.c_str(), &st) != 0) throw std::runtime_error(system_error("cannot read", file));
      int64_t size = st.st_size;
      int64_t step = std::max<int64_t>(1, options_.split_bytes);
      for (int64_t start = 0; start < size; start += step) {
        splits.push_back(
            std::make_unique<FileSplit>(file, start, std::min(size, start + step), size));
      }
    }
    // Handed out from the back: reverse, so files and ranges go out in order.
    for (auto it = splits.rbegin(); it != splits.rend(); ++it) pending_.push_back(std::move(*it));
  }

  SplitEnumeratorContext& context_;
  std::string path_;
  TextFileOptions options_;
  bool listed_ = false;
  SplitList pending_;
};

class TextFileReader final : public SequentialSplitReader<std::string, FileSplit> {
 public:
  explicit TextFileReader(SourceReaderContext& context)
      : SequentialSplitReader<std::string, FileSplit>(context) {}
  ~TextFileReader() override { close_file(); }
  void close() override { close_file(); }

 protected:
  bool read_split(FileSplit& split, SourceOutput<std::string>& output) override {
    if (fd_ < 0) open_split(split);
    int emitted = 0;
    while (emitted < kLinesPerPoll) {
      // A line belongs to this split if it starts before the split's end.
      if (split.offset() >= split.end()) break;
      std::string line;
      int64_t next = 0;
      if (!read_line(split, line, next)) {
        split.set_offset(split.end());
        break;
      }
      split.set_offset(next);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      output.collect(std::move(line));
      ++emitted;
    }
    if (split.offset() >= split.end()) {
      close_file();
      return false;
    }
    return true;
  }

 private:
  static constexpr int kLinesPerPoll = 1024;
  static constexpr size_t kBufferSize = 1 << 20;

  void open_split(FileSplit& split) {
    fd_ = ::open(split.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0 && split.restored() && errno == ENOENT) {
      throw Error("cannot resume reading '" + split.path() +
                  "' from the checkpoint: the file no longer exists");
    }
    if (fd_ < 0) throw std::runtime_error(system_error("cannot open", split.path()));
    if (split.restored()) check_unchanged(split);
    buffer_.resize(kBufferSize);
    buffer_begin_ = buffer_end_ = 0;
    buffer_offset_ = split.offset();
    if (split.offset() == split.start() && split.start() > 0) {
      // The line that starts before this split belongs to the previous one: skip to the
      // first line that starts at or after `start`.
      char before = 0;
      if (::pread(fd_, &before, 1, split.start() - 1) != 1) {
        throw std::runtime_error(system_error("cannot read", split.path()) + " at offset " +
                                 std::to_string(split.start() - 1));
      }
      if (before != '\n') {
        std::string skipped;
        int64_t next = 0;
        if (!read_line(split, skipped, next)) next = split.end();
        split.set_offset(next);
      }
    }
  }

  // A restored split's offsets are only meaningful in the file the checkpoint saw.
  void check_unchanged(const FileSplit& split) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw std::runtime_error(system_error("cannot read", split.path()));
    if (st.st_size != split.file_size()) {
      int64_t size = st.st_size;
      close_file();
      throw Error("cannot resume reading '" + split.path() +
                  "' from the checkpoint: the file changed since the checkpoint (" +
                  std::to_string(split.file_size()) + " bytes then, " + std::to_string(size) +
                  " now)");
    }
  }

  // Reads the line at the buffer's position; `next` becomes the offset after its
  // terminator. Returns false at the end of the file with nothing read.
  bool read_line(const FileSplit& split, std::string& line, int64_t& next) {
    bool any = false;
    while (true) {
      if (buffer_begin_ == buffer_end_) {
        buffer_offset_ += static_cast<int64_t>(buffer_end_);
        buffer_begin_ = buffer_end_ = 0;
        ssize_t n = ::pread(fd_, buffer_.data(), buffer_.size(), buffer_offset_);
        if (n < 0) {
          throw std::runtime_error(system_error("cannot read", split.path()) + " at offset " +
                                   std::to_string(buffer_offset_));
        }
        if (n == 0) {
          next = buffer_offset_;
          return any;
        }
        buffer_end_ = static_cast<size_t>(n);
      }
      const char* begin = buffer_.data() + buffer_begin_;
      const char* newline = static_cast<const char*>(std::memchr(begin, '\n', buffer_end_ - buffer_begin_));
      any = true;
      if (newline != nullptr) {
        line.append(begin, newline);
        buffer_begin_ += static_cast<size_t>(newline - begin) + 1;
        next = buffer_offset_ + static_cast<int64_t>(buffer_begin_);
        return true;
      }
      line.append(begin, buffer_end_ - buffer_begin_);
      buffer_begin_ = buffer_end_;
    }
  }

  void close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  std::vector<char> buffer_;
  size_t buffer_begin_ = 0;  // next unread byte in buffer_
  size_t buffer_end_ = 0;
  int64_t buffer_offset_ = 0;  // file offset of buffer_[0]
};

class TextFileSource final : public Source<std::string> {
 public:
  TextFileSource(std::string path, TextFileOptions options) : path_(std::move(path)), options_(options) {}
  bool bounded() const override { return true; }
  std::unique_ptr<SplitEnumerator> create_enumerator(SplitEnumeratorContext& context) const override {
    return std::make_unique<TextFileEnumerator>(context, path_, options_);
  }
  std::unique_ptr<SourceReader<std::string>> create_reader(SourceReaderContext& context) const override {
    return std::make_unique<TextFileReader>(context);
  }
  std::string serialize_split(const SourceSplit& split) const override {
    const auto* file_split = dynamic_cast<const FileSplit*>(&split);
    if (file_split == nullptr) {
      throw Error(std::string(kKind) + " '" + path_ + "': cannot checkpoint split '" +
                  split.split_id() + "': it is not one of this source's splits");
    }
    return file_split->serialize();
  }
  std::unique_ptr<SourceSplit> deserialize_split(std::string_view bytes) const override {
    return FileSplit::deserialize(bytes);
  }

 private:
  std::string path_;
  TextFileOptions options_;
};

}  // namespace

std::shared_ptr<Source<std::string>> text_file(std::string path, TextFileOptions options) {
  return std::make_shared<TextFileSource>(std::move(path), options);
}

}  // namespace eddy::sources
