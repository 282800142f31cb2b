// Not API: memory for the bucket arrays of the heap backend's hash maps (FlatStateMap).
//
// A keyed state of a million keys is a hundred megabytes of buckets that every record
// touches at a random place. On 4 KiB pages each such access also misses the TLB (and
// its page walk may miss the cache), which costs about as much as the access itself. So
// arrays of 64 KiB and more live on 2 MiB transparent huge pages:
//   - arrays of 2 MiB and more get their own 2 MiB-aligned mapping, advised MADV_HUGEPAGE;
//   - power-of-two arrays from 64 KiB to 1 MiB (a key group's map) are carved from shared
//     2 MiB chunks of their size class; a chunk whose pieces are all free is kept for the
//     next chunk of any size class (up to as many chunks as are in use, and at least 4),
//     beyond that it goes back to the system;
//   - anything else comes from operator new.
// Where the kernel gives no huge pages (THP disabled), the same memory is ordinary pages.
// Thread-safe: snapshot threads free arrays too.
#pragma once

#include <cstddef>

namespace eddy::internal {

void* allocate_bucket_memory(size_t bytes, size_t alignment);
// The same, zero-filled. Only memory that is not a fresh mapping is cleared: the kernel
// hands out mapped pages zeroed, and touching them all to clear them would fault each in.
void* allocate_zeroed_bucket_memory(size_t bytes, size_t alignment);
void free_bucket_memory(void* memory, size_t bytes, size_t alignment) noexcept;

// Bytes of 2 MiB chunks with pooled arrays in use, and of whole chunks kept free for
// reuse: for tests.
size_t bucket_memory_pooled_bytes();
size_t bucket_memory_spare_bytes();

template <class T>
struct BucketAllocator {
  using value_type = T;
  BucketAllocator() = default;
  template <class U>
  BucketAllocator(const BucketAllocator<U>&) {}  // NOLINT: allocators convert implicitly
  T* allocate(size_t n) { return static_cast<T*>(allocate_bucket_memory(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, size_t n) noexcept { free_bucket_memory(p, n * sizeof(T), alignof(T)); }
  friend bool operator==(const BucketAllocator&, const BucketAllocator&) { return true; }
};

}  // namespace eddy::internal
