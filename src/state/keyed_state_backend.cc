#include "eddy/keyed_state_backend.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "eddy/internal/incremental_snapshot.h"

namespace eddy {

const char* state_kind_name(StateKind kind) {
  switch (kind) {
    case StateKind::kValue:
      return "ValueState";
    case StateKind::kList:
      return "ListState";
    case StateKind::kMap:
      return "MapState";
    case StateKind::kReducing:
      return "ReducingState";
    case StateKind::kAggregating:
      return "AggregatingState";
    case StateKind::kTimers:
      return "Timers";
  }
  return "State";
}

SharedFileHandle SharedFileUploader::upload_produced(const std::string& local_name,
                                                    const std::function<void(SharedFileSink&)>& produce) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("eddy-upload-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" + local_name);
  struct Remove {
    const std::filesystem::path& path;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove{path};
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot create the temporary file '" + path.string() + "' to upload '" + local_name + "'");
    struct StreamSink final : SharedFileSink {
      std::ofstream& out;
      explicit StreamSink(std::ofstream& o) : out(o) {}
      void append(std::string_view bytes) override { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); }
    } sink(out);
    produce(sink);
    out.close();
    if (!out) throw Error("cannot write the temporary file '" + path.string() + "' to upload '" + local_name + "'");
  }
  return upload(path.string(), local_name);
}

size_t KeyedStateSnapshot::entry_count() const {
  size_t count = 0;
  for (const auto& state_entries : entries) count += state_entries.size();
  return count;
}

namespace {
std::string describe(const StateMetaInfo& meta) {
  std::string out = std::string(state_kind_name(meta.kind)) + "<";
  if (!meta.user_key_signature.empty()) out += meta.user_key_signature + ", ";
  return out + meta.value_signature + ">";
}
}  // namespace

State* KeyedStateBackend::find_state(const StateMetaInfo& meta, const std::type_info& type) {
  auto it = states_.find(meta.name);
  if (it == states_.end()) return nullptr;
  const Registered& registered = it->second;
  if (*registered.type != type || registered.meta.kind != meta.kind ||
      registered.meta.value_signature != meta.value_signature ||
      registered.meta.user_key_signature != meta.user_key_signature) {
    throw InvalidJobError("state '" + meta.name + "' is already registered as " + describe(registered.meta) +
                          " and cannot also be " + describe(meta));
  }
  return registered.state.get();
}

State& KeyedStateBackend::register_state(const StateMetaInfo& meta, const std::type_info& type,
                                         std::unique_ptr<State> state) {
  Registered& registered = states_[meta.name];
  registered.meta = meta;
  registered.type = &type;
  registered.state = std::move(state);
  return *registered.state;
}

namespace internal {

void HeapStateStore::add_restored(const StateMetaInfo& meta, EntryList entries) {
  auto& [stored_meta, stored_entries] = restored_[meta.name];
  if (stored_entries.empty() && stored_meta.name.empty()) {
    stored_meta = meta;
  } else if (!(stored_meta == meta)) {
    throw Error("state '" + meta.name + "' appears in the restored snapshots with different types: " +
                describe(stored_meta) + " and " + describe(meta));
  }
  for (auto& entry : entries) stored_entries.push_back(std::move(entry));
}

EntryList HeapStateStore::take_restored(const StateMetaInfo& meta) {
  auto it = restored_.find(meta.name);
  if (it == restored_.end()) return {};
  const StateMetaInfo& restored = it->second.first;
  if (restored.kind != meta.kind || restored.value_signature != meta.value_signature ||
      restored.user_key_signature != meta.user_key_signature || restored.ttl != meta.ttl) {
    throw Error("state '" + meta.name + "' was checkpointed as " + describe(restored) +
                (restored.ttl ? " with TTL" : "") + " but the job now declares " + describe(meta) +
                (meta.ttl ? " with TTL" : "") + ": the state cannot be restored");
  }
  EntryList entries = std::move(it->second.second);
  restored_.erase(it);
  return entries;
}

}  // namespace internal
}  // namespace eddy
