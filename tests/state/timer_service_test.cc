// The timer service of keyed operators: deduplication, deletion, order, firing with the
// timer's key current, processing time, and snapshot/restore by key group.
#include <gtest/gtest.h>

#include <functional>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eddy/clock.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/serializer.h"
#include "eddy/internal/timer_service.h"

namespace eddy::internal {
namespace {

// Processing-time callbacks run when the test says the time has come.
class ManualProcessingTime final : public ProcessingTimeService {
 public:
  Timestamp current_processing_time() const override { return now_; }
  void register_timer(Timestamp time, std::function<void(Timestamp)> callback) override {
    callbacks_.emplace(time, std::move(callback));
  }
  void advance_to(Timestamp now) {
    now_ = now;
    while (!callbacks_.empty() && callbacks_.begin()->first <= now) {
      auto callback = std::move(callbacks_.begin()->second);
      callbacks_.erase(callbacks_.begin());
      callback(now);
    }
  }

 private:
  Timestamp now_ = 0;
  std::multimap<Timestamp, std::function<void(Timestamp)>> callbacks_;
};

struct Fired {
  std::string domain;
  Timestamp time;
  std::string key;
  std::string ns;
  bool operator==(const Fired&) const = default;
};

class Recorder final : public Triggerable {
 public:
  explicit Recorder(KeyedStateBackend& backend) : backend_(backend) {}
  void on_event_time(const InternalTimer& timer) override { record("event", timer); }
  void on_processing_time(const InternalTimer& timer) override { record("processing", timer); }
  std::vector<Fired> fired;
  std::function<void(const InternalTimer&)> also;

 private:
  void record(const char* domain, const InternalTimer& timer) {
    // The backend's current key and namespace are the timer's.
    EXPECT_EQ(backend_.current_key_bytes(), std::string(timer.key));
    EXPECT_EQ(backend_.current_namespace(), std::string(timer.ns));
    fired.push_back({domain, timer.time, deserialize<std::string>(timer.key), std::string(timer.ns)});
    if (also) also(timer);
  }
  KeyedStateBackend& backend_;
};

class TimerServiceTest : public ::testing::Test {
 protected:
  static constexpr int kMaxParallelism = 128;
  std::unique_ptr<KeyedStateBackend> make_backend(KeyGroupRange range = {0, kMaxParallelism - 1}) {
    StateBackendOptions options;
    return create_keyed_state_backend(options, range, kMaxParallelism, clock_, "timers", 0);
  }
  void set_key(KeyedStateBackend& backend, const std::string& key) {
    keys_.push_back(key);
    backend.set_current_key(keys_.back(), key_group_of(KeyHash<std::string>{}(key), kMaxParallelism));
  }
  ManualClock clock_;
  ManualProcessingTime processing_time_;
  std::list<std::string> keys_;
};

TEST_F(TimerServiceTest, EventTimersFireInTimeOrderOnceEachWithTheirKeyCurrent) {
  auto backend = make_backend();
  Recorder recorder(*backend);
  InternalTimerService timers("t", *backend, processing_time_, recorder);
  set_key(*backend, "a");
  timers.register_event_time_timer("", 20);
  timers.register_event_time_timer("", 10);
  timers.register_event_time_timer("", 10);  // duplicate
  set_key(*backend, "b");
  timers.register_event_time_timer("w1", 10);
  timers.register_event_time_timer("", 15);
  timers.delete_event_time_timer("", 15);
  EXPECT_EQ(timers.num_event_time_timers(), 3u);

  timers.advance_watermark(9);
  EXPECT_TRUE(recorder.fired.empty());
  timers.advance_watermark(10);
  ASSERT_EQ(recorder.fired.size(), 2u);
  EXPECT_EQ(recorder.fired[0].time, 10);
  EXPECT_EQ(recorder.fired[1].time, 10);
  EXPECT_EQ(timers.current_watermark(), 10);
  timers.advance_watermark(100);
  EXPECT_EQ(recorder.fired.back(), (Fired{"event", 20, "a", ""}));
  EXPECT_EQ(recorder.fired.size(), 3u);
  EXPECT_EQ(timers.num_event_time_timers(), 0u);
}

TEST_F(TimerServiceTest, ATimerRegisteredWhileFiringFiresInTheSamePassWhenDue) {
  auto backend = make_backend();
  Recorder recorder(*backend);
  InternalTimerService timers("t", *backend, processing_time_, recorder);
  recorder.also = [&](const InternalTimer& timer) {
    if (timer.time == 5) timers.register_event_time_timer("", 7);   // due: fires now
    if (timer.time == 7) timers.register_event_time_timer("", 50);  // not due
  };
  set_key(*backend, "k");
  timers.register_event_time_timer("", 5);
  timers.advance_watermark(10);
  ASSERT_EQ(recorder.fired.size(), 2u);
  EXPECT_EQ(recorder.fired[1].time, 7);
  EXPECT_EQ(timers.num_event_time_timers(), 1u);
}

TEST_F(TimerServiceTest, ProcessingTimersFireWhenTheClockReachesThem) {
  auto backend = make_backend();
  Recorder recorder(*backend);
  InternalTimerService timers("t", *backend, processing_time_, recorder);
  set_key(*backend, "x");
  timers.register_processing_time_timer("", 100);
  timers.register_processing_time_timer("", 50);
  timers.register_processing_time_timer("", 70);
  timers.delete_processing_time_timer("", 70);
  processing_time_.advance_to(60);
  EXPECT_EQ(recorder.fired, (std::vector<Fired>{{"processing", 50, "x", ""}}));
  processing_time_.advance_to(99);
  EXPECT_EQ(recorder.fired.size(), 1u);
  processing_time_.advance_to(100);
  EXPECT_EQ(recorder.fired.back(), (Fired{"processing", 100, "x", ""}));
  EXPECT_EQ(timers.num_processing_time_timers(), 0u);
}

TEST_F(TimerServiceTest, SnapshotsRestoreIntoAnySplitOfTheKeyGroups) {
  auto backend = make_backend();
  Recorder recorder(*backend);
  InternalTimerService timers("t", *backend, processing_time_, recorder);
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back("key" + std::to_string(i));
    set_key(*backend, keys.back());
    timers.register_event_time_timer("ns", 1000 + i);
    timers.register_processing_time_timer("", 500 + i);
  }
  KeyedStateSnapshot snapshot = backend->snapshot()->run();
  timers.snapshot_into(snapshot);

  // Restore into two halves: together they fire every timer exactly once, each in its own
  // key groups.
  std::vector<Fired> all;
  for (KeyGroupRange range : {KeyGroupRange{0, 63}, KeyGroupRange{64, 127}}) {
    auto restored = make_backend(range);
    restored->restore({&snapshot});
    Recorder half(*restored);
    ManualProcessingTime processing;
    InternalTimerService restored_timers("t", *restored, processing, half);
    restored_timers.restore({&snapshot});
    restored_timers.advance_watermark(kMaxWatermark);
    processing.advance_to(10'000);
    for (const Fired& f : half.fired) {
      EXPECT_TRUE(range.contains(key_group_of(KeyHash<std::string>{}(f.key), kMaxParallelism))) << f.key;
      all.push_back(f);
    }
  }
  ASSERT_EQ(all.size(), 100u);
  int event = 0;
  for (const Fired& f : all) {
    if (f.domain == "event") {
      ++event;
      EXPECT_EQ(f.ns, "ns");
      EXPECT_EQ(f.time, 1000 + std::stoi(f.key.substr(3)));
    } else {
      EXPECT_EQ(f.time, 500 + std::stoi(f.key.substr(3)));
    }
  }
  EXPECT_EQ(event, 50);
}

TEST_F(TimerServiceTest, TimersOfAnotherServiceNameAreNotTaken) {
  auto backend = make_backend();
  Recorder recorder(*backend);
  InternalTimerService timers("first", *backend, processing_time_, recorder);
  set_key(*backend, "k");
  timers.register_event_time_timer("", 1);
  KeyedStateSnapshot snapshot;
  snapshot.key_groups = backend->key_groups();
  timers.snapshot_into(snapshot);
  InternalTimerService other("second", *backend, processing_time_, recorder);
  other.restore({&snapshot});
  EXPECT_EQ(other.num_event_time_timers(), 0u);
}

}  // namespace
}  // namespace eddy::internal
