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
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/internal/bucket_memory.h"
#include "eddy/key.h"

namespace eddy::internal {

// A key prepared for lookups: its bytes, their hash, and, for keys of at most 16 bytes,
// the bytes as two little-endian words, zero past the end, which is how they are
// compared and hashed (no byte loop, no memcmp call). hash is never 0 (0 marks an empty
// bucket) and only lives in memory: it is part of no file format.
struct MapKey {
  std::string_view bytes;
  uint64_t w0 = 0;
  uint64_t w1 = 0;
  uint64_t hash = 1;

  // Any bytes.
  static MapKey of(std::string_view bytes) {
    MapKey key;
    key.bytes = bytes;
    const size_t n = bytes.size();
    if (n > 16) {
      key.hash = nonzero(hash_bytes64(bytes.data(), n));
      return key;
    }
    std::memcpy(&key.w0, bytes.data(), std::min<size_t>(n, 8));
    if (n > 8) std::memcpy(&key.w1, bytes.data() + 8, n - 8);
    key.hash = hash_words(key.w0, key.w1, n);
    return key;
  }
  // The hash of a key of n <= 16 bytes given as words (wyhash's mixing: two 64x64->128-bit
  // multiplications).
  static uint64_t hash_words(uint64_t w0, uint64_t w1, size_t n) {
    return nonzero(mix(kSeed1 ^ n, mix(w0 ^ kSeed1, w1 ^ kSeed2)));
  }
  // Whether `stored` (a std::string: at least 16 bytes are readable at its data(), inline
  // or allocated) holds these bytes. Bytes past its end are read but masked off.
  bool matches(const std::string& stored) const {
    const size_t n = bytes.size();
    if (stored.size() != n) return false;
    if (n > 16) return std::memcmp(stored.data(), bytes.data(), n) == 0;
    uint64_t s0;
    std::memcpy(&s0, stored.data(), 8);
    if (n <= 8) return (s0 & low_bytes(n)) == w0;
    uint64_t s1;
    std::memcpy(&s1, stored.data() + 8, 8);
    return s0 == w0 && (s1 & low_bytes(n - 8)) == w1;
  }
  // A mask of the low n (< 8) bytes, or all 8.
  static uint64_t low_bytes(size_t n) { return n >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1; }

 private:
  static constexpr uint64_t kSeed1 = 0xa0761d6478bd642fULL;
  static constexpr uint64_t kSeed2 = 0xe7037ed1a0b428dbULL;
  static uint64_t nonzero(uint64_t h) { return h == 0 ? 1 : h; }
  static uint64_t mix(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
};

template <class V>
class FlatStateMap {
  struct BucketFields {
    uint64_t hash = 0;
    std::pair<std::string, V> entry;
  };
  // A bucket of at most 64 bytes is aligned to its size rounded up to a power of two, so
  // it never straddles two cache lines: a lookup of a present key touches one line.
  static constexpr size_t kBucketAlign =
      sizeof(BucketFields) <= 64 ? std::bit_ceil(sizeof(BucketFields)) : alignof(BucketFields);
  struct alignas(kBucketAlign) Bucket {
    uint64_t hash = 0;  // 0: empty
    std::pair<std::string, V> entry;
  };
  // Large arrays on huge pages (bucket_memory.h).
  using BucketArray = std::vector<Bucket, BucketAllocator<Bucket>>;

 public:
  template <bool Const>
  class Iterator {
    using Buckets = std::conditional_t<Const, const BucketArray, BucketArray>;
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

  // Starts loading the bucket where a key of hash `h` would be, for a lookup soon after
  // (the heap backend prefetches the state of records ahead of the one being processed).
  void prefetch(uint64_t h) const {
    if (!buckets_.empty()) __builtin_prefetch(buckets_.data() + (h & mask_), 1);
  }
  // The value of the first entry with hash `h`, or null: for prefetching what an entry
  // points to, where a (rare) entry of another key with the same hash does no harm.
  const V* find_by_hash(uint64_t h) const {
    if (size_ == 0) return nullptr;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Bucket& b = buckets_[i];
      if (b.hash == 0) return nullptr;
      if (b.hash == h) return &b.entry.second;
    }
  }
  // Changes on every insertion, erasure and rehash: a bucket index found under one
  // generation stays valid while the generation does not change.
  uint64_t generation() const { return generation_; }
  std::pair<std::string, V>& entry_at(size_t index) { return buckets_[index].entry; }

  iterator find(std::string_view key) { return find(MapKey::of(key)); }
  iterator find(const MapKey& key) {
    if (size_ == 0) return end();
    for (size_t i = key.hash & mask_;; i = (i + 1) & mask_) {
      const Bucket& b = buckets_[i];
      if (b.hash == 0) return end();
      if (b.hash == key.hash && key.matches(b.entry.first)) return iterator(&buckets_, i);
    }
  }
  const_iterator find(std::string_view key) const {
    auto it = const_cast<FlatStateMap*>(this)->find(key);
    return const_iterator(&buckets_, it.index());
  }

  std::pair<iterator, bool> try_emplace(std::string_view key) { return try_emplace(MapKey::of(key)); }
  std::pair<iterator, bool> try_emplace(const MapKey& key) {
    if ((size_ + 1) * 4 > buckets_.size() * 3) grow();  // load factor at most 3/4
    for (size_t i = key.hash & mask_;; i = (i + 1) & mask_) {
      Bucket& b = buckets_[i];
      if (b.hash == 0) {
        b.hash = key.hash;
        b.entry.first.assign(key.bytes);
        ++size_;
        ++generation_;
        return {iterator(&buckets_, i), true};
      }
      if (b.hash == key.hash && key.matches(b.entry.first)) return {iterator(&buckets_, i), false};
    }
  }
  V& operator[](std::string_view key) { return try_emplace(key).first->second; }

  size_t erase(std::string_view key) { return erase(MapKey::of(key)); }
  size_t erase(const MapKey& key) {
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
    BucketArray old = std::move(buckets_);
    buckets_ = BucketArray(capacity);
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

  BucketArray buckets_;
  size_t mask_ = 0;
  size_t size_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace eddy::internal
