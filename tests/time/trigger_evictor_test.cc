// Triggers and evictors on their own, against a fake trigger context backed by a real
// heap backend (partitioned state) and a recorded set of timers.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/clock.h"
#include "eddy/evictors.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/keyed_state_store.h"
#include "eddy/serializer.h"
#include "eddy/triggers.h"
#include "eddy/windows.h"

namespace eddy {
namespace {

using std::chrono::milliseconds;
using Timers = std::set<std::pair<Timestamp, std::string>>;  // (time, window namespace)

class FakeTriggerContext final : public OnMergeContext {
 public:
  FakeTriggerContext()
      : backend_(create_keyed_state_backend(StateBackendOptions{}, KeyGroupRange{0, 127}, 128,
                                            clock_, "test", 0)),
        store_(*backend_) {
    backend_->set_current_key(key_, 0);
  }

  void set_window(const TimeWindow& window) {
    ns_ = serialize(window);
    store_.set_namespace(&ns_);
    backend_->set_current_namespace(ns_);
  }
  void set_merged(const std::vector<TimeWindow>& windows) {
    merged_.clear();
    for (const TimeWindow& w : windows) merged_.push_back(serialize(w));
  }
  bool has_event_timer(Timestamp time, const TimeWindow& window) const {
    return event_.count({time, serialize(window)}) > 0;
  }
  std::set<Timestamp> event_times() const { return times(event_); }
  std::set<Timestamp> processing_times() const { return times(processing_); }

  Timestamp current_processing_time() const override { return now; }
  Timestamp current_watermark() const override { return watermark; }
  void register_event_time_timer(Timestamp time) override { event_.insert({time, ns_}); }
  void register_processing_time_timer(Timestamp time) override { processing_.insert({time, ns_}); }
  void delete_event_time_timer(Timestamp time) override { event_.erase({time, ns_}); }
  void delete_processing_time_timer(Timestamp time) override { processing_.erase({time, ns_}); }

  Timestamp now = 0;
  Timestamp watermark = kNoTimestamp;

 protected:
  KeyedStateStore& partitioned_state() override { return store_; }
  KeyedStateBackend& backend() override { return *backend_; }
  const std::vector<std::string>& merged_namespaces() const override { return merged_; }
  const std::string& target_namespace() const override { return ns_; }

 private:
  static std::set<Timestamp> times(const Timers& timers) {
    std::set<Timestamp> out;
    for (const auto& entry : timers) out.insert(entry.first);
    return out;
  }
  ManualClock clock_;
  std::string key_ = "k";
  std::unique_ptr<KeyedStateBackend> backend_;
  KeyedStateStore store_;
  std::string ns_;
  std::vector<std::string> merged_;
  Timers event_;
  Timers processing_;
};

constexpr TriggerResult kContinue = TriggerResult::kContinue;
constexpr TriggerResult kFire = TriggerResult::kFire;
constexpr TriggerResult kFireAndPurge = TriggerResult::kFireAndPurge;

TEST(TriggerTest, ResultPredicates) {
  EXPECT_TRUE(is_fire(kFire));
  EXPECT_TRUE(is_fire(kFireAndPurge));
  EXPECT_FALSE(is_fire(TriggerResult::kPurge));
  EXPECT_TRUE(is_purge(TriggerResult::kPurge));
  EXPECT_TRUE(is_purge(kFireAndPurge));
  EXPECT_FALSE(is_purge(kFire));
  EXPECT_STREQ(to_string(kFireAndPurge), "FIRE_AND_PURGE");
}

TEST(TriggerTest, EventTimeTrigger) {
  FakeTriggerContext ctx;
  auto trigger = EventTimeTrigger::create();
  TimeWindow w{0, 10};
  ctx.set_window(w);
  ctx.watermark = 5;
  EXPECT_EQ(trigger.on_element(1, 3, w, ctx), kContinue);
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{9}));
  EXPECT_EQ(trigger.on_event_time(8, w, ctx), kContinue);
  EXPECT_EQ(trigger.on_event_time(9, w, ctx), kFire);
  EXPECT_EQ(trigger.on_processing_time(9, w, ctx), kContinue);
  trigger.clear(w, ctx);
  EXPECT_TRUE(ctx.event_times().empty());
  // The watermark already past the window (a late element within the allowed lateness):
  // fire at once, no timer.
  ctx.watermark = 9;
  EXPECT_EQ(trigger.on_element(1, 3, w, ctx), kFire);
  EXPECT_TRUE(ctx.event_times().empty());
  // Merging registers the merged window's timer unless the watermark passed it.
  EXPECT_TRUE(trigger.can_merge());
  TimeWindow merged{0, 20};
  ctx.set_window(merged);
  trigger.on_merge(merged, ctx);
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{19}));
  ctx.watermark = 25;
  TimeWindow old{0, 22};
  ctx.set_window(old);
  trigger.on_merge(old, ctx);
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{19}));
}

TEST(TriggerTest, ProcessingTimeTrigger) {
  FakeTriggerContext ctx;
  auto trigger = ProcessingTimeTrigger::create();
  TimeWindow w{0, 10};
  ctx.set_window(w);
  EXPECT_EQ(trigger.on_element(1, kNoTimestamp, w, ctx), kContinue);
  EXPECT_EQ(ctx.processing_times(), (std::set<Timestamp>{9}));
  EXPECT_EQ(trigger.on_processing_time(9, w, ctx), kFire);
  EXPECT_EQ(trigger.on_event_time(9, w, ctx), kContinue);
  trigger.clear(w, ctx);
  EXPECT_TRUE(ctx.processing_times().empty());
  ctx.now = 9;
  trigger.on_merge(w, ctx);  // not after the window's end: no timer
  EXPECT_TRUE(ctx.processing_times().empty());
  ctx.now = 8;
  trigger.on_merge(w, ctx);
  EXPECT_EQ(ctx.processing_times(), (std::set<Timestamp>{9}));
}

TEST(TriggerTest, CountTriggerCountsPerWindowAndMergesCounts) {
  FakeTriggerContext ctx;
  auto trigger = CountTrigger::of(3);
  TimeWindow a{0, 10}, b{10, 20};
  ctx.set_window(a);
  EXPECT_EQ(trigger.on_element(1, 0, a, ctx), kContinue);
  EXPECT_EQ(trigger.on_element(1, 0, a, ctx), kContinue);
  ctx.set_window(b);
  EXPECT_EQ(trigger.on_element(1, 0, b, ctx), kContinue);
  ctx.set_window(a);
  EXPECT_EQ(trigger.on_element(1, 0, a, ctx), kFire);
  EXPECT_EQ(trigger.on_element(1, 0, a, ctx), kContinue);  // the count starts over
  // Merge a (1) and b (1) into c: 2, then one more fires.
  TimeWindow c{0, 20};
  ctx.set_window(c);
  ctx.set_merged({a, b});
  trigger.on_merge(c, ctx);
  EXPECT_EQ(trigger.on_element(1, 0, c, ctx), kFire);
  ctx.set_window(a);
  EXPECT_FALSE(ctx
                   .get_partitioned_state(ReducingStateDescriptor<int64_t>(
                       "count", [](const int64_t& x, const int64_t& y) { return x + y; }))
                   .get());
  EXPECT_THROW(CountTrigger::of(0), InvalidJobError);
  EXPECT_EQ(trigger.to_string(), "CountTrigger(3)");
}

TEST(TriggerTest, CountTriggerClearRemovesTheCount) {
  FakeTriggerContext ctx;
  auto trigger = CountTrigger::of(2);
  TimeWindow w{0, 10};
  ctx.set_window(w);
  trigger.on_element(1, 0, w, ctx);
  trigger.clear(w, ctx);
  EXPECT_EQ(trigger.on_element(1, 0, w, ctx), kContinue);
  EXPECT_EQ(trigger.on_element(1, 0, w, ctx), kFire);
}

TEST(TriggerTest, PurgingTriggerPurgesWhenTheNestedTriggerFires) {
  FakeTriggerContext ctx;
  auto trigger = PurgingTrigger::of(CountTrigger::of(2));
  TimeWindow w{0, 10};
  ctx.set_window(w);
  EXPECT_EQ(trigger.on_element(1, 0, w, ctx), kContinue);
  EXPECT_EQ(trigger.on_element(1, 0, w, ctx), kFireAndPurge);
  EXPECT_TRUE(trigger.can_merge());
  auto event_time = PurgingTrigger::of(EventTimeTrigger::create());
  ctx.watermark = 0;
  EXPECT_EQ(event_time.on_element(1, 0, w, ctx), kContinue);
  EXPECT_EQ(event_time.on_event_time(9, w, ctx), kFireAndPurge);
  event_time.clear(w, ctx);
  EXPECT_TRUE(ctx.event_times().empty());
  EXPECT_EQ(event_time.to_string(), "PurgingTrigger(EventTimeTrigger())");
  EXPECT_FALSE(PurgingTrigger::of(NeverTrigger{}).can_merge());
}

TEST(TriggerTest, ContinuousEventTimeTrigger) {
  FakeTriggerContext ctx;
  auto trigger = ContinuousEventTimeTrigger::of(milliseconds(10));
  TimeWindow w{0, 35};
  ctx.set_window(w);
  ctx.watermark = 0;
  EXPECT_EQ(trigger.on_element(1, 3, w, ctx), kContinue);  // first fire at 10, end at 34
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{10, 34}));
  EXPECT_EQ(trigger.on_element(1, 7, w, ctx), kContinue);
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{10, 34}));
  EXPECT_EQ(trigger.on_event_time(10, w, ctx), kFire);              // next at 20
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{10, 20, 34}));  // 10 fired in the real service
  EXPECT_EQ(trigger.on_event_time(15, w, ctx), kContinue);
  EXPECT_EQ(trigger.on_event_time(20, w, ctx), kFire);
  EXPECT_EQ(trigger.on_event_time(30, w, ctx), kFire);  // next capped at the end: 34
  EXPECT_EQ(trigger.on_event_time(34, w, ctx), kFire);
  trigger.clear(w, ctx);  // deletes the pending fire timer (34)
  EXPECT_EQ(ctx.event_times(), (std::set<Timestamp>{10, 20, 30}));
  // Late element (watermark past the end): fire at once.
  ctx.watermark = 40;
  EXPECT_EQ(trigger.on_element(1, 3, w, ctx), kFire);
  EXPECT_THROW(ContinuousEventTimeTrigger::of(milliseconds(0)), InvalidJobError);
}

TEST(TriggerTest, ContinuousEventTimeTriggerMergeKeepsTheEarliestFireTime) {
  FakeTriggerContext ctx;
  auto trigger = ContinuousEventTimeTrigger::of(milliseconds(10));
  ctx.watermark = 0;
  TimeWindow a{0, 100}, b{50, 150}, merged{0, 150};
  ctx.set_window(a);
  trigger.on_element(1, 25, a, ctx);  // fire at 30
  ctx.set_window(b);
  trigger.on_element(1, 55, b, ctx);  // fire at 60
  ctx.set_window(merged);
  ctx.set_merged({a, b});
  trigger.on_merge(merged, ctx);
  EXPECT_TRUE(ctx.has_event_timer(30, merged));
  EXPECT_FALSE(ctx.has_event_timer(60, merged));
  EXPECT_EQ(trigger.on_event_time(30, merged, ctx), kFire);
}

TEST(TriggerTest, ContinuousProcessingTimeTrigger) {
  FakeTriggerContext ctx;
  auto trigger = ContinuousProcessingTimeTrigger::of(milliseconds(10));
  TimeWindow w{0, 25};
  ctx.set_window(w);
  ctx.now = 13;
  EXPECT_EQ(trigger.on_element(1, kNoTimestamp, w, ctx), kContinue);  // fire at 20
  EXPECT_EQ(ctx.processing_times(), (std::set<Timestamp>{20}));
  EXPECT_EQ(trigger.on_processing_time(20, w, ctx), kFire);  // next capped at 24
  EXPECT_EQ(ctx.processing_times(), (std::set<Timestamp>{20, 24}));
  EXPECT_EQ(trigger.on_processing_time(22, w, ctx), kContinue);
  EXPECT_EQ(trigger.on_event_time(24, w, ctx), kContinue);
  trigger.clear(w, ctx);
  EXPECT_EQ(ctx.processing_times(), (std::set<Timestamp>{20}));
}

TEST(TriggerTest, NeverTriggerAndTheAdapter) {
  FakeTriggerContext ctx;
  TimeWindow w{0, 10};
  ctx.set_window(w);
  auto never = internal::make_trigger<int, TimeWindow>(NeverTrigger{});
  EXPECT_EQ(never->on_element(1, 1, w, ctx), kContinue);
  EXPECT_EQ(never->on_event_time(9, w, ctx), kContinue);
  EXPECT_EQ(never->on_processing_time(9, w, ctx), kContinue);
  EXPECT_FALSE(never->can_merge());
  EXPECT_THROW(never->on_merge(w, ctx), InvalidJobError);
  auto count = internal::make_trigger<int, TimeWindow>(CountTrigger::of(1));
  EXPECT_TRUE(count->can_merge());
  EXPECT_EQ(count->on_element(1, 1, w, ctx), kFire);
  std::shared_ptr<const Trigger<int, TimeWindow>> shared = count;
  using Shared = std::shared_ptr<const Trigger<int, TimeWindow>>;
  auto make = [](Shared t) { return internal::make_trigger<int, TimeWindow>(std::move(t)); };
  EXPECT_EQ(make(shared), count);
  EXPECT_THROW(make(Shared()), InvalidJobError);
}

// ---- Evictors ----

class NoContext final : public EvictorContext {
 public:
  Timestamp current_processing_time() const override { return 0; }
  Timestamp current_watermark() const override { return 0; }
};

using Elements = std::vector<TimestampedValue<int>>;

std::vector<int> values(const Elements& elements) {
  std::vector<int> out;
  for (const auto& e : elements) out.push_back(e.value);
  return out;
}

TEST(EvictorTest, CountEvictorKeepsTheLastElements) {
  NoContext ctx;
  TimeWindow w{0, 10};
  Elements elements{{1, 1}, {2, 2}, {3, 3}, {4, 4}};
  CountEvictor::of(2).evict_after(elements, w, ctx);  // evicts before: nothing after
  EXPECT_EQ(values(elements), (std::vector<int>{1, 2, 3, 4}));
  CountEvictor::of(2).evict_before(elements, w, ctx);
  EXPECT_EQ(values(elements), (std::vector<int>{3, 4}));
  CountEvictor::of(5, true).evict_after(elements, w, ctx);
  EXPECT_EQ(values(elements), (std::vector<int>{3, 4}));
  CountEvictor::of(1, true).evict_after(elements, w, ctx);
  EXPECT_EQ(values(elements), (std::vector<int>{4}));
  CountEvictor::of(0).evict_before(elements, w, ctx);
  EXPECT_TRUE(elements.empty());
  EXPECT_THROW(CountEvictor::of(-1), InvalidJobError);
}

TEST(EvictorTest, TimeEvictorKeepsTheElementsNearTheNewest) {
  NoContext ctx;
  TimeWindow w{0, 100};
  Elements elements{{1, 10}, {2, 50}, {3, 41}, {4, 40}, {5, 45}};
  TimeEvictor::of(milliseconds(10)).evict_before(elements, w, ctx);  // cutoff 40: 40 and older go
  EXPECT_EQ(values(elements), (std::vector<int>{2, 3, 5}));
  Elements untimed{{1, kNoTimestamp}, {2, kNoTimestamp}};
  TimeEvictor::of(milliseconds(1)).evict_before(untimed, w, ctx);
  EXPECT_EQ(values(untimed), (std::vector<int>{1, 2}));
  Elements two{{1, 0}, {2, 20}};
  TimeEvictor::of(milliseconds(5)).evict_before(two, w, ctx);
  EXPECT_EQ(values(two), (std::vector<int>{2}));
  // Evicting after the function: evict_before does nothing.
  Elements later{{1, 0}, {2, 20}};
  TimeEvictor::of(milliseconds(5), true).evict_before(later, w, ctx);
  EXPECT_EQ(values(later), (std::vector<int>{1, 2}));
  TimeEvictor::of(milliseconds(5), true).evict_after(later, w, ctx);
  EXPECT_EQ(values(later), (std::vector<int>{2}));
}

TEST(EvictorTest, DeltaEvictorDropsElementsFarFromTheLast) {
  NoContext ctx;
  TimeWindow w{0, 100};
  Elements elements{{1, 0}, {9, 0}, {5, 0}, {10, 0}, {7, 0}};
  auto delta = [](int a, int b) { return std::abs(a - b); };
  DeltaEvictor::of(3.0, delta).evict_before(elements, w, ctx);  // last is 7: |x - 7| >= 3 goes
  EXPECT_EQ(values(elements), (std::vector<int>{9, 5, 7}));
  DeltaEvictor::of(1.0, delta, true).evict_before(elements, w, ctx);
  EXPECT_EQ(values(elements), (std::vector<int>{9, 5, 7}));
  DeltaEvictor::of(1.0, delta, true).evict_after(elements, w, ctx);
  EXPECT_EQ(values(elements), (std::vector<int>{7}));
}

TEST(EvictorTest, TimestampedValuesSerialize) {
  TimestampedValue<std::string> v{"x", -3};
  EXPECT_EQ(deserialize<TimestampedValue<std::string>>(serialize(v)), v);
  TimestampedValue<int> none{1};
  EXPECT_FALSE(none.has_timestamp());
  EXPECT_EQ(deserialize<TimestampedValue<int>>(serialize(none)), none);
  EXPECT_EQ(serializer_signature<TimestampedValue<int>>(), "timestamped<int32>");
}

}  // namespace
}  // namespace eddy
