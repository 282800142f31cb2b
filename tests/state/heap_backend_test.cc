// What is specific to the heap backend: copy-on-write snapshots, incremental TTL cleanup,
// memory reporting.
#include <gtest/gtest.h>

#include <thread>

#include "eddy/eddy.h"
#include "state/heap/heap_keyed_state_backend.h"

namespace eddy {
namespace {

constexpr int kMaxParallelism = 128;

class HeapBackendTest : public ::testing::Test {
 protected:
  void set_key(int64_t key) { backend_.set_current_key(keys_.emplace_back(key), group(key)); }
  static int group(int64_t key) { return key_group_of(KeyHash<int64_t>{}(key), kMaxParallelism); }

  ManualClock clock_{1000};
  state::HeapKeyedStateBackend backend_{KeyGroupRange{0, kMaxParallelism - 1}, kMaxParallelism, clock_};
  std::deque<int64_t> keys_;  // keys stay alive while they are current
};

int64_t value_in(const KeyedStateSnapshot& snapshot, int64_t key) {
  std::string entry_key;
  internal::state_encoding::compose_key(entry_key, key_group_of(KeyHash<int64_t>{}(key), kMaxParallelism),
                                        serialize(key), "");
  for (const auto& [k, v] : snapshot.entries.at(0)) {
    if (k == entry_key) return deserialize<int64_t>(v);
  }
  return -1;
}

TEST_F(HeapBackendTest, SnapshotSeesStateAsOfTheSynchronousPart) {
  auto& value = backend_.get_state(ValueStateDescriptor<int64_t>("v"));
  for (int64_t k = 0; k < 1000; ++k) {
    set_key(k);
    value.update(k);
  }
  std::unique_ptr<SnapshotTask> task = backend_.snapshot();
  for (int64_t k = 0; k < 1000; ++k) {  // processing goes on before the task runs
    set_key(k);
    value.update(k + 1000000);
  }
  set_key(5000);
  value.update(1);
  KeyedStateSnapshot snapshot = task->run();
  ASSERT_EQ(snapshot.entry_count(), 1000u);
  for (int64_t k : {0, 17, 999}) EXPECT_EQ(value_in(snapshot, k), k);
  set_key(17);
  EXPECT_EQ(value.value(), 1000017);
}

TEST_F(HeapBackendTest, SnapshotTaskRunsOnAnotherThreadWhileUpdatesContinue) {
  auto& value = backend_.get_state(ValueStateDescriptor<int64_t>("v"));
  for (int64_t k = 0; k < 20000; ++k) {
    set_key(k);
    value.update(1);
  }
  std::unique_ptr<SnapshotTask> task = backend_.snapshot();
  KeyedStateSnapshot snapshot;
  std::thread writer([&] { snapshot = task->run(); });
  for (int64_t k = 0; k < 20000; ++k) {
    set_key(k);
    value.update(value.value_or(0) + 1);
  }
  writer.join();
  ASSERT_EQ(snapshot.entry_count(), 20000u);
  for (const auto& [k, v] : snapshot.entries[0]) ASSERT_EQ(deserialize<int64_t>(v), 1);
}

TEST_F(HeapBackendTest, IncrementalCleanupRemovesExpiredEntriesWithoutReadingThem) {
  StateTtlConfig ttl = StateTtlConfig::of(std::chrono::milliseconds(100));
  ttl.cleanup_incrementally = 1000;
  ttl.cleanup_in_full_snapshot = false;  // so the snapshot shows what the cleanup left
  auto& value = backend_.get_state(ValueStateDescriptor<int64_t>("v").enable_ttl(ttl));
  for (int64_t k = 0; k < 5000; ++k) {
    set_key(k);
    value.update(k);
  }
  size_t full = backend_.memory_bytes();
  clock_.advance(200);
  // Accesses to one other key sweep the table a thousand entries at a time.
  for (int i = 0; i < 20; ++i) {
    set_key(-1);
    value.update(0);
  }
  EXPECT_LT(backend_.memory_bytes(), full / 2);
  EXPECT_EQ(backend_.snapshot()->run().entry_count(), 1u) << "only the fresh key is left";
}

TEST_F(HeapBackendTest, MemoryGrowsWithState) {
  auto& list = backend_.get_list_state(ListStateDescriptor<int64_t>("l"));
  size_t empty = backend_.memory_bytes();
  for (int64_t k = 0; k < 1000; ++k) {
    set_key(k);
    list.add(k);
  }
  EXPECT_GT(backend_.memory_bytes(), empty + 1000 * sizeof(int64_t));
}

TEST_F(HeapBackendTest, KeyGroupOutsideTheRangeIsAnError) {
  state::HeapKeyedStateBackend half{KeyGroupRange{64, 127}, kMaxParallelism, clock_};
  auto& value = half.get_state(ValueStateDescriptor<int64_t>("v"));
  int64_t key = 0;
  while (group(key) >= 64) ++key;
  half.set_current_key(key, group(key));
  EXPECT_THROW(value.update(1), Error);
}

// A read remembers the current key's slot (HeapTable's per-key cache). A snapshot taken
// while the key stays current must make that slot read-only: the write after it copies the
// key group, so the snapshot keeps the value it saw. Also for a read-modify-write across
// the barrier, an erase, and a key whose group has no map yet.
TEST_F(HeapBackendTest, RememberedSlotIsNotWrittenInPlaceAfterASnapshot) {
  auto& value = backend_.get_state(ValueStateDescriptor<int64_t>("v"));
  auto& sum = backend_.get_reducing_state(
      ReducingStateDescriptor<int64_t>("sum", [](int64_t a, int64_t b) { return a + b; }));
  set_key(7);
  value.update(1);
  sum.add(10);
  EXPECT_EQ(value.value(), 1);  // remembered, writable
  std::unique_ptr<SnapshotTask> first = backend_.snapshot();  // the key stays current
  value.update(value.value_or(0) + 1);
  sum.add(5);
  EXPECT_EQ(value.value(), 2);
  EXPECT_EQ(sum.get(), 15);
  std::unique_ptr<SnapshotTask> second = backend_.snapshot();
  value.clear();  // erase under the same key, after a snapshot
  EXPECT_FALSE(value.value().has_value());
  value.update(40);
  set_key(8);  // never written: its key group may have no map yet
  EXPECT_FALSE(value.value().has_value());
  value.update(3);
  EXPECT_EQ(value.value(), 3);

  KeyedStateSnapshot at_first = first->run();
  KeyedStateSnapshot at_second = second->run();
  EXPECT_EQ(value_in(at_first, 7), 1);
  EXPECT_EQ(value_in(at_second, 7), 2);
  EXPECT_EQ(value_in(at_second, 8), -1);
  set_key(7);
  EXPECT_EQ(value.value(), 40);
  EXPECT_EQ(sum.get(), 15);
}

// Number keys are kept as their bytes from set_current_key on: the same bytes as their
// serialized form, for every width, and a key set as bytes afterwards replaces them.
TEST_F(HeapBackendTest, NumberKeyBytesAreTheSerializedKey) {
  auto check = [&](auto key) {
    backend_.set_current_key(key, 0);
    EXPECT_EQ(std::string(backend_.current_key_view()), serialize(key));
    EXPECT_EQ(backend_.current_key_bytes(), serialize(key));
  };
  check(int8_t{-3});
  check(uint16_t{0xabcd});
  check(int32_t{-123456});
  check(int64_t{0x0102030405060708});
  check(uint64_t{~uint64_t{0}});
  check(3.25);
  check(-1.5f);
  const std::string text = "a string key";
  backend_.set_current_key(text, 0);
  EXPECT_EQ(std::string(backend_.current_key_view()), serialize(text));
  backend_.set_current_key_bytes("raw", 0);
  EXPECT_EQ(backend_.current_key_view(), "raw");

  // Through a state: a number key and its bytes name the same entry.
  auto& value = backend_.get_state(ValueStateDescriptor<int64_t>("v"));
  set_key(42);
  value.update(9);
  const std::string bytes = serialize(int64_t{42});
  backend_.set_current_key_bytes(bytes, group(42));
  EXPECT_EQ(value.value(), 9);
}

// prefetch() is a hint: for keys with and without state, in and out of the backend's key
// groups, it changes nothing and throws nothing.
TEST_F(HeapBackendTest, PrefetchChangesNothing) {
  state::HeapKeyedStateBackend half{KeyGroupRange{64, 127}, kMaxParallelism, clock_};
  EXPECT_TRUE(half.prefetches());
  half.prefetch(int64_t{1}, group(1));  // no state yet
  auto& value = half.get_state(ValueStateDescriptor<int64_t>("v"));
  auto& names = half.get_map_state(MapStateDescriptor<std::string, int64_t>("m"));
  std::vector<int64_t> owned;
  for (int64_t key = 0; owned.size() < 200; ++key) {
    if (group(key) >= 64) owned.push_back(key);
  }
  for (int64_t key : owned) {
    half.set_current_key(key, group(key));
    value.update(key * 3);
    names.put("k", key);
  }
  for (int64_t key = 0; key < 1000; ++key) {
    half.prefetch(key, group(key));  // owned or not, with or without state
    half.prefetch(std::string(40, 'x') + std::to_string(key), group(key));  // a long key
  }
  for (int64_t key : owned) {
    half.set_current_key(key, group(key));
    half.prefetch(key + 1, group(key + 1));  // between setting the key and reading it
    EXPECT_EQ(value.value(), key * 3);
    EXPECT_EQ(value.value_or(-1), key * 3);
    EXPECT_EQ(names.get("k"), key);
  }
  int64_t absent = 1000000;
  while (group(absent) < 64) ++absent;
  half.set_current_key(absent, group(absent));
  EXPECT_EQ(value.value_or(-1), -1);
  EXPECT_FALSE(value.value().has_value());
}

}  // namespace
}  // namespace eddy
