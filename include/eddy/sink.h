// Sinks: a Sink creates one SinkWriter per subtask. Transactional sinks (exactly-once)
// will add a committer on top of this interface; built-in sinks are in eddy/sinks.h.
#pragma once

#include <memory>

#include "eddy/operator.h"
#include "eddy/time.h"

namespace eddy {

// Used only from its subtask's thread.
template <class T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void write(T&& value, Timestamp timestamp) = 0;
  // Make written records visible. `end_of_input`: no more records will come.
  virtual void flush(bool end_of_input) {}
  // Always called last, also after a failure; must not throw.
  virtual void close() {}
};

template <class T>
class Sink {
 public:
  using value_type = T;
  virtual ~Sink() = default;
  virtual std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext& context) const = 0;
};

}  // namespace eddy
