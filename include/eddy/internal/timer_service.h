// Not API: the timers of one keyed operator subtask (Flink's InternalTimerService). A
// timer is (time, key, namespace): keys and namespaces are kept serialized, as the keyed
// state backend sees them, so one service serves any key type and any window type.
//
// Event-time timers fire when advance_watermark() passes them; processing-time timers
// when the subtask's ProcessingTimeService reaches them. Before a timer fires, the backend's
// current key and namespace are set to the timer's, so state accesses in the callback
// refer to them. A timer registered while firing fires in the same pass if it is due.
//
// Timers are part of the operator's keyed state: snapshot_into() writes them into a
// KeyedStateSnapshot as two kTimers states (entries keyed like state entries, with the
// time as the user key), and restore() takes back those of the subtask's key groups.
//
// Threading: the subtask's thread only.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/time.h"
#include "eddy/timers.h"
#include "eddy/internal/flat_state_map.h"

namespace eddy::internal {

struct InternalTimer {
  Timestamp time = 0;
  int key_group = 0;
  std::string_view key;  // serialized key
  std::string_view ns;   // serialized namespace (empty: none)
};

// What the timer service calls when a timer fires.
class Triggerable {
 public:
  virtual ~Triggerable() = default;
  virtual void on_event_time(const InternalTimer& timer) = 0;
  virtual void on_processing_time(const InternalTimer& timer) = 0;
};

// Registers with the backend as a snapshot participant for its lifetime, and restores the
// timers of its name from the backend's restored snapshots when it is created.
class InternalTimerService final : public KeyedSnapshotParticipant {
 public:
  // `name` tells the timers of several services of one operator apart in snapshots.
  InternalTimerService(std::string name, KeyedStateBackend& backend, ProcessingTimeService& processing_time,
                       Triggerable& target);
  ~InternalTimerService() override;
  InternalTimerService(const InternalTimerService&) = delete;
  InternalTimerService& operator=(const InternalTimerService&) = delete;

  // kNoTimestamp before the first watermark.
  Timestamp current_watermark() const { return watermark_; }
  Timestamp current_processing_time() const { return processing_time_.current_processing_time(); }

  // Timers of the backend's current key, in namespace `ns`.
  void register_event_time_timer(std::string_view ns, Timestamp time);
  void delete_event_time_timer(std::string_view ns, Timestamp time);
  void register_processing_time_timer(std::string_view ns, Timestamp time);
  void delete_processing_time_timer(std::string_view ns, Timestamp time);

  // Fires, in time order, every event-time timer at or before `watermark`, then keeps it
  // as the current watermark.
  void advance_watermark(Timestamp watermark);

  size_t num_event_time_timers() const { return event_.size(); }
  size_t num_processing_time_timers() const { return processing_.size(); }

  // Appends this service's timers to `snapshot` (states "_timers/<name>/event" and
  // "_timers/<name>/processing").
  void snapshot_into(KeyedStateSnapshot& snapshot) const override;
  // Takes the timers of this subtask's key groups from `snapshots`. Call before any timer
  // is registered. Processing-time timers that are already due fire at the next chance.
  void restore(const std::vector<const KeyedStateSnapshot*>& snapshots);

 private:
  // Timers by time; at each time, the set of (key group | key | namespace) in the layout
  // of state entry keys. Operators re-register the same timer for many records (window
  // triggers do for every element), and many keys share a time (a window's end), so a
  // registration is a lookup in a small ordered map and a hash-set probe. Timers of one
  // time fire in byte order of their encoding (so in key-group order), deterministically.
  class Queue {
   public:
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    void insert(Timestamp time, std::string_view member);
    void erase(Timestamp time, std::string_view member);
    Timestamp first_time() const { return by_time_.begin()->first; }
    // Fires every timer at or before `limit`, in order, through fire(time, member); timers
    // added at a due time while firing fire too; deleted ones do not.
    template <class Fire>
    void fire_until(Timestamp limit, Fire fire);
    template <class F>
    void for_each(F fn) const {
      for (const auto& [time, members] : by_time_) {
        for (const auto& entry : members) fn(time, entry.first);
      }
    }

   private:
    std::map<Timestamp, FlatStateMap<char>> by_time_;
    size_t size_ = 0;
  };

  // Encodes the current key's timer (without its time) into scratch_.
  std::string_view encode(std::string_view ns);
  void fire(const std::string& member, Timestamp time, bool event_time);
  void fire_processing_time(Timestamp now);
  void schedule_processing_time();
  std::string state_name(const char* domain) const;

  std::string name_;
  KeyedStateBackend& backend_;
  ProcessingTimeService& processing_time_;
  Triggerable& target_;
  Queue event_;
  Queue processing_;
  Timestamp watermark_ = kNoTimestamp;
  Timestamp scheduled_ = kMaxWatermark;  // earliest processing time a callback is registered for
  std::string scratch_;
};

}  // namespace eddy::internal
