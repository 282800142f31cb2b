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
    : name_(std::move(name)), backend_(backend), processing_time_(processing_time), target_(target) {}

void InternalTimerService::Queue::insert(std::string_view encoded) {
  if (members.contains(encoded)) return;
  auto it = ordered.emplace(encoded).first;
  members.insert(*it);
}

void InternalTimerService::Queue::erase(std::string_view encoded) {
  if (!members.erase(encoded)) return;
  ordered.erase(ordered.find(encoded));
}

std::string InternalTimerService::Queue::pop_first() {
  members.erase(*ordered.begin());
  return std::move(ordered.extract(ordered.begin()).value());
}

std::string_view InternalTimerService::encode(std::string_view ns, Timestamp time) {
  const std::string& key = backend_.current_key_bytes();
  scratch_.clear();
  append_time(scratch_, time);
  state_encoding::compose_key(scratch_, backend_.current_key_group(), key, ns);
  return scratch_;
}

InternalTimer InternalTimerService::decode(const std::string& encoded) {
  InternalTimer timer;
  timer.time = read_time(encoded);
  state_encoding::ParsedKey parsed;
  state_encoding::parse_key(std::string_view(encoded).substr(8), parsed);
  timer.key_group = parsed.key_group;
  timer.key = parsed.key;
  timer.ns = parsed.ns;
  return timer;
}

void InternalTimerService::register_event_time_timer(std::string_view ns, Timestamp time) {
  event_.insert(encode(ns, time));
}

void InternalTimerService::delete_event_time_timer(std::string_view ns, Timestamp time) {
  event_.erase(encode(ns, time));
}

void InternalTimerService::register_processing_time_timer(std::string_view ns, Timestamp time) {
  processing_.insert(encode(ns, time));
  schedule_processing_time();
}

void InternalTimerService::delete_processing_time_timer(std::string_view ns, Timestamp time) {
  processing_.erase(encode(ns, time));
}

void InternalTimerService::advance_watermark(Timestamp watermark) {
  watermark_ = std::max(watermark_, watermark);
  while (!event_.empty()) {
    if (read_time(*event_.ordered.begin()) > watermark) break;
    // The callback may register or delete timers: fire from a copy, removed first.
    std::string encoded = event_.pop_first();
    InternalTimer timer = decode(encoded);
    backend_.set_current_key_bytes(timer.key, timer.key_group);
    backend_.set_current_namespace(timer.ns);
    target_.on_event_time(timer);
  }
}

void InternalTimerService::fire_processing_time(Timestamp now) {
  scheduled_ = kMaxWatermark;
  while (!processing_.empty()) {
    if (read_time(*processing_.ordered.begin()) > now) break;
    std::string encoded = processing_.pop_first();
    InternalTimer timer = decode(encoded);
    backend_.set_current_key_bytes(timer.key, timer.key_group);
    backend_.set_current_namespace(timer.ns);
    target_.on_processing_time(timer);
  }
  schedule_processing_time();
}

void InternalTimerService::schedule_processing_time() {
  if (processing_.empty()) return;
  Timestamp next = read_time(*processing_.ordered.begin());
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
    for (const std::string& encoded : queue.ordered) {
      // Entry key: key group | key | namespace | time, so entries group by key group.
      std::string key(encoded, 8);
      key.append(encoded, 0, 8);
      entries.emplace_back(std::move(key), std::string());
    }
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
        std::string encoded(parsed.user_key);
        encoded.append(key, 0, key.size() - 8);
        queue->insert(encoded);
      }
    }
  }
  schedule_processing_time();
}

}  // namespace eddy::internal
