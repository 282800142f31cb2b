// The hand-written Nexmark baselines (bench/nexmark/baseline/): each against an expectation
// computed here by the plainest loops over all the events (no watermarks, no incremental
// state), and against the engine's query from the registry: the same number of results on
// the same events at parallelism 1 (and, for the updating queries, the same final table).
#include "baseline/baseline.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"
#include "nexmark/nexmark_test_util.h"
#include "queries.h"
#include "queries_b.h"

namespace eddy::nexmark {
namespace {

namespace bl = baseline;
using test_support::generate;

// 2 ms of event time at the default rate: every window query sees one window.
GeneratorConfig dense_config() {
  GeneratorConfig config;
  config.events = 20'000;
  return config;
}

// 40 s of event time: several tumbling windows, many sliding ones, sessions that end.
GeneratorConfig spread_config() {
  GeneratorConfig config;
  config.events = 20'000;
  config.events_per_second = 500;
  return config;
}

// As spread_config, with events shuffled in groups of 200 (0.4 s of event time, well within
// the 4 s watermark delay: out of order, but never late).
GeneratorConfig shuffled_config() {
  GeneratorConfig config = spread_config();
  config.out_of_order_group_size = 200;
  return config;
}

std::vector<Bid> bids_of(const std::vector<Event>& events) {
  std::vector<Bid> bids;
  for (const Event& e : events) {
    if (e.is_bid()) bids.push_back(e.bid());
  }
  return bids;
}

int64_t start_of(Timestamp t, int64_t size) { return t - t % size; }

// --- Plain expectations ---------------------------------------------------------------------

int64_t expected_q5(const std::vector<Event>& events) {
  std::map<Timestamp, std::map<int64_t, int64_t>> windows;  // start -> auction -> bids
  for (const Bid& bid : bids_of(events)) {
    for (Timestamp start = start_of(bid.date_time, 2'000); start > bid.date_time - 10'000;
         start -= 2'000) {
      ++windows[start][bid.auction];
    }
  }
  int64_t results = 0;
  for (const auto& [start, counts] : windows) {
    int64_t max = 0;
    for (const auto& [auction, n] : counts) max = std::max(max, n);
    for (const auto& [auction, n] : counts) results += n == max ? 1 : 0;
  }
  return results;
}

int64_t expected_q7(const std::vector<Event>& events) {
  std::vector<Bid> bids = bids_of(events);
  std::map<Timestamp, int64_t> max_of;  // window start -> highest price
  for (const Bid& bid : bids) {
    Timestamp start = start_of(bid.date_time, 10'000);
    auto [it, inserted] = max_of.try_emplace(start, bid.price);
    if (!inserted) it->second = std::max(it->second, bid.price);
  }
  int64_t results = 0;
  for (const auto& [start, max] : max_of) {
    for (const Bid& bid : bids) {  // BETWEEN end - 10 s AND end: both bounds included
      if (bid.date_time >= start && bid.date_time <= start + 10'000 && bid.price == max) ++results;
    }
  }
  return results;
}

int64_t expected_q8(const std::vector<Event>& events) {
  std::set<std::pair<Timestamp, int64_t>> people;   // (window, id)
  std::set<std::pair<Timestamp, int64_t>> sellers;  // (window, seller)
  for (const Event& e : events) {
    if (e.is_person()) people.emplace(start_of(e.person().date_time, 10'000), e.person().id);
    if (e.is_auction()) {
      sellers.emplace(start_of(e.auction().date_time, 10'000), e.auction().seller);
    }
  }
  int64_t results = 0;
  for (const auto& key : people) results += sellers.contains(key) ? 1 : 0;
  return results;
}

int64_t expected_q11(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<Timestamp>> times;  // bidder -> bid times
  for (const Bid& bid : bids_of(events)) times[bid.bidder].push_back(bid.date_time);
  int64_t sessions = 0;
  for (auto& [bidder, ts] : times) {
    std::sort(ts.begin(), ts.end());
    ++sessions;
    for (size_t i = 1; i < ts.size(); ++i) {
      if (ts[i] > ts[i - 1] + 10'000) ++sessions;  // a bid exactly 10 s later still joins
    }
  }
  return sessions;
}

int64_t expected_q17_groups(const std::vector<Event>& events) {
  std::set<std::pair<int64_t, int64_t>> groups;  // (auction, day)
  for (const Bid& bid : bids_of(events)) groups.emplace(bid.auction, bid.date_time / 86'400'000);
  return static_cast<int64_t>(groups.size());
}

int64_t expected_q19_rows(const std::vector<Event>& events) {
  std::map<int64_t, int64_t> bids_per_auction;
  for (const Bid& bid : bids_of(events)) ++bids_per_auction[bid.auction];
  int64_t rows = 0;
  for (const auto& [auction, n] : bids_per_auction) rows += std::min<int64_t>(n, 10);
  return rows;
}

int64_t expected_q20(const std::vector<Event>& events) {
  std::map<int64_t, int64_t> category;  // auction id -> category, wherever it comes
  for (const Event& e : events) {
    if (e.is_auction()) category[e.auction().id] = e.auction().category;
  }
  int64_t results = 0;
  for (const Bid& bid : bids_of(events)) {
    auto it = category.find(bid.auction);
    if (it != category.end() && it->second == 10) ++results;
  }
  return results;
}

// --- The baselines against the expectations --------------------------------------------------

TEST(NexmarkBaselineTest, RegistryHasTheTenQueries) {
  std::vector<std::string_view> expected = {"q0", "q1",  "q2",  "q5",  "q7",
                                            "q8", "q11", "q17", "q19", "q20"};
  EXPECT_EQ(bl::baseline_queries(), expected);
  for (std::string_view q : expected) EXPECT_NE(bl::find_baseline(q), nullptr) << q;
  EXPECT_EQ(bl::find_baseline("q3"), nullptr);
  EXPECT_EQ(bl::find_baseline("q"), nullptr);
}

TEST(NexmarkBaselineTest, StatelessQueries) {
  GeneratorConfig config = dense_config();
  std::vector<Bid> bids = bids_of(generate(config));
  auto on_123rd =
      std::count_if(bids.begin(), bids.end(), [](const Bid& b) { return b.auction % 123 == 0; });
  ASSERT_GT(on_123rd, 0);

  bl::BaselineResult q0 = bl::q0(config);
  EXPECT_EQ(q0.events, config.events);
  EXPECT_EQ(q0.results, static_cast<int64_t>(bids.size()));
  EXPECT_EQ(q0.final_rows, q0.results);
  EXPECT_EQ(bl::q1(config).results, static_cast<int64_t>(bids.size()));
  EXPECT_EQ(bl::q2(config).results, on_123rd);
}

TEST(NexmarkBaselineTest, ProgressCountsEveryEvent) {
  GeneratorConfig config = dense_config();
  bl::Progress progress{0};
  bl::q0(config, &progress);
  EXPECT_EQ(progress.load(), config.events);
}

TEST(NexmarkBaselineTest, Deterministic) {
  GeneratorConfig config = spread_config();
  for (std::string_view q : bl::baseline_queries()) {
    bl::BaselineResult a = bl::find_baseline(q)(config, nullptr);
    bl::BaselineResult b = bl::find_baseline(q)(config, nullptr);
    EXPECT_EQ(a.results, b.results) << q;
    EXPECT_EQ(a.checksum, b.checksum) << q;
  }
}

class NexmarkBaselineExpectationTest : public ::testing::TestWithParam<int> {
 protected:
  GeneratorConfig config() const {
    switch (GetParam()) {
      case 0:
        return dense_config();
      case 1:
        return spread_config();
      default:
        return shuffled_config();
    }
  }
};

TEST_P(NexmarkBaselineExpectationTest, WindowsJoinsAndAggregates) {
  GeneratorConfig config = this->config();
  std::vector<Event> events = generate(config);

  bl::BaselineResult q5 = bl::q5(config);
  EXPECT_EQ(q5.results, expected_q5(events));
  EXPECT_GT(q5.results, 0);

  bl::BaselineResult q7 = bl::q7(config);
  EXPECT_EQ(q7.results, expected_q7(events));
  EXPECT_GT(q7.results, 0);

  bl::BaselineResult q8 = bl::q8(config);
  EXPECT_EQ(q8.results, expected_q8(events));

  bl::BaselineResult q11 = bl::q11(config);
  EXPECT_EQ(q11.results, expected_q11(events));

  int64_t bids = static_cast<int64_t>(bids_of(events).size());
  bl::BaselineResult q17 = bl::q17(config);
  EXPECT_EQ(q17.results, bids);  // one upsert per bid
  EXPECT_EQ(q17.final_rows, expected_q17_groups(events));

  bl::BaselineResult q19 = bl::q19(config);
  EXPECT_EQ(q19.final_rows, expected_q19_rows(events));
  EXPECT_GE(q19.results, q19.final_rows);  // every final row was emitted at least once

  bl::BaselineResult q20 = bl::q20(config);
  EXPECT_EQ(q20.results, expected_q20(events));
  EXPECT_GT(q20.results, 0);
}

std::string config_name(const ::testing::TestParamInfo<int>& info) {
  switch (info.param) {
    case 0:
      return "Dense";
    case 1:
      return "Spread";
    default:
      return "Shuffled";
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, NexmarkBaselineExpectationTest, ::testing::Values(0, 1, 2),
                         config_name);

// The sessions span the run in the dense config, and end and restart in the spread one.
TEST(NexmarkBaselineTest, SessionsEndInTheSpreadConfig) {
  GeneratorConfig config = spread_config();
  std::vector<Event> events = generate(config);
  std::set<int64_t> bidders;
  for (const Bid& bid : bids_of(events)) bidders.insert(bid.bidder);
  EXPECT_GT(bl::q11(config).results, static_cast<int64_t>(bidders.size()));
}

// --- The baselines against the engine ---------------------------------------------------------

int64_t engine_results(const Query& query, const GeneratorConfig& config) {
  StreamEnvironment env;
  env.set_parallelism(1);
  query.build(env, config);
  JobResult job = env.execute("nexmark " + query.name);
  EXPECT_TRUE(job.ok()) << query.name << ": " << job.error;
  const OperatorStats* sink = job.find_operator("sink");
  EXPECT_NE(sink, nullptr) << query.name;
  return sink == nullptr ? -1 : static_cast<int64_t>(sink->records_in);
}

// Append-only queries emit one record per result row; q17 and q19 emit upserts, and both
// sides emit the same ones (q17: one per bid; q19: the rows of ranks r .. min(size, 10) when
// a bid enters at rank r), so every count compares.
TEST(NexmarkBaselineTest, SameResultCountsAsTheEngine) {
  for (const GeneratorConfig& config : {dense_config(), spread_config()}) {
    for (std::string_view name : bl::baseline_queries()) {
      const Query* query = find_query(name);
      ASSERT_NE(query, nullptr) << name << " is not registered";
      bl::BaselineResult expected = bl::find_baseline(name)(config, nullptr);
      EXPECT_EQ(engine_results(*query, config), expected.results)
          << name << " at " << config.events_per_second << " events/s of event time";
    }
  }
}

// The final table of the updating queries: the distinct keys of the engine's upserts.
TEST(NexmarkBaselineTest, SameFinalRowsAsTheEngineForUpdatingQueries) {
  GeneratorConfig config = spread_config();
  {
    StreamEnvironment env;
    std::vector<Q17Result> upserts;
    q17(events(env, config)).sink_to(sinks::collect(upserts));
    ASSERT_TRUE(env.execute("q17").ok());
    std::set<std::pair<int64_t, std::string>> keys;
    for (const Q17Result& r : upserts) keys.emplace(r.auction, r.day);
    EXPECT_EQ(static_cast<int64_t>(keys.size()), bl::q17(config).final_rows);
  }
  {
    StreamEnvironment env;
    std::vector<Q19Result> upserts;
    q19(events(env, config)).sink_to(sinks::collect(upserts));
    ASSERT_TRUE(env.execute("q19").ok());
    std::set<std::pair<int64_t, int64_t>> keys;
    for (const Q19Result& r : upserts) keys.emplace(r.auction, r.rank_number);
    EXPECT_EQ(static_cast<int64_t>(keys.size()), bl::q19(config).final_rows);
  }
}

}  // namespace
}  // namespace eddy::nexmark
