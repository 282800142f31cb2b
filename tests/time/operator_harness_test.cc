// The operator test harness itself: records, watermarks, side outputs, processing time,
// keyed state, and the two-input variant.
#include "eddy/testing/operator_harness.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/keyed_state_backend.h"
#include "eddy/operator.h"
#include "eddy/state.h"
#include "eddy/timers.h"
#include "test_util.h"

namespace eddy::testing {
namespace {

// Doubles each number; odd inputs also go to the side output "odd"; counts per key (the
// number itself) in keyed state when it has a backend; on a processing-time callback at
// time t, emits -t.
class Doubler final : public OneInputOperator<int64_t, int64_t> {
 public:
  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    if (context.keyed_state_backend() != nullptr)
      count_ = &context.get_state(ValueStateDescriptor<int64_t>("count"));
  }
  void process(int64_t&& value, Timestamp timestamp) override {
    if (count_ != nullptr) {
      key_ = value;
      context().keyed_state().set_current_key(key_, 0);
      count_->update(count_->value_or(0) + 1);
    }
    if (value % 2 != 0) emit_side(std::string("odd"), std::to_string(value), timestamp);
    if (value == 100) {
      context().processing_time_service().register_timer(
          timestamp, [this](Timestamp now) { out().emit(-now, kNoTimestamp); });
    }
    out().emit(value * 2, timestamp);
  }
  int64_t count_of(int64_t key) {
    key_ = key;
    context().keyed_state().set_current_key(key_, 0);
    return count_->value_or(0);
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
  int64_t key_ = 0;
};

TEST(OperatorHarnessTest, RecordsOutputsWatermarksAndSideOutputs) {
  OutputTag<std::string> odd("odd");
  OneInputOperatorHarness<int64_t, int64_t> h(std::make_unique<Doubler>());
  h.add_side_output(odd);
  h.process_element(1, 10);
  h.process_element(2, 11);
  h.process_watermark(11);
  h.process_element(3);
  EXPECT_EQ(h.output(), (std::vector<StreamRecord<int64_t>>{{2, 10}, {4, 11}, {6, kNoTimestamp}}));
  EXPECT_EQ(h.output_values(), (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(h.watermarks(), (std::vector<Timestamp>{11}));
  EXPECT_EQ(h.side_output(odd),
            (std::vector<StreamRecord<std::string>>{{"1", 10}, {"3", kNoTimestamp}}));
  EXPECT_EQ(h.metrics().records_in, 3u);
  EXPECT_EQ(h.take_output().size(), 3u);
  EXPECT_TRUE(h.output().empty());
  EXPECT_THROW(h.add_side_output(OutputTag<int>("late")), std::logic_error);
  EXPECT_THROW(h.side_output(OutputTag<std::string>("other")), std::logic_error);
  EXPECT_THROW(h.side_output(OutputTag<int>("odd")), std::logic_error);  // another type
}

TEST(OperatorHarnessTest, ProcessingTimeCallbacksRunWhenTheClockReachesThem) {
  OneInputOperatorHarness<int64_t, int64_t> h(std::make_unique<Doubler>(),
                                              {.initial_processing_time = 5});
  EXPECT_EQ(h.processing_time(), 5);
  h.process_element(100, 20);  // callback at 20
  h.process_element(100, 12);  // callback at 12
  h.take_output();
  h.set_processing_time(11);
  EXPECT_TRUE(h.output().empty());
  h.set_processing_time(30);  // both, in time order, each seeing the clock's time
  EXPECT_EQ(h.output_values(), (std::vector<int64_t>{-30, -30}));
  h.set_processing_time(10);  // never backwards
  EXPECT_EQ(h.processing_time(), 30);
  EXPECT_EQ(h.processing_time_service().num_pending(), 0u);
}

TEST(OperatorHarnessTest, ManualProcessingTimeServiceOrdersByTimeThenRegistration) {
  ManualClock clock(0);
  ManualProcessingTimeService service(clock);
  std::vector<std::string> ran;
  service.register_timer(5, [&](Timestamp) { ran.push_back("a5"); });
  service.register_timer(3, [&](Timestamp now) {
    ran.push_back("b3");
    service.register_timer(4, [&](Timestamp) { ran.push_back("c4"); });  // due too
    service.register_timer(9, [&](Timestamp) { ran.push_back("d9"); });  // not yet
  });
  service.register_timer(5, [&](Timestamp) { ran.push_back("e5"); });
  EXPECT_EQ(service.next_time(), 3);
  service.advance_to(6);
  EXPECT_EQ(ran, (std::vector<std::string>{"b3", "c4", "a5", "e5"}));
  EXPECT_EQ(service.num_pending(), 1u);
  EXPECT_EQ(service.current_processing_time(), 6);
}

class HarnessBackendTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Backends, HarnessBackendTest, ::testing::Values("heap", "rocksdb"));

TEST_P(HarnessBackendTest, KeyedOperatorsGetTheConfiguredBackend) {
  TempDir dir;
  OperatorHarnessOptions options;
  options.keyed = true;
  options.config.state_backend.kind = GetParam();
  options.config.state_backend.rocksdb_dir = dir.path();
  auto op = std::make_unique<Doubler>();
  Doubler* doubler = op.get();
  OneInputOperatorHarness<int64_t, int64_t> h(std::move(op), options);
  ASSERT_NE(h.keyed_state_backend(), nullptr);
  EXPECT_EQ(h.keyed_state_backend()->name(), GetParam());
  h.process_element(4);
  h.process_element(4);
  h.process_element(6);
  EXPECT_EQ(doubler->count_of(4), 2);
  EXPECT_EQ(doubler->count_of(6), 1);
}

// Emits "1:<v>" / "2:<v>" and, on each watermark, "wm:<w>".
class Tagger final : public TwoInputOperator<int, std::string, std::string> {
 public:
  void process_first(int&& value, Timestamp timestamp) override {
    out().emit("1:" + std::to_string(value), timestamp);
  }
  void process_second(std::string&& value, Timestamp timestamp) override {
    out().emit("2:" + value, timestamp);
  }
  void process_watermark(Timestamp watermark, int) override {
    out().emit("wm:" + std::to_string(watermark), watermark);
    OperatorBase::process_watermark(watermark, 0);
  }
};

TEST(OperatorHarnessTest, TwoInputOperatorsGetTheMinimumWatermark) {
  TwoInputOperatorHarness<int, std::string, std::string> h(std::make_unique<Tagger>());
  h.process_element1(1, 1);
  h.process_element2("x", 2);
  h.process_watermark1(10);  // the second input has none yet
  h.process_watermark2(5);   // min 5
  h.process_watermark2(20);  // min 10
  h.process_watermark1(8);   // behind: ignored
  EXPECT_EQ(h.output_values(), (std::vector<std::string>{"1:1", "2:x", "wm:5", "wm:10"}));
  EXPECT_EQ(h.watermarks(), (std::vector<Timestamp>{5, 10}));
}

}  // namespace
}  // namespace eddy::testing
