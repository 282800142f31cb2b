#include "eddy/internal/bucket_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace eddy::internal {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMinPooled = size_t{64} << 10;

size_t round_up(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

// `bytes` (a multiple of 2 MiB) of zeroed memory aligned to 2 MiB, advised to use huge pages.
void* map_huge(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + span;
  if (end > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  void* memory = reinterpret_cast<void*>(aligned);
  madvise(memory, bytes, MADV_HUGEPAGE);  // a hint: fails harmlessly where THP is off
  return memory;
}

// A 2 MiB chunk split into pieces of one power-of-two size.
struct Chunk {
  char* base = nullptr;
  std::vector<void*> free;  // pieces not in use
  size_t used = 0;
};

class ChunkPool {
 public:
  void* allocate(size_t piece) {
    std::lock_guard lock(mutex_);
    std::vector<Chunk*>& available = available_[piece];
    if (available.empty()) {
      auto chunk = std::make_unique<Chunk>();
      if (!spare_.empty()) {
        chunk->base = spare_.back();
        spare_.pop_back();
      } else {
        chunk->base = static_cast<char*>(map_huge(kHugePage));
      }
      for (size_t offset = kHugePage; offset >= piece; offset -= piece) {
        chunk->free.push_back(chunk->base + offset - piece);  // the lowest address is taken first
      }
      available.push_back(chunk.get());
      chunks_.emplace(chunk->base, std::move(chunk));
    }
    Chunk* chunk = available.back();
    void* memory = chunk->free.back();
    chunk->free.pop_back();
    ++chunk->used;
    if (chunk->free.empty()) available.pop_back();
    return memory;
  }

  void free(void* memory, size_t piece) noexcept {
    std::lock_guard lock(mutex_);
    char* base = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(memory) & ~(kHugePage - 1));
    auto it = chunks_.find(base);
    if (it == chunks_.end()) return;  // not ours: cannot happen
    Chunk* chunk = it->second.get();
    std::vector<Chunk*>& available = available_[piece];
    chunk->free.push_back(memory);
    --chunk->used;
    if (chunk->free.size() == 1) available.push_back(chunk);  // was full
    if (chunk->used == 0) {
      std::erase(available, chunk);
      char* chunk_base = chunk->base;
      chunks_.erase(it);
      // Kept for the next chunk of any size, up to as many as are in use (and a few): a
      // map that doubles frees its old size class as it fills the next, and a fresh 2 MiB
      // page costs a page fault and its zeroing (more in a VM that backs memory lazily).
      if (spare_.size() < std::max(kMinSpare, chunks_.size())) {
        spare_.push_back(chunk_base);
      } else {
        munmap(chunk_base, kHugePage);
      }
      while (spare_.size() > std::max(kMinSpare, chunks_.size())) {
        munmap(spare_.back(), kHugePage);
        spare_.pop_back();
      }
    }
  }

  size_t pooled_bytes() {
    std::lock_guard lock(mutex_);
    return chunks_.size() * kHugePage;
  }
  size_t spare_bytes() {
    std::lock_guard lock(mutex_);
    return spare_.size() * kHugePage;
  }

 private:
  std::mutex mutex_;
  std::map<char*, std::unique_ptr<Chunk>> chunks_;
  std::map<size_t, std::vector<Chunk*>> available_;  // by piece size: chunks with a free piece
  static constexpr size_t kMinSpare = 4;
  std::vector<char*> spare_;  // whole chunks free, still mapped (not zeroed)
};

ChunkPool& pool() {
  static auto* instance = new ChunkPool();  // never destroyed: arrays may be freed at exit
  return *instance;
}

enum class Kind { kHeap, kPooled, kMapped };

Kind kind_of(size_t bytes, size_t alignment) {
  if (bytes >= kHugePage) return bytes % kHugePage == 0 ? Kind::kMapped : Kind::kHeap;
  if (bytes >= kMinPooled && std::has_single_bit(bytes) && alignment <= bytes) return Kind::kPooled;
  return Kind::kHeap;
}

}  // namespace

void* allocate_bucket_memory(size_t bytes, size_t alignment) {
  switch (kind_of(bytes, alignment)) {
    case Kind::kMapped:
      return map_huge(bytes);
    case Kind::kPooled:
      return pool().allocate(bytes);
    case Kind::kHeap:
      break;
  }
  return ::operator new(bytes, std::align_val_t(alignment));
}

void* allocate_zeroed_bucket_memory(size_t bytes, size_t alignment) {
  void* memory = allocate_bucket_memory(bytes, alignment);
  if (kind_of(bytes, alignment) != Kind::kMapped) std::memset(memory, 0, bytes);
  return memory;
}

void free_bucket_memory(void* memory, size_t bytes, size_t alignment) noexcept {
  if (memory == nullptr) return;
  switch (kind_of(bytes, alignment)) {
    case Kind::kMapped:
      munmap(memory, bytes);
      return;
    case Kind::kPooled:
      pool().free(memory, bytes);
      return;
    case Kind::kHeap:
      break;
  }
  ::operator delete(memory, std::align_val_t(alignment));
}

size_t bucket_memory_pooled_bytes() { return pool().pooled_bytes(); }
size_t bucket_memory_spare_bytes() { return pool().spare_bytes(); }

}  // namespace eddy::internal
