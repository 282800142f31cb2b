// The contract every keyed state backend must keep, run against each of them ("heap",
// "rocksdb"): the five state kinds, scoping by key and namespace, TTL, snapshots and
// restores (also across backends and key-group ranges).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/state.h"
#include "test_util.h"

namespace eddy {
namespace {

using std::chrono::milliseconds;
using testing::sorted;

constexpr int kMaxParallelism = 128;

// The mean of the inputs; the accumulator is (sum, count).
class Average final : public AggregateFunction<int64_t, std::pair<int64_t, int64_t>, double> {
 public:
  std::pair<int64_t, int64_t> create_accumulator() const override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const int64_t& value,
                                  std::pair<int64_t, int64_t> acc) const override {
    return {acc.first + value, acc.second + 1};
  }
  double get_result(const std::pair<int64_t, int64_t>& acc) const override {
    return acc.second == 0 ? 0.0 : static_cast<double>(acc.first) / static_cast<double>(acc.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                    const std::pair<int64_t, int64_t>& b) const override {
    return {a.first + b.first, a.second + b.second};
  }
};

ValueStateDescriptor<int64_t> count_descriptor() { return ValueStateDescriptor<int64_t>("count"); }
ListStateDescriptor<std::string> events_descriptor() {
  return ListStateDescriptor<std::string>("events");
}
MapStateDescriptor<std::string, int64_t> totals_descriptor() {
  return MapStateDescriptor<std::string, int64_t>("totals");
}
ReducingStateDescriptor<int64_t> max_descriptor() {
  return ReducingStateDescriptor<int64_t>(
      "max", [](const int64_t& a, const int64_t& b) { return a > b ? a : b; });
}
AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double> mean_descriptor() {
  return {"mean", std::make_shared<Average>()};
}

StateTtlConfig ttl_config(int64_t ttl_ms, StateTtlConfig::UpdateType update,
                          StateTtlConfig::Visibility visibility) {
  StateTtlConfig config = StateTtlConfig::of(milliseconds(ttl_ms));
  config.update_type = update;
  config.visibility = visibility;
  return config;
}

constexpr auto kOnWrite = StateTtlConfig::UpdateType::kOnCreateAndWrite;
constexpr auto kOnRead = StateTtlConfig::UpdateType::kOnReadAndWrite;
constexpr auto kNeverExpired = StateTtlConfig::Visibility::kNeverReturnExpired;
constexpr auto kReturnExpired = StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;

std::string other_kind(const std::string& kind) { return kind == "heap" ? "rocksdb" : "heap"; }

class KeyedStateTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<KeyedStateBackend> make_backend(const std::string& kind,
                                                  KeyGroupRange key_groups = {0, 127}) {
    StateBackendOptions options;
    options.kind = kind;
    if (kind == "rocksdb_uncached") {  // every access straight to RocksDB
      options.kind = "rocksdb";
      options.rocksdb_entry_cache_bytes = 0;
    }
    options.rocksdb_dir = dir_.path();
    return create_keyed_state_backend(options, key_groups, kMaxParallelism, clock_, "op", 0);
  }
  std::unique_ptr<KeyedStateBackend> make_backend(KeyGroupRange key_groups = {0, 127}) {
    return make_backend(GetParam(), key_groups);
  }

  // `key` must outlive the state accesses that use it.
  template <class K>
  static void set_key(KeyedStateBackend& backend, const K& key) {
    backend.set_current_key(key, key_group_of(KeyHash<K>{}(key), kMaxParallelism));
  }

  ManualClock clock_{1'000'000};
  testing::TempDir dir_;
};

// ---- The five kinds ----

TEST_P(KeyedStateTest, ValueState) {
  auto backend = make_backend();
  const std::string key = "alice";
  set_key(*backend, key);
  ValueState<int64_t>& state = backend->get_state(count_descriptor());
  EXPECT_EQ(state.value(), std::nullopt);
  EXPECT_EQ(state.value_or(7), 7);
  state.update(1);
  EXPECT_EQ(state.value(), 1);
  state.update(-42);
  EXPECT_EQ(state.value(), -42);
  state.clear();
  EXPECT_EQ(state.value(), std::nullopt);
  // Asking again returns the same state.
  EXPECT_EQ(&backend->get_state(count_descriptor()), &state);
}

TEST_P(KeyedStateTest, ListState) {
  auto backend = make_backend();
  const std::string key = "alice";
  set_key(*backend, key);
  ListState<std::string>& list = backend->get_list_state(events_descriptor());
  EXPECT_TRUE(list.get().empty());
  list.add("a");
  list.add("b");
  list.add_all({"c", "d"});
  list.add_all({});
  EXPECT_EQ(list.get(), (std::vector<std::string>{"a", "b", "c", "d"}));
  list.update({"x", ""});
  EXPECT_EQ(list.get(), (std::vector<std::string>{"x", ""}));
  list.update({});
  EXPECT_TRUE(list.get().empty());
  list.add("again");
  EXPECT_EQ(list.get(), (std::vector<std::string>{"again"}));
  list.clear();
  EXPECT_TRUE(list.get().empty());
}

TEST_P(KeyedStateTest, MapState) {
  auto backend = make_backend();
  const std::string key = "alice";
  set_key(*backend, key);
  MapState<std::string, int64_t>& map = backend->get_map_state(totals_descriptor());
  EXPECT_TRUE(map.is_empty());
  EXPECT_EQ(map.get("a"), std::nullopt);
  map.put("a", 1);
  map.put("b", 2);
  map.put("", 3);
  map.put("a", 10);
  EXPECT_FALSE(map.is_empty());
  EXPECT_EQ(map.get("a"), 10);
  EXPECT_TRUE(map.contains(""));
  EXPECT_FALSE(map.contains("c"));
  EXPECT_EQ(sorted(map.keys()), (std::vector<std::string>{"", "a", "b"}));
  EXPECT_EQ(sorted(map.values()), (std::vector<int64_t>{2, 3, 10}));
  EXPECT_EQ(sorted(map.entries()),
            (std::vector<std::pair<std::string, int64_t>>{{"", 3}, {"a", 10}, {"b", 2}}));
  map.remove("b");
  map.remove("never there");
  EXPECT_EQ(map.get("b"), std::nullopt);
  EXPECT_EQ(map.keys().size(), 2u);
  map.clear();
  EXPECT_TRUE(map.is_empty());
  EXPECT_TRUE(map.entries().empty());
}

TEST_P(KeyedStateTest, ReducingState) {
  auto backend = make_backend();
  const int64_t key = 5;
  set_key(*backend, key);
  ReducingState<int64_t>& max = backend->get_reducing_state(max_descriptor());
  EXPECT_EQ(max.get(), std::nullopt);
  max.add(3);
  max.add(9);
  max.add(4);
  EXPECT_EQ(max.get(), 9);
  max.clear();
  EXPECT_EQ(max.get(), std::nullopt);
  max.add(-1);
  EXPECT_EQ(max.get(), -1);
}

TEST_P(KeyedStateTest, AggregatingState) {
  auto backend = make_backend();
  const int64_t key = 5;
  set_key(*backend, key);
  AggregatingState<int64_t, double>& mean = backend->get_aggregating_state(mean_descriptor());
  EXPECT_EQ(mean.get(), std::nullopt);
  mean.add(1);
  mean.add(2);
  mean.add(6);
  EXPECT_DOUBLE_EQ(*mean.get(), 3.0);
  mean.clear();
  EXPECT_EQ(mean.get(), std::nullopt);
}

// ---- Scoping ----

TEST_P(KeyedStateTest, StateIsScopedByKey) {
  auto backend = make_backend();
  auto& count = backend->get_state(count_descriptor());
  auto& events = backend->get_list_state(events_descriptor());
  auto& totals = backend->get_map_state(totals_descriptor());
  // "a" is a prefix of "ab": a map's clear() must not reach into the longer key.
  const std::string a = "a";
  const std::string ab = "ab";
  set_key(*backend, a);
  count.update(1);
  events.add("a1");
  totals.put("x", 1);
  set_key(*backend, ab);
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_TRUE(events.get().empty());
  EXPECT_TRUE(totals.is_empty());
  count.update(2);
  events.add("ab1");
  totals.put("x", 2);
  set_key(*backend, a);
  EXPECT_EQ(count.value(), 1);
  EXPECT_EQ(events.get(), std::vector<std::string>{"a1"});
  EXPECT_EQ(totals.get("x"), 1);
  count.clear();
  events.clear();
  totals.clear();
  set_key(*backend, ab);
  EXPECT_EQ(count.value(), 2);
  EXPECT_EQ(events.get(), std::vector<std::string>{"ab1"});
  EXPECT_EQ(totals.get("x"), 2);
}

TEST_P(KeyedStateTest, StateIsScopedByNamespace) {
  auto backend = make_backend();
  auto& count = backend->get_state(count_descriptor());
  auto& events = backend->get_list_state(events_descriptor());
  auto& totals = backend->get_map_state(totals_descriptor());
  auto& max = backend->get_reducing_state(max_descriptor());
  const int64_t key = 1;
  set_key(*backend, key);
  for (const std::string ns : {"", "w1", "w2"}) {
    backend->set_current_namespace(ns);
    count.update(static_cast<int64_t>(ns.size()));
    events.add("e" + ns);
    totals.put("k", static_cast<int64_t>(ns.size()));
    max.add(static_cast<int64_t>(ns.size()));
  }
  backend->set_current_namespace("w1");
  EXPECT_EQ(count.value(), 2);
  EXPECT_EQ(events.get(), std::vector<std::string>{"ew1"});
  count.clear();
  events.clear();
  totals.clear();
  max.clear();
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_TRUE(totals.is_empty());
  backend->set_current_namespace("");
  EXPECT_EQ(count.value(), 0);
  EXPECT_EQ(events.get(), std::vector<std::string>{"e"});
  EXPECT_EQ(totals.get("k"), 0);
  EXPECT_EQ(max.get(), 0);
  backend->set_current_namespace("w2");
  EXPECT_EQ(count.value(), 2);
  EXPECT_EQ(totals.entries(), (std::vector<std::pair<std::string, int64_t>>{{"k", 2}}));
  EXPECT_EQ(max.get(), 2);
}

TEST_P(KeyedStateTest, MapCanBeModifiedWhileIteratingOverItsEntries) {
  auto backend = make_backend();
  const int64_t key = 9;
  set_key(*backend, key);
  auto& map = backend->get_map_state(MapStateDescriptor<int64_t, int64_t>("m"));
  for (int64_t i = 0; i < 100; ++i) map.put(i, i);
  for (const auto& [k, v] : map.entries()) {
    if (k % 2 == 0) {
      map.put(k, v * 10);
    } else {
      map.remove(k);
    }
    map.put(k + 1000, v);
  }
  std::vector<std::pair<int64_t, int64_t>> expected;
  for (int64_t i = 0; i < 100; i += 2) expected.emplace_back(i, i * 10);
  for (int64_t i = 0; i < 100; ++i) expected.emplace_back(i + 1000, i);
  EXPECT_EQ(sorted(map.entries()), sorted(expected));
}

TEST_P(KeyedStateTest, LargeValues) {
  auto backend = make_backend();
  const int64_t key = 1;
  set_key(*backend, key);
  std::string big(10 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  auto& value = backend->get_state(ValueStateDescriptor<std::string>("big"));
  value.update(big);
  EXPECT_EQ(value.value(), big);
  auto& list = backend->get_list_state(ListStateDescriptor<std::string>("big-list"));
  list.add(big);
  list.add("small");
  std::vector<std::string> elements = list.get();
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[0], big);
  EXPECT_EQ(elements[1], "small");
}

TEST_P(KeyedStateTest, ManyKeys) {
  constexpr int64_t kKeys = 200'000;
  auto backend = make_backend();
  auto& state = backend->get_state(count_descriptor());
  for (int64_t k = 0; k < kKeys; ++k) {
    set_key(*backend, k);
    state.update(k * 2);
  }
  for (int64_t k = 0; k < kKeys; k += 7) {
    set_key(*backend, k);
    ASSERT_EQ(state.value(), k * 2) << "key " << k;
  }
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  EXPECT_EQ(snapshot.entry_count(), static_cast<size_t>(kKeys));
}

// ---- TTL ----

TEST_P(KeyedStateTest, TtlOnCreateAndWriteExpiresAfterTheLastWrite) {
  auto backend = make_backend();
  auto& value =
      backend->get_state(count_descriptor().enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  value.update(1);
  clock_.advance(60);
  EXPECT_EQ(value.value(), 1);  // a read does not restart the timer
  clock_.advance(39);
  EXPECT_EQ(value.value(), 1);
  clock_.advance(1);  // now - written == ttl: expired
  EXPECT_EQ(value.value(), std::nullopt);
  value.update(2);
  clock_.advance(99);
  value.update(3);  // a write does
  clock_.advance(99);
  EXPECT_EQ(value.value(), 3);
  clock_.advance(1);
  EXPECT_EQ(value.value(), std::nullopt);
}

TEST_P(KeyedStateTest, TtlOnReadAndWriteRestartsOnReads) {
  auto backend = make_backend();
  auto& value =
      backend->get_state(count_descriptor().enable_ttl(ttl_config(100, kOnRead, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  value.update(1);
  for (int i = 0; i < 5; ++i) {
    clock_.advance(60);
    EXPECT_EQ(value.value(), 1) << "read " << i;
  }
  clock_.advance(100);
  EXPECT_EQ(value.value(), std::nullopt);
}

TEST_P(KeyedStateTest, TtlReturnExpiredIfNotCleanedUp) {
  auto backend = make_backend();
  auto& value =
      backend->get_state(count_descriptor().enable_ttl(ttl_config(100, kOnWrite, kReturnExpired)));
  auto& hidden = backend->get_state(
      ValueStateDescriptor<int64_t>("hidden").enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  value.update(1);
  hidden.update(1);
  clock_.advance(500);
  EXPECT_EQ(value.value(), 1);
  EXPECT_EQ(value.value(), 1);
  EXPECT_EQ(hidden.value(), std::nullopt);
}

TEST_P(KeyedStateTest, TtlOfListElementsIsPerElement) {
  auto backend = make_backend();
  auto& list = backend->get_list_state(
      events_descriptor().enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  list.add("first");
  clock_.advance(50);
  list.add_all({"second", "third"});
  clock_.advance(50);
  EXPECT_EQ(list.get(), (std::vector<std::string>{"second", "third"}));
  list.add("fourth");
  clock_.advance(50);
  EXPECT_EQ(list.get(), std::vector<std::string>{"fourth"});
  clock_.advance(50);
  EXPECT_TRUE(list.get().empty());
}

TEST_P(KeyedStateTest, TtlOfListElementsRestartsOnReads) {
  auto backend = make_backend();
  auto& list = backend->get_list_state(
      events_descriptor().enable_ttl(ttl_config(100, kOnRead, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  list.add("a");
  clock_.advance(60);
  list.add("b");
  EXPECT_EQ(list.get(), (std::vector<std::string>{"a", "b"}));
  clock_.advance(99);
  EXPECT_EQ(list.get(), (std::vector<std::string>{"a", "b"}));
  clock_.advance(100);
  EXPECT_TRUE(list.get().empty());
}

TEST_P(KeyedStateTest, TtlOfMapEntriesIsPerEntry) {
  auto backend = make_backend();
  auto& map = backend->get_map_state(
      totals_descriptor().enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  map.put("old", 1);
  clock_.advance(50);
  map.put("new", 2);
  clock_.advance(50);
  EXPECT_FALSE(map.contains("old"));
  EXPECT_EQ(map.get("old"), std::nullopt);
  EXPECT_EQ(map.get("new"), 2);
  EXPECT_EQ(map.entries(), (std::vector<std::pair<std::string, int64_t>>{{"new", 2}}));
  clock_.advance(50);
  EXPECT_TRUE(map.is_empty());
  EXPECT_TRUE(map.keys().empty());
}

TEST_P(KeyedStateTest, TtlOfMapEntriesRestartsOnReads) {
  auto backend = make_backend();
  auto& map = backend->get_map_state(
      totals_descriptor().enable_ttl(ttl_config(100, kOnRead, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  map.put("read by get", 1);
  map.put("read by entries", 2);
  map.put("read once", 3);
  clock_.advance(60);
  EXPECT_EQ(map.get("read by get"), 1);
  clock_.advance(30);
  EXPECT_EQ(sorted(map.entries()),
            (std::vector<std::pair<std::string, int64_t>>{
                {"read by entries", 2}, {"read by get", 1}, {"read once", 3}}));
  // All three were read at +90 by entries(): none expires before +190.
  clock_.advance(99);
  EXPECT_EQ(map.get("read by entries"), 2);
  EXPECT_EQ(map.get("read by get"), 1);
  clock_.advance(1);  // +190: "read once" expires (its last read was at +90)
  EXPECT_EQ(sorted(map.keys()), (std::vector<std::string>{"read by entries", "read by get"}));
}

TEST_P(KeyedStateTest, TtlOfReducingAndAggregatingStates) {
  auto backend = make_backend();
  auto& max = backend->get_reducing_state(
      max_descriptor().enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  auto& mean = backend->get_aggregating_state(
      mean_descriptor().enable_ttl(ttl_config(100, kOnWrite, kNeverExpired)));
  const int64_t key = 1;
  set_key(*backend, key);
  max.add(50);
  mean.add(50);
  clock_.advance(99);
  EXPECT_EQ(max.get(), 50);
  EXPECT_DOUBLE_EQ(*mean.get(), 50.0);
  max.add(3);  // the fold is a write: the timer restarts
  mean.add(10);
  clock_.advance(99);
  EXPECT_EQ(max.get(), 50);
  EXPECT_DOUBLE_EQ(*mean.get(), 30.0);
  clock_.advance(1);
  // The expired value takes no part in the next fold.
  max.add(3);
  mean.add(4);
  EXPECT_EQ(max.get(), 3);
  EXPECT_DOUBLE_EQ(*mean.get(), 4.0);
  clock_.advance(100);
  EXPECT_EQ(max.get(), std::nullopt);
  EXPECT_EQ(mean.get(), std::nullopt);
}

TEST_P(KeyedStateTest, FullSnapshotsDropExpiredEntries) {
  auto backend = make_backend();
  StateTtlConfig config = ttl_config(100, kOnWrite, kReturnExpired);
  auto& value = backend->get_state(count_descriptor().enable_ttl(config));
  auto& map = backend->get_map_state(totals_descriptor().enable_ttl(config));
  const int64_t early = 1;
  const int64_t late = 2;
  set_key(*backend, early);
  value.update(1);
  map.put("a", 1);
  clock_.advance(50);
  set_key(*backend, late);
  value.update(2);
  map.put("b", 2);
  clock_.advance(50);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  EXPECT_EQ(snapshot.entry_count(), 2u);  // only `late`'s

  auto restored = make_backend();
  restored->restore({&snapshot});
  auto& restored_value = restored->get_state(count_descriptor().enable_ttl(config));
  auto& restored_map = restored->get_map_state(totals_descriptor().enable_ttl(config));
  set_key(*restored, early);
  EXPECT_EQ(restored_value.value(), std::nullopt);
  EXPECT_TRUE(restored_map.is_empty());
  set_key(*restored, late);
  EXPECT_EQ(restored_value.value(), 2);
  EXPECT_EQ(restored_map.get("b"), 2);
}

// ---- Snapshots and restores ----

const std::vector<std::string>& test_keys() {
  static const auto* keys = [] {
    auto* out = new std::vector<std::string>;
    for (int i = 0; i < 300; ++i) out->push_back("key-" + std::to_string(i));
    return out;
  }();
  return *keys;
}

// Writes state of every kind for test_keys(), in two namespaces.
void populate(KeyedStateBackend& backend) {
  auto& count = backend.get_state(count_descriptor());
  auto& events = backend.get_list_state(events_descriptor());
  auto& totals = backend.get_map_state(totals_descriptor());
  auto& max = backend.get_reducing_state(max_descriptor());
  auto& mean = backend.get_aggregating_state(mean_descriptor());
  for (size_t i = 0; i < test_keys().size(); ++i) {
    const std::string& key = test_keys()[i];
    backend.set_current_key(key, key_group_of(KeyHash<std::string>{}(key), kMaxParallelism));
    for (const std::string ns : {"", "window"}) {
      backend.set_current_namespace(ns);
      auto n = static_cast<int64_t>(i + ns.size());
      count.update(n);
      events.add_all({key, ns});
      totals.put("a", n);
      totals.put("b", -n);
      max.add(n);
      max.add(n - 1);
      mean.add(n);
      mean.add(n + 2);
    }
  }
  backend.set_current_namespace("");
}

// Checks the state populate() wrote, for the keys in the backend's key groups.
void verify(KeyedStateBackend& backend) {
  auto& count = backend.get_state(count_descriptor());
  auto& events = backend.get_list_state(events_descriptor());
  auto& totals = backend.get_map_state(totals_descriptor());
  auto& max = backend.get_reducing_state(max_descriptor());
  auto& mean = backend.get_aggregating_state(mean_descriptor());
  for (size_t i = 0; i < test_keys().size(); ++i) {
    const std::string& key = test_keys()[i];
    int group = key_group_of(KeyHash<std::string>{}(key), kMaxParallelism);
    if (!backend.key_groups().contains(group)) continue;  // not this backend's to read
    backend.set_current_key(key, group);
    for (const std::string ns : {"", "window"}) {
      backend.set_current_namespace(ns);
      SCOPED_TRACE(key + " in namespace '" + ns + "'");
      auto n = static_cast<int64_t>(i + ns.size());
      EXPECT_EQ(count.value(), n);
      EXPECT_EQ(events.get(), (std::vector<std::string>{key, ns}));
      EXPECT_EQ(sorted(totals.entries()),
                (std::vector<std::pair<std::string, int64_t>>{{"a", n}, {"b", -n}}));
      EXPECT_EQ(max.get(), n);
      EXPECT_DOUBLE_EQ(*mean.get(), static_cast<double>(n) + 1.0);
    }
  }
  backend.set_current_namespace("");
}

// The entries of each state by name, to compare snapshots of different backends.
std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_state(
    const KeyedStateSnapshot& snapshot) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  for (size_t i = 0; i < snapshot.states.size(); ++i)
    out[snapshot.states[i].name] = snapshot.entries[i];
  return out;
}

TEST_P(KeyedStateTest, SnapshotRestoresIntoAFreshBackend) {
  auto backend = make_backend();
  populate(*backend);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  EXPECT_EQ(snapshot.key_groups, (KeyGroupRange{0, 127}));
  EXPECT_EQ(snapshot.states.size(), 5u);
  for (const auto& entries : snapshot.entries) {
    EXPECT_TRUE(std::is_sorted(entries.begin(), entries.end()));
  }
  auto restored = make_backend();
  restored->restore({&snapshot});
  verify(*restored);
  // And a snapshot of the restored backend is the same.
  EXPECT_EQ(by_state(restored->snapshot()->run()), by_state(snapshot));
}

TEST_P(KeyedStateTest, SnapshotRestoresIntoTheOtherBackendAndBack) {
  auto backend = make_backend();
  populate(*backend);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();

  auto other = make_backend(other_kind(GetParam()));
  other->restore({&snapshot});
  verify(*other);
  KeyedStateSnapshot other_snapshot = other->snapshot()->run();
  EXPECT_EQ(by_state(other_snapshot), by_state(snapshot));  // one canonical form

  auto back = make_backend();
  back->restore({&other_snapshot});
  verify(*back);
}

TEST_P(KeyedStateTest, RestoreIntoSplitKeyGroupRangesLosesNothing) {
  auto backend = make_backend();
  populate(*backend);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();

  auto low = make_backend(KeyGroupRange{0, 63});
  auto high = make_backend(KeyGroupRange{64, 127});
  low->restore({&snapshot});
  high->restore({&snapshot});
  verify(*low);
  verify(*high);
  KeyedStateSnapshot low_snapshot = low->snapshot()->run();
  KeyedStateSnapshot high_snapshot = high->snapshot()->run();
  EXPECT_EQ(low_snapshot.key_groups, (KeyGroupRange{0, 63}));
  EXPECT_GT(low_snapshot.entry_count(), 0u);
  EXPECT_GT(high_snapshot.entry_count(), 0u);
  EXPECT_EQ(low_snapshot.entry_count() + high_snapshot.entry_count(), snapshot.entry_count());

  // Scaling back in: both halves into one backend.
  auto merged = make_backend();
  merged->restore({&low_snapshot, &high_snapshot});
  verify(*merged);
}

TEST_P(KeyedStateTest, SnapshotShowsTheStateWhenItWasTaken) {
  auto backend = make_backend();
  populate(*backend);
  std::unique_ptr<SnapshotTask> task = backend->snapshot();
  // Change everything after the synchronous part...
  auto& count = backend->get_state(count_descriptor());
  auto& events = backend->get_list_state(events_descriptor());
  auto& totals = backend->get_map_state(totals_descriptor());
  for (const std::string& key : test_keys()) {
    set_key(*backend, key);
    count.update(-1);
    events.add("later");
    totals.clear();
  }
  // ... while the task runs on another thread, as checkpoints do.
  KeyedStateSnapshot snapshot;
  std::thread runner([&] { snapshot = task->run(); });
  const std::string extra = "extra";
  set_key(*backend, extra);
  count.update(5);
  runner.join();
  task.reset();

  auto restored = make_backend();
  restored->restore({&snapshot});
  verify(*restored);
  set_key(*restored, extra);
  EXPECT_EQ(restored->get_state(count_descriptor()).value(), std::nullopt);
}

TEST_P(KeyedStateTest, RestoredStatesNotUsedYetAreCarriedIntoTheNextSnapshot) {
  auto backend = make_backend();
  populate(*backend);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  auto restored = make_backend();
  restored->restore({&snapshot});
  const std::string key = "new";
  set_key(*restored, key);
  restored->get_state(count_descriptor()).update(1);  // only one of the five is used
  KeyedStateSnapshot next = restored->snapshot()->run();
  auto again = make_backend();
  again->restore({&next});
  verify(*again);  // "new" is not among test_keys(): the others are as they were
}

// ---- Errors ----

TEST_P(KeyedStateTest, SameNameWithAnotherTypeThrows) {
  auto backend = make_backend();
  const int64_t key = 1;
  set_key(*backend, key);
  backend->get_state(ValueStateDescriptor<int64_t>("x")).update(1);
  EXPECT_THROW(backend->get_state(ValueStateDescriptor<std::string>("x")), InvalidJobError);
  EXPECT_THROW(backend->get_list_state(ListStateDescriptor<int64_t>("x")), InvalidJobError);
  EXPECT_THROW((backend->get_map_state(MapStateDescriptor<int64_t, int64_t>("x"))),
               InvalidJobError);
  EXPECT_EQ(backend->get_state(ValueStateDescriptor<int64_t>("x")).value(), 1);
}

TEST_P(KeyedStateTest, RestoringAStateAsAnotherTypeThrows) {
  auto backend = make_backend();
  const int64_t key = 1;
  set_key(*backend, key);
  backend->get_state(ValueStateDescriptor<int64_t>("x")).update(1);
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  auto restored = make_backend();
  restored->restore({&snapshot});
  set_key(*restored, key);
  try {
    restored->get_state(ValueStateDescriptor<std::string>("x"));
    FAIL() << "expected eddy::Error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("'x'"), std::string::npos) << message;
    EXPECT_NE(message.find("int64"), std::string::npos) << message;
    EXPECT_NE(message.find("string"), std::string::npos) << message;
  }
}

TEST_P(KeyedStateTest, AccessWithoutACurrentKeyThrows) {
  auto backend = make_backend();
  auto& value = backend->get_state(count_descriptor());
  EXPECT_THROW(value.value(), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedStateTest, ::testing::Values("heap", "rocksdb", "rocksdb_uncached"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace eddy
