// An exactly-once sink that writes records as rows into part files under a base directory
// (Flink's FileSink in row format). docs/file_sink.md has the whole story; in short:
//
//   FileSinkOptions<Order> options;
//   options.base_path = "/data/orders";
//   options.bucket_assigner = buckets::by<Order>([](const Order& o) { return o.region; });
//   options.part_suffix = ".csv";
//   orders.sink_to(sinks::file<Order>(options), "Orders to files");
//
// Records go to a bucket, a folder under the base path chosen per record by the bucket
// assigner (default: the processing-time hour, "yyyy-MM-dd--HH" in UTC). Each subtask
// writes one part file per bucket at a time and rolls it (closes it and starts the next)
// when it reaches the rolling policy's size or age, after a time without writes, and at
// every checkpoint. A part file goes through three names:
//
//   <bucket>/.part-<token>-<subtask>-<n>.inprogress   written to (hidden)
//   <bucket>/.part-<token>-<subtask>-<n>.pending      closed and fsync'ed (hidden)
//   <bucket>/part-<token>-<subtask>-<n><suffix>       committed (visible)
//
// <token> is random per writer instance, so names never collide across restarts, restores
// and rescaling; <n> counts the writer's part files. Pending files become visible when the
// checkpoint that pre-committed them completes (TwoPhaseCommitSink), or, with
// checkpointing off, at the end of bounded input. After a restore, every hidden file
// written after the restored checkpoint is deleted and every pending file of that
// checkpoint is committed, so each record is in exactly one visible file.
//
// Threading: each subtask uses its own copies of the bucket assigner and the encoder.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/format.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/sink.h"
#include "eddy/time.h"
#include "eddy/two_phase_commit_sink.h"

namespace eddy {

// What a bucket assigner sees besides the record.
struct BucketContext {
  Timestamp processing_time = 0;       // the job's clock (RuntimeContext::clock())
  Timestamp timestamp = kNoTimestamp;  // the record's timestamp
};

// The bucket of a record: a relative folder under the base path ("a", "2024/05", or "" for
// the base path itself). No absolute paths and no "." or ".." components.
template <class T>
using BucketAssigner = std::function<std::string(const T& value, const BucketContext& context)>;

// Appends the bytes of one record to `out` (a row, with its line end if it wants one).
template <class T>
using FileEncoder = std::function<void(const T& value, std::string& out)>;

namespace internal {
// `time_ms` (ms since the epoch) as strftime's `format` renders it in UTC.
std::string format_utc_time(Timestamp time_ms, const std::string& format);
}  // namespace internal

namespace buckets {

// The processing time, formatted in UTC with strftime's `format`; the default gives one
// bucket per hour, "2024-05-01--13" (Flink's DateTimeBucketAssigner, "yyyy-MM-dd--HH").
template <class T>
BucketAssigner<T> date_time(std::string format = "%Y-%m-%d--%H") {
  // Formats at most once per second of processing time; each subtask has its own copy.
  struct Cached {
    explicit Cached(std::string f) : format(std::move(f)) {}
    std::string format;
    Timestamp second = kNoTimestamp;
    std::string bucket;
    std::string operator()(const T&, const BucketContext& context) {
      Timestamp s = context.processing_time / 1000 - (context.processing_time % 1000 < 0 ? 1 : 0);
      if (s != second) {
        bucket = internal::format_utc_time(s * 1000, format);
        second = s;
      }
      return bucket;
    }
  };
  return Cached(std::move(format));
}

// fn(const T&) -> std::string names the bucket of each record.
template <class T, class F>
BucketAssigner<T> by(F fn) {
  return
      [fn = std::move(fn)](const T& value, const BucketContext&) { return std::string(fn(value)); };
}

// Every record in the base path itself.
template <class T>
BucketAssigner<T> single() {
  return [](const T&, const BucketContext&) { return std::string(); };
}

}  // namespace buckets

// When a subtask closes its part file of a bucket and starts the next one. Part files also
// roll at every checkpoint (and at the end of input), whatever the policy says. The two
// intervals are checked, for every open part, whenever the subtask writes a record (there
// is no timer): a part of a bucket that gets no more records, while no other bucket gets
// any, is closed at the next checkpoint. Rolling decides how output is cut into files,
// never when it becomes visible: that is the checkpoint's business.
struct RollingPolicy {
  // A part is closed once it holds this many bytes (so a part holds at least one record).
  uint64_t max_part_size_bytes = uint64_t{128} << 20;
  // A part is closed when it is this old (processing time since it was opened); 0: never.
  std::chrono::milliseconds rollover_interval{std::chrono::minutes(1)};
  // A part is closed when nothing was written to it for this long; 0: never.
  std::chrono::milliseconds inactivity_interval{std::chrono::minutes(1)};
};

template <class T>
struct FileSinkOptions {
  // The folder under which the buckets go; created when missing.
  std::string base_path;
  BucketAssigner<T> bucket_assigner = buckets::date_time<T>();
  // Default: eddy::to_display_string(value) and '\n'.
  FileEncoder<T> encoder = [](const T& value, std::string& out) {
    out += to_display_string(value);
    out += '\n';
  };
  // Appended to committed part file names, e.g. ".txt" or ".csv".
  std::string part_suffix;
  RollingPolicy rolling;
};

namespace internal {

// One part file of a transaction.
struct FilePart {
  std::string bucket;
  int64_t sequence = 0;
  EDDY_SERIALIZE(bucket, sequence)
};

// A file sink transaction: the part files one writer wrote between two checkpoints.
struct FileTransaction {
  std::string token;  // the writer's random token
  int32_t subtask = 0;
  // Every part of this transaction, and of the writer's later ones, has a sequence
  // number >= this: a restore deletes the hidden files from here on.
  int64_t first_sequence = 0;
  std::string suffix;
  std::vector<FilePart> parts;  // closed (pending); after pre-commit, all of them
  EDDY_SERIALIZE(token, subtask, first_sequence, suffix, parts)
};

// Deletes every hidden part file (in progress or pending) under `base_path` except the
// pending files of `keep`. Throws Error naming what it cannot list or delete.
void delete_unreferenced_parts(const std::string& base_path, const std::vector<FileTransaction>& keep);

// Checks what FileSink needs of its options; throws InvalidJobError.
void validate_file_sink_options(const std::string& base_path, const std::string& part_suffix,
                                const RollingPolicy& rolling);

// The part files of one file sink subtask: opening, writing, rolling and the renames of the
// life cycle, on bytes the encoder made. Writes are buffered; errors throw eddy::Error
// naming the file and the system's reason. Open parts always belong to the transaction
// being written (the writer's current one).
class FilePartWriter {
 public:
  FilePartWriter(std::string base_path, std::string part_suffix, RollingPolicy rolling,
                 int subtask_index);
  // Closes open files and leaves them where they are, as a crash would: close()-time
  // cleanup is abort()'s job.
  ~FilePartWriter();
  FilePartWriter(const FilePartWriter&) = delete;
  FilePartWriter& operator=(const FilePartWriter&) = delete;

  const std::string& token() const { return token_; }

  FileTransaction begin_transaction() const;
  // Appends `bytes` to the open part of `bucket` at processing time `now`, opening one if
  // there is none, and rolls the parts the policy says are due.
  void write(FileTransaction& transaction, const std::string& bucket, std::string_view bytes,
             Timestamp now);
  // Rolls every open part; fsyncs the folders of the transaction's parts.
  void pre_commit(FileTransaction& transaction);
  // Renames each pending part to its final name; a part already there is skipped.
  void commit(const FileTransaction& transaction) const;
  // Deletes the open parts and the pending files of `transaction`.
  void abort(const FileTransaction& transaction);
  // Deletes every hidden file of the transaction's token and subtask whose sequence number
  // is at least its first_sequence, anywhere under the base path.
  void recover_and_abort(const FileTransaction& transaction) const;

 private:
  struct OpenPart {
    int64_t sequence = 0;
    std::string path;  // the in-progress file
    int fd = -1;
    std::string buffer;  // written bytes not yet handed to the file
    uint64_t size = 0;   // bytes written, buffered ones included
    Timestamp opened_at = 0;
    Timestamp last_write_at = 0;
  };

  OpenPart& open_part(const std::string& bucket, Timestamp now);
  // Closes the part of `bucket` and renames it to pending; it joins the transaction.
  void roll(FileTransaction& transaction, std::map<std::string, OpenPart>::iterator it);
  // Rolls the parts whose age or inactivity is due at `now`.
  void roll_expired(FileTransaction& transaction, Timestamp now);
  Timestamp deadline_of(const OpenPart& part) const;
  void flush_buffer(OpenPart& part);
  std::string folder_of(const std::string& bucket) const;

  std::string base_path_;
  std::string part_suffix_;
  RollingPolicy rolling_;
  int subtask_index_;
  std::string token_;
  int64_t next_sequence_ = 0;
  std::map<std::string, OpenPart> open_parts_;  // by bucket
  Timestamp next_deadline_;                     // no open part is due before this
};

}  // namespace internal

// The sink; see the top of this file. Validates its options on construction (throws
// InvalidJobError).
template <class T>
class FileSink final : public TwoPhaseCommitSink<T, internal::FileTransaction> {
  using Base = TwoPhaseCommitSink<T, internal::FileTransaction>;

 public:
  explicit FileSink(FileSinkOptions<T> options)
      : Base("file-sink-transactions"), options_(std::move(options)) {
    internal::validate_file_sink_options(options_.base_path, options_.part_suffix,
                                         options_.rolling);
    if (!options_.bucket_assigner) throw InvalidJobError("file sink: the bucket assigner is empty");
    if (!options_.encoder) throw InvalidJobError("file sink: the encoder is empty");
  }

  const FileSinkOptions<T>& options() const { return options_; }

 protected:
  // Deletes every hidden part file under the base path except the pending files of the
  // restored checkpoint's pending transactions (a run that died before its next
  // checkpoint leaves files no checkpoint knows).
  void clean_up_before_run(
      const std::vector<StoredTransaction<internal::FileTransaction>>& restored) const override {
    std::vector<internal::FileTransaction> pending;
    for (const auto& stored : restored) {
      if (stored.pending) pending.push_back(stored.transaction);
    }
    internal::delete_unreferenced_parts(options_.base_path, pending);
  }

  std::unique_ptr<typename Base::Transactions> create_transactions(
      const RuntimeContext& context) const override {
    return std::make_unique<FileTransactions>(options_, context);
  }

 private:
  class FileTransactions final : public Base::Transactions {
   public:
    FileTransactions(const FileSinkOptions<T>& options, const RuntimeContext& context)
        : clock_(context.clock()),
          bucket_assigner_(options.bucket_assigner),
          encoder_(options.encoder),
          parts_(options.base_path, options.part_suffix, options.rolling, context.subtask_index()) {
    }

    internal::FileTransaction begin_transaction() override { return parts_.begin_transaction(); }
    void invoke(internal::FileTransaction& transaction, T&& value, Timestamp timestamp) override {
      const Timestamp now = clock_.now_ms();
      const std::string bucket = bucket_assigner_(value, BucketContext{now, timestamp});
      row_.clear();
      encoder_(value, row_);
      parts_.write(transaction, bucket, row_, now);
    }
    void pre_commit(internal::FileTransaction& transaction) override {
      parts_.pre_commit(transaction);
    }
    void commit(const internal::FileTransaction& transaction) override {
      parts_.commit(transaction);
    }
    void abort(const internal::FileTransaction& transaction) override { parts_.abort(transaction); }
    void recover_and_abort(const internal::FileTransaction& transaction) override {
      parts_.recover_and_abort(transaction);
    }

   private:
    const Clock& clock_;
    BucketAssigner<T> bucket_assigner_;
    FileEncoder<T> encoder_;
    internal::FilePartWriter parts_;
    std::string row_;  // reused for each record's bytes
  };

  FileSinkOptions<T> options_;
};

namespace sinks {

// An exactly-once file sink: `stream.sink_to(sinks::file<T>({.base_path = "out"}), "Files")`.
template <class T>
std::shared_ptr<Sink<T>> file(FileSinkOptions<T> options) {
  return std::make_shared<FileSink<T>>(std::move(options));
}

}  // namespace sinks

}  // namespace eddy
