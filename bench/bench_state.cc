// bench-state: keyed state accesses through a KeyedStateBackend (heap and RocksDB), against
// hand-written std::unordered_map loops doing the same work.
//
//   bench-state [--events N] [--parallelism P] [--repeat R] [--json]
//               [--backend heap|rocksdb|all] [--workload value|list|map|all]
//               [--keys K] [--map-keys M] [--rocksdb-dir DIR] [--rocksdb-entry-cache-mb MB]
//
// No job runs: the benchmark creates backends with eddy::create_keyed_state_backend and
// drives the states directly, as the runtime and a keyed operator do for each record: in
// batches of 1024 records (the default batch of 16-byte records), prefetching the key of the
// record eddy::kPrefetchDistance ahead when the backend prefetches (heap, and RocksDB with
// its entry cache; see Input::prefetch), then for each record set_current_key with the key's group and the
// state access. Every workload is timed on its own, on a fresh backend; one operation is:
//
//   value  ValueState<int64_t> read-modify-write: v = state.value_or(0); state.update(v + 1).
//          Baseline: std::unordered_map<int64_t, int64_t>, ++m[key].
//   list   ListState<int64_t>::add of one element (the operation's index).
//          Baseline: std::unordered_map<int64_t, std::vector<int64_t>>, m[key].push_back(j).
//   map    MapState<int64_t, int64_t>: one put AND one get per operation (two accesses):
//          put(user key a, op id), then get(user key b), with a and b drawn independently
//          from [0, M) (M = --map-keys, default 16), so the get may miss.
//          Baseline: std::unordered_map<int64_t, std::unordered_map<int64_t, int64_t>>:
//          auto& inner = m[key]; inner[a] = id; inner.find(b).
//
// Keys: operation i uses key = reduce(splitmix64(i), K) (K = --keys, default 1 000 000), so
// the accesses are uniformly random over the key space. reduce(r, n) = (r * n) >> 64 (128-bit
// product) maps a 64-bit hash onto [0, n) like r % n but without a 64-bit division: a
// runtime `% K` in the key generator alone made the hash-map baseline about 3x slower on
// the 2-core AMD EPYC VM this was written on (it keeps the core from overlapping the cache
// misses of consecutive operations). The key group of a key is
// key_group_of(KeyHash<int64_t>{}(key), 128) (128 key groups, the default max parallelism).
// The engine loop computes the key group for every operation (a keyed operator must); the
// baseline has no use for it and does not.
//
// Loaded state (value): before the timed loop, every key gets its value (one
// read-modify-write per key, in key order, through the same batched, prefetching loop;
// the hash-map loop does ++m[key] per key). So the timed operations update keys that have
// state, as Flink's state benchmarks pre-populate their keys, and the cost of growing the
// state (inserts, rehashes, fresh memory) is reported apart, as "load" in keys/s, for the
// engine and the hash map alike. Lists and maps grow with every operation: those
// workloads start from empty state.
//
// Events: N (--events) operations per workload. Defaults: 10 000 000 for heap and
// 2 000 000 for RocksDB (--events sets both). The output says which were used.
//
// Parallelism: P independent backends on P threads, as P keyed subtasks would be: thread t
// owns the key groups KeyGroupRange::for_subtask(128, P, t) and does N/P operations
// (rounded) over the keys of [0, K) that fall in its key groups (op j of thread t uses
// keys_t[reduce(splitmix64(seed_t + j), |keys_t|)], the table being built before the timing).
// The baseline runs the same P threads, each with its own hash map. P = 1 is the plain
// single-threaded case above (no key table). Ops/s are over all threads (total ops / wall).
//
// Baseline fields: only for heap. RocksDB has no meaningful hand-written equivalent; its
// results carry ops/s only (baseline fields null). The hash-map loop still runs once for
// every RocksDB workload, untimed for the report, to verify the backend's final state.
//
// Checks, after every engine run (untimed), reading the state back through the backend for
// every key (set_current_key for each key of [0, K)):
//   value  the sum of all values equals the number of operations plus the keys loaded; the
//          number of keys with
//          a value and a key-weighted checksum equal the hash-map loop's;
//   list   every element was added under the key its operation drew, lists are in
//          insertion order, their total length is the number of operations, and their
//          checksums equal the hash-map loop's;
//   map    every entry (user key, id) was written under the key and user key that
//          operation id drew; the number of entries, their checksum, and the number and
//          sum of the values the gets returned equal the hash-map loop's.
// A mismatch fails the benchmark (exit status 1). RocksDB data directories (under
// --rocksdb-dir, default the system temp directory) must be gone once the backends are.
//
// RocksDB options: the defaults of StateBackendOptions, except --rocksdb-entry-cache-mb
// (default 64; 0 turns the entry cache off, so that every access goes to RocksDB).
//
// Reported per (backend, workload): ops, seconds, ops/s, baseline ops/s and ratio
// (engine / baseline, heap only), backend->memory_bytes() (summed over the P backends,
// taken right after the timed loop), and the peak RSS of the phase. With --json, one
// object: the shared fields of bench_common.h describe the headline result (heap value if
// it ran, else the first result), "peak_rss_bytes" is the largest peak RSS of any engine
// phase, and "results" lists every (backend, workload).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench_common.h"

namespace {

constexpr const char* kName = "bench-state";
constexpr int kMaxParallelism = eddy::kDefaultMaxParallelism;  // 128 key groups
constexpr int64_t kHeapDefaultEvents = 10'000'000;
constexpr int64_t kRocksDbDefaultEvents = 2'000'000;
// Records per batch as a keyed operator gets them: the runtime's default batch of 16 KiB
// (ExecutionConfig::batch_bytes) holds 1024 records of 16 bytes, a (key, value) pair.
constexpr int64_t kBatchOps = 1024;

// Salts that make the map workload's user keys independent of the key.
constexpr uint64_t kPutSalt = 0x5bd1e9955bd1e995ULL;
constexpr uint64_t kGetSalt = 0x27d4eb2f165667c5ULL;
constexpr uint64_t kWeightSalt = 0x94d049bb133111ebULL;

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A 64-bit hash mapped onto [0, n), uniformly, without a division (Lemire's fastrange).
inline uint64_t reduce(uint64_t r, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
}

inline int key_group_of_key(int64_t key) {
  return eddy::key_group_of(eddy::KeyHash<int64_t>{}(key), kMaxParallelism);
}

inline uint64_t weight(int64_t key) { return splitmix64(static_cast<uint64_t>(key) ^ kWeightSalt); }

enum class Workload { kValue, kList, kMap };

const char* workload_name(Workload w) {
  switch (w) {
    case Workload::kValue:
      return "value";
    case Workload::kList:
      return "list";
    case Workload::kMap:
      return "map";
  }
  return "?";
}

// The keys and operations of one thread (one subtask).
struct KeySpace {
  eddy::KeyGroupRange range;
  int64_t keys = 0;            // K
  bool all = true;             // P == 1: every key of [0, K), key = reduce(splitmix64(i), K)
  std::vector<int64_t> table;  // P > 1: the keys of [0, K) in `range`
  uint64_t seed = 0;           // op j has id seed + j
  int64_t ops = 0;
  int64_t map_keys = 16;

  uint64_t id(int64_t j) const { return seed + static_cast<uint64_t>(j); }
  // The keys of this thread's key space, by index in [0, key_count()).
  int64_t key_count() const { return all ? keys : static_cast<int64_t>(table.size()); }
  int64_t key_at(int64_t i) const { return all ? i : table[static_cast<size_t>(i)]; }
  int64_t key_of_id(uint64_t id) const {
    uint64_t r = splitmix64(id);
    return all ? static_cast<int64_t>(reduce(r, static_cast<uint64_t>(keys)))
               : table[reduce(r, table.size())];
  }
  int64_t put_user_key(uint64_t id) const {
    return static_cast<int64_t>(reduce(splitmix64(id ^ kPutSalt), static_cast<uint64_t>(map_keys)));
  }
  int64_t get_user_key(uint64_t id) const {
    return static_cast<int64_t>(reduce(splitmix64(id ^ kGetSalt), static_cast<uint64_t>(map_keys)));
  }
  template <class F>
  void for_each_key(F&& f) const {
    if (all) {
      for (int64_t k = 0; k < keys; ++k) f(k);
    } else {
      for (int64_t k : table) f(k);
    }
  }
};

std::vector<KeySpace> make_key_spaces(int parallelism, int64_t keys, int64_t events,
                                      int64_t map_keys) {
  std::vector<KeySpace> spaces(static_cast<size_t>(parallelism));
  for (int t = 0; t < parallelism; ++t) {
    KeySpace& s = spaces[static_cast<size_t>(t)];
    s.range = eddy::KeyGroupRange::for_subtask(kMaxParallelism, parallelism, t);
    s.keys = keys;
    s.all = parallelism == 1;
    s.seed = static_cast<uint64_t>(t) << 48;
    s.ops = events / parallelism + (t < events % parallelism ? 1 : 0);
    s.map_keys = map_keys;
  }
  if (parallelism > 1) {
    for (int64_t k = 0; k < keys; ++k) {
      int group = key_group_of_key(k);
      int t = eddy::subtask_for_key_group(group, kMaxParallelism, parallelism);
      KeySpace& s = spaces[static_cast<size_t>(t)];
      if (!s.range.contains(group)) eddy::bench::fail(kName, "key group assignment mismatch");
      s.table.push_back(k);
    }
    for (int t = 0; t < parallelism; ++t) {
      if (spaces[static_cast<size_t>(t)].table.empty()) {
        eddy::bench::fail(kName,
                          "thread " + std::to_string(t) +
                              " owns no key of [0, --keys): raise --keys or lower --parallelism");
      }
    }
  }
  return spaces;
}

// What a run leaves behind, computed identically from the engine's state and the hash map.
struct Digest {
  uint64_t present = 0;   // keys with state
  uint64_t count = 0;     // value: sum of values; list: elements; map: entries
  uint64_t sum = 0;       // list: sum of elements; map: sum of entry values
  uint64_t weighted = 0;  // sum of weight(key) * (value | element | entry)
  uint64_t gets = 0;      // map: gets that found a value (during the timed loop)
  uint64_t get_sum = 0;   // map: sum of the values they returned

  Digest& operator+=(const Digest& o) {
    present += o.present;
    count += o.count;
    sum += o.sum;
    weighted += o.weighted;
    gets += o.gets;
    get_sum += o.get_sum;
    return *this;
  }
  bool operator==(const Digest&) const = default;
  std::string str() const {
    return "{keys " + std::to_string(present) + ", count " + std::to_string(count) + ", sum " +
           std::to_string(sum) + ", weighted " + std::to_string(weighted) + ", gets " +
           std::to_string(gets) + ", get_sum " + std::to_string(get_sum) + "}";
  }
};

// Runs body(t) for t in [0, P): inline for P == 1, else on P threads; rethrows the first
// exception.
template <class Body>
void run_threads(int parallelism, Body&& body) {
  if (parallelism == 1) {
    body(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parallelism));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(parallelism));
  for (int t = 0; t < parallelism; ++t) {
    threads.emplace_back([&, t] {
      try {
        body(t);
      } catch (...) {
        errors[static_cast<size_t>(t)] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

struct Phase {
  std::optional<eddy::bench::Measurement> load;  // value: every key given its state first
  eddy::bench::Measurement measurement;
  Digest digest;
  size_t memory_bytes = 0;
};

// ---- Baseline: hand-written hash maps ----

Phase run_baseline(Workload workload, const std::vector<KeySpace>& spaces) {
  const int p = static_cast<int>(spaces.size());
  Phase out;
  std::vector<Digest> digests(spaces.size());
  switch (workload) {
    case Workload::kValue: {
      std::vector<std::unordered_map<int64_t, int64_t>> maps(spaces.size());
      out.load = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          auto& m = maps[static_cast<size_t>(t)];
          for (int64_t i = 0; i < s.key_count(); ++i) ++m[s.key_at(i)];
        });
      });
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          auto& m = maps[static_cast<size_t>(t)];
          for (int64_t j = 0; j < s.ops; ++j) ++m[s.key_of_id(s.id(j))];
        });
      });
      run_threads(p, [&](int t) {
        Digest& d = digests[static_cast<size_t>(t)];
        for (const auto& [key, v] : maps[static_cast<size_t>(t)]) {
          ++d.present;
          d.count += static_cast<uint64_t>(v);
          d.weighted += weight(key) * static_cast<uint64_t>(v);
        }
      });
      break;
    }
    case Workload::kList: {
      std::vector<std::unordered_map<int64_t, std::vector<int64_t>>> maps(spaces.size());
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          auto& m = maps[static_cast<size_t>(t)];
          for (int64_t j = 0; j < s.ops; ++j) m[s.key_of_id(s.id(j))].push_back(j);
        });
      });
      run_threads(p, [&](int t) {
        Digest& d = digests[static_cast<size_t>(t)];
        for (const auto& [key, list] : maps[static_cast<size_t>(t)]) {
          if (list.empty()) continue;
          ++d.present;
          for (int64_t e : list) {
            ++d.count;
            d.sum += static_cast<uint64_t>(e);
            d.weighted += weight(key) * static_cast<uint64_t>(e);
          }
        }
      });
      break;
    }
    case Workload::kMap: {
      std::vector<std::unordered_map<int64_t, std::unordered_map<int64_t, int64_t>>> maps(
          spaces.size());
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          auto& m = maps[static_cast<size_t>(t)];
          uint64_t gets = 0;
          uint64_t get_sum = 0;
          for (int64_t j = 0; j < s.ops; ++j) {
            uint64_t id = s.id(j);
            auto& inner = m[s.key_of_id(id)];
            inner[s.put_user_key(id)] = static_cast<int64_t>(id);
            auto it = inner.find(s.get_user_key(id));
            if (it != inner.end()) {
              ++gets;
              get_sum += static_cast<uint64_t>(it->second);
            }
          }
          digests[static_cast<size_t>(t)].gets = gets;
          digests[static_cast<size_t>(t)].get_sum = get_sum;
        });
      });
      run_threads(p, [&](int t) {
        Digest& d = digests[static_cast<size_t>(t)];
        for (const auto& [key, inner] : maps[static_cast<size_t>(t)]) {
          if (inner.empty()) continue;
          ++d.present;
          for (const auto& [user_key, v] : inner) {
            ++d.count;
            d.sum += static_cast<uint64_t>(v);
            d.weighted += weight(key) * (static_cast<uint64_t>(user_key) * 0x100000001b3ULL +
                                         static_cast<uint64_t>(v));
          }
        }
      });
      break;
    }
  }
  for (const Digest& d : digests) out.digest += d;
  return out;
}

// ---- Engine: keyed state backends ----

// Thrown rather than exiting on the spot, so that the backends are destroyed (and RocksDB's
// data directories removed) on the way out; main() reports it as a failure.
[[noreturn]] void mismatch(const char* backend, Workload w, const std::string& what) {
  throw std::runtime_error(std::string("verify ") + backend + "/" + workload_name(w) + ": " + what);
}

// Feeds operations [0, count) to `op` (given the operation's index, after set_current_key
// of its key, key_of(index)) the way the runtime feeds records to a keyed operator: in
// batches of kBatchOps, and, when the backend prefetches, prefetching the key of the
// operation eddy::kPrefetchDistance ahead within the batch, as BatchConsumer does.
template <class KeyOf, class Op>
void drive(int64_t count, KeyOf key_of, eddy::KeyedStateBackend& backend, Op&& op) {
  const bool prefetch = backend.prefetches();
  auto prefetch_op = [&](int64_t j) {
    const int64_t key = key_of(j);
    backend.prefetch(key, key_group_of_key(key));
  };
  for (int64_t begin = 0; begin < count; begin += kBatchOps) {
    const int64_t end = std::min(count, begin + kBatchOps);
    const auto distance = static_cast<int64_t>(eddy::kPrefetchDistance);
    if (prefetch) {
      for (int64_t j = begin; j < std::min(end, begin + distance); ++j) prefetch_op(j);
    }
    for (int64_t j = begin; j < end; ++j) {
      if (prefetch && j + distance < end) prefetch_op(j + distance);
      const int64_t key = key_of(j);
      backend.set_current_key(key, key_group_of_key(key));
      op(j);
    }
  }
}
// The timed operations of `s`.
template <class Op>
void drive(const KeySpace& s, eddy::KeyedStateBackend& backend, Op&& op) {
  drive(s.ops, [&s](int64_t j) { return s.key_of_id(s.id(j)); }, backend, std::forward<Op>(op));
}

Phase run_engine(const eddy::StateBackendOptions& options, Workload workload,
                 const std::vector<KeySpace>& spaces) {
  const int p = static_cast<int>(spaces.size());
  const char* backend_name = options.kind.c_str();
  eddy::ManualClock clock(1'000'000);  // no TTL: the clock is never read for expiry
  std::vector<std::unique_ptr<eddy::KeyedStateBackend>> backends;
  for (int t = 0; t < p; ++t) {
    backends.push_back(eddy::create_keyed_state_backend(
        options, spaces[static_cast<size_t>(t)].range, kMaxParallelism, clock, kName, t));
  }
  auto memory = [&] {
    size_t bytes = 0;
    for (const auto& b : backends) bytes += b->memory_bytes();
    return bytes;
  };

  Phase out;
  std::vector<Digest> digests(spaces.size());
  switch (workload) {
    case Workload::kValue: {
      std::vector<eddy::ValueState<int64_t>*> states;
      for (auto& b : backends) {
        states.push_back(&b->get_state(eddy::ValueStateDescriptor<int64_t>("value")));
      }
      // The operation: read-modify-write of thread t's state for the current key.
      auto increment = [&](int t) {
        return [&state = *states[static_cast<size_t>(t)]](int64_t) {
          int64_t v = state.value_or(0);
          state.update(v + 1);
        };
      };
      out.load = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          drive(s.key_count(), [&s](int64_t i) { return s.key_at(i); }, *backends[static_cast<size_t>(t)],
                increment(t));
        });
      });
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          drive(spaces[static_cast<size_t>(t)], *backends[static_cast<size_t>(t)], increment(t));
        });
      });
      out.memory_bytes = memory();
      run_threads(p, [&](int t) {
        const KeySpace& s = spaces[static_cast<size_t>(t)];
        eddy::KeyedStateBackend& backend = *backends[static_cast<size_t>(t)];
        eddy::ValueState<int64_t>& state = *states[static_cast<size_t>(t)];
        Digest& d = digests[static_cast<size_t>(t)];
        s.for_each_key([&](int64_t key) {
          backend.set_current_key(key, key_group_of_key(key));
          if (std::optional<int64_t> v = state.value()) {
            ++d.present;
            d.count += static_cast<uint64_t>(*v);
            d.weighted += weight(key) * static_cast<uint64_t>(*v);
          }
        });
        const uint64_t expected = static_cast<uint64_t>(s.ops + s.key_count());
        if (d.count != expected) {
          mismatch(backend_name, workload,
                   "thread " + std::to_string(t) + ": the values sum to " + std::to_string(d.count) +
                       ", expected " + std::to_string(expected) + " (operations plus keys loaded)");
        }
      });
      break;
    }
    case Workload::kList: {
      std::vector<eddy::ListState<int64_t>*> states;
      for (auto& b : backends) {
        states.push_back(&b->get_list_state(eddy::ListStateDescriptor<int64_t>("list")));
      }
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          eddy::KeyedStateBackend& backend = *backends[static_cast<size_t>(t)];
          eddy::ListState<int64_t>& state = *states[static_cast<size_t>(t)];
          drive(s, backend, [&](int64_t j) { state.add(j); });
        });
      });
      out.memory_bytes = memory();
      run_threads(p, [&](int t) {
        const KeySpace& s = spaces[static_cast<size_t>(t)];
        eddy::KeyedStateBackend& backend = *backends[static_cast<size_t>(t)];
        eddy::ListState<int64_t>& state = *states[static_cast<size_t>(t)];
        Digest& d = digests[static_cast<size_t>(t)];
        s.for_each_key([&](int64_t key) {
          backend.set_current_key(key, key_group_of_key(key));
          std::vector<int64_t> list = state.get();
          if (list.empty()) return;
          ++d.present;
          int64_t previous = -1;
          for (int64_t e : list) {
            if (e <= previous || e >= s.ops || s.key_of_id(s.id(e)) != key) {
              mismatch(backend_name, workload,
                       "key " + std::to_string(key) + " holds element " + std::to_string(e) +
                           " (after " + std::to_string(previous) +
                           "), which was not added to it or is out of order");
            }
            previous = e;
            ++d.count;
            d.sum += static_cast<uint64_t>(e);
            d.weighted += weight(key) * static_cast<uint64_t>(e);
          }
        });
        if (d.count != static_cast<uint64_t>(s.ops)) {
          mismatch(backend_name, workload,
                   "thread " + std::to_string(t) + ": the lists hold " + std::to_string(d.count) +
                       " elements, expected " + std::to_string(s.ops));
        }
      });
      break;
    }
    case Workload::kMap: {
      std::vector<eddy::MapState<int64_t, int64_t>*> states;
      for (auto& b : backends) {
        states.push_back(&b->get_map_state(eddy::MapStateDescriptor<int64_t, int64_t>("map")));
      }
      out.measurement = eddy::bench::measure([&] {
        run_threads(p, [&](int t) {
          const KeySpace& s = spaces[static_cast<size_t>(t)];
          eddy::KeyedStateBackend& backend = *backends[static_cast<size_t>(t)];
          eddy::MapState<int64_t, int64_t>& state = *states[static_cast<size_t>(t)];
          uint64_t gets = 0;
          uint64_t get_sum = 0;
          drive(s, backend, [&](int64_t j) {
            const uint64_t id = s.id(j);
            state.put(s.put_user_key(id), static_cast<int64_t>(id));
            if (std::optional<int64_t> v = state.get(s.get_user_key(id))) {
              ++gets;
              get_sum += static_cast<uint64_t>(*v);
            }
          });
          digests[static_cast<size_t>(t)].gets = gets;
          digests[static_cast<size_t>(t)].get_sum = get_sum;
        });
      });
      out.memory_bytes = memory();
      run_threads(p, [&](int t) {
        const KeySpace& s = spaces[static_cast<size_t>(t)];
        eddy::KeyedStateBackend& backend = *backends[static_cast<size_t>(t)];
        eddy::MapState<int64_t, int64_t>& state = *states[static_cast<size_t>(t)];
        Digest& d = digests[static_cast<size_t>(t)];
        s.for_each_key([&](int64_t key) {
          backend.set_current_key(key, key_group_of_key(key));
          auto entries = state.entries();
          if (entries.empty()) return;
          ++d.present;
          for (const auto& [user_key, v] : entries) {
            const auto id = static_cast<uint64_t>(v);
            const uint64_t j = id - s.seed;
            if (j >= static_cast<uint64_t>(s.ops) || s.key_of_id(id) != key ||
                s.put_user_key(id) != user_key) {
              mismatch(backend_name, workload,
                       "key " + std::to_string(key) + " holds entry (" + std::to_string(user_key) +
                           ", " + std::to_string(v) + "), which no operation put there");
            }
            ++d.count;
            d.sum += static_cast<uint64_t>(v);
            d.weighted += weight(key) * (static_cast<uint64_t>(user_key) * 0x100000001b3ULL +
                                         static_cast<uint64_t>(v));
          }
        });
      });
      break;
    }
  }
  for (const Digest& d : digests) out.digest += d;
  backends.clear();  // untimed; RocksDB removes its data directories here
  return out;
}

// RocksDB data directories of this process left under `dir` (the backends name them
// eddy-rocksdb-<operator>-<subtask>-<pid>-<n>).
std::vector<std::string> leftover_rocksdb_dirs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::path parent =
      dir.empty() ? std::filesystem::temp_directory_path(ec) : std::filesystem::path(dir);
  if (ec) return out;
  const std::string prefix = std::string("eddy-rocksdb-") + kName + "-";
  const std::string pid = "-" + std::to_string(::getpid()) + "-";
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.find(pid) != std::string::npos) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

// `count` over the seconds of `m`; none without a measurement.
std::optional<double> per_second(int64_t count, const std::optional<eddy::bench::Measurement>& m) {
  if (!m || m->seconds <= 0) return std::nullopt;
  return static_cast<double>(count) / m->seconds;
}

struct Result {
  std::string backend;
  Workload workload;
  int64_t ops = 0;
  eddy::bench::Measurement engine;
  std::optional<eddy::bench::Measurement> baseline;  // heap only
  size_t memory_bytes = 0;
  // value: loading every key before the timed loop (keys/s over `keys_loaded`)
  int64_t keys_loaded = 0;
  std::optional<eddy::bench::Measurement> load;
  std::optional<eddy::bench::Measurement> baseline_load;

  std::optional<double> load_keys_per_second() const { return per_second(keys_loaded, load); }
  std::optional<double> baseline_load_keys_per_second() const { return per_second(keys_loaded, baseline_load); }

  double ops_per_second() const { return engine.seconds > 0 ? ops / engine.seconds : 0; }
  std::optional<double> baseline_ops_per_second() const { return per_second(ops, baseline); }
  std::optional<double> ratio() const {
    auto base = baseline_ops_per_second();
    if (!base || *base <= 0) return std::nullopt;
    return ops_per_second() / *base;
  }
};

template <class T>
nlohmann::ordered_json or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

Result run_case(const std::string& backend, Workload workload, int64_t events, int64_t keys,
                int64_t map_keys, const eddy::bench::Options& options,
                const eddy::StateBackendOptions& backend_options) {
  const bool heap = backend == "heap";
  std::vector<KeySpace> spaces = make_key_spaces(options.parallelism, keys, events, map_keys);
  std::fprintf(stderr, "%s: %s/%s: %lld ops over %lld keys, parallelism %d\n", kName,
               backend.c_str(), workload_name(workload), static_cast<long long>(events),
               static_cast<long long>(keys), options.parallelism);

  eddy::bench::Best engine_best;
  eddy::bench::Best baseline_best;
  eddy::bench::Best engine_load_best;
  eddy::bench::Best baseline_load_best;
  std::optional<Digest> expected;
  size_t memory_bytes = 0;
  for (int attempt = 0; attempt < options.repeat; ++attempt) {
    // The hash-map loop: the baseline for heap; for RocksDB, run once to verify against.
    if (heap || !expected) {
      Phase baseline = run_baseline(workload, spaces);
      if (expected && !(*expected == baseline.digest)) {
        eddy::bench::fail(kName, "the baseline is not deterministic");
      }
      expected = baseline.digest;
      if (heap) {
        baseline_best.add(baseline.measurement);
        if (baseline.load) baseline_load_best.add(*baseline.load);
      }
    }
    eddy::StateBackendOptions opts = backend_options;
    opts.kind = backend;
    Phase engine = run_engine(opts, workload, spaces);
    if (!(engine.digest == *expected)) {
      mismatch(backend.c_str(), workload,
               "the state digest " + engine.digest.str() + " differs from the hash map's " +
                   expected->str());
    }
    if (!heap) {
      auto left = leftover_rocksdb_dirs(backend_options.rocksdb_dir);
      if (!left.empty()) {
        eddy::bench::fail(kName, "RocksDB data directory left behind: " + left.front());
      }
    }
    engine_best.add(engine.measurement);
    if (engine.load) engine_load_best.add(*engine.load);
    memory_bytes = std::max(memory_bytes, engine.memory_bytes);
  }

  Result r;
  r.backend = backend;
  r.workload = workload;
  r.ops = events;
  r.engine = engine_best.best;
  if (heap) r.baseline = baseline_best.best;
  r.memory_bytes = memory_bytes;
  if (engine_load_best.runs > 0) {
    for (const KeySpace& space : spaces) r.keys_loaded += space.key_count();
    r.load = engine_load_best.best;
    // The peak RSS of the value rows covers loading too.
    r.engine.peak_rss_bytes = std::max(r.engine.peak_rss_bytes, r.load->peak_rss_bytes);
    if (baseline_load_best.runs > 0) {
      r.baseline_load = baseline_load_best.best;
      r.baseline->peak_rss_bytes = std::max(r.baseline->peak_rss_bytes, r.baseline_load->peak_rss_bytes);
    }
  }
  std::fprintf(stderr, "%s: %s/%s: %.2f M ops/s%s, verified\n", kName, backend.c_str(),
               workload_name(workload), r.ops_per_second() / 1e6,
               r.ratio() ? (", ratio " + std::to_string(*r.ratio())).c_str() : "");
  return r;
}

std::string mib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

int run_benchmark(int argc, char** argv) {
  auto options = eddy::bench::parse_options(
      argc, argv, kName, kHeapDefaultEvents,
      "[--backend heap|rocksdb|all] [--workload value|list|map|all] [--keys K] [--map-keys M] "
      "[--rocksdb-dir DIR] [--rocksdb-entry-cache-mb MB]");
  std::string backend_arg;
  std::string workload_arg;
  int64_t keys = 1'000'000;
  int64_t map_keys = 16;
  eddy::StateBackendOptions backend_options;
  try {
    backend_arg = options.args.get("backend", "all");
    workload_arg = options.args.get("workload", "all");
    keys = options.args.get_int("keys", keys);
    map_keys = options.args.get_int("map-keys", map_keys);
    backend_options.rocksdb_dir = options.args.get("rocksdb-dir", "");
    const int64_t entry_cache_mb = options.args.get_int(
        "rocksdb-entry-cache-mb", static_cast<int64_t>(backend_options.rocksdb_entry_cache_bytes >> 20));
    if (entry_cache_mb < 0) eddy::bench::fail(kName, "--rocksdb-entry-cache-mb must not be negative");
    backend_options.rocksdb_entry_cache_bytes = static_cast<size_t>(entry_cache_mb) << 20;
  } catch (const eddy::Error& e) {
    eddy::bench::fail(kName, e.what());
  }
  if (keys < 1) eddy::bench::fail(kName, "--keys must be at least 1");
  if (map_keys < 1) eddy::bench::fail(kName, "--map-keys must be at least 1");
  if (options.parallelism > kMaxParallelism) {
    eddy::bench::fail(kName, "--parallelism must be at most " + std::to_string(kMaxParallelism));
  }

  std::vector<std::string> backends;
  if (backend_arg == "all") {
    backends = {"heap", "rocksdb"};
  } else if (backend_arg == "heap" || backend_arg == "rocksdb") {
    backends = {backend_arg};
  } else {
    eddy::bench::fail(kName, "--backend must be heap, rocksdb or all, not '" + backend_arg + "'");
  }
  std::vector<Workload> workloads;
  if (workload_arg == "all") {
    workloads = {Workload::kValue, Workload::kList, Workload::kMap};
  } else if (workload_arg == "value") {
    workloads = {Workload::kValue};
  } else if (workload_arg == "list") {
    workloads = {Workload::kList};
  } else if (workload_arg == "map") {
    workloads = {Workload::kMap};
  } else {
    eddy::bench::fail(kName,
                      "--workload must be value, list, map or all, not '" + workload_arg + "'");
  }
  const bool events_given = options.args.has("events");
  const int64_t heap_events = options.events;  // default kHeapDefaultEvents
  const int64_t rocksdb_events = events_given ? options.events : kRocksDbDefaultEvents;

  std::vector<Result> results;
  for (const std::string& backend : backends) {
    for (Workload w : workloads) {
      results.push_back(run_case(backend, w, backend == "heap" ? heap_events : rocksdb_events, keys,
                                 map_keys, options, backend_options));
    }
  }

  const Result* headline = &results.front();
  for (const Result& r : results) {
    if (r.backend == "heap" && r.workload == Workload::kValue) headline = &r;
  }
  int64_t peak = 0;
  for (const Result& r : results) peak = std::max(peak, r.engine.peak_rss_bytes);

  if (options.json) {
    eddy::bench::Report report;
    report.benchmark = kName;
    report.events = headline->ops;
    report.parallelism = options.parallelism;
    report.repeat = options.repeat;
    report.engine = headline->engine;
    report.engine.peak_rss_bytes = peak;
    if (headline->baseline) report.baseline = *headline->baseline;
    nlohmann::ordered_json j = report.to_json();
    if (!headline->baseline) {
      j["baseline_seconds"] = nullptr;
      j["baseline_events_per_second"] = nullptr;
      j["ratio"] = nullptr;
      j["baseline_peak_rss_bytes"] = nullptr;
    }
    j["headline"] = headline->backend + "/" + workload_name(headline->workload);
    j["keys"] = keys;
    j["map_keys"] = map_keys;
    j["heap_events"] = heap_events;
    j["rocksdb_events"] = rocksdb_events;
    j["rocksdb_entry_cache_bytes"] = backend_options.rocksdb_entry_cache_bytes;
    j["verified"] = true;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Result& r : results) {
      list.push_back({
          {"backend", r.backend},
          {"workload", workload_name(r.workload)},
          {"ops", r.ops},
          {"seconds", r.engine.seconds},
          {"ops_per_second", r.ops_per_second()},
          {"baseline_seconds", r.baseline ? nlohmann::ordered_json(r.baseline->seconds) : nullptr},
          {"baseline_ops_per_second", or_null(r.baseline_ops_per_second())},
          {"ratio", or_null(r.ratio())},
          {"memory_bytes", r.memory_bytes},
          {"peak_rss_bytes", r.engine.peak_rss_bytes},
          {"baseline_peak_rss_bytes",
           r.baseline ? nlohmann::ordered_json(r.baseline->peak_rss_bytes) : nullptr},
          {"keys_loaded", r.keys_loaded},
          {"load_seconds", r.load ? nlohmann::ordered_json(r.load->seconds) : nullptr},
          {"load_keys_per_second", or_null(r.load_keys_per_second())},
          {"baseline_load_keys_per_second", or_null(r.baseline_load_keys_per_second())},
      });
    }
    j["results"] = std::move(list);
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    return 0;
  }

  std::printf(
      "%s: %lld keys, parallelism %d, best of %d; heap %lld ops, rocksdb %lld ops per "
      "workload\n",
      kName, static_cast<long long>(keys), options.parallelism, options.repeat,
      static_cast<long long>(heap_events), static_cast<long long>(rocksdb_events));
  std::printf(
      "  (map: one put + one get per op over %lld user keys; baselines are "
      "std::unordered_map loops, heap only)\n",
      static_cast<long long>(map_keys));
  std::printf("  %-8s %-6s %10s %8s %12s %12s %7s %12s %12s %12s\n", "backend", "work", "ops",
              "seconds", "M ops/s", "base M/s", "ratio", "memory", "peak RSS", "base RSS");
  for (const Result& r : results) {
    auto base = r.baseline_ops_per_second();
    auto ratio = r.ratio();
    char base_text[32] = "-";
    char ratio_text[32] = "-";
    if (base) std::snprintf(base_text, sizeof base_text, "%.2f", *base / 1e6);
    if (ratio) std::snprintf(ratio_text, sizeof ratio_text, "%.3f", *ratio);
    std::printf("  %-8s %-6s %10lld %8.3f %12.2f %12s %7s %12s %12s %12s\n", r.backend.c_str(),
                workload_name(r.workload), static_cast<long long>(r.ops), r.engine.seconds,
                r.ops_per_second() / 1e6, base_text, ratio_text,
                mib(static_cast<double>(r.memory_bytes)).c_str(),
                mib(static_cast<double>(r.engine.peak_rss_bytes)).c_str(),
                r.baseline ? mib(static_cast<double>(r.baseline->peak_rss_bytes)).c_str() : "-");
  }
  for (const Result& r : results) {
    auto load = r.load_keys_per_second();
    if (!load) continue;
    auto base = r.baseline_load_keys_per_second();
    char base_text[48] = "";
    if (base) std::snprintf(base_text, sizeof base_text, ", hash map %.2f M keys/s", *base / 1e6);
    std::printf("  %s/%s: before the timed ops, %lld keys loaded at %.2f M keys/s%s\n", r.backend.c_str(),
                workload_name(r.workload), static_cast<long long>(r.keys_loaded), *load / 1e6, base_text);
  }
  std::printf("  peak RSS (largest engine phase): %s; all results verified\n",
              mib(static_cast<double>(peak)).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_benchmark(argc, argv);
  } catch (const std::exception& e) {
    eddy::bench::fail(kName, e.what());
  }
}
