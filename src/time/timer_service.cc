#include "eddy/internal/timer_service.h"

#include <algorithm>
#include <utility>

#include "eddy/error.h"
#include "eddy/internal/state_encoding.h"

namespace eddy::internal {

namespace {

void append_time(std::string& out, Timestamp time) {
  auto v = static_cast<uint64_t>(time) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

Timestamp read_time(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<Timestamp>(v ^ (uint64_t{1} << 63));
}

}  // namespace

InternalTimerService::InternalTimerService(std::string name, KeyedStateBackend& backend,
                                           ProcessingTimeService& processing_time, Triggerable& target)
    : name_(std::move(name)), backend_(backend), processing_time_(processing_time), target_(target) {
  backend_.add_participant(this);
  std::vector<const KeyedStateSnapshot*> restored = backend_.restored_snapshots();
  if (!restored.empty()) restore(restored);
}

InternalTimerService::~InternalTimerService() { backend_.remove_participant(this); }

void InternalTimerService::Queue::insert(Timestamp time, std::string_view member) {
  auto [it, inserted] = by_time_[time].try_emplace(member);
  if (inserted) ++size_;
}

void InternalTimerService::Queue::erase(Timestamp time, std::string_view member) {
  auto it = by_time_.find(time);
  if (it == by_time_.end() || it->second.erase(member) == 0) return;
  --size_;
  if (it->second.empty()) by_time_.erase(it);
}

template <class Fire>
void InternalTimerService::Queue::fire_until(Timestamp limit, Fire fire) {
  std::vector<std::string> batch;
  while (!by_time_.empty() && by_time_.begin()->first <= limit) {
    Timestamp time = by_time_.begin()->first;
    batch.clear();
    for (const auto& entry : by_time_.begin()->second) batch.push_back(entry.first);
    std::sort(batch.begin(), batch.end());
    for (const std::string& member : batch) {
      // Taken out before it fires; skipped if a callback deleted it meanwhile.
      auto it = by_time_.find(time);
      if (it == by_time_.end()) break;
      if (it->second.erase(member) == 0) continue;
      --size_;
      if (it->second.empty()) by_time_.erase(it);
      fire(time, member);
    }
    // Timers registered at `time` while it fired are handled by the next round.
  }
}

std::string_view InternalTimerService::encode(std::string_view ns) {
  scratch_.clear();
  state_encoding::compose_key(scratch_, backend_.current_key_group(), backend_.current_key_bytes(), ns);
  return scratch_;
}

void InternalTimerService::register_event_time_timer(std::string_view ns, Timestamp time) {
  event_.insert(time, encode(ns));
}

void InternalTimerService::delete_event_time_timer(std::string_view ns, Timestamp time) {
  event_.erase(time, encode(ns));
}

void InternalTimerService::register_processing_time_timer(std::string_view ns, Timestamp time) {
  processing_.insert(time, encode(ns));
  schedule_processing_time();
}

void InternalTimerService::delete_processing_time_timer(std::string_view ns, Timestamp time) {
  processing_.erase(time, encode(ns));
}

void InternalTimerService::fire(const std::string& member, Timestamp time, bool event_time) {
  state_encoding::ParsedKey parsed;
  state_encoding::parse_key(member, parsed);
  InternalTimer timer;
  timer.time = time;
  timer.key_group = parsed.key_group;
  timer.key = parsed.key;
  timer.ns = parsed.ns;
  backend_.set_current_key_bytes(timer.key, timer.key_group);
  backend_.set_current_namespace(timer.ns);
  if (event_time) {
    target_.on_event_time(timer);
  } else {
    target_.on_processing_time(timer);
  }
}

void InternalTimerService::advance_watermark(Timestamp watermark) {
  watermark_ = std::max(watermark_, watermark);
  event_.fire_until(watermark, [this](Timestamp time, const std::string& member) { fire(member, time, true); });
}

void InternalTimerService::fire_processing_time(Timestamp now) {
  scheduled_ = kMaxWatermark;
  processing_.fire_until(now, [this](Timestamp time, const std::string& member) { fire(member, time, false); });
  schedule_processing_time();
}

void InternalTimerService::schedule_processing_time() {
  if (processing_.empty()) return;
  Timestamp next = processing_.first_time();
  if (next >= scheduled_) return;
  scheduled_ = next;
  processing_time_.register_timer(next, [this](Timestamp now) { fire_processing_time(now); });
}

std::string InternalTimerService::state_name(const char* domain) const {
  return "_timers/" + name_ + "/" + domain;
}

void InternalTimerService::snapshot_into(KeyedStateSnapshot& snapshot) const {
  auto write = [&](const Queue& queue, const char* domain) {
    StateMetaInfo meta;
    meta.name = state_name(domain);
    meta.kind = StateKind::kTimers;
    meta.value_signature = "timer";
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(queue.size());
    queue.for_each([&](Timestamp time, const std::string& member) {
      // Entry key: key group | key | namespace | time, so entries group by key group.
      std::string key = member;
      append_time(key, time);
      entries.emplace_back(std::move(key), std::string());
    });
    std::sort(entries.begin(), entries.end());
    snapshot.states.push_back(std::move(meta));
    snapshot.entries.push_back(std::move(entries));
  };
  write(event_, "event");
  write(processing_, "processing");
}

void InternalTimerService::restore(const std::vector<const KeyedStateSnapshot*>& snapshots) {
  const std::string event_name = state_name("event");
  const std::string processing_name = state_name("processing");
  const KeyGroupRange& range = backend_.key_groups();
  for (const KeyedStateSnapshot* snapshot : snapshots) {
    for (size_t i = 0; i < snapshot->states.size() && i < snapshot->entries.size(); ++i) {
      const StateMetaInfo& meta = snapshot->states[i];
      if (meta.kind != StateKind::kTimers) continue;
      Queue* queue = meta.name == event_name ? &event_ : meta.name == processing_name ? &processing_ : nullptr;
      if (queue == nullptr) continue;
      for (const auto& [key, value] : snapshot->entries[i]) {
        state_encoding::ParsedKey parsed;
        if (!state_encoding::parse_key(key, parsed) || parsed.user_key.size() != 8) {
          throw Error("timers '" + meta.name + "': malformed entry in the restored snapshot");
        }
        if (!range.contains(parsed.key_group)) continue;
        queue->insert(read_time(parsed.user_key), std::string_view(key).substr(0, key.size() - 8));
      }
    }
  }
  schedule_processing_time();
}

}  // namespace eddy::internal
