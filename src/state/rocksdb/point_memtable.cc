#include "state/rocksdb/point_memtable.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include <rocksdb/slice.h>

#include "eddy/key.h"

namespace eddy::state {

namespace {

// A memtable entry, as RocksDB lays it out (MemTable::Add; "frozen, part of the API
// contract"): varint32 length of the internal key | internal key (user key | 8-byte tag:
// sequence number << 8 | type, little endian) | varint32 length of the value | value.
rocksdb::Slice internal_key_of(const char* entry) {
  uint32_t length = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(entry);
  for (int shift = 0; shift <= 28; shift += 7) {
    uint32_t byte = *p++;
    length |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return rocksdb::Slice(reinterpret_cast<const char*>(p), length);
}

rocksdb::Slice user_key_of(const rocksdb::Slice& internal_key) {
  return rocksdb::Slice(internal_key.data(), internal_key.size() - 8);
}

// The internal key of a LookupKey. Its definition (db/dbformat.h) is not among RocksDB's
// installed headers; its layout has been LevelDB's from the start: three pointers, start_
// (the varint32 length), kstart_ (the internal key) and end_.
rocksdb::Slice internal_key_of(const rocksdb::LookupKey& key) {
  const char* pointers[3];
  std::memcpy(pointers, &key, sizeof pointers);
  return rocksdb::Slice(pointers[1], static_cast<size_t>(pointers[2] - pointers[1]));
}

size_t bucket_of(const rocksdb::Slice& user_key, size_t buckets) {
  uint64_t hash = hash_bytes64(user_key.data(), user_key.size());
  return static_cast<size_t>((static_cast<unsigned __int128>(hash) * buckets) >> 64);
}

// The first 8 bytes of the user key, big endian, zero past its end: ordered as the keys'
// bytes are.
uint64_t order_prefix(const char* entry) {
  rocksdb::Slice user_key = user_key_of(internal_key_of(entry));
  unsigned char bytes[8] = {};
  std::memcpy(bytes, user_key.data(), std::min<size_t>(user_key.size(), 8));
  uint64_t prefix = 0;
  for (unsigned char byte : bytes) prefix = (prefix << 8) | byte;
  return prefix;
}

struct Node {
  std::atomic<Node*> next{nullptr};  // the next older entry of the chain
  char* entry() { return reinterpret_cast<char*>(this + 1); }
};

// Entries in insertion order, kChunkEntries to a chunk.
constexpr size_t kChunkEntries = 1024;
struct Chunk {
  const char* entries[kChunkEntries];
  std::atomic<Chunk*> next{nullptr};
};

using Sorted = std::vector<const char*>;

// An iterator over a sorted copy of the entries.
class SortedIterator final : public rocksdb::MemTableRep::Iterator {
 public:
  SortedIterator(std::shared_ptr<const Sorted> entries, const rocksdb::MemTableRep::KeyComparator& compare)
      : entries_(std::move(entries)), compare_(compare), position_(entries_->size()) {}

  bool Valid() const override { return position_ < entries_->size(); }
  const char* key() const override { return (*entries_)[position_]; }
  // A flush reads the entries in order, each at a random place of the memtable: the one a
  // few steps ahead is loaded meanwhile.
  void Next() override {
    ++position_;
    if (position_ + kReadAhead < entries_->size()) __builtin_prefetch((*entries_)[position_ + kReadAhead]);
  }
  void Prev() override { position_ = position_ == 0 ? entries_->size() : position_ - 1; }
  void Seek(const rocksdb::Slice& internal_key, const char* /*memtable_key*/) override {
    auto it = std::lower_bound(entries_->begin(), entries_->end(), internal_key,
                               [&](const char* entry, const rocksdb::Slice& target) {
                                 return compare_(entry, target) < 0;
                               });
    position_ = static_cast<size_t>(it - entries_->begin());
  }
  void SeekForPrev(const rocksdb::Slice& internal_key, const char* /*memtable_key*/) override {
    auto it = std::upper_bound(entries_->begin(), entries_->end(), internal_key,
                               [&](const rocksdb::Slice& target, const char* entry) {
                                 return compare_(entry, target) > 0;
                               });
    position_ = it == entries_->begin() ? entries_->size() : static_cast<size_t>(it - entries_->begin()) - 1;
  }
  void SeekToFirst() override {
    position_ = 0;
    for (size_t i = 0; i < kReadAhead && i < entries_->size(); ++i) __builtin_prefetch((*entries_)[i]);
  }
  void SeekToLast() override { position_ = entries_->empty() ? 0 : entries_->size() - 1; }

 private:
  static constexpr size_t kReadAhead = 8;

  std::shared_ptr<const Sorted> entries_;
  const rocksdb::MemTableRep::KeyComparator& compare_;
  size_t position_;
};

class PointMemTableRep final : public rocksdb::MemTableRep {
 public:
  PointMemTableRep(const KeyComparator& compare, rocksdb::Allocator* allocator, size_t buckets)
      : MemTableRep(allocator), compare_(compare), bucket_count_(std::max<size_t>(buckets, 1)) {
    buckets_ = static_cast<std::atomic<Node*>*>(allocate_aligned(bucket_count_ * sizeof(std::atomic<Node*>)));
    for (size_t i = 0; i < bucket_count_; ++i) new (&buckets_[i]) std::atomic<Node*>(nullptr);
    head_ = tail_ = new (allocate_aligned(sizeof(Chunk))) Chunk();
  }

  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    Node* node = new (allocate_aligned(sizeof(Node) + len)) Node();
    *buf = node->entry();
    return node;
  }

  void Insert(rocksdb::KeyHandle handle) override {
    Node* node = static_cast<Node*>(handle);
    std::atomic<Node*>& bucket = buckets_[bucket_of(user_key_of(internal_key_of(node->entry())), bucket_count_)];
    node->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
    bucket.store(node, std::memory_order_release);
    // The log of entries: the chunk's slot, a new chunk when full, then the count that
    // publishes both.
    size_t count = count_.load(std::memory_order_relaxed);
    if (count > 0 && count % kChunkEntries == 0) {
      Chunk* chunk = new (allocate_aligned(sizeof(Chunk))) Chunk();
      tail_->next.store(chunk, std::memory_order_release);
      tail_ = chunk;
    }
    tail_->entries[count % kChunkEntries] = node->entry();
    count_.store(count + 1, std::memory_order_release);
  }

  bool Contains(const char* key) const override {
    rocksdb::Slice internal_key = internal_key_of(key);
    const std::atomic<Node*>& bucket = buckets_[bucket_of(user_key_of(internal_key), bucket_count_)];
    for (Node* node = bucket.load(std::memory_order_acquire); node != nullptr;
         node = node->next.load(std::memory_order_acquire)) {
      if (compare_(node->entry(), internal_key) == 0) return true;
    }
    return false;
  }

  // From the newest entry of the user key at or below the lookup's sequence number, in the
  // column's order (newest first), while the callback asks for more.
  void Get(const rocksdb::LookupKey& lookup, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override {
    const rocksdb::Slice internal_key = internal_key_of(lookup);
    const rocksdb::Slice user_key = user_key_of(internal_key);
    const std::atomic<Node*>& bucket = buckets_[bucket_of(user_key, bucket_count_)];
    // A chain is newest first when sequence numbers grow with insertions (one writer);
    // sorted anyway, as it costs nothing for the one or two versions a key has.
    const char* found[8];
    std::vector<const char*> more;
    size_t count = 0;
    for (Node* node = bucket.load(std::memory_order_acquire); node != nullptr;
         node = node->next.load(std::memory_order_acquire)) {
      const char* entry = node->entry();
      if (user_key_of(internal_key_of(entry)) != user_key) continue;
      if (compare_(entry, internal_key) < 0) continue;  // newer than the lookup
      if (count < 8) {
        found[count] = entry;
      } else {
        if (more.empty()) more.assign(found, found + 8);
        more.push_back(entry);
      }
      ++count;
    }
    const char** begin = more.empty() ? found : more.data();
    const char** end = begin + count;
    std::sort(begin, end, [&](const char* a, const char* b) { return compare_(a, b) < 0; });
    for (const char** it = begin; it != end; ++it) {
      if (!callback_func(callback_args, *it)) return;
    }
  }

  // Everything is in the allocator's memory, which RocksDB counts, but the sorted copies
  // that iterators hold while they live (8 bytes an entry; RocksDB requires this figure
  // not to change once the memtable is read only).
  size_t ApproximateMemoryUsage() override { return 0; }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    std::shared_ptr<const Sorted> entries = sorted();
    if (arena == nullptr) return new SortedIterator(std::move(entries), compare_);
    // RocksDB destroys an iterator it asked to have in `arena` without freeing it, and
    // Arena is not among its installed headers: the storage is this memtable's, freed with
    // it (iterators never outlive their memtable).
    std::lock_guard lock(mutex_);
    auto& storage = iterator_storage_.emplace_back(std::make_unique<unsigned char[]>(sizeof(SortedIterator)));
    return new (storage.get()) SortedIterator(std::move(entries), compare_);
  }

 private:
  // Memory from the memtable's allocator (counted by RocksDB), aligned for a pointer (the
  // allocator's aligned call is not among RocksDB's installed headers).
  void* allocate_aligned(size_t bytes) {
    constexpr uintptr_t kAlign = alignof(Node);
    char* raw = nullptr;
    MemTableRep::Allocate(bytes + kAlign - 1, &raw);
    auto address = (reinterpret_cast<uintptr_t>(raw) + kAlign - 1) & ~(kAlign - 1);
    return reinterpret_cast<void*>(address);
  }

  // The entries in the column's order (those inserted so far).
  std::shared_ptr<const Sorted> sorted() const {
    const size_t count = count_.load(std::memory_order_acquire);
    std::vector<std::pair<uint64_t, const char*>> keyed;
    keyed.reserve(count);
    const Chunk* chunk = head_;
    for (size_t i = 0; i < count; ++i) {
      if (i > 0 && i % kChunkEntries == 0) chunk = chunk->next.load(std::memory_order_acquire);
      const char* entry = chunk->entries[i % kChunkEntries];
      keyed.emplace_back(order_prefix(entry), entry);
    }
    std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return compare_(a.second, b.second) < 0;
    });
    auto out = std::make_shared<Sorted>();
    out->reserve(count);
    for (const auto& [prefix, entry] : keyed) out->push_back(entry);
    return out;
  }

  const KeyComparator& compare_;
  const size_t bucket_count_;
  std::atomic<Node*>* buckets_;  // in the allocator's memory
  Chunk* head_;
  Chunk* tail_;  // the writer's
  std::atomic<size_t> count_{0};
  std::mutex mutex_;  // guards iterator_storage_
  std::vector<std::unique_ptr<unsigned char[]>> iterator_storage_;
};

class PointMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit PointMemTableFactory(size_t buckets) : buckets_(buckets) {}
  using MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform* /*prefix*/,
                                          rocksdb::Logger* /*logger*/) override {
    return new PointMemTableRep(compare, allocator, buckets_);
  }
  const char* Name() const override { return "EddyPointMemTable"; }

 private:
  size_t buckets_;
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> new_point_memtable_factory(size_t buckets) {
  return std::make_shared<PointMemTableFactory>(buckets);
}

}  // namespace eddy::state
