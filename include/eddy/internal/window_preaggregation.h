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

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
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

// A hash map with open addressing and linear probing, for the buffer: insert and find
// only (a flush takes everything), power-of-two capacity, at most half full.
template <class K, class V>
class PreAggregationMap {
 public:
  struct Slot {
    K first;
    V second;
  };

  size_t size() const { return size_; }
  // The value of `key`, or null.
  V* find(const K& key) {
    if (slots_.empty()) return nullptr;
    for (size_t i = index_of(key);; i = (i + 1) & mask_) {
      if (!slots_[i]) return nullptr;
      if (slots_[i]->first == key) return &slots_[i]->second;
    }
  }
  // Inserts (key, value); `key` must be absent. Returns the stored slot.
  Slot& insert(const K& key, V value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = index_of(key);
    while (slots_[i]) i = (i + 1) & mask_;
    slots_[i].emplace(Slot{key, std::move(value)});
    ++size_;
    return *slots_[i];
  }
  template <class F>
  void for_each(F fn) {
    for (auto& slot : slots_) {
      if (slot) fn(slot->first, slot->second);
    }
  }

 private:
  size_t index_of(const K& key) const {
    uint64_t h = KeyHash<K>{}(key);
    return static_cast<size_t>((h * 0x9e3779b97f4a7c15ULL) >> 32) & mask_;
  }
  void grow() {
    std::vector<std::optional<Slot>> old = std::move(slots_);
    size_t capacity = old.empty() ? 1024 : old.size() * 2;
    slots_ = std::vector<std::optional<Slot>>(capacity);
    mask_ = capacity - 1;
    size_ = 0;
    for (auto& slot : old) {
      if (slot) insert(slot->first, std::move(slot->second));
    }
  }

  std::vector<std::optional<Slot>> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

template <class K, class W, class Acc>
class PreAggregationBuffer {
 public:
  struct Window {
    W window;
    std::string ns;  // the window's serialized namespace
    PreAggregationMap<K, Acc> entries;
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

  // Calls flush(window buffer) for every window buffer `select` picks, then drops them.
  template <class Select, class Flush>
  void flush_if(Select select, Flush flush) {
    // In the order of the windows' ends, as their timers would fire them: results of one
    // watermark come out in time order, as in Flink.
    std::vector<size_t> picked;
    for (size_t i = 0; i < windows_.size(); ++i) {
      if (select(windows_[i].window)) picked.push_back(i);
    }
    if (picked.empty()) return;
    std::stable_sort(picked.begin(), picked.end(), [this](size_t a, size_t b) {
      return windows_[a].window.max_timestamp() < windows_[b].window.max_timestamp();
    });
    std::vector<bool> flushed(windows_.size(), false);
    for (size_t i : picked) {
      size_ -= windows_[i].entries.size();
      flush(windows_[i]);
      flushed[i] = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < windows_.size(); ++i) {
      if (!flushed[i]) {
        if (kept != i) windows_[kept] = std::move(windows_[i]);
        ++kept;
      }
    }
    windows_.erase(windows_.begin() + static_cast<std::ptrdiff_t>(kept), windows_.end());
    last_ = 0;
  }

 private:
  std::vector<Window> windows_;
  size_t last_ = 0;
  size_t size_ = 0;
  size_t max_entries_;
};

}  // namespace eddy::internal
