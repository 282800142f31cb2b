// A partly filled batch is sent as soon as its producer runs out of input: at low load,
// records do not wait for a batch to fill (DESIGN.md, "Flushing").
#include <gtest/gtest.h>

#include <atomic>

#include "eddy/eddy.h"

namespace eddy {
namespace {

// Emits `count` records, then has nothing more (but never ends).
class TrickleSource final : public Source<int64_t> {
 public:
  explicit TrickleSource(int64_t count) : count_(count) {}
  bool bounded() const override { return false; }
  std::optional<int> max_source_parallelism() const override { return 1; }
  std::unique_ptr<SplitEnumerator> create_enumerator(SplitEnumeratorContext& context) const override {
    return std::make_unique<StaticSplitEnumerator>(context, SplitList{});
  }
  std::unique_ptr<SourceReader<int64_t>> create_reader(SourceReaderContext&) const override {
    return std::make_unique<Reader>(count_);
  }

 private:
  class Reader final : public SourceReader<int64_t> {
   public:
    explicit Reader(int64_t count) : count_(count) {}
    InputStatus poll_next(SourceOutput<int64_t>& output) override {
      if (emitted_ == count_) return InputStatus::kNothingAvailable;  // idle from now on
      output.collect(emitted_++);
      return InputStatus::kMoreAvailable;
    }
    void add_splits(SplitList) override {}
    void notify_no_more_splits() override {}
    SplitList snapshot_state() override { return {}; }

   private:
    int64_t count_;
    int64_t emitted_ = 0;
  };
  int64_t count_;
};

TEST(FlushTest, IdleProducerSendsItsPartialBatch) {
  ExecutionConfig config;
  config.buffer_timeout = std::chrono::hours(1);  // only the idle rule can deliver in time
  StreamEnvironment env(config);
  std::atomic<int> received{0};
  env.from_source(std::make_shared<TrickleSource>(3), "trickle")
      .rebalance()  // a channel between two tasks
      .map([](int64_t v) { return v; })
      .sink_to(sinks::callback([&](int64_t) {
        if (++received == 3) env.cancel();
      }));
  // Three records fill no batch; if the idle source did not flush, the job would never end.
  JobResult result = env.execute();
  EXPECT_EQ(result.status, JobStatus::kCancelled);
  EXPECT_EQ(received.load(), 3);
}

}  // namespace
}  // namespace eddy
