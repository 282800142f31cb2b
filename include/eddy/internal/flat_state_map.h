// Not API: the hash map behind each key group of the heap backend. Open addressing with
// linear probing, entries stored inline in one array, so a lookup of a present key costs
// one cache miss in the bucket array (std::unordered_map's bucket array plus node cost
// two). Keys are the short byte strings of serialized (key, namespace); std::string keeps
// those up to 15 bytes inline. Deletion shifts later entries back (no tombstones).
//
// Beside the buckets, one control byte per bucket (as in Abseil's Swiss tables) holds 7
// bits of the entry's hash, or kEmpty. A lookup scans the control bytes 16 at a time from
// the key's home bucket and reads only the buckets whose byte matches, in probe order, up
// to the first empty one. So which bucket holds a key is known from one (small, mostly
// cached) control line, without a branch per bucket: about a quarter of the keys of a
// map at half load are not in their home bucket. It also lets a prefetch in two steps
// load the right bucket for those (prefetch(), then prefetch_entry(); see
// docs/design/heap_state_access.md).
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  [[gnu::always_inline]] bool matches(const std::string& stored) const {
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

// Starts loading the cache line of `address` (for writing when `write`); a hint that
// never faults. Not __builtin_prefetch: GCC 12 takes a function whose only effect is that
// builtin for one without effects, and drops calls to it (every prefetch of a map went).
inline void prefetch_line(const void* address, bool write) {
#if defined(__x86_64__) || defined(__i386__)
  (void)write;  // prefetchw is not in every x86-64 CPU
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(address)));
#else
  if (write) {
    __builtin_prefetch(address, 1);
  } else {
    __builtin_prefetch(address, 0);
  }
#endif
}

// 16 control bytes of a FlatStateMap, starting at any bucket: bit i of a mask stands for
// the bucket i places further in probe order.
class ControlGroup {
 public:
  static constexpr size_t kWidth = 16;
  static constexpr uint8_t kEmpty = 0x80;
  static uint8_t tag_of(uint64_t hash) { return static_cast<uint8_t>(hash >> 57); }  // 0..127

  explicit ControlGroup(const uint8_t* bytes) {
#if defined(__SSE2__)
    bytes_ = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
#else
    std::memcpy(bytes_, bytes, kWidth);
#endif
  }
  // Buckets whose byte is `tag`.
  uint32_t match(uint8_t tag) const {
#if defined(__SSE2__)
    return static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(bytes_, _mm_set1_epi8(static_cast<char>(tag)))));
#else
    uint32_t m = 0;
    for (size_t i = 0; i < kWidth; ++i) m |= static_cast<uint32_t>(bytes_[i] == tag) << i;
    return m;
#endif
  }
  // Empty buckets (the only bytes with the high bit set).
  uint32_t empty() const {
#if defined(__SSE2__)
    return static_cast<uint32_t>(_mm_movemask_epi8(bytes_));
#else
    uint32_t m = 0;
    for (size_t i = 0; i < kWidth; ++i) m |= static_cast<uint32_t>(bytes_[i] >> 7) << i;
    return m;
#endif
  }
  // The buckets before the first of `mask` (all 16 when mask is 0).
  static uint32_t before_first(uint32_t mask) { return mask == 0 ? 0xffffu : (mask & (0u - mask)) - 1; }

 private:
#if defined(__SSE2__)
  __m128i bytes_;
#else
  uint8_t bytes_[kWidth];
#endif
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
    Iterator(Buckets* buckets, size_t index, bool skip = true) : buckets_(buckets), index_(index) {
      if (skip) skip_empty();
    }
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
  // Bytes of the bucket array and control bytes (not what entries own outside them).
  size_t table_bytes() const { return buckets_.size() * sizeof(Bucket) + ctrl_.size(); }

  // Prefetching the entry of hash `h` for a lookup soon after (the heap backend does it
  // for records ahead of the one being processed), in two steps: prefetch() starts loading
  // the control bytes from the key's home bucket, and the home bucket, which holds about
  // three keys in four; prefetch_entry(), once the control bytes have arrived, reads them
  // and starts loading the bucket they name (the first whose byte matches, almost always
  // the key's) when it is not the home bucket.
  void prefetch(uint64_t h) const {
    if (buckets_.empty()) return;
    prefetch_line(ctrl_.data() + (h & mask_), false);
    prefetch_line(buckets_.data() + (h & mask_), true);
  }
  void prefetch_entry(uint64_t h) const {
    if (size_ == 0) return;
    const size_t pos = h & mask_;
    const ControlGroup group(ctrl_.data() + pos);
    const uint32_t candidates = group.match(ControlGroup::tag_of(h)) & ControlGroup::before_first(group.empty());
    // Bit 0 is the home bucket, prefetched already.
    if (candidates != 0 && (candidates & 1u) == 0) {
      prefetch_line(buckets_.data() + ((pos + static_cast<size_t>(std::countr_zero(candidates))) & mask_), true);
    }
  }
  // The value of the first entry with hash `h`, or null: for prefetching what an entry
  // points to, where a (rare) entry of another key with the same hash does no harm.
  const V* find_by_hash(uint64_t h) const {
    if (size_ == 0) return nullptr;
    const size_t i = probe(h, [h](const Bucket& b) { return b.hash == h; }).index;
    return i == kNone ? nullptr : &buckets_[i].entry.second;
  }

  iterator find(std::string_view key) { return find(MapKey::of(key)); }
  iterator find(const MapKey& key) {
    const size_t i = find_index(key);
    return i == kNone ? end() : at(i);
  }
  const_iterator find(std::string_view key) const {
    const size_t i = find_index(MapKey::of(key));
    return const_iterator(&buckets_, i == kNone ? buckets_.size() : i, /*skip=*/false);
  }

  std::pair<iterator, bool> try_emplace(std::string_view key) { return try_emplace(MapKey::of(key)); }
  std::pair<iterator, bool> try_emplace(const MapKey& key) {
    if ((size_ + 1) * 4 > buckets_.size() * 3) grow();  // load factor at most 3/4
    const Probe found = probe(key.hash, matcher(key));
    if (found.index != kNone) return {at(found.index), false};
    Bucket& b = buckets_[found.empty];
    b.hash = key.hash;
    b.entry.first.assign(key.bytes);
    set_ctrl(found.empty, ControlGroup::tag_of(key.hash));
    ++size_;
    return {at(found.empty), true};
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
    std::fill(ctrl_.begin(), ctrl_.end(), ControlGroup::kEmpty);
    size_ = 0;
  }
  // Becomes a copy of `other`, reusing this map's bucket array when it is large enough.
  void assign(const FlatStateMap& other) {
    buckets_ = other.buckets_;
    ctrl_ = other.ctrl_;
    mask_ = other.mask_;
    size_ = other.size_;
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
    // Backward shift: move later entries of the probe run into the hole while that keeps
    // them reachable from their home bucket.
    for (size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
      Bucket& b = buckets_[i];
      if (b.hash == 0) break;
      size_t home = b.hash & mask_;
      bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
      if (movable) {
        buckets_[hole] = std::move(b);
        set_ctrl(hole, ctrl_[i]);
        hole = i;
      }
    }
    buckets_[hole].hash = 0;
    buckets_[hole].entry = std::pair<std::string, V>();
    set_ctrl(hole, ControlGroup::kEmpty);
  }

  static constexpr size_t kNone = ~size_t{0};
  iterator at(size_t i) { return iterator(&buckets_, i, /*skip=*/false); }

  // The bucket of `key`, or kNone.
  size_t find_index(const MapKey& key) const { return size_ == 0 ? kNone : probe(key.hash, matcher(key)).index; }

  auto matcher(const MapKey& key) const {
    return [&key](const Bucket& b) { return b.hash == key.hash && key.matches(b.entry.first); };
  }
  struct Probe {
    size_t index;  // the first bucket of the run that `matches`, or kNone
    size_t empty;  // when none does: the first empty bucket of the run
  };
  // Walks the probe run of hash `hash` (the table must have buckets), reading only the
  // buckets whose control byte matches the hash.
  // Inlined: called out of line, its register saves cost a lookup as much as its loop.
  template <class Matches>
  [[gnu::always_inline]] Probe probe(uint64_t hash, Matches matches) const {
    const uint8_t tag = ControlGroup::tag_of(hash);
    for (size_t pos = hash & mask_;; pos = (pos + ControlGroup::kWidth) & mask_) {
      const ControlGroup group(ctrl_.data() + pos);
      const uint32_t empty = group.empty();
      for (uint32_t m = group.match(tag) & ControlGroup::before_first(empty); m != 0; m &= m - 1) {
        const size_t i = (pos + static_cast<size_t>(std::countr_zero(m))) & mask_;
        if (matches(buckets_[i])) [[likely]] return {i, kNone};
      }
      if (empty != 0) return {kNone, (pos + static_cast<size_t>(std::countr_zero(empty))) & mask_};
    }
  }

  // Control byte i, and its copy past the end: the first kWidth bytes are repeated after
  // the last bucket's, so that a group read near the end wraps around without a branch.
  void set_ctrl(size_t i, uint8_t value) {
    ctrl_[i] = value;
    if (i < ControlGroup::kWidth) ctrl_[buckets_.size() + i] = value;
  }

  void grow() { rehash(buckets_.empty() ? 16 : buckets_.size() * 2); }

  void rehash(size_t capacity) {
    BucketArray old = std::move(buckets_);
    buckets_ = BucketArray(capacity);
    ctrl_.assign(capacity + ControlGroup::kWidth, ControlGroup::kEmpty);
    mask_ = capacity - 1;
    for (Bucket& b : old) {
      if (b.hash == 0) continue;
      for (size_t i = b.hash & mask_;; i = (i + 1) & mask_) {
        if (buckets_[i].hash == 0) {
          buckets_[i] = std::move(b);
          set_ctrl(i, ControlGroup::tag_of(buckets_[i].hash));
          break;
        }
      }
    }
  }

  BucketArray buckets_;
  // One control byte per bucket, then copies of the first ControlGroup::kWidth; empty
  // while buckets_ is.
  std::vector<uint8_t> ctrl_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace eddy::internal
