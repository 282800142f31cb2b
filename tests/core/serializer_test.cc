#include "eddy/serializer.h"

#include <array>
#include <chrono>
#include <cmath>
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
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace eddy {
namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The message of the SerializationError that `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const SerializationError& e) {
    return e.what();
  }
  return "";
}

template <class T>
void expect_round_trip(const T& value) {
  std::string bytes = serialize(value);
  EXPECT_EQ(deserialize<T>(bytes), value) << serializer_signature<T>();
}

// The message of the SerializationError that reading `bytes` as T throws ("" if none).
template <class T>
std::string read_error(std::string_view bytes) {
  try {
    deserialize<T>(bytes);
  } catch (const SerializationError& e) {
    return e.what();
  }
  return "";
}

enum class Color : uint8_t { kRed = 1, kGreen = 2, kBlue = 200 };
enum Plain { kZero, kOne, kMany = 1000 };

struct Point {
  int32_t x = 0;
  int32_t y = 0;
  EDDY_SERIALIZE(x, y)
  bool operator==(const Point&) const = default;
};

struct Order {
  int64_t id = 0;
  std::string item;
  std::vector<Point> path;
  std::optional<std::map<std::string, double>> tags;
  EDDY_SERIALIZE(id, item, path, tags)
  bool operator==(const Order&) const = default;
};

struct Empty {
  EDDY_SERIALIZE()
  bool operator==(const Empty&) const = default;
};

// A type that serializes itself recursively.
struct TreeNode {
  int value = 0;
  std::vector<TreeNode> children;
  EDDY_SERIALIZE(value, children)
  bool operator==(const TreeNode&) const = default;
};

// The same struct in three releases: V2 appended a field to V1, V3 one more.
struct AccountV1 {
  int64_t id = 0;
  std::string owner;
  EDDY_SERIALIZE(id, owner)
};
struct AccountV2 {
  static constexpr uint32_t eddy_version = 2;
  int64_t id = 0;
  std::string owner;
  std::vector<int64_t> balances = {7};  // a non-trivial default survives old bytes
  EDDY_SERIALIZE(id, owner, balances)
};
struct AccountV3 {
  int64_t id = 0;
  std::string owner;
  std::vector<int64_t> balances;
  std::optional<std::string> note;
  bool flagged = false;
  EDDY_SERIALIZE(id, owner, balances, note, flagged)
};

// Opted in by specialising Serializer by hand.
struct Money {
  int64_t cents = 0;
  bool operator==(const Money&) const = default;
};

}  // namespace

template <>
struct Serializer<Money> {
  static constexpr uint32_t kVersion = 3;
  static void write(ByteWriter& w, const Money& m) { w.write_signed_varint(m.cents); }
  static Money read(ByteReader& r) { return Money{r.read_signed_varint()}; }
  static std::string signature() { return "money[v3]"; }
};

namespace {

struct NotSerializable {};

static_assert(Serializable<int64_t>);
static_assert(Serializable<std::map<std::string, std::vector<std::optional<Point>>>>);
static_assert(Serializable<Money>);
static_assert(Serializable<TreeNode>);
static_assert(!Serializable<NotSerializable>);
static_assert(!Serializable<std::vector<NotSerializable>>);
static_assert(!Serializable<std::pair<int, NotSerializable>>);
static_assert(!Serializable<const char*>);
static_assert(Serializer<int>::kVersion == 1);
static_assert(Serializer<Point>::kVersion == 1);
static_assert(Serializer<AccountV2>::kVersion == 2);
static_assert(Serializer<Money>::kVersion == 3);

TEST(SerializerTest, GoldenBytesPinTheFormat) {
  // State outlives processes and releases: these bytes must never change.
  using namespace std::string_literals;
  EXPECT_EQ(serialize(int64_t{1}), "\x01\0\0\0\0\0\0\0"s);
  EXPECT_EQ(serialize(int64_t{-2}), "\xfe\xff\xff\xff\xff\xff\xff\xff"s);
  EXPECT_EQ(serialize(int32_t{0x01020304}), "\x04\x03\x02\x01"s);
  EXPECT_EQ(serialize(uint16_t{0xabcd}), "\xcd\xab"s);
  EXPECT_EQ(serialize(int8_t{-1}), "\xff"s);
  EXPECT_EQ(serialize(true), "\x01"s);
  EXPECT_EQ(serialize(false), "\0"s);
  EXPECT_EQ(serialize(1.0), "\0\0\0\0\0\0\xf0\x3f"s);
  EXPECT_EQ(serialize(1.0f), "\0\0\x80\x3f"s);
  EXPECT_EQ(serialize(Color::kBlue), "\xc8"s);
  EXPECT_EQ(serialize(std::string("ab")),
            "\x02"
            "ab"s);
  EXPECT_EQ(serialize(std::string()), "\0"s);
  EXPECT_EQ(serialize(std::string(200, 'x')), "\xc8\x01" + std::string(200, 'x'));
  EXPECT_EQ(serialize(std::vector<int16_t>{1, -1}), "\x02\x01\0\xff\xff"s);
  EXPECT_EQ(serialize(std::optional<int8_t>()), "\0"s);
  EXPECT_EQ(serialize(std::optional<int8_t>(5)), "\x01\x05"s);
  EXPECT_EQ(serialize(std::pair<int8_t, std::string>(3, "a")),
            "\x03\x01"
            "a"s);
  EXPECT_EQ(serialize(std::map<int8_t, bool>{{1, true}, {2, false}}), "\x02\x01\x01\x02\0"s);
  EXPECT_EQ(serialize(std::array<uint8_t, 2>{9, 8}), "\x09\x08"s);
  EXPECT_EQ(serialize(std::chrono::milliseconds(3)), "\x03\0\0\0\0\0\0\0"s);
  EXPECT_EQ(serialize(Point{1, -1}), "\x02\x01\0\0\0\xff\xff\xff\xff"s);
  EXPECT_EQ(serialize(Empty{}), "\0"s);
  EXPECT_EQ(serialize(Money{-3}), "\x05"s);
}

TEST(SerializerTest, ArithmeticRoundTrips) {
  expect_round_trip(true);
  expect_round_trip(false);
  expect_round_trip('z');
  expect_round_trip(static_cast<signed char>(-128));
  expect_round_trip(static_cast<unsigned char>(255));
  expect_round_trip(char8_t{0xe2});
  expect_round_trip(char16_t{0xffff});
  expect_round_trip(char32_t{0x10ffff});
  expect_round_trip(L'w');
  expect_round_trip(std::numeric_limits<int16_t>::min());
  expect_round_trip(std::numeric_limits<uint16_t>::max());
  expect_round_trip(std::numeric_limits<int32_t>::min());
  expect_round_trip(std::numeric_limits<uint32_t>::max());
  expect_round_trip(std::numeric_limits<int64_t>::min());
  expect_round_trip(std::numeric_limits<int64_t>::max());
  expect_round_trip(std::numeric_limits<uint64_t>::max());
  expect_round_trip(-17L);
  expect_round_trip(17ULL);
  expect_round_trip(3.25f);
  expect_round_trip(-0.1);
  expect_round_trip(std::numeric_limits<double>::infinity());
  expect_round_trip(std::numeric_limits<double>::denorm_min());
  expect_round_trip(std::numeric_limits<float>::lowest());
  expect_round_trip(1.0L / 3.0L);
  expect_round_trip(-std::numeric_limits<long double>::max());
  EXPECT_TRUE(std::signbit(deserialize<double>(serialize(-0.0))));
  EXPECT_TRUE(std::isnan(deserialize<double>(serialize(std::nan("")))));
  EXPECT_EQ(serialize(1.0L).size(), std::numeric_limits<long double>::digits == 64 ? 10u : 16u);
}

TEST(SerializerTest, EnumsRoundTripAsTheirUnderlyingType) {
  expect_round_trip(Color::kRed);
  expect_round_trip(Color::kBlue);
  expect_round_trip(kMany);
  EXPECT_EQ(serialize(kMany), serialize(static_cast<std::underlying_type_t<Plain>>(1000)));
}

TEST(SerializerTest, StringsAndContainersRoundTrip) {
  expect_round_trip(std::string());
  expect_round_trip(std::string("hello"));
  expect_round_trip(std::string("nul\0inside", 10));
  expect_round_trip(std::string(100000, '\xff'));
  expect_round_trip(std::vector<int>{});
  expect_round_trip(std::vector<int>{1, 2, 3});
  expect_round_trip(std::vector<bool>{true, false, true});
  expect_round_trip(std::vector<std::string>{"a", "", "ccc"});
  expect_round_trip(std::deque<double>{1.5, -2.5});
  expect_round_trip(std::list<std::string>{"x", "y"});
  expect_round_trip(std::set<int64_t>{5, -5, 0});
  expect_round_trip(std::set<std::string, std::greater<>>{"a", "b", "c"});
  expect_round_trip(std::unordered_set<std::string>{"p", "q", "r"});
  expect_round_trip(std::map<std::string, int>{{"one", 1}, {"two", 2}});
  expect_round_trip(std::unordered_map<int, std::string>{{1, "one"}, {2, "two"}, {3, ""}});
  expect_round_trip(std::optional<std::string>());
  expect_round_trip(std::optional<std::string>("set"));
  expect_round_trip(std::pair<int, std::string>(4, "four"));
  expect_round_trip(std::tuple<>());
  expect_round_trip(std::tuple<int8_t, std::string, double>(1, "two", 3.0));
  expect_round_trip(std::array<std::string, 3>{"a", "b", "c"});
  expect_round_trip(std::array<int, 0>{});
  expect_round_trip(std::chrono::milliseconds(-1234));
  expect_round_trip(std::chrono::duration<double, std::ratio<1, 3>>(2.5));
  expect_round_trip(std::chrono::hours(48));
}

TEST(SerializerTest, NestedContainersRoundTrip) {
  expect_round_trip(std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {-2, "bb"}});
  expect_round_trip(std::map<std::string, std::vector<std::optional<int>>>{
      {"k", {1, std::nullopt, 3}}, {"empty", {}}});
  expect_round_trip(std::vector<std::vector<std::vector<int8_t>>>{{{1}, {}}, {}, {{2, 3}}});
  expect_round_trip(std::optional<std::tuple<std::set<int>, std::deque<std::string>>>(
      std::tuple<std::set<int>, std::deque<std::string>>{{3, 1}, {"q"}}));
  expect_round_trip(std::unordered_map<std::string, std::map<int, std::list<bool>>>{
      {"x", {{1, {true}}, {2, {}}}}, {"y", {}}});
  expect_round_trip(std::array<std::pair<Color, std::optional<double>>, 2>{
      {{Color::kGreen, 1.0}, {Color::kRed, std::nullopt}}});
  expect_round_trip(std::vector<std::tuple<>>(5));
}

TEST(SerializerTest, StructsRoundTrip) {
  expect_round_trip(Point{3, -4});
  expect_round_trip(Empty{});
  expect_round_trip(Order{});
  expect_round_trip(Order{42, "book", {{1, 2}, {3, 4}}, std::map<std::string, double>{{"w", 0.5}}});
  expect_round_trip(
      std::vector<Order>{Order{1, "a", {}, std::nullopt}, Order{2, "b", {{0, 0}}, {}}});
  expect_round_trip(std::map<int, Point>{{1, {1, 1}}});
  TreeNode tree{1, {TreeNode{2, {}}, TreeNode{3, {TreeNode{4, {}}}}}};
  expect_round_trip(tree);
  expect_round_trip(Money{-123456789});
  expect_round_trip(std::vector<Money>{{1}, {-1}});
}

TEST(SerializerTest, AppendedFieldsReadOlderBytesWithDefaults) {
  std::string v1 = serialize(AccountV1{7, "ada"});
  AccountV2 v2 = deserialize<AccountV2>(v1);
  EXPECT_EQ(v2.id, 7);
  EXPECT_EQ(v2.owner, "ada");
  EXPECT_EQ(v2.balances, std::vector<int64_t>{7}) << "the default member initializer applies";

  AccountV3 v3 = deserialize<AccountV3>(v1);
  EXPECT_EQ(v3.id, 7);
  EXPECT_EQ(v3.owner, "ada");
  EXPECT_TRUE(v3.balances.empty());
  EXPECT_FALSE(v3.note.has_value());
  EXPECT_FALSE(v3.flagged);

  v3 = deserialize<AccountV3>(serialize(AccountV2{8, "bob", {1, 2}}));
  EXPECT_EQ(v3.id, 8);
  EXPECT_EQ(v3.balances, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(v3.note.has_value());

  // Inside a container, each element evolves on its own.
  auto many =
      deserialize<std::vector<AccountV2>>(serialize(std::vector<AccountV1>{{1, "x"}, {2, "y"}}));
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[1].owner, "y");
  EXPECT_EQ(many[1].balances, std::vector<int64_t>{7});
}

TEST(SerializerTest, BytesWithMoreFieldsThanTheTypeAreRejected) {
  AccountV3 v3{1, "ada", {5}, "vip", true};
  std::string bytes = serialize(v3);
  EXPECT_TRUE(contains(read_error<AccountV1>(bytes),
                       "struct at offset 0 of " + std::to_string(bytes.size()) +
                           " was written with 5 fields, this type has 2: fields can only be "
                           "appended"));
  EXPECT_TRUE(contains(read_error<AccountV2>(bytes),
                       "written with 5 fields, this type has 3: fields can only be appended"));
  // Nested: the offset is that of the inner struct.
  EXPECT_TRUE(contains(
      read_error<std::pair<int8_t, AccountV1>>(serialize(std::pair<int8_t, AccountV3>(0, v3))),
      "struct at offset 1 of"));
}

TEST(SerializerTest, VarintEdgeValues) {
  const uint64_t unsigned_values[] = {0,
                                      1,
                                      127,
                                      128,
                                      255,
                                      16383,
                                      16384,
                                      uint64_t{1} << 63,
                                      std::numeric_limits<uint32_t>::max(),
                                      std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : unsigned_values) {
    ByteWriter w;
    w.write_varint(v);
    ByteReader r(w.bytes());
    EXPECT_EQ(r.read_varint(), v);
    EXPECT_TRUE(r.at_end()) << v;
  }
  const int64_t signed_values[] = {0,
                                   -1,
                                   1,
                                   63,
                                   -64,
                                   64,
                                   -65,
                                   std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max()};
  for (int64_t v : signed_values) {
    ByteWriter w;
    w.write_signed_varint(v);
    ByteReader r(w.bytes());
    EXPECT_EQ(r.read_signed_varint(), v);
    EXPECT_TRUE(r.at_end()) << v;
  }

  auto varint = [](uint64_t v) {
    ByteWriter w;
    w.write_varint(v);
    return w.take();
  };
  auto signed_varint = [](int64_t v) {
    ByteWriter w;
    w.write_signed_varint(v);
    return w.take();
  };
  using namespace std::string_literals;
  EXPECT_EQ(varint(0), "\0"s);
  EXPECT_EQ(varint(127), "\x7f");
  EXPECT_EQ(varint(128), "\x80\x01");
  EXPECT_EQ(varint(300), "\xac\x02");
  EXPECT_EQ(varint(std::numeric_limits<uint64_t>::max()),
            "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  EXPECT_EQ(signed_varint(0), "\0"s);
  EXPECT_EQ(signed_varint(-1), "\x01");
  EXPECT_EQ(signed_varint(1), "\x02");
  EXPECT_EQ(signed_varint(-64), "\x7f");
  EXPECT_EQ(signed_varint(64), "\x80\x01");
  EXPECT_EQ(signed_varint(std::numeric_limits<int64_t>::max()),
            "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  EXPECT_EQ(signed_varint(std::numeric_limits<int64_t>::min()),
            "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}

TEST(SerializerTest, MalformedVarintsAreRejected) {
  // An 11-byte varint, and a 10th byte carrying bits past 64.
  std::string too_long(10, '\x80');
  too_long += '\x01';
  ByteReader r1(too_long);
  EXPECT_THROW(r1.read_varint(), SerializationError);
  std::string overflow(9, '\xff');
  overflow += '\x02';
  ByteReader r2(overflow);
  try {
    r2.read_varint();
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_STREQ(e.what(), "malformed varint at offset 0 of 10: more than 64 bits");
  }
  EXPECT_TRUE(
      contains(read_error<std::string>("\x80"), "truncated input: varint at offset 0 of 1"));
}

// Every proper prefix of a valid encoding must throw SerializationError (never crash or read
// out of bounds: run under `make asan` too), and so must the full encoding plus a byte.
template <class T>
void expect_every_prefix_rejected(const T& value) {
  std::string bytes = serialize(value);
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A copy of exactly n bytes, so ASan sees any read past the end.
    std::string prefix = bytes.substr(0, n);
    std::unique_ptr<char[]> exact(new char[n + 1]);
    std::memcpy(exact.get(), prefix.data(), n);
    EXPECT_THROW(deserialize<T>(std::string_view(exact.get(), n)), SerializationError)
        << serializer_signature<T>() << " prefix of " << n << " of " << bytes.size() << " bytes";
  }
  EXPECT_THROW(deserialize<T>(bytes + '\0'), SerializationError) << serializer_signature<T>();
  EXPECT_EQ(deserialize<T>(bytes), value);
}

TEST(SerializerTest, TruncatedInputThrowsAtEveryPrefix) {
  expect_every_prefix_rejected(int64_t{-5});
  expect_every_prefix_rejected(3.5f);
  expect_every_prefix_rejected(true);
  expect_every_prefix_rejected(std::string("truncate me"));
  expect_every_prefix_rejected(std::string(300, 'l'));  // two-byte length
  expect_every_prefix_rejected(std::vector<uint64_t>{1, std::numeric_limits<uint64_t>::max()});
  expect_every_prefix_rejected(std::map<std::string, std::optional<int>>{{"a", 1}, {"b", {}}});
  expect_every_prefix_rejected(std::tuple<int8_t, std::string, std::set<int16_t>>(1, "xy", {3, 4}));
  expect_every_prefix_rejected(std::array<int32_t, 3>{1, 2, 3});
  expect_every_prefix_rejected(Order{9, "pen", {{1, 2}}, std::map<std::string, double>{{"k", 1}}});
  expect_every_prefix_rejected(Money{1 << 20});
}

TEST(SerializerTest, TruncationMessagesSayWhatAndWhere) {
  // 12 bytes of a string "hello world!" then 4 of an int64.
  std::string bytes = serialize(std::string("hello world")) + std::string(4, '\0');
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ((read_error<std::pair<std::string, int64_t>>(bytes)),
            "truncated input: needed 8 bytes for int64 at offset 12 of 16");
  EXPECT_EQ(read_error<std::string>("\x05"
                                    "abc"),
            "truncated input: needed 5 bytes for string at offset 1 of 4");
  EXPECT_EQ(read_error<int32_t>(""), "truncated input: needed 4 bytes for int32 at offset 0 of 0");
  EXPECT_EQ(read_error<std::optional<int>>(""),
            "truncated input: needed 1 byte for optional flag at offset 0 of 0");
  // A huge element count in a few bytes is refused before anything is allocated.
  EXPECT_EQ(read_error<std::vector<int64_t>>("\xff\xff\xff\xff\x0f\x01"),
            "truncated input: needed at least 4294967295 bytes for 4294967295 vector elements at "
            "offset 5 of 6");
  EXPECT_TRUE(contains(read_error<std::map<int, int>>("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
                       "map elements"));
}

TEST(SerializerTest, CorruptValuesAreRejected) {
  using namespace std::string_literals;
  EXPECT_EQ(read_error<bool>("\x02"),
            "invalid bool: byte 0x02 is neither 0 nor 1 at offset 0 of 1");
  EXPECT_EQ(read_error<std::optional<int8_t>>("\x07\x01"),
            "invalid optional flag: byte 0x07 is neither 0 nor 1 at offset 0 of 2");
  // {1, 1} as a set: only a corrupt writer produces it.
  EXPECT_EQ(read_error<std::set<int8_t>>("\x02\x01\x01"),
            "corrupt input: duplicate set element at offset 2 of 3");
  EXPECT_TRUE(contains(read_error<std::unordered_map<int8_t, bool>>("\x02\x01\x01\x01\x00"s),
                       "duplicate unordered_map element at offset 3"));
}

TEST(SerializerTest, TrailingBytesAreRejected) {
  std::string bytes = serialize(int64_t{1}) + "abc";
  EXPECT_EQ(read_error<int64_t>(bytes),
            "trailing bytes: 3 bytes after the value at offset 8 of 11");
  EXPECT_TRUE(contains(read_error<std::string>(serialize(std::string("x")) + "!"),
                       "trailing bytes: 1 byte after the value at offset 2"));
  // Reading with a ByteReader leaves the rest to the caller.
  ByteReader r(bytes);
  EXPECT_EQ(Serializer<int64_t>::read(r), 1);
  EXPECT_EQ(r.position(), 8u);
  EXPECT_EQ(r.remaining(), 3u);
  EXPECT_FALSE(r.at_end());
  EXPECT_EQ(r.read_bytes(3), "abc");
  EXPECT_TRUE(r.at_end());
}

TEST(SerializerTest, SignaturesDescribeTheLayout) {
  EXPECT_EQ(serializer_signature<int64_t>(), "int64");
  EXPECT_EQ(serializer_signature<long long>(), "int64");
  EXPECT_EQ(serializer_signature<uint8_t>(), "uint8");
  EXPECT_EQ(serializer_signature<char>(), "char");
  EXPECT_EQ(serializer_signature<bool>(), "bool");
  EXPECT_EQ(serializer_signature<float>(), "float32");
  EXPECT_EQ(serializer_signature<double>(), "float64");
  EXPECT_EQ(serializer_signature<Color>(), "enum<uint8>");
  EXPECT_EQ(serializer_signature<std::string>(), "string");
  EXPECT_EQ((serializer_signature<std::vector<std::pair<int64_t, std::string>>>()),
            "vector<pair<int64,string>>");
  EXPECT_EQ((serializer_signature<std::map<std::string, std::optional<std::deque<int32_t>>>>()),
            "map<string,optional<deque<int32>>>");
  EXPECT_EQ((serializer_signature<std::unordered_map<int16_t, std::list<bool>>>()),
            "unordered_map<int16,list<bool>>");
  EXPECT_EQ(
      (serializer_signature<std::tuple<int8_t, std::set<uint32_t>, std::unordered_set<double>>>()),
      "tuple<int8,set<uint32>,unordered_set<float64>>");
  EXPECT_EQ(serializer_signature<std::tuple<>>(), "tuple<>");
  EXPECT_EQ((serializer_signature<std::array<uint16_t, 4>>()), "array<uint16,4>");
  EXPECT_EQ(serializer_signature<std::chrono::milliseconds>(), "duration<int64,1/1000>");
  EXPECT_EQ(serializer_signature<Point>(), "struct[v1]");
  EXPECT_EQ(serializer_signature<AccountV2>(), "struct[v2]");
  EXPECT_EQ(serializer_signature<std::vector<Order>>(), "vector<struct[v1]>");
  EXPECT_EQ(serializer_signature<Money>(), "money[v3]");
}

TEST(SerializerTest, SerializeIntoAppendsWithoutReallocating) {
  std::string out = "prefix";
  out.reserve(64);
  const char* buffer = out.data();
  serialize_into(out, int64_t{2});
  serialize_into(out, std::string("ab"));
  EXPECT_EQ(out.data(), buffer) << "no allocation when the string has capacity";
  using namespace std::string_literals;
  EXPECT_EQ(out,
            "prefix\x02\0\0\0\0\0\0\0\x02"
            "ab"s);

  ByteReader r(std::string_view(out).substr(6));
  EXPECT_EQ(Serializer<int64_t>::read(r), 2);
  EXPECT_EQ(Serializer<std::string>::read(r), "ab");
  EXPECT_TRUE(r.at_end());
}

TEST(SerializerTest, ByteWriterOwnsOrBorrowsItsString) {
  ByteWriter owning;
  owning.write_fixed(uint32_t{1});
  owning.write_string("hi");
  owning.write_bytes("!!");
  EXPECT_EQ(owning.size(), 9u);
  std::string taken = owning.take();
  EXPECT_EQ(taken.size(), 9u);
  EXPECT_EQ(owning.size(), 0u);

  ByteWriter moved_from;
  moved_from.write_string("kept");
  ByteWriter moved_to = std::move(moved_from);
  moved_to.write_fixed(uint8_t{1});
  EXPECT_EQ(moved_to.bytes(), "\x04kept\x01");

  std::string target = "x";
  ByteWriter borrowing(target);
  borrowing.write_fixed(int8_t{-1});
  EXPECT_EQ(target, "x\xff");
  EXPECT_EQ(&borrowing.bytes(), &target);

  ByteReader r(taken);
  EXPECT_EQ(r.read_fixed<uint32_t>(), 1u);
  EXPECT_EQ(r.read_string_view(), "hi");
  EXPECT_EQ(r.read_bytes(2), "!!");
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(error_of([&] { r.read_bytes(1); }),
            "truncated input: needed 1 byte for bytes at offset 9 of 9");
}

TEST(SerializerTest, ReaderFailReportsTheOffset) {
  ByteReader r("abc");
  EXPECT_EQ(error_of([&] { r.fail("unknown currency", 2); }), "unknown currency at offset 2 of 3");
}

}  // namespace
}  // namespace eddy
