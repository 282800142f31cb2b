// Serialization: how state values, keys and namespaces become bytes (the RocksDB backend,
// checkpoints, savepoints) and how they come back.
//
// Serializer<T> has three static members and a constant:
//
//   static void write(ByteWriter&, const T&);
//   static T read(ByteReader&);
//   static std::string signature();     // the layout, e.g. "vector<pair<int64,string>>"
//   static constexpr uint32_t kVersion;  // 1 for built-ins
//
// Built in: arithmetic types, bool, enums, std::string, std::vector, std::deque, std::list,
// std::set, std::unordered_set, std::map, std::unordered_map, std::optional, std::pair,
// std::tuple, std::array and std::chrono::duration, nested freely. A user struct opts in
// with one line listing its fields:
//
//   struct Order {
//     int64_t id = 0;
//     std::string item;
//     std::vector<int> quantities;
//     EDDY_SERIALIZE(id, item, quantities)
//   };
//
// Evolution contract for EDDY_SERIALIZE: fields may be APPENDED to the end of the list,
// never removed, reordered or retyped. Bytes written before a field was appended read back
// with that field default-constructed (so the struct must be default-constructible); bytes
// with more fields than the struct lists are rejected with a SerializationError. A struct
// may declare `static constexpr uint32_t eddy_version = N;` (default 1): it becomes
// Serializer<T>::kVersion and shows in the signature ("struct[v2]"); bump it when the
// meaning of the fields changes, so that a restore can tell. Put EDDY_SERIALIZE in a public
// section; a derived struct inherits its base's EDDY_SERIALIZE, so give it its own.
//
// Or specialise Serializer by hand (before the type is first serialized), e.g.
//
//   template <>
//   struct eddy::Serializer<Money> {
//     static constexpr uint32_t kVersion = 1;
//     static void write(ByteWriter& w, const Money& m) { w.write_signed_varint(m.cents); }
//     static Money read(ByteReader& r) { return Money{r.read_signed_varint()}; }
//     static std::string signature() { return "money[v1]"; }
//   };
//
// A hand-written Serializer reports bad input with ByteReader::fail() and writes at least one
// byte per value (element counts read from corrupt input are bounded on that assumption).
//
// Neither kVersion nor signature() is written with each value: a state backend stores them
// once per state, beside the bytes, and compares them on restore.
//
// The format, which never depends on the machine (golden bytes in serializer_test.cc pin it):
//   integers, char types  fixed width, little-endian two's complement:
//                           int64_t{1} -> 01 00 00 00 00 00 00 00
//   float, double         IEEE 754 binary32 / binary64 bits, fixed width, little-endian
//   long double           its significant bytes, little-endian (10 for x87 extended)
//   bool                  1 byte, 0 or 1 (other bytes are rejected)
//   enum                  as its underlying type
//   std::string           varint byte count, then the bytes: "ab" -> 02 61 62
//   vector, deque, list,  varint element count, then the elements in iteration order
//   set, unordered_set,   (maps: key then value for each entry)
//   map, unordered_map
//   optional              1 byte (0 empty, 1 present), then the value when present
//   pair, tuple           the elements in order, nothing else
//   array<T, N>           the N elements, no count
//   chrono::duration      its count(), as its Rep
//   EDDY_SERIALIZE struct varint field count, then the fields in the order listed
// Varints are LEB128 (7 bits a byte, low bits first, high bit set when more follow; at most
// 10 bytes). Signed varints are zigzag-encoded first (0, -1, 1, -2 -> 0, 1, 2, 3).
// Equal values give equal bytes, except unordered containers (written in iteration order)
// and floating point (-0.0 and 0.0 differ, NaNs keep their payload): keep those out of keys.
//
// Thread safety: Serializer functions are stateless; a ByteWriter or ByteReader belongs to
// one thread at a time.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "eddy/error.h"

namespace eddy {

// Bytes that cannot be read as the requested type: truncated, corrupt, or written with an
// incompatible layout. The message says what was expected and at which offset, e.g.
// "truncated input: needed 8 bytes for int64 at offset 12 of 16".
class SerializationError : public Error {
 public:
  using Error::Error;
};

namespace internal {

// Integers (bool aside), character types and floating point: written at a fixed width.
template <class T>
inline constexpr bool kIsFixedWidth =
    (std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_floating_point_v<T>;
template <class T>
concept FixedWidth = kIsFixedWidth<T>;

// Bytes a fixed-width T takes: its size, except x87 long double (10 of its 16 bytes).
template <class T>
inline constexpr size_t kFixedSize = (std::is_same_v<T, long double> &&
                                      std::numeric_limits<long double>::digits == 64)
                                         ? 10
                                         : sizeof(T);

// The name of a fixed-width type in signatures and error messages ("int64", "float32").
template <class T>
constexpr const char* fixed_width_name() {
  constexpr size_t kSize = kFixedSize<T>;
  if constexpr (std::is_same_v<T, char>) {
    return "char";
  } else if constexpr (std::is_same_v<T, char8_t>) {
    return "char8";
  } else if constexpr (std::is_same_v<T, char16_t>) {
    return "char16";
  } else if constexpr (std::is_same_v<T, char32_t>) {
    return "char32";
  } else if constexpr (std::is_same_v<T, wchar_t>) {
    static_assert(kSize == 2 || kSize == 4, "unsupported wchar_t size");
    return kSize == 2 ? "wchar16" : "wchar32";
  } else if constexpr (std::is_floating_point_v<T>) {
    static_assert(kSize == 4 || kSize == 8 || kSize == 10 || kSize == 16,
                  "unsupported floating-point size");
    static_assert(kSize > 8 || std::numeric_limits<T>::is_iec559,
                  "float and double must be IEEE 754");
    return kSize == 4 ? "float32" : kSize == 8 ? "float64" : kSize == 10 ? "float80" : "float128";
  } else if constexpr (std::is_signed_v<T>) {
    static_assert(kSize == 1 || kSize == 2 || kSize == 4 || kSize == 8 || kSize == 16,
                  "unsupported integer size");
    return kSize == 1   ? "int8"
           : kSize == 2 ? "int16"
           : kSize == 4 ? "int32"
           : kSize == 8 ? "int64"
                        : "int128";
  } else {
    static_assert(kSize == 1 || kSize == 2 || kSize == 4 || kSize == 8 || kSize == 16,
                  "unsupported integer size");
    return kSize == 1   ? "uint8"
           : kSize == 2 ? "uint16"
           : kSize == 4 ? "uint32"
           : kSize == 8 ? "uint64"
                        : "uint128";
  }
}

template <class T>
inline void store_little_endian(char* dst, const T& value) {
  std::memcpy(dst, &value, kFixedSize<T>);
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0, j = sizeof(T) - 1; i < j; ++i, --j) std::swap(dst[i], dst[j]);
  }
}

template <class T>
inline void load_little_endian(T& value, const char* src) {
  if constexpr (std::endian::native == std::endian::big) {
    char buf[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) buf[i] = src[sizeof(T) - 1 - i];
    std::memcpy(&value, buf, sizeof(T));
  } else {
    std::memcpy(&value, src, kFixedSize<T>);
  }
}

}  // namespace internal

// Appends the encodings of values to a string: one it is given (which may already hold
// bytes, and must outlive the writer), or one it owns. Movable, not copyable.
class ByteWriter {
 public:
  ByteWriter() : owned_(std::make_unique<std::string>()), out_(owned_.get()) {}
  explicit ByteWriter(std::string& out) : out_(&out) {}

  // Fixed width, little-endian: integers, character types, floating point.
  template <internal::FixedWidth T>
  void write_fixed(T value) {
    char buf[sizeof(T)];
    internal::store_little_endian(buf, value);
    out_->append(buf, internal::kFixedSize<T>);
  }

  // LEB128, 1 to 10 bytes.
  void write_varint(uint64_t value) {
    if (value < 0x80) {
      out_->push_back(static_cast<char>(value));
      return;
    }
    char buf[10];
    size_t n = 0;
    while (value >= 0x80) {
      buf[n++] = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    buf[n++] = static_cast<char>(value);
    out_->append(buf, n);
  }

  // Zigzag, then LEB128: small magnitudes of either sign take few bytes.
  void write_signed_varint(int64_t value) {
    write_varint((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }

  // Raw bytes, no length.
  void write_bytes(std::string_view bytes) { out_->append(bytes.data(), bytes.size()); }

  // Varint length, then the bytes.
  void write_string(std::string_view s) {
    write_varint(s.size());
    out_->append(s.data(), s.size());
  }

  void reserve(size_t capacity) { out_->reserve(capacity); }
  // The string written to, with whatever it held before this writer appended to it.
  const std::string& bytes() const { return *out_; }
  size_t size() const { return out_->size(); }
  // Moves the string out; the writer goes on appending to an empty string.
  std::string take() {
    std::string bytes = std::move(*out_);
    out_->clear();
    return bytes;
  }

 private:
  // On the heap, so that a borrowing writer (the hot path) holds no string to construct and
  // destroy, and an owning one can move.
  std::unique_ptr<std::string> owned_;
  std::string* out_;
};

// Reads encodings back from bytes it does not own. Every read is bounds-checked and throws
// SerializationError on bad input; after one, the position is unspecified.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : data_(bytes.data()), size_(bytes.size()) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }
  size_t size() const { return size_; }

  // `what` names the value in the error message; it defaults to the type ("int64").
  template <internal::FixedWidth T>
  T read_fixed(const char* what = internal::fixed_width_name<T>()) {
    constexpr size_t kSize = internal::kFixedSize<T>;
    if (remaining() < kSize) [[unlikely]] {
      throw_truncated(kSize, what);
    }
    T value{};
    internal::load_little_endian(value, data_ + pos_);
    pos_ += kSize;
    return value;
  }

  uint64_t read_varint() {
    if (pos_ < size_) [[likely]] {
      auto byte = static_cast<uint8_t>(data_[pos_]);
      if (byte < 0x80) {
        ++pos_;
        return byte;
      }
    }
    return read_varint_slow();
  }

  int64_t read_signed_varint() {
    uint64_t u = read_varint();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }

  // `n` raw bytes; the view points into the reader's input.
  std::string_view read_bytes(size_t n, const char* what = "bytes") {
    if (remaining() < n) [[unlikely]] {
      throw_truncated(n, what);
    }
    std::string_view bytes(data_ + pos_, n);
    pos_ += n;
    return bytes;
  }

  // A length-prefixed string; the view points into the reader's input.
  std::string_view read_string_view() {
    uint64_t n = read_varint();
    if (remaining() < n) [[unlikely]] {
      throw_truncated(n, "string");
    }
    std::string_view s(data_ + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  std::string read_string() { return std::string(read_string_view()); }

  // A varint element count of a container (`what`, e.g. "vector"), checked against the
  // bytes that remain when each element takes at least `min_bytes_per_element`, so that
  // corrupt input cannot make the caller reserve or loop without bound.
  size_t read_count(const char* what, size_t min_bytes_per_element = 1) {
    uint64_t n = read_varint();
    if (min_bytes_per_element != 0 && n > remaining() / min_bytes_per_element) [[unlikely]] {
      throw_count_too_large(n, min_bytes_per_element, what);
    }
    return static_cast<size_t>(n);
  }

  // Throws SerializationError("<message> at offset <offset> of <size>"). For hand-written
  // Serializers that find a value they cannot accept.
  [[noreturn]] void fail(std::string_view message, size_t offset) const;

 private:
  uint64_t read_varint_slow();
  [[noreturn]] void throw_truncated(uint64_t needed, const char* what) const;
  [[noreturn]] void throw_count_too_large(uint64_t count, size_t min_bytes, const char* what) const;

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Specialise for a type to make it serializable (or use EDDY_SERIALIZE); see the top of
// this file for the members and the format of the built-in specialisations.
template <class T, class Enable = void>
struct Serializer;

template <class T>
concept Serializable = requires(ByteWriter& w, ByteReader& r, const T& value) {
  Serializer<T>::write(w, value);
  { Serializer<T>::read(r) } -> std::same_as<T>;
  { Serializer<T>::signature() } -> std::convertible_to<std::string>;
  { Serializer<T>::kVersion } -> std::convertible_to<uint32_t>;
};

// Inside a struct: lists the fields that make up its serialized form, in order. Expands to
// two member functions named eddy_fields() returning std::tie of the fields.
#define EDDY_SERIALIZE(...)                            \
  auto eddy_fields() { return std::tie(__VA_ARGS__); } \
  auto eddy_fields() const { return std::tie(__VA_ARGS__); }

namespace internal {

template <class T>
concept HasEddyFields = requires(T& t, const T& c) {
  t.eddy_fields();
  c.eddy_fields();
};

// The fewest bytes a T encodes into. Only composites of nothing (std::tuple<>,
// std::array<T, 0>) take none; anything else is assumed to take at least one.
template <class T>
struct MinEncodedSize : std::integral_constant<size_t, 1> {};
template <class... Ts>
struct MinEncodedSize<std::tuple<Ts...>>
    : std::integral_constant<size_t, (size_t{0} + ... + MinEncodedSize<Ts>::value)> {};
template <class A, class B>
struct MinEncodedSize<std::pair<A, B>>
    : std::integral_constant<size_t, MinEncodedSize<A>::value + MinEncodedSize<B>::value> {};
template <class T, size_t N>
struct MinEncodedSize<std::array<T, N>>
    : std::integral_constant<size_t, N * MinEncodedSize<T>::value> {};

template <class T>
inline constexpr size_t kMinEncodedSize = MinEncodedSize<T>::value;

[[noreturn]] void throw_invalid_flag(const ByteReader& r, size_t offset, uint8_t byte,
                                     const char* what);
[[noreturn]] void throw_duplicate(const ByteReader& r, size_t offset, const char* what);
[[noreturn]] void throw_too_many_fields(const ByteReader& r, size_t offset, uint64_t written,
                                        size_t known);
[[noreturn]] void throw_trailing_bytes(const ByteReader& r);

// Reads a 0/1 byte.
inline bool read_flag(ByteReader& r, const char* what) {
  size_t at = r.position();
  auto byte = r.read_fixed<uint8_t>(what);
  if (byte > 1) [[unlikely]] {
    throw_invalid_flag(r, at, byte, what);
  }
  return byte == 1;
}

template <class C>
void write_elements(ByteWriter& w, const C& c) {
  w.write_varint(c.size());
  for (const auto& e : c) Serializer<typename C::value_type>::write(w, e);
}

template <class C>
void write_entries(ByteWriter& w, const C& c) {
  w.write_varint(c.size());
  for (const auto& [k, v] : c) {
    Serializer<typename C::key_type>::write(w, k);
    Serializer<typename C::mapped_type>::write(w, v);
  }
}

// Reserves room for `n` elements where the container can, and where read_count() bounded `n`
// by the input size (elements of kMinSize > 0 bytes).
template <size_t kMinSize, class C>
void reserve_checked(C& c, size_t n) {
  if constexpr (kMinSize > 0 && requires { c.reserve(n); }) c.reserve(n);
}

// vector, deque, list: appended in order.
template <class C>
C read_sequence(ByteReader& r, const char* what) {
  using T = typename C::value_type;
  size_t n = r.read_count(what, kMinEncodedSize<T>);
  C c;
  reserve_checked<kMinEncodedSize<T>>(c, n);
  for (size_t i = 0; i < n; ++i) c.push_back(Serializer<T>::read(r));
  return c;
}

// set, unordered_set: a duplicate means corrupt input (or a changed comparator).
template <class C>
C read_set(ByteReader& r, const char* what) {
  using T = typename C::value_type;
  size_t n = r.read_count(what, kMinEncodedSize<T>);
  C c;
  reserve_checked<kMinEncodedSize<T>>(c, n);
  for (size_t i = 0; i < n; ++i) {
    size_t at = r.position();
    size_t before = c.size();
    c.emplace_hint(c.end(), Serializer<T>::read(r));  // written sorted: amortised O(1)
    if (c.size() == before) [[unlikely]] {
      throw_duplicate(r, at, what);
    }
  }
  return c;
}

template <class C>
C read_map(ByteReader& r, const char* what) {
  using K = typename C::key_type;
  using V = typename C::mapped_type;
  constexpr size_t kMinEntrySize = kMinEncodedSize<std::pair<K, V>>;
  size_t n = r.read_count(what, kMinEntrySize);
  C c;
  reserve_checked<kMinEntrySize>(c, n);
  for (size_t i = 0; i < n; ++i) {
    size_t at = r.position();
    size_t before = c.size();
    K key = Serializer<K>::read(r);
    c.emplace_hint(c.end(), std::move(key), Serializer<V>::read(r));
    if (c.size() == before) [[unlikely]] {
      throw_duplicate(r, at, what);
    }
  }
  return c;
}

template <class... Ts>
std::string signature_list() {
  std::string s;
  ((s += (s.empty() ? "" : ","), s += Serializer<Ts>::signature()), ...);
  return s;
}

template <class Tuple, size_t... I>
void read_fields(ByteReader& r, Tuple& fields, uint64_t count, std::index_sequence<I...>) {
  ((I < count ? void(std::get<I>(fields) =
                         Serializer<std::remove_cvref_t<std::tuple_element_t<I, Tuple>>>::read(r))
              : void()),
   ...);
}

template <class T>
constexpr uint32_t eddy_version_of() {
  if constexpr (requires { T::eddy_version; }) {
    return T::eddy_version;
  } else {
    return 1;
  }
}

}  // namespace internal

template <class T>
struct Serializer<T, std::enable_if_t<internal::kIsFixedWidth<T>>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const T& value) { w.write_fixed(value); }
  static T read(ByteReader& r) { return r.read_fixed<T>(); }
  static std::string signature() { return internal::fixed_width_name<T>(); }
};

template <>
struct Serializer<bool> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const bool& value) { w.write_fixed(uint8_t{value}); }
  static bool read(ByteReader& r) { return internal::read_flag(r, "bool"); }
  static std::string signature() { return "bool"; }
};

template <class T>
struct Serializer<T, std::enable_if_t<std::is_enum_v<T>>> {
  using Underlying = std::underlying_type_t<T>;
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const T& value) {
    Serializer<Underlying>::write(w, static_cast<Underlying>(value));
  }
  static T read(ByteReader& r) { return static_cast<T>(Serializer<Underlying>::read(r)); }
  static std::string signature() { return "enum<" + Serializer<Underlying>::signature() + ">"; }
};

template <>
struct Serializer<std::string> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::string& value) { w.write_string(value); }
  static std::string read(ByteReader& r) { return r.read_string(); }
  static std::string signature() { return "string"; }
};

template <Serializable T, class A>
struct Serializer<std::vector<T, A>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::vector<T, A>& v) { internal::write_elements(w, v); }
  static std::vector<T, A> read(ByteReader& r) {
    return internal::read_sequence<std::vector<T, A>>(r, "vector");
  }
  static std::string signature() { return "vector<" + Serializer<T>::signature() + ">"; }
};

template <Serializable T, class A>
struct Serializer<std::deque<T, A>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::deque<T, A>& v) { internal::write_elements(w, v); }
  static std::deque<T, A> read(ByteReader& r) {
    return internal::read_sequence<std::deque<T, A>>(r, "deque");
  }
  static std::string signature() { return "deque<" + Serializer<T>::signature() + ">"; }
};

template <Serializable T, class A>
struct Serializer<std::list<T, A>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::list<T, A>& v) { internal::write_elements(w, v); }
  static std::list<T, A> read(ByteReader& r) {
    return internal::read_sequence<std::list<T, A>>(r, "list");
  }
  static std::string signature() { return "list<" + Serializer<T>::signature() + ">"; }
};

template <Serializable T, class C, class A>
struct Serializer<std::set<T, C, A>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::set<T, C, A>& s) { internal::write_elements(w, s); }
  static std::set<T, C, A> read(ByteReader& r) {
    return internal::read_set<std::set<T, C, A>>(r, "set");
  }
  static std::string signature() { return "set<" + Serializer<T>::signature() + ">"; }
};

template <Serializable T, class H, class E, class A>
struct Serializer<std::unordered_set<T, H, E, A>> {
  using Set = std::unordered_set<T, H, E, A>;
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const Set& s) { internal::write_elements(w, s); }
  static Set read(ByteReader& r) { return internal::read_set<Set>(r, "unordered_set"); }
  static std::string signature() { return "unordered_set<" + Serializer<T>::signature() + ">"; }
};

template <Serializable K, Serializable V, class C, class A>
struct Serializer<std::map<K, V, C, A>> {
  using Map = std::map<K, V, C, A>;
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const Map& m) { internal::write_entries(w, m); }
  static Map read(ByteReader& r) { return internal::read_map<Map>(r, "map"); }
  static std::string signature() { return "map<" + internal::signature_list<K, V>() + ">"; }
};

template <Serializable K, Serializable V, class H, class E, class A>
struct Serializer<std::unordered_map<K, V, H, E, A>> {
  using Map = std::unordered_map<K, V, H, E, A>;
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const Map& m) { internal::write_entries(w, m); }
  static Map read(ByteReader& r) { return internal::read_map<Map>(r, "unordered_map"); }
  static std::string signature() {
    return "unordered_map<" + internal::signature_list<K, V>() + ">";
  }
};

template <Serializable T>
struct Serializer<std::optional<T>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::optional<T>& value) {
    w.write_fixed(uint8_t{value.has_value()});
    if (value) Serializer<T>::write(w, *value);
  }
  static std::optional<T> read(ByteReader& r) {
    if (!internal::read_flag(r, "optional flag")) return std::nullopt;
    return Serializer<T>::read(r);
  }
  static std::string signature() { return "optional<" + Serializer<T>::signature() + ">"; }
};

template <Serializable A, Serializable B>
struct Serializer<std::pair<A, B>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::pair<A, B>& p) {
    Serializer<A>::write(w, p.first);
    Serializer<B>::write(w, p.second);
  }
  static std::pair<A, B> read(ByteReader& r) {
    return std::pair<A, B>{Serializer<A>::read(r), Serializer<B>::read(r)};  // braces: in order
  }
  static std::string signature() { return "pair<" + internal::signature_list<A, B>() + ">"; }
};

template <Serializable... Ts>
struct Serializer<std::tuple<Ts...>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::tuple<Ts...>& t) {
    std::apply([&](const Ts&... v) { (Serializer<Ts>::write(w, v), ...); }, t);
  }
  static std::tuple<Ts...> read(ByteReader& r) {
    return std::tuple<Ts...>{Serializer<Ts>::read(r)...};  // braces: in order
  }
  static std::string signature() { return "tuple<" + internal::signature_list<Ts...>() + ">"; }
};

template <Serializable T, size_t N>
struct Serializer<std::array<T, N>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const std::array<T, N>& a) {
    for (const T& v : a) Serializer<T>::write(w, v);
  }
  static std::array<T, N> read(ByteReader& r) {
    std::array<T, N> a{};
    for (T& v : a) v = Serializer<T>::read(r);
    return a;
  }
  static std::string signature() {
    return "array<" + Serializer<T>::signature() + "," + std::to_string(N) + ">";
  }
};

template <Serializable Rep, class Period>
struct Serializer<std::chrono::duration<Rep, Period>> {
  using Duration = std::chrono::duration<Rep, Period>;
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const Duration& d) { Serializer<Rep>::write(w, d.count()); }
  static Duration read(ByteReader& r) { return Duration(Serializer<Rep>::read(r)); }
  static std::string signature() {  // e.g. "duration<int64,1/1000>" for milliseconds
    return "duration<" + Serializer<Rep>::signature() + "," + std::to_string(Period::num) + "/" +
           std::to_string(Period::den) + ">";
  }
};

// Structs with EDDY_SERIALIZE: a varint field count, then the fields.
template <class T>
struct Serializer<T, std::enable_if_t<internal::HasEddyFields<T>>> {
  static_assert(std::is_default_constructible_v<T>,
                "EDDY_SERIALIZE needs a default-constructible struct: fields missing from bytes "
                "written before they were appended keep their default values");
  using Fields = decltype(std::declval<T&>().eddy_fields());
  static constexpr size_t kFieldCount = std::tuple_size_v<Fields>;
  static constexpr uint32_t kVersion = internal::eddy_version_of<T>();

  static void write(ByteWriter& w, const T& value) {
    w.write_varint(kFieldCount);
    std::apply(
        [&](const auto&... field) {
          (Serializer<std::remove_cvref_t<decltype(field)>>::write(w, field), ...);
        },
        value.eddy_fields());
  }

  static T read(ByteReader& r) {
    size_t at = r.position();
    uint64_t written = r.read_varint();
    if (written > kFieldCount) [[unlikely]] {
      internal::throw_too_many_fields(r, at, written, kFieldCount);
    }
    T value{};
    Fields fields = value.eddy_fields();
    internal::read_fields(r, fields, written, std::make_index_sequence<kFieldCount>{});
    return value;
  }

  static std::string signature() { return "struct[v" + std::to_string(kVersion) + "]"; }
};

// Appends the encoding of `value` to `out`; allocates only when `out` lacks the capacity.
template <class T>
void serialize_into(std::string& out, const T& value) {
  static_assert(Serializable<T>,
                "no eddy::Serializer for this type: add EDDY_SERIALIZE(fields...) to the struct "
                "or specialise eddy::Serializer<T> (see eddy/serializer.h)");
  ByteWriter w(out);
  Serializer<T>::write(w, value);
}

template <class T>
std::string serialize(const T& value) {
  std::string out;
  serialize_into(out, value);
  return out;
}

// Reads one T that must take all of `bytes`; throws SerializationError otherwise.
template <class T>
T deserialize(std::string_view bytes) {
  static_assert(Serializable<T>,
                "no eddy::Serializer for this type: add EDDY_SERIALIZE(fields...) to the struct "
                "or specialise eddy::Serializer<T> (see eddy/serializer.h)");
  ByteReader r(bytes);
  T value = Serializer<T>::read(r);
  if (!r.at_end()) internal::throw_trailing_bytes(r);
  return value;
}

// A stable, readable description of T's serialized layout, e.g. "map<string,vector<int64>>"
// or "struct[v2]", to detect a restore into an incompatible type. Built from the
// Serializer specialisations, never from typeid names.
template <class T>
std::string serializer_signature() {
  static_assert(Serializable<T>, "no eddy::Serializer for this type (see eddy/serializer.h)");
  return Serializer<T>::signature();
}

}  // namespace eddy
