// What the Nexmark query tests share: generating events, and running a query on generated
// or hand-written events into a vector.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"

namespace eddy::nexmark::test_support {

// Events 0 .. config.events - 1, as the source makes them.
inline std::vector<Event> generate(const GeneratorConfig& config) {
  Generator generator(config);
  std::vector<Event> events;
  events.reserve(static_cast<size_t>(config.events));
  for (int64_t n = 0; n < config.events; ++n) events.push_back(generator.event(n));
  return events;
}

// The result type of a query (a function from the event stream to a result stream).
template <class Query>
using ResultOf = typename std::invoke_result_t<Query, const DataStream<Event>&>::value_type;

// Runs `query` on the events of `config` from the Nexmark source.
template <class Query>
std::vector<ResultOf<Query>> run_generated(Query query, const GeneratorConfig& config,
                                           int parallelism, const std::string& backend = "heap") {
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.config().state_backend.kind = backend;
  std::vector<ResultOf<Query>> results;
  query(events(env, config)).sink_to(sinks::collect(results));
  JobResult job = env.execute("nexmark test");
  EXPECT_TRUE(job.ok()) << job.error;
  return results;
}

// Watermarks that trail each event's timestamp by `delay` (punctuated, so that the test does
// not depend on the wall clock).
class TrailingWatermarks final : public WatermarkGenerator<Event> {
 public:
  explicit TrailingWatermarks(int64_t delay) : delay_(delay) {}
  void on_event(const Event&, Timestamp timestamp, WatermarkOutput& output) override {
    if (timestamp - delay_ > last_) {
      last_ = timestamp - delay_;
      output.emit_watermark(last_);
    }
  }
  void on_periodic_emit(WatermarkOutput&) override {}

 private:
  int64_t delay_;
  Timestamp last_ = kNoTimestamp;
};

// Runs `query` on hand-written events, in the given order, with their date_time as event
// time and watermarks `delay` behind the latest.
template <class Query>
std::vector<ResultOf<Query>> run_events(Query query, std::vector<Event> input, int parallelism,
                                        int64_t delay = 4000) {
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.config().auto_watermark_interval = std::chrono::milliseconds(0);
  auto strategy = WatermarkStrategy<Event>::for_generator([delay] {
                    return std::make_unique<TrailingWatermarks>(delay);
                  }).with_timestamp_assigner([](const Event& e) { return e.timestamp(); });
  std::vector<ResultOf<Query>> results;
  query(env.from_collection(std::move(input)).assign_timestamps_and_watermarks(strategy))
      .sink_to(sinks::collect(results));
  JobResult job = env.execute("nexmark test");
  EXPECT_TRUE(job.ok()) << job.error;
  return results;
}

}  // namespace eddy::nexmark::test_support
