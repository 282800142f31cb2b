// Shared by the window tests: an event type, key selectors, and window operators made with
// the builder and run in the operator harness on either backend.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eddy/evictors.h"
#include "eddy/internal/window_operator.h"
#include "eddy/serializer.h"
#include "eddy/testing/operator_harness.h"
#include "eddy/triggers.h"
#include "eddy/window_functions.h"
#include "eddy/windows.h"
#include "test_util.h"

namespace eddy::testing {

struct Event {
  std::string key;
  int64_t value = 0;
  EDDY_SERIALIZE(key, value)
  bool operator==(const Event&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << e.key << ":" << e.value;
}

struct KeyOf {
  std::string operator()(const Event& e) const { return e.key; }
};

inline Event sum_events(Event a, const Event& b) {
  a.value += b.value;
  return a;
}

// "key:value@timestamp", sorted: the records a window operator emitted, comparable
// regardless of the order in which windows of one time fired.
template <class T, class F>
std::vector<std::string> describe(const std::vector<StreamRecord<T>>& records, F text) {
  std::vector<std::string> out;
  for (const auto& record : records)
    out.push_back(text(record.value) + "@" + std::to_string(record.timestamp));
  std::sort(out.begin(), out.end());
  return out;
}
inline std::vector<std::string> describe(const std::vector<StreamRecord<Event>>& records) {
  return describe(records, [](const Event& e) { return e.key + ":" + std::to_string(e.value); });
}
inline std::vector<std::string> describe(const std::vector<StreamRecord<std::string>>& records) {
  return describe(records, [](const std::string& s) { return s; });
}

template <class A>
auto window_builder(A assigner) {
  using W = typename decltype(internal::make_assigner<Event>(assigner))::element_type::window_type;
  return internal::WindowOperatorBuilder<Event, KeyOf, W>(
      internal::make_assigner<Event>(std::move(assigner)), KeyOf{});
}

// Harness options for a keyed operator on backend `kind`, with RocksDB under `dir`.
inline OperatorHarnessOptions keyed_options(const std::string& kind, const TempDir& dir) {
  OperatorHarnessOptions options;
  options.keyed = true;
  options.config.state_backend.kind = kind;
  options.config.state_backend.rocksdb_dir = dir.path();
  return options;
}

}  // namespace eddy::testing
