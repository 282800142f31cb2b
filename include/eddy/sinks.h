// Built-in sinks: print, collect into a vector, discard, and a user callback.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "eddy/format.h"
#include "eddy/sink.h"

namespace eddy::sinks {

namespace internal {
// Writes whole lines to stdout (or stderr) so that lines of subtasks never interleave.
void write_lines(const std::string& text, bool to_stderr);
}  // namespace internal

// Prints each record on its own line, as Flink's print(): when the sink runs in parallel,
// each line starts with the 1-based subtask number and "> "; with an `identifier`, with
// "identifier:N> " (or "identifier> " when not parallel).
template <class T>
class PrintSink final : public Sink<T> {
 public:
  explicit PrintSink(std::string identifier = "", bool to_stderr = false)
      : identifier_(std::move(identifier)), to_stderr_(to_stderr) {}

  std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext& context) const override {
    std::string prefix = identifier_;
    if (context.parallelism() > 1) {
      prefix += (prefix.empty() ? "" : ":") + std::to_string(context.subtask_index() + 1);
    }
    if (!prefix.empty()) prefix += "> ";
    return std::make_unique<Writer>(std::move(prefix), to_stderr_);
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    Writer(std::string prefix, bool to_stderr) : prefix_(std::move(prefix)), to_stderr_(to_stderr) {}
    void write(T&& value, Timestamp) override {
      std::string line = prefix_;
      line += to_display_string(value);
      line += '\n';
      internal::write_lines(line, to_stderr_);
    }

   private:
    std::string prefix_;
    bool to_stderr_;
  };

  std::string identifier_;
  bool to_stderr_;
};

// Untyped sink descriptions: `stream.sink_to(sinks::print())` makes the sink for the
// stream's type.
struct PrintSpec {
  std::string identifier;
  bool to_stderr = false;
  template <class T>
  std::shared_ptr<Sink<T>> make() const {
    return std::make_shared<PrintSink<T>>(identifier, to_stderr);
  }
};

inline PrintSpec print(std::string identifier = "") { return PrintSpec{std::move(identifier)}; }
inline PrintSpec print_to_stderr(std::string identifier = "") {
  return PrintSpec{std::move(identifier), true};
}

// Appends every record to `target`. Subtasks buffer their records and append them under a
// lock when they flush (at the end of input), so read `target` after execute() returns.
// `target` must outlive the job.
template <class T>
class CollectSink final : public Sink<T> {
 public:
  explicit CollectSink(std::vector<T>& target)
      : target_(&target), mutex_(std::make_shared<std::mutex>()) {}

  std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext&) const override {
    return std::make_unique<Writer>(target_, mutex_);
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    Writer(std::vector<T>* target, std::shared_ptr<std::mutex> mutex)
        : target_(target), mutex_(std::move(mutex)) {}
    void write(T&& value, Timestamp) override { buffer_.push_back(std::move(value)); }
    void flush(bool) override {
      std::lock_guard<std::mutex> lock(*mutex_);
      for (T& value : buffer_) target_->push_back(std::move(value));
      buffer_.clear();
    }

   private:
    std::vector<T>* target_;
    std::shared_ptr<std::mutex> mutex_;
    std::vector<T> buffer_;
  };

  std::vector<T>* target_;
  std::shared_ptr<std::mutex> mutex_;
};

template <class T>
std::shared_ptr<Sink<T>> collect(std::vector<T>& target) {
  return std::make_shared<CollectSink<T>>(target);
}

// Drops every record (counted in the job's metrics).
template <class T>
class DiscardSink final : public Sink<T> {
 public:
  std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext&) const override {
    return std::make_unique<Writer>();
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    void write(T&&, Timestamp) override {}
  };
};

struct DiscardSpec {
  template <class T>
  std::shared_ptr<Sink<T>> make() const {
    return std::make_shared<DiscardSink<T>>();
  }
};

inline DiscardSpec discard() { return {}; }

// Calls fn(value) for every record. With a parallel sink, fn is called concurrently from
// several threads (each subtask uses its own copy of fn).
template <class T, class F>
class CallbackSink final : public Sink<T> {
 public:
  explicit CallbackSink(F fn) : fn_(std::move(fn)) {}
  std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext&) const override {
    return std::make_unique<Writer>(fn_);
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(F fn) : fn_(std::move(fn)) {}
    void write(T&& value, Timestamp) override { fn_(std::move(value)); }

   private:
    F fn_;
  };
  F fn_;
};

template <class F>
struct CallbackSpec {
  F fn;
  template <class T>
  std::shared_ptr<Sink<T>> make() const {
    return std::make_shared<CallbackSink<T, F>>(fn);
  }
};

template <class F>
CallbackSpec<F> callback(F fn) {
  return CallbackSpec<F>{std::move(fn)};
}

}  // namespace eddy::sinks
