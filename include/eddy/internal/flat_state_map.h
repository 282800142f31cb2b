// Not API: the hash map behind each key group of the heap backend. Open addressing with
// linear probing, entries stored inline in one array, so a lookup of a present key costs
// one cache miss (std::unordered_map's bucket array plus node cost two). Keys are the
// short byte strings of serialized (key, namespace); std::string keeps those up to 15
// bytes inline. Deletion shifts later entries back (no tombstones).
//
// The interface is the subset of std::unordered_map the heap states use. Iterators and
// references are invalidated by any insertion or erasure.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/key.h"

namespace eddy::internal {

template <class V>
class FlatStateMap {
  struct Bucket {
    uint64_t hash = 0;  // 0: empty
    std::pair<std::string, V> entry;
  };

 public:
  template <bool Const>
  class Iterator {
    using Buckets = std::conditional_t<Const, const std::vector<Bucket>, std::vector<Bucket>>;
    using Entry = std::conditional_t<Const, const std::pair<std::string, V>, std::pair<std::string, V>>;

   public:
    Iterator(Buckets* buckets, size_t index) : buckets_(buckets), index_(index) { skip_empty(); }
    Entry& operator*() const { return (*buckets_)[index_].entry; }
    Entry* operator->() const { return &(*buckets_)[index_].entry; }
    Iterator& operator++() {
      ++index_;
      skip_empty();
      return *this;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }
    size_t index() const { return index_; }

   private:
    void skip_empty() {
      while (index_ < buckets_->size() && (*buckets_)[index_].hash == 0) ++index_;
    }
    Buckets* buckets_;
    size_t index_;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  iterator begin() { return iterator(&buckets_, 0); }
  iterator end() { return iterator(&buckets_, buckets_.size()); }
  const_iterator begin() const { return const_iterator(&buckets_, 0); }
  const_iterator end() const { return const_iterator(&buckets_, buckets_.size()); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t bucket_count() const { return buckets_.size(); }
  static constexpr size_t bucket_bytes() { return sizeof(Bucket); }

  static uint64_t hash_of(std::string_view key) {
    uint64_t h = hash_bytes64(key.data(), key.size());  // XXH3: faster than std::hash for short keys
    return h == 0 ? 1 : h;
  }
  // Changes on every insertion, erasure and rehash: a bucket index found under one
  // generation stays valid while the generation does not change.
  uint64_t generation() const { return generation_; }
  std::pair<std::string, V>& entry_at(size_t index) { return buckets_[index].entry; }

  iterator find(std::string_view key) { return find(key, hash_of(key)); }
  // `h` must be hash_of(key).
  iterator find(std::string_view key, uint64_t h) {
    if (size_ == 0) return end();
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Bucket& b = buckets_[i];
      if (b.hash == 0) return end();
      if (b.hash == h && b.entry.first == key) return iterator(&buckets_, i);
    }
  }
  const_iterator find(std::string_view key) const {
    auto it = const_cast<FlatStateMap*>(this)->find(key);
    return const_iterator(&buckets_, it.index());
  }

  std::pair<iterator, bool> try_emplace(std::string_view key) { return try_emplace(key, hash_of(key)); }
  std::pair<iterator, bool> try_emplace(std::string_view key, uint64_t h) {
    if ((size_ + 1) * 4 > buckets_.size() * 3) grow();  // load factor at most 3/4
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Bucket& b = buckets_[i];
      if (b.hash == 0) {
        b.hash = h;
        b.entry.first.assign(key);
        ++size_;
        ++generation_;
        return {iterator(&buckets_, i), true};
      }
      if (b.hash == h && b.entry.first == key) return {iterator(&buckets_, i), false};
    }
  }
  V& operator[](std::string_view key) { return try_emplace(key).first->second; }

  size_t erase(std::string_view key) {
    iterator it = find(key);
    if (it == end()) return 0;
    erase_at(it.index());
    return 1;
  }
  // Returns the iterator to continue from (the same position, which may now hold an
  // entry shifted back into it).
  iterator erase(iterator it) {
    size_t index = it.index();
    erase_at(index);
    return iterator(&buckets_, index);
  }

  // Empties the map, keeping its bucket array for reuse.
  void clear() {
    for (Bucket& b : buckets_) {
      if (b.hash == 0) continue;
      b.hash = 0;
      b.entry = std::pair<std::string, V>();
    }
    size_ = 0;
    ++generation_;
  }
  // Becomes a copy of `other`, reusing this map's bucket array when it is large enough. The
  // generation moves past both maps', so no position remembered in this map stays valid.
  void assign(const FlatStateMap& other) {
    const uint64_t generation = std::max(generation_, other.generation_) + 1;
    buckets_ = other.buckets_;
    mask_ = other.mask_;
    size_ = other.size_;
    generation_ = generation;
  }

  // Halves the table while it is at most 1/8 full, releasing memory after mass erasure.
  // Invalidates iterators.
  void shrink_to_fit() {
    size_t capacity = buckets_.size();
    while (capacity > 16 && size_ * 8 <= capacity) capacity /= 2;
    if (capacity != buckets_.size()) rehash(capacity);
  }

 private:
  void erase_at(size_t hole) {
    --size_;
    ++generation_;
    // Backward shift: move later entries of the probe run into the hole while that keeps
    // them reachable from their home bucket.
    for (size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
      Bucket& b = buckets_[i];
      if (b.hash == 0) break;
      size_t home = b.hash & mask_;
      bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
      if (movable) {
        buckets_[hole] = std::move(b);
        hole = i;
      }
    }
    buckets_[hole].hash = 0;
    buckets_[hole].entry = std::pair<std::string, V>();
  }

  void grow() { rehash(buckets_.empty() ? 16 : buckets_.size() * 2); }

  void rehash(size_t capacity) {
    ++generation_;
    std::vector<Bucket> old = std::move(buckets_);
    buckets_ = std::vector<Bucket>(capacity);
    mask_ = capacity - 1;
    for (Bucket& b : old) {
      if (b.hash == 0) continue;
      for (size_t i = b.hash & mask_;; i = (i + 1) & mask_) {
        if (buckets_[i].hash == 0) {
          buckets_[i] = std::move(b);
          break;
        }
      }
    }
  }

  std::vector<Bucket> buckets_;
  size_t mask_ = 0;
  size_t size_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace eddy::internal
