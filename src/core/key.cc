#include "eddy/key.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace eddy {

uint64_t hash_bytes64(const void* data, size_t size) { return XXH3_64bits(data, size); }

uint32_t hash_bytes(const void* data, size_t size) {
  uint64_t h = XXH3_64bits(data, size);
  return static_cast<uint32_t>(h) ^ static_cast<uint32_t>(h >> 32);
}

}  // namespace eddy
