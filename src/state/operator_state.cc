#include "eddy/operator_state.h"

#include <algorithm>

namespace eddy {

namespace {

const char* mode_name(OperatorStateMode mode) {
  switch (mode) {
    case OperatorStateMode::kSplitList:
      return "list state";
    case OperatorStateMode::kUnionList:
      return "union list state";
    case OperatorStateMode::kBroadcast:
      return "broadcast state";
  }
  return "operator state";
}

}  // namespace

OperatorStateStore::Registered* OperatorStateStore::find(const std::string& name, OperatorStateMode mode,
                                                         const std::string& signature,
                                                         const std::type_info& type) {
  auto it = states_.find(name);
  if (it == states_.end()) return nullptr;
  const Entry& entry = it->second;
  if (entry.mode != mode || entry.signature != signature || *entry.type != type) {
    throw InvalidJobError("operator state '" + name + "' is already registered as " + mode_name(entry.mode) +
                          " of " + entry.signature + " and cannot also be " + mode_name(mode) + " of " + signature);
  }
  return entry.state.get();
}

OperatorStateStore::Registered& OperatorStateStore::add(const std::string& name, OperatorStateMode mode,
                                                        const std::string& signature, const std::type_info& type,
                                                        std::unique_ptr<Registered> state) {
  Entry& entry = states_[name];
  entry.mode = mode;
  entry.signature = signature;
  entry.type = &type;
  entry.state = std::move(state);
  return *entry.state;
}

std::vector<std::string> OperatorStateStore::take_restored(const std::string& name, OperatorStateMode mode,
                                                           const std::string& signature) {
  auto it = restored_.find(name);
  if (it == restored_.end()) return {};
  if (it->second.mode != mode || it->second.signature != signature) {
    throw Error("operator state '" + name + "' was checkpointed as " + mode_name(it->second.mode) + " of " +
                it->second.signature + " but the job now declares " + mode_name(mode) + " of " + signature +
                ": the state cannot be restored");
  }
  std::vector<std::string> elements = std::move(it->second.elements);
  restored_.erase(it);
  return elements;
}

OperatorStateSnapshot OperatorStateStore::snapshot() const {
  OperatorStateSnapshot snapshot;
  for (const auto& [name, entry] : states_) {
    snapshot.states.push_back({name, entry.mode, entry.signature, entry.state->serialize()});
  }
  // Restored state the job has not asked for (yet) is carried on unchanged.
  for (const auto& [name, restored] : restored_) snapshot.states.push_back(restored);
  return snapshot;
}

void OperatorStateStore::restore(const OperatorStateSnapshot& snapshot) {
  for (const auto& state : snapshot.states) {
    auto [it, inserted] = restored_.try_emplace(state.name, state);
    if (inserted) continue;
    if (it->second.mode != state.mode || it->second.signature != state.signature) {
      throw Error("operator state '" + state.name + "' appears twice in the restored snapshots with different types");
    }
    for (const std::string& element : state.elements) it->second.elements.push_back(element);
  }
}

std::vector<OperatorStateSnapshot> redistribute_operator_state(const std::vector<OperatorStateSnapshot>& old_subtasks,
                                                               int new_parallelism) {
  std::vector<OperatorStateSnapshot> result(static_cast<size_t>(std::max(new_parallelism, 0)));
  // Pool each state's elements over the old subtasks, in subtask order.
  std::map<std::string, OperatorStateSnapshot::StateEntry> pooled;
  std::vector<std::string> order;
  for (const OperatorStateSnapshot& old : old_subtasks) {
    for (const auto& state : old.states) {
      auto [it, inserted] = pooled.try_emplace(state.name, state);
      if (inserted) {
        order.push_back(state.name);
        continue;
      }
      if (it->second.mode != state.mode || it->second.signature != state.signature) {
        throw Error("operator state '" + state.name + "' has different types in different subtasks");
      }
      // Broadcast state is the same everywhere: keep the first copy.
      if (state.mode != OperatorStateMode::kBroadcast) {
        for (const std::string& element : state.elements) it->second.elements.push_back(element);
      }
    }
  }
  for (const std::string& name : order) {
    const auto& state = pooled.at(name);
    const size_t n = state.elements.size();
    for (size_t s = 0; s < result.size(); ++s) {
      OperatorStateSnapshot::StateEntry part{state.name, state.mode, state.signature, {}};
      if (state.mode == OperatorStateMode::kSplitList) {
        size_t begin = n * s / result.size();
        size_t end = n * (s + 1) / result.size();
        part.elements.assign(state.elements.begin() + static_cast<std::ptrdiff_t>(begin),
                             state.elements.begin() + static_cast<std::ptrdiff_t>(end));
      } else {
        part.elements = state.elements;
      }
      result[s].states.push_back(std::move(part));
    }
  }
  return result;
}

}  // namespace eddy
