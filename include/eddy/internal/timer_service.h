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
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/time.h"
#include "eddy/timers.h"

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

class InternalTimerService {
 public:
  // `name` tells the timers of several services of one operator apart in snapshots.
  InternalTimerService(std::string name, KeyedStateBackend& backend, ProcessingTimeService& processing_time,
                       Triggerable& target);
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
  void snapshot_into(KeyedStateSnapshot& snapshot) const;
  // Takes the timers of this subtask's key groups from `snapshots`. Call before any timer
  // is registered. Processing-time timers that are already due fire at the next chance.
  void restore(const std::vector<const KeyedStateSnapshot*>& snapshots);

 private:
  // Encoded timer: time (8 bytes, big endian, sign bit flipped, so byte order is time
  // order) | key group | key | namespace, in the layout of state entry keys. The ordered
  // set gives the firing order; the hash set of views into it answers "is this timer
  // registered" cheaply, since operators (window triggers) re-register the same timer
  // for every record.
  struct Queue {
    std::set<std::string, std::less<>> ordered;
    std::unordered_set<std::string_view> members;  // views into `ordered`
    size_t size() const { return ordered.size(); }
    bool empty() const { return ordered.empty(); }
    void insert(std::string_view encoded);
    void erase(std::string_view encoded);
    // Removes and returns the first timer.
    std::string pop_first();
  };

  // Encodes the current key's timer into scratch_.
  std::string_view encode(std::string_view ns, Timestamp time);
  static InternalTimer decode(const std::string& encoded);
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
