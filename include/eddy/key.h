// Keys: what key_by() accepts, and how keys map to key groups and subtasks.
//
// A key type needs equality (operator==) and a stable 32-bit hash through KeyHash<K>.
// Built in: integers, enums, floating point, bool, std::string, std::string_view, and
// std::pair / std::tuple of key types. A user struct opts in with one member function
// returning its fields as a tuple:
//
//   struct Route { std::string from, to;
//                  auto key_fields() const { return std::tie(from, to); }
//                  bool operator==(const Route&) const = default; };
//
// or by specialising eddy::KeyHash<Route>. The hash is stable across runs, machines and
// releases (it decides which subtask owns which state, and state outlives processes).
#pragma once

#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace eddy {

// Stable hash of a byte string (xxHash XXH3, folded to 32 bits).
uint32_t hash_bytes(const void* data, size_t size);
// The same, all 64 bits (for hash tables).
uint64_t hash_bytes64(const void* data, size_t size);

// Stable mixing of a 64-bit value (murmur3's finaliser, folded to 32 bits).
constexpr uint32_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<uint32_t>(x) ^ static_cast<uint32_t>(x >> 32);
}

constexpr uint32_t hash_combine(uint32_t seed, uint32_t h) {
  return hash_u64((static_cast<uint64_t>(seed) << 32) | h);
}

template <class K, class Enable = void>
struct KeyHash;  // specialise: uint32_t operator()(const K&) const

template <class K>
concept HasKeyFields = requires(const K& k) { k.key_fields(); };

template <class K>
concept Key = requires(const K& k) {
  { KeyHash<std::remove_cvref_t<K>>{}(k) } -> std::convertible_to<uint32_t>;
  { k == k } -> std::convertible_to<bool>;
};

template <class K>
struct KeyHash<K, std::enable_if_t<std::is_integral_v<K> || std::is_enum_v<K>>> {
  constexpr uint32_t operator()(K k) const {
    if constexpr (std::is_enum_v<K>) {
      return hash_u64(static_cast<uint64_t>(static_cast<std::underlying_type_t<K>>(k)));
    } else {
      return hash_u64(static_cast<uint64_t>(k));
    }
  }
};

template <class K>
struct KeyHash<K, std::enable_if_t<std::is_floating_point_v<K>>> {
  uint32_t operator()(K k) const {
    double d = static_cast<double>(k);
    if (d == 0.0) d = 0.0;  // -0.0 and 0.0 are equal keys
    if (std::isnan(d)) return 0x7ff80000u;  // every NaN hashes alike
    return hash_u64(std::bit_cast<uint64_t>(d));
  }
};

template <>
struct KeyHash<std::string_view> {
  uint32_t operator()(std::string_view s) const { return hash_bytes(s.data(), s.size()); }
};

template <>
struct KeyHash<std::string> {
  uint32_t operator()(const std::string& s) const { return hash_bytes(s.data(), s.size()); }
};

template <class A, class B>
struct KeyHash<std::pair<A, B>> {
  uint32_t operator()(const std::pair<A, B>& p) const {
    return hash_combine(KeyHash<A>{}(p.first), KeyHash<B>{}(p.second));
  }
};

template <class... Ts>
struct KeyHash<std::tuple<Ts...>> {
  uint32_t operator()(const std::tuple<Ts...>& t) const {
    return std::apply(
        [](const auto&... v) {
          uint32_t h = 0x9e3779b9u;
          ((h = hash_combine(h, KeyHash<std::remove_cvref_t<decltype(v)>>{}(v))), ...);
          return h;
        },
        t);
  }
};

template <class K>
struct KeyHash<K, std::enable_if_t<HasKeyFields<K>>> {
  uint32_t operator()(const K& k) const {
    return std::apply(
        [](const auto&... v) {
          uint32_t h = 0x9e3779b9u;
          ((h = hash_combine(h, KeyHash<std::remove_cvref_t<decltype(v)>>{}(v))), ...);
          return h;
        },
        k.key_fields());
  }
};

// A hasher for std::unordered_map and friends, built on KeyHash.
template <class K>
struct KeyHasher {
  size_t operator()(const K& k) const { return KeyHash<K>{}(k); }
};

inline constexpr int kDefaultMaxParallelism = 128;

// The key group of a key hash, in [0, max_parallelism).
constexpr int key_group_of(uint32_t key_hash, int max_parallelism) {
  return static_cast<int>(key_hash % static_cast<uint32_t>(max_parallelism));
}

// The subtask that owns a key group: Flink's KeyGroupRangeAssignment, so key groups go to
// subtasks in contiguous ranges.
constexpr int subtask_for_key_group(int key_group, int max_parallelism, int parallelism) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

// The contiguous range [first, last] of key groups one subtask owns.
struct KeyGroupRange {
  int first = 0;
  int last = -1;  // inclusive; empty when last < first

  static KeyGroupRange for_subtask(int max_parallelism, int parallelism, int subtask) {
    int first = static_cast<int>(
        (static_cast<int64_t>(subtask) * max_parallelism + parallelism - 1) / parallelism);
    int last = static_cast<int>(
        (static_cast<int64_t>(subtask + 1) * max_parallelism - 1) / parallelism);
    return {first, last};
  }
  bool contains(int key_group) const { return key_group >= first && key_group <= last; }
  int size() const { return last >= first ? last - first + 1 : 0; }
  bool operator==(const KeyGroupRange&) const = default;
};

}  // namespace eddy
