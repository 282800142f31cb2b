// Not API: pre-aggregation for the window operator's common case (Flink's local /
// mini-batch aggregation, applied inside the window operator).
//
// When a window's function is one of the built-in associative reductions (sum, min, max,
// min_by, max_by), the window operator may fold a record into an in-memory accumulator
// per (key, window) instead of reading and writing keyed state for every record. The
// accumulators are added to keyed state (ReduceContents::add_accumulated):
//   - before a watermark fires the windows it passes,
//   - before the operator's state is snapshotted (prepare_snapshot_pre_barrier),
//   - and when more than `max_entries` are buffered,
// so keyed state holds every window's full contents whenever anything reads it. Because
// the reduction is associative, the results are those of the record-by-record path.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eddy/key.h"

namespace eddy::internal {

// Marks a reduce function as associative: reduce(reduce(a, b), c) == reduce(a, reduce(b, c)).
template <class F>
struct AssociativeReduce {
  F fn;
  template <class T>
  auto operator()(T acc, const T& value) const {
    return fn(std::move(acc), value);
  }
};

template <class F>
struct IsAssociativeReduce : std::false_type {};
template <class F>
struct IsAssociativeReduce<AssociativeReduce<F>> : std::true_type {};

template <class K, class W, class Acc>
class PreAggregationBuffer {
 public:
  struct Window {
    W window;
    std::string ns;  // the window's serialized namespace
    std::unordered_map<K, Acc, std::conditional_t<std::is_default_constructible_v<std::hash<K>>, std::hash<K>,
                                                   KeyHasher<K>>>
        entries;
  };

  explicit PreAggregationBuffer(size_t max_entries = 1 << 17) : max_entries_(max_entries) {}

  // The buffer of `window`, created (with `ns`, its namespace) if needed.
  template <class WriteNamespace>
  Window& window(const W& window, WriteNamespace write_namespace) {
    if (last_ < windows_.size() && windows_[last_].window == window) return windows_[last_];
    for (size_t i = 0; i < windows_.size(); ++i) {
      if (windows_[i].window == window) {
        last_ = i;
        return windows_[i];
      }
    }
    windows_.push_back(Window{window, {}, {}});
    write_namespace(windows_.back().ns, window);
    last_ = windows_.size() - 1;
    return windows_.back();
  }

  void note_inserted() { ++size_; }
  bool over_limit() const { return size_ > max_entries_; }
  size_t size() const { return size_; }

  // Calls flush(window buffer) for every window buffer `select` picks, then drops them.
  template <class Select, class Flush>
  void flush_if(Select select, Flush flush) {
    for (size_t i = 0; i < windows_.size();) {
      if (!select(windows_[i].window)) {
        ++i;
        continue;
      }
      size_ -= windows_[i].entries.size();
      flush(windows_[i]);
      windows_.erase(windows_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    last_ = 0;
  }

 private:
  std::vector<Window> windows_;
  size_t last_ = 0;
  size_t size_ = 0;
  size_t max_entries_;
};

}  // namespace eddy::internal
