// Nexmark q0-q9 (bench/nexmark/queries_a.h): each query on generated events, at parallelism
// 1 and 3, against an expectation computed here by plain loops over Generator::event(n);
// and hand-written events for the subtle parts (window bounds, ties, BETWEEN bounds,
// bids that arrive before their auction).
#include "queries_a.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"
#include "nexmark/nexmark_test_util.h"

namespace eddy::nexmark {
namespace {

using test_support::generate;
using test_support::run_events;
using test_support::run_generated;

// ---------------------------------------------------------------------------------------
// Running a query
// ---------------------------------------------------------------------------------------

// Small, but long enough in event time for many 10 s windows (50 s of events) and with
// auctions whose lifetimes hold several bids.
GeneratorConfig small_config(int64_t events = 25'000) {
  GeneratorConfig config;
  config.events = events;
  config.events_per_second = 500;
  return config;
}

Event person(int64_t id, std::string name, std::string state, Timestamp t,
             std::string city = "Boise") {
  Person p;
  p.id = id;
  p.name = std::move(name);
  p.city = std::move(city);
  p.state = std::move(state);
  p.date_time = t;
  return Event{p};
}

Event auction(int64_t id, int64_t seller, int64_t category, Timestamp t, Timestamp expires) {
  Auction a;
  a.id = id;
  a.seller = seller;
  a.category = category;
  a.date_time = t;
  a.expires = expires;
  a.item_name = "item" + std::to_string(id);
  return Event{a};
}

Event bid(int64_t auction, int64_t bidder, int64_t price, Timestamp t, std::string extra = "") {
  Bid b;
  b.auction = auction;
  b.bidder = bidder;
  b.price = price;
  b.date_time = t;
  b.channel = "web";
  b.extra = std::move(extra);
  return Event{b};
}

// Sort keys for rows without operator<.
auto key_of(const Q0Result& r) {
  return std::tie(r.date_time, r.auction, r.bidder, r.price, r.extra);
}
auto key_of(const Q1Result& r) {
  return std::tie(r.date_time, r.auction, r.bidder, r.price_milli, r.extra);
}
auto key_of(const Q9Result& r) {
  return std::tie(r.auction.id, r.bid.price, r.bid.date_time, r.bid.bidder);
}

template <class T>
std::vector<T> sorted(std::vector<T> rows) {
  if constexpr (requires(const T& a) { a < a; }) {
    std::sort(rows.begin(), rows.end());
  } else {
    std::sort(rows.begin(), rows.end(),
              [](const T& a, const T& b) { return key_of(a) < key_of(b); });
  }
  return rows;
}

// The final row per key of an upsert stream, in key order.
std::map<int64_t, int64_t> final_averages(const std::vector<Q4Result>& upserts) {
  std::map<int64_t, int64_t> last;
  for (const Q4Result& r : upserts) last[r.category] = r.average;
  return last;
}

class NexmarkQueriesA : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Parallelism, NexmarkQueriesA, ::testing::Values(1, 3));

// ---------------------------------------------------------------------------------------
// Expectations, computed directly from the events
// ---------------------------------------------------------------------------------------

Q0Result bid_row(const Bid& b) {
  return Q0Result{b.auction, b.bidder, b.price, b.date_time, b.extra};
}

bool in_lifetime(const Bid& b, const Auction& a) {
  return b.date_time >= a.date_time && b.date_time <= a.expires;
}

std::map<int64_t, Auction> auctions_by_id(const std::vector<Event>& events) {
  std::map<int64_t, Auction> auctions;
  for (const Event& e : events) {
    if (e.is_auction()) auctions.emplace(e.auction().id, e.auction());
  }
  return auctions;
}

// ---------------------------------------------------------------------------------------
// q0, q1, q2
// ---------------------------------------------------------------------------------------

TEST_P(NexmarkQueriesA, Q0PassesEveryBidThrough) {
  GeneratorConfig config = small_config();
  std::vector<Q0Result> expected;
  for (const Event& e : generate(config)) {
    if (e.is_bid()) expected.push_back(bid_row(e.bid()));
  }
  ASSERT_GT(expected.size(), 20'000u);
  EXPECT_EQ(sorted(run_generated(&q0, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesA, Q1ConvertsPricesToEurosExactly) {
  GeneratorConfig config = small_config();
  std::vector<Q1Result> expected;
  for (const Event& e : generate(config)) {
    if (!e.is_bid()) continue;
    const Bid& b = e.bid();
    expected.push_back(Q1Result{b.auction, b.bidder, b.price * 908, b.date_time, b.extra});
  }
  std::vector<Q1Result> results = run_generated(&q1, config, GetParam());
  EXPECT_EQ(sorted(results), sorted(expected));
  ASSERT_FALSE(results.empty());
  EXPECT_DOUBLE_EQ(results[0].price(), 0.908 * static_cast<double>(results[0].price_milli / 908));
}

TEST_P(NexmarkQueriesA, Q2SelectsEvery123rdAuction) {
  GeneratorConfig config = small_config(50'000);
  std::vector<Q2Result> expected;
  for (const Event& e : generate(config)) {
    if (e.is_bid() && e.bid().auction % 123 == 0)
      expected.push_back(Q2Result{e.bid().auction, e.bid().price});
  }
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(sorted(run_generated(&q2, config, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q3
// ---------------------------------------------------------------------------------------

std::vector<Q3Result> expected_q3(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<const Person*>> sellers;
  for (const Event& e : events) {
    if (!e.is_person()) continue;
    const Person& p = e.person();
    if (p.state == "OR" || p.state == "ID" || p.state == "CA") sellers[p.id].push_back(&p);
  }
  std::vector<Q3Result> expected;
  for (const Event& e : events) {
    if (!e.is_auction() || e.auction().category != 10) continue;
    auto it = sellers.find(e.auction().seller);
    if (it == sellers.end()) continue;
    for (const Person* p : it->second)
      expected.push_back(Q3Result{p->name, p->city, p->state, e.auction().id});
  }
  return expected;
}

TEST_P(NexmarkQueriesA, Q3JoinsLocalSellersWithTheirCategory10Auctions) {
  GeneratorConfig config = small_config();
  std::vector<Q3Result> expected = expected_q3(generate(config));
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(sorted(run_generated(&q3, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesA, Q3JoinsWhicheverSideComesFirstAndFilters) {
  std::vector<Event> input = {
      auction(100, 1, 10, 1000, 2000),                                       // before its seller
      person(1, "Ann", "OR", 1100),        auction(101, 1, 10, 1200, 2000),  // after its seller
      auction(102, 1, 11, 1300, 2000),                                       // other category
      person(2, "Bob", "WA", 1400),                                          // other state
      auction(103, 2, 10, 1500, 2000),     person(3, "Cid", "CA", 1600),
      auction(104, 3, 10, 90'000, 99'000),  // much later
      auction(105, 4, 10, 1700, 2000),      // a seller that never registers
  };
  std::vector<Q3Result> expected = {
      {"Ann", "Boise", "OR", 100}, {"Ann", "Boise", "OR", 101}, {"Cid", "Boise", "CA", 104}};
  EXPECT_EQ(sorted(run_events(&q3, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q4
// ---------------------------------------------------------------------------------------

std::map<int64_t, int64_t> expected_q4(const std::vector<Event>& events) {
  std::map<int64_t, Auction> auctions = auctions_by_id(events);
  std::map<int64_t, int64_t> max_price;  // by auction
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    auto it = auctions.find(e.bid().auction);
    if (it == auctions.end() || !in_lifetime(e.bid(), it->second)) continue;
    auto [slot, added] = max_price.emplace(it->first, e.bid().price);
    if (!added) slot->second = std::max(slot->second, e.bid().price);
  }
  std::map<int64_t, std::pair<int64_t, int64_t>> sum_count;  // by category
  for (const auto& [id, max] : max_price) {
    auto& [sum, count] = sum_count[auctions.at(id).category];
    sum += max;
    ++count;
  }
  std::map<int64_t, int64_t> averages;
  for (const auto& [category, sc] : sum_count) averages[category] = sc.first / sc.second;
  return averages;
}

TEST_P(NexmarkQueriesA, Q4AveragesTheWinningPricesPerCategory) {
  GeneratorConfig config = small_config();
  std::map<int64_t, int64_t> expected = expected_q4(generate(config));
  ASSERT_GE(expected.size(), 3u);
  EXPECT_EQ(final_averages(run_generated(&q4, config, GetParam())), expected);
}

// A thousand events per millisecond: bids share their auction's millisecond, and bids on
// auctions a few ids ahead (which the generator makes) arrive before their auction yet
// fall within its lifetime.
TEST_P(NexmarkQueriesA, Q4JoinsBidsThatArriveBeforeTheirAuctionAtDenseEventTimes) {
  GeneratorConfig config = small_config(30'000);
  config.events_per_second = 1'000'000;
  EXPECT_EQ(final_averages(run_generated(&q4, config, GetParam())), expected_q4(generate(config)));
}

TEST_P(NexmarkQueriesA, Q4CountsBidsWithinTheAuctionsLifetimeBoundsIncluded) {
  std::vector<Event> input = {
      bid(1, 7, 400, 1000),  // before its auction, at its start: counts
      auction(1, 9, 20, 1000, 2000),
      bid(1, 7, 900, 999),  // before the start
      bid(1, 7, 300, 1500),
      bid(1, 7, 500, 2000),  // at the end: counts
      bid(1, 7, 990, 2001),  // after the end
      auction(2, 9, 20, 1500, 3000),
      bid(2, 7, 100, 1600),
      bid(2, 7, 250, 1700),  // raises auction 2's max: 500 + 250 -> 375
      auction(3, 9, 30, 1500, 3000),
      bid(3, 7, 60, 3500),   // no bid within its lifetime: not in the average
      bid(4, 7, 999, 1600),  // an auction that never comes
  };
  std::vector<Q4Result> results = run_events(&q4, input, GetParam());
  EXPECT_EQ(final_averages(results), (std::map<int64_t, int64_t>{{20, 375}}));
  // Category 20's averages in order: 400, then 500 (auction 1's max rises), then
  // (500 + 100) / 2 = 300, then (500 + 250) / 2 = 375. (In parallel, the changes of
  // auctions 1 and 2 come from different subtasks, in either order.)
  if (GetParam() == 1) {
    EXPECT_EQ(results, (std::vector<Q4Result>{{20, 400}, {20, 500}, {20, 300}, {20, 375}}));
  }
}

TEST_P(NexmarkQueriesA, Q4EmitsOnlyWhenTheAverageChanges) {
  std::vector<Event> input = {
      auction(1, 9, 20, 1000, 9000), bid(1, 7, 100, 1100),
      auction(2, 9, 20, 1000, 9000), bid(2, 7, 101, 1200),  // (100 + 101) / 2 = 100: unchanged
      bid(1, 7, 102, 1300),                                 // (102 + 101) / 2 = 101
  };
  std::vector<Q4Result> results = run_events(&q4, input, GetParam());
  EXPECT_EQ(final_averages(results), (std::map<int64_t, int64_t>{{20, 101}}));
  if (GetParam() == 1) {
    EXPECT_EQ(results, (std::vector<Q4Result>{{20, 100}, {20, 101}}));
  }
}

// ---------------------------------------------------------------------------------------
// q5
// ---------------------------------------------------------------------------------------

std::vector<Q5Result> expected_q5(const std::vector<Event>& events) {
  std::map<Timestamp, std::map<int64_t, int64_t>> counts;  // window start -> auction -> bids
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    Timestamp t = e.bid().date_time;
    for (Timestamp start = t - t % 2000; start > t - 10'000; start -= 2000)
      ++counts[start][e.bid().auction];
  }
  std::vector<Q5Result> expected;
  for (const auto& [start, by_auction] : counts) {
    int64_t max = 0;
    for (const auto& [auction, n] : by_auction) max = std::max(max, n);
    for (const auto& [auction, n] : by_auction) {
      if (n == max) expected.push_back(Q5Result{auction, n, start, start + 10'000});
    }
  }
  return expected;
}

TEST_P(NexmarkQueriesA, Q5FindsTheAuctionsWithTheMostBidsPerSlidingWindow) {
  GeneratorConfig config = small_config();
  std::vector<Q5Result> expected = expected_q5(generate(config));
  ASSERT_GT(expected.size(), 20u);
  EXPECT_EQ(sorted(run_generated(&q5, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesA, Q5KeepsEveryAuctionTiedForTheMost) {
  Timestamp base = 1'000'000;  // a multiple of the slide
  std::vector<Event> input = {
      bid(1, 7, 10, base + 100),  bid(2, 7, 10, base + 200), bid(1, 7, 10, base + 1999),
      bid(2, 7, 10, base + 2000),  // from here on, auction 2 has as many bids as 1
      bid(3, 7, 10, base + 9999),
  };
  std::vector<Q5Result> expected;
  // Windows holding base + 100 .. base + 1999 (starts base - 8000 .. base) and the ones
  // that hold only later bids (starts base + 2000 .. base + 8000).
  for (Timestamp start = base - 8000; start <= base + 8000; start += 2000) {
    std::map<int64_t, int64_t> n;
    for (const Event& e : input) {
      Timestamp t = e.bid().date_time;
      if (t >= start && t < start + 10'000) ++n[e.bid().auction];
    }
    int64_t max = 0;
    for (auto [a, c] : n) max = std::max(max, c);
    for (auto [a, c] : n) {
      if (c == max) expected.push_back(Q5Result{a, c, start, start + 10'000});
    }
  }
  // Spot checks of the hand-computed cases: [base - 8000, base + 2000) has 1 twice, 2 once.
  EXPECT_NE(std::find(expected.begin(), expected.end(), Q5Result{1, 2, base - 8000, base + 2000}),
            expected.end());
  // [base, base + 10000) has 1 and 2 twice each, 3 once: both 1 and 2.
  EXPECT_NE(std::find(expected.begin(), expected.end(), Q5Result{1, 2, base, base + 10'000}),
            expected.end());
  EXPECT_NE(std::find(expected.begin(), expected.end(), Q5Result{2, 2, base, base + 10'000}),
            expected.end());
  EXPECT_EQ(sorted(run_events(&q5, input, GetParam())), sorted(expected));
}

// An auction with bids over 16 s (more panes than a window has), next to others, with the
// watermark close behind and with no watermark before the end of input (when every pane
// reaches the later stages at once).
TEST_P(NexmarkQueriesA, Q5CountsAuctionsWhoseBidsSpanManyWindows) {
  Timestamp base = 1'000'000;
  std::vector<Event> input;
  for (int i = 0; i < 17; ++i) {
    input.push_back(bid(1, 7, 10, base + i * 1000));
    if (i % 3 == 0) input.push_back(bid(2, 7, 10, base + i * 1000 + 1));
    if (i % 5 == 0) {
      input.push_back(bid(3, 7, 10, base + i * 1000 + 2));
      input.push_back(bid(3, 7, 10, base + i * 1000 + 3));
    }
  }
  std::vector<Q5Result> expected = expected_q5(input);
  for (int64_t delay : {int64_t{1}, int64_t{1'000'000'000}}) {
    EXPECT_EQ(sorted(run_events(&q5, input, GetParam(), delay)), sorted(expected))
        << "delay " << delay;
  }
}

// ---------------------------------------------------------------------------------------
// q7
// ---------------------------------------------------------------------------------------

std::vector<Q7Result> expected_q7(const std::vector<Event>& events) {
  std::map<Timestamp, int64_t> max_price;  // by window start
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    Timestamp start = e.bid().date_time - e.bid().date_time % 10'000;
    auto [slot, added] = max_price.emplace(start, e.bid().price);
    if (!added) slot->second = std::max(slot->second, e.bid().price);
  }
  // The reference's join: B.dateTime BETWEEN window_end - 10 s AND window_end.
  std::vector<Q7Result> expected;
  for (const auto& [start, max] : max_price) {
    for (const Event& e : events) {
      if (e.is_bid() && e.bid().date_time >= start && e.bid().date_time <= start + 10'000 &&
          e.bid().price == max) {
        expected.push_back(bid_row(e.bid()));
      }
    }
  }
  return expected;
}

TEST_P(NexmarkQueriesA, Q7FindsTheHighestBidsPerTumblingWindow) {
  GeneratorConfig config = small_config();
  std::vector<Event> events = generate(config);
  std::vector<Q7Result> expected = expected_q7(events);
  ASSERT_GE(expected.size(), 5u);
  EXPECT_EQ(sorted(run_generated(&q7, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesA, Q7KeepsTiesAndComparesABidAtAWindowEndWithThatWindow) {
  Timestamp base = 1'000'000;  // a window start
  std::vector<Event> input = {
      bid(1, 1, 50, base + 1),
      bid(2, 2, 100, base + 5000, "tie-a"),
      bid(3, 3, 100, base + 9999, "tie-b"),
      bid(4, 4, 70, base + 9999),
      // At the next window's start: in [base + 10000, base + 20000), and, at the end of the
      // first window's closed interval, compared with its highest price too.
      bid(5, 5, 100, base + 10'000, "boundary"),
      bid(6, 6, 90, base + 12'000),
      bid(7, 7, 80, base + 20'000),  // the next boundary, not the highest of the second window
      bid(8, 8, 120, base + 25'000),
  };
  Q0Result tie_a{2, 2, 100, base + 5000, "tie-a"};
  Q0Result tie_b{3, 3, 100, base + 9999, "tie-b"};
  Q0Result boundary{5, 5, 100, base + 10'000, "boundary"};
  Q0Result last{8, 8, 120, base + 25'000, ""};
  // The boundary bid twice: for the first window (equal to its highest) and as the
  // highest of the second.
  std::vector<Q7Result> expected = {tie_a, tie_b, boundary, boundary, last};
  EXPECT_EQ(sorted(expected_q7(input)), sorted(expected));  // the reference loop agrees
  EXPECT_EQ(sorted(run_events(&q7, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q8
// ---------------------------------------------------------------------------------------

std::vector<Q8Result> expected_q8(const std::vector<Event>& events) {
  std::set<std::tuple<int64_t, std::string, Timestamp>> people;
  std::set<std::pair<int64_t, Timestamp>> sellers;
  for (const Event& e : events) {
    Timestamp start = e.timestamp() - e.timestamp() % 10'000;
    if (e.is_person()) people.emplace(e.person().id, e.person().name, start);
    if (e.is_auction()) sellers.emplace(e.auction().seller, start);
  }
  std::vector<Q8Result> expected;
  for (const auto& [id, name, start] : people) {
    if (sellers.count({id, start})) expected.push_back(Q8Result{id, name, start});
  }
  return expected;
}

TEST_P(NexmarkQueriesA, Q8FindsNewUsersWhoSellInTheirFirstWindow) {
  GeneratorConfig config = small_config();
  std::vector<Q8Result> expected = expected_q8(generate(config));
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(sorted(run_generated(&q8, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesA, Q8JoinsWithinOneWindowOncePerPerson) {
  Timestamp base = 1'000'000;  // a window start
  std::vector<Event> input = {
      auction(10, 1, 10, base + 10, base + 99'000),  // before the person, same window
      person(1, "Ann", "OR", base + 500),
      auction(11, 1, 10, base + 600, base + 99'000),  // a second auction: still one row
      person(2, "Bob", "OR", base + 9999),
      auction(12, 2, 10, base + 10'000, base + 99'000),  // the next window
      person(3, "Cid", "OR", base + 10'001),
      auction(13, 3, 10, base + 19'999, base + 99'000),
  };
  std::vector<Q8Result> expected = {{1, "Ann", base}, {3, "Cid", base + 10'000}};
  EXPECT_EQ(sorted(run_events(&q8, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q9
// ---------------------------------------------------------------------------------------

std::vector<Q9Result> expected_q9(const std::vector<Event>& events) {
  std::map<int64_t, Auction> auctions = auctions_by_id(events);
  std::map<int64_t, Bid> best;
  auto better = [](const Bid& a, const Bid& b) {
    return std::make_tuple(-a.price, a.date_time, a.bidder, a.channel, a.url, a.extra) <
           std::make_tuple(-b.price, b.date_time, b.bidder, b.channel, b.url, b.extra);
  };
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    auto it = auctions.find(e.bid().auction);
    if (it == auctions.end() || !in_lifetime(e.bid(), it->second)) continue;
    auto [slot, added] = best.emplace(it->first, e.bid());
    if (!added && better(e.bid(), slot->second)) slot->second = e.bid();
  }
  std::vector<Q9Result> expected;
  for (const auto& [id, b] : best) expected.push_back(Q9Result{auctions.at(id), b});
  return expected;
}

TEST_P(NexmarkQueriesA, Q9FindsTheWinningBidOfEachAuction) {
  GeneratorConfig config = small_config();
  std::vector<Q9Result> expected = expected_q9(generate(config));
  ASSERT_GT(expected.size(), 100u);
  std::vector<Q9Result> results = sorted(run_generated(&q9, config, GetParam()));
  ASSERT_EQ(results.size(), expected.size());
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(results[i], expected[i]) << "result " << results[i] << " expected " << expected[i];
  }
}

TEST_P(NexmarkQueriesA, Q9JoinsBidsThatArriveBeforeTheirAuctionAtDenseEventTimes) {
  GeneratorConfig config = small_config(30'000);
  config.events_per_second = 1'000'000;
  std::vector<Q9Result> expected = expected_q9(generate(config));
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(sorted(run_generated(&q9, config, GetParam())), expected);
}

TEST_P(NexmarkQueriesA, Q9BreaksTiesByTimeAndHonoursTheLifetimeBounds) {
  std::vector<Event> input = {
      bid(1, 5, 300, 1000),  // before its auction, at its start
      auction(1, 9, 10, 1000, 2000),
      bid(1, 6, 300, 1500),  // same price, later: loses
      bid(1, 4, 900, 999),   // before the start
      bid(1, 4, 999, 2001),  // after the end
      auction(2, 9, 10, 1000, 2000),
      bid(2, 8, 200, 2000),  // at the end
      bid(2, 7, 200, 2000),  // same price and time, lower bidder: wins
      auction(3, 9, 10, 1000, 2000),
      bid(3, 7, 50, 2500),  // none within its lifetime: no row
      // Long after: the watermark passes the auctions' ends while the stream runs.
      auction(4, 9, 10, 60'000, 61'000),
      bid(4, 3, 10, 60'500),
  };
  std::vector<Q9Result> results = sorted(run_events(&q9, input, GetParam()));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].auction.id, 1);
  EXPECT_EQ(results[0].bid.bidder, 5);
  EXPECT_EQ(results[0].bid.date_time, 1000);
  EXPECT_EQ(results[0].auction.item_name, "item1");
  EXPECT_EQ(results[1].auction.id, 2);
  EXPECT_EQ(results[1].bid.bidder, 7);
  EXPECT_EQ(results[2].auction.id, 4);
  EXPECT_EQ(results, sorted(expected_q9(input)));
}

// ---------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------

TEST(NexmarkQueriesARegistry, EveryQueryBuildsAJobThatRunsIntoASinkNamedSink) {
  for (const char* name : {"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q9"}) {
    const Query* query = find_query(name);
    ASSERT_NE(query, nullptr) << name;
    EXPECT_FALSE(query->description.empty());
    StreamEnvironment env;
    env.set_parallelism(2);
    query->build(env, small_config(5000));
    JobResult job = env.execute(name);
    ASSERT_TRUE(job.ok()) << name << ": " << job.error;
    bool has_sink = false;
    for (const auto& op : job.operators) has_sink = has_sink || op.name == "sink";
    EXPECT_TRUE(has_sink) << name;
  }
}

}  // namespace
}  // namespace eddy::nexmark
