// Not API: the byte-level store under the RocksDB backend's typed states. Keys and values
// are laid out as internal/state_encoding.h says; a "column" is one registered state
// (a RocksDB column family).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "eddy/state.h"

namespace eddy::internal {

class ByteStateStore {
 public:
  virtual ~ByteStateStore() = default;
  // Creates (or finds, after a restore) the column of a state; returns its id.
  virtual int register_column(const StateMetaInfo& meta, const std::optional<StateTtlConfig>& ttl) = 0;
  // Reads the value of `key` into `value`; false when absent.
  virtual bool get(int column, std::string_view key, std::string& value) = 0;
  virtual void put(int column, std::string_view key, std::string_view value) = 0;
  virtual void remove(int column, std::string_view key) = 0;
  // Appends `value` to the value of `key` (ListState::add: encodings concatenate).
  virtual void append(int column, std::string_view key, std::string_view value) = 0;
  // Calls fn(key, value) for every entry whose key starts with `prefix`, in key order,
  // until fn returns false. The store may be modified by fn's caller only after the scan.
  virtual void scan_prefix(int column, std::string_view prefix,
                           const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  // Removes every entry whose key starts with `prefix`.
  virtual void remove_prefix(int column, std::string_view prefix) = 0;
};

}  // namespace eddy::internal
