// The hand-written baselines of the Nexmark queries: the "physical limit" the eddy-nexmark
// runner compares the engine with.
//
// Each baseline is a single-threaded loop, without any framework, over the same events the
// engine's source makes (Generator::event(n) for n = 0 .. config.events - 1; generating
// the events is counted in the time, as the reference suite counts it). It computes the
// query with plain hash maps and vectors and event-time logic driven by the timestamps,
// as a bounded job does: the watermark is the highest timestamp so far minus
// config.watermark_delay_ms, windows fire as the watermark passes their end, and at the
// end of the input every remaining window fires. Late records are dropped where the
// query's windows drop them. Every result row is materialised and folded into a checksum,
// so that the compiler cannot drop the work.
//
// Results are counted as the engine's sink would receive them:
//   - append-only queries (q0, q1, q2, q5, q7, q8, q11, q20): one per result row;
//   - updating queries: q17 one upsert per bid (the group's new row), q19 one upsert per
//     (auction, rank) row that a bid changes. `final_rows` is the size of the final table
//     (distinct groups for q17, top-10 rows for q19), which does not depend on how the
//     updates are batched.
//
// The baselines rely on two properties of the generator, which the engine's queries do not
// need: ids are unique (a person or an auction id appears once) and auction ids are small
// integers (dense from 1000 up), so q20 can keep "seen" flags in a vector.
//
// Thread-safety: each call is independent; the functions share no state.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "eddy/nexmark.h"

namespace eddy::nexmark::baseline {

struct BaselineResult {
  int64_t events = 0;      // events generated
  int64_t results = 0;     // result records (for updating queries: upserts)
  int64_t final_rows = 0;  // rows of the final result table (== results when append-only)
  uint64_t checksum = 0;   // folded over every result row
};

// Events generated so far, published every few thousand events (relaxed), for a progress
// display; may be null.
using Progress = std::atomic<int64_t>;

using BaselineFn = BaselineResult (*)(const GeneratorConfig& config, Progress* progress);

// The baseline of `query` ("q5"), or null if it has none.
BaselineFn find_baseline(std::string_view query);
// The queries with a baseline, in order.
const std::vector<std::string_view>& baseline_queries();

// The baselines, one per query.
BaselineResult q0(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q1(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q2(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q5(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q7(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q8(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q11(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q17(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q19(const GeneratorConfig& config, Progress* progress = nullptr);
BaselineResult q20(const GeneratorConfig& config, Progress* progress = nullptr);

}  // namespace eddy::nexmark::baseline
