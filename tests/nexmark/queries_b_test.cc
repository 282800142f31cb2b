// Nexmark q11-q22 (bench/nexmark/queries_b.h): each query on generated events, at parallelism
// 1 and 3, against an expectation computed here by plain loops over Generator::event(n); and
// hand-written events for the subtle parts (session gaps, hour and price bounds, URL parsing,
// top-10 replacement, join order).
//
// Updating queries (q15-q19) emit upserts; their results are compared as the final row per
// key (the last one emitted: a key's rows all pass through one subtask, in order).
#include "queries_b.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
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
using test_support::ResultOf;
using test_support::run_events;
using test_support::run_generated;

constexpr Timestamp kBaseTime = 1'436'918'400'000;  // 2015-07-15T00:00:00Z
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

// ---------------------------------------------------------------------------------------
// Running a query
// ---------------------------------------------------------------------------------------

GeneratorConfig config_of(int64_t events, double events_per_second,
                          Timestamp base_time = kBaseTime) {
  GeneratorConfig config;
  config.events = events;
  config.events_per_second = events_per_second;
  config.base_time_ms = base_time;
  return config;
}

std::vector<Bid> generated_bids(const GeneratorConfig& config) {
  std::vector<Bid> bids;
  for (Event& e : generate(config)) {
    if (e.is_bid()) bids.push_back(std::move(e.bid()));
  }
  return bids;
}

// The state backends the stateful queries are checked on (q15/q16 lay their state out per
// backend).
constexpr const char* kBackends[] = {"heap", "rocksdb"};

Event bid(int64_t auction, int64_t bidder, int64_t price, Timestamp t, std::string channel = "web",
          std::string url = "", std::string extra = "") {
  Bid b;
  b.auction = auction;
  b.bidder = bidder;
  b.price = price;
  b.date_time = t;
  b.channel = std::move(channel);
  b.url = std::move(url);
  b.extra = std::move(extra);
  return Event{b};
}

Event auction(int64_t id, int64_t category, Timestamp t) {
  Auction a;
  a.id = id;
  a.category = category;
  a.date_time = t;
  a.expires = t + 10'000;
  a.seller = 7;
  a.item_name = "item" + std::to_string(id);
  a.extra = "auction extra";
  return Event{a};
}

Event person(int64_t id, Timestamp t) {
  Person p;
  p.id = id;
  p.date_time = t;
  return Event{p};
}

// Rows in a canonical order (their serialized bytes), to compare as multisets.
template <class T>
std::vector<T> sorted(std::vector<T> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const T& a, const T& b) { return serialize(a) < serialize(b); });
  return rows;
}

// The last row per key of an upsert stream.
template <class T, class KeyFn>
auto final_rows(const std::vector<T>& upserts, KeyFn key) {
  std::map<std::decay_t<decltype(key(upserts.front()))>, T> last;
  for (const T& row : upserts) last.insert_or_assign(key(row), row);
  return last;
}

class NexmarkQueriesB : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Parallelism, NexmarkQueriesB, ::testing::Values(1, 3));

// ---------------------------------------------------------------------------------------
// Expectations: plain formulas, written apart from the queries
// ---------------------------------------------------------------------------------------

std::string utc(Timestamp t, const char* format) {
  std::time_t seconds = static_cast<std::time_t>(t / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}
std::string day_of(Timestamp t) { return utc(t, "%Y-%m-%d"); }
std::string minute_of(Timestamp t) { return utc(t, "%H:%M"); }

int rank_of(int64_t price) {
  if (price < 10'000) return 1;
  if (price < 1'000'000) return 2;
  return 3;
}

// count(*), count(distinct bidder) and count(distinct auction) in total and per rank.
struct ExpectedStats {
  int64_t bids[4] = {};
  std::set<int64_t> bidders[4];
  std::set<int64_t> auctions[4];
  std::string max_minute;
  void add(const Bid& b) {
    for (int r : {0, rank_of(b.price)}) {
      ++bids[r];
      bidders[r].insert(b.bidder);
      auctions[r].insert(b.auction);
    }
    max_minute = std::max(max_minute, minute_of(b.date_time));
  }
  RankCounts counts() const {
    RankCounts c;
    for (size_t r = 0; r < 4; ++r) {
      c.bids[r] = bids[r];
      c.bidders[r] = static_cast<int64_t>(bidders[r].size());
      c.auctions[r] = static_cast<int64_t>(auctions[r].size());
    }
    return c;
  }
};

// ---------------------------------------------------------------------------------------
// The SQL functions
// ---------------------------------------------------------------------------------------

TEST(NexmarkFunctionsB, DatesAndHoursAreUtcAndFloorNegativeTimes) {
  EXPECT_EQ(format_day(0), "1970-01-01");
  EXPECT_EQ(format_day(-1), "1969-12-31");
  EXPECT_EQ(format_day(kBaseTime + kDay - 1), "2015-07-15");
  EXPECT_EQ(format_day(kBaseTime + kDay), "2015-07-16");
  EXPECT_EQ(format_day(951'782'400'000), "2000-02-29");
  EXPECT_EQ(format_minute(kBaseTime + 23 * kHour + 59 * 60'000 + 59'999), "23:59");
  EXPECT_EQ(format_minute(kBaseTime + 7 * kHour + 5 * 60'000), "07:05");
  EXPECT_EQ(format_minute(-1), "23:59");
  EXPECT_EQ(hour_of_day(kBaseTime + 8 * kHour - 1), 7);
  EXPECT_EQ(hour_of_day(-1), 23);
}

TEST(NexmarkFunctionsB, HotChannelsCompareAsJavaLowercases) {
  EXPECT_EQ(hot_channel_index("Apple"), 0);
  EXPECT_EQ(hot_channel_index("GOOGLE"), 1);
  EXPECT_EQ(hot_channel_index("FaceBook"), 2);
  EXPECT_EQ(hot_channel_index("faceboo\xE2\x84\xAA"), 2);  // KELVIN SIGN lowercases to 'k'
  EXPECT_EQ(hot_channel_index("baidu"), 3);
  EXPECT_EQ(hot_channel_index("baid"), -1);
  EXPECT_EQ(hot_channel_index("baidu "), -1);
  EXPECT_EQ(hot_channel_index("channel-1"), -1);
  EXPECT_EQ(hot_channel_index(""), -1);
}

TEST(NexmarkFunctionsB, ChannelIdIsTheFirstParameterAtTheStartOrAfterAnAmpersand) {
  using V = std::optional<std::string_view>;
  EXPECT_EQ(extract_channel_id("https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=123"),
            V("123"));
  EXPECT_EQ(extract_channel_id("channel_id=7&x=1"), V("7"));
  EXPECT_EQ(extract_channel_id("&channel_id=7"), V("7"));
  EXPECT_EQ(extract_channel_id("a?q=1&channel_id="), V(""));
  EXPECT_EQ(extract_channel_id("a?q=1&channel_id=&x=2"), V(""));
  EXPECT_EQ(extract_channel_id("a?channel_id=5"), std::nullopt);  // after '?', not '&'
  EXPECT_EQ(extract_channel_id("a?q=1&xchannel_id=5"), std::nullopt);
  EXPECT_EQ(extract_channel_id("a?q=1&xchannel_id=5&channel_id=6"), V("6"));
  EXPECT_EQ(extract_channel_id("a&channel_id=9&channel_id=10"), V("9"));
  EXPECT_EQ(extract_channel_id("a&channel_id"), std::nullopt);
  EXPECT_EQ(extract_channel_id("https://www.nexmark.com/a/b/c/item.htm?query=1"), std::nullopt);
  EXPECT_EQ(extract_channel_id(""), std::nullopt);
}

TEST(NexmarkFunctionsB, SplitIndexKeepsEmptyPartsAndIsNullOutOfRange) {
  using V = std::optional<std::string_view>;
  const std::string url = "https://www.nexmark.com/abc/def/item.htm?query=1";
  EXPECT_EQ(split_index(url, '/', 0), V("https:"));
  EXPECT_EQ(split_index(url, '/', 1), V(""));
  EXPECT_EQ(split_index(url, '/', 2), V("www.nexmark.com"));
  EXPECT_EQ(split_index(url, '/', 3), V("abc"));
  EXPECT_EQ(split_index(url, '/', 5), V("item.htm?query=1"));
  EXPECT_EQ(split_index(url, '/', 6), std::nullopt);
  EXPECT_EQ(split_index(url, '/', -1), std::nullopt);
  EXPECT_EQ(split_index("a/b/", '/', 2), V(""));  // a trailing empty part counts
  EXPECT_EQ(split_index("a/b/", '/', 3), std::nullopt);
  EXPECT_EQ(split_index("/", '/', 1), V(""));
  EXPECT_EQ(split_index("abc", '/', 0), V("abc"));
  EXPECT_EQ(split_index("", '/', 0), std::nullopt);  // no parts at all
}

// ---------------------------------------------------------------------------------------
// q11: sessions
// ---------------------------------------------------------------------------------------

constexpr int64_t kSessionGap = 10'000;

// Sessions by bidder: a bid more than the gap after the session's last bid starts a new one.
std::vector<BidderWindowCount> expected_sessions(const std::vector<Bid>& bids) {
  std::map<int64_t, std::vector<BidderWindowCount>> sessions;  // end = last bid + gap
  for (const Bid& b : bids) {
    std::vector<BidderWindowCount>& mine = sessions[b.bidder];
    if (mine.empty() || b.date_time > mine.back().end) {
      mine.push_back(BidderWindowCount{b.bidder, 0, b.date_time, 0});
    }
    ++mine.back().bid_count;
    mine.back().end = std::max(mine.back().end, b.date_time + kSessionGap);
  }
  std::vector<BidderWindowCount> all;
  for (auto& [bidder, mine] : sessions) all.insert(all.end(), mine.begin(), mine.end());
  return all;
}

TEST_P(NexmarkQueriesB, Q11CountsBidsPerBidderSession) {
  // 20 events a second for 1000 s: hot bidders bid every few seconds, others minutes apart.
  GeneratorConfig config = config_of(20'000, 20);
  std::vector<BidderWindowCount> expected = expected_sessions(generated_bids(config));
  std::set<int64_t> bidders;
  for (const BidderWindowCount& s : expected) bidders.insert(s.bidder);
  ASSERT_GT(expected.size(), 2 * bidders.size())
      << "the input should give bidders several sessions";
  ASSERT_GT(std::count_if(expected.begin(), expected.end(),
                          [](const auto& s) { return s.bid_count > 2; }),
            100);
  EXPECT_EQ(sorted(run_generated(&q11, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesB, Q11SessionsMergeWhenBidsAreAtMostTheGapApart) {
  std::vector<Event> input = {
      bid(1, 1, 10, 0),       // bidder 1
      bid(1, 2, 10, 5'000),   // bidder 2: a session of its own
      bid(1, 1, 10, 10'000),  // the gap after bidder 1's first: the sessions touch, one session
      bid(1, 1, 10, 20'001),  // 10'001 after: a new session
      bid(1, 3, 10, 50'000),  // bidder 3
      bid(1, 3, 10, 65'000),  // 15 s after: another session, for now
      bid(1, 3, 10, 58'000),  // late, but before the watermark reaches it: bridges the two
      person(1, 70'000),      // events that move the watermark on
      auction(1, 10, 71'000),
  };
  std::vector<BidderWindowCount> expected = {
      {1, 2, 0, 20'000}, {1, 1, 20'001, 30'001}, {2, 1, 5'000, 15'000}, {3, 3, 50'000, 75'000}};
  EXPECT_EQ(sorted(run_events(&q11, input, GetParam(), /*delay=*/8'000)), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q12: processing-time windows
// ---------------------------------------------------------------------------------------

// A source for processing-time tests: one subtask emits `events`, setting `clock` to each
// event's date_time just before emitting it. At parallelism 1 the whole job is one chain in
// the source's thread, so each bid meets the window operator at its date_time. After the
// events it moves the clock on by 10 s per poll, so that every window fires, and stays open
// until release() (or a time limit, so that a broken test fails instead of hanging): at the
// end of bounded input, processing-time windows still open are not fired.
class ClockedEventSource final : public Source<Event> {
 public:
  ClockedEventSource(std::vector<Event> events, std::shared_ptr<ManualClock> clock)
      : events_(std::move(events)),
        clock_(std::move(clock)),
        released_(std::make_shared<std::atomic<bool>>()) {}

  void release() const { released_->store(true); }

  bool bounded() const override { return true; }
  std::optional<int> max_source_parallelism() const override { return 1; }
  std::unique_ptr<SplitEnumerator> create_enumerator(
      SplitEnumeratorContext& context) const override {
    SplitList splits;
    splits.push_back(std::make_unique<WholeSplit>());
    return std::make_unique<StaticSplitEnumerator>(context, std::move(splits));
  }
  std::unique_ptr<SourceReader<Event>> create_reader(SourceReaderContext& context) const override {
    return std::make_unique<Reader>(context, *this);
  }

 private:
  struct WholeSplit final : SourceSplit {
    std::string split_id() const override { return "events"; }
    std::string describe() const override { return "events"; }
    std::unique_ptr<SourceSplit> clone() const override { return std::make_unique<WholeSplit>(); }
  };

  class Reader final : public SourceReader<Event> {
   public:
    Reader(SourceReaderContext& context, const ClockedEventSource& source)
        : context_(context), source_(source) {}
    void start() override { context_.send_split_request(); }
    InputStatus poll_next(SourceOutput<Event>& output) override {
      if (!has_split_) return no_more_ ? InputStatus::kEndOfInput : InputStatus::kNothingAvailable;
      if (next_ < source_.events_.size()) {
        const Event& e = source_.events_[next_++];
        source_.clock_->set(e.timestamp());
        output.collect(e);
        return InputStatus::kMoreAvailable;
      }
      if (held_since_ == std::chrono::steady_clock::time_point{}) {
        held_since_ = std::chrono::steady_clock::now();
      }
      if (!source_.released_->load() &&
          std::chrono::steady_clock::now() - held_since_ < std::chrono::seconds(20)) {
        source_.clock_->advance(10'000);
        context_.poll_again_after(std::chrono::milliseconds(1));
        return InputStatus::kNothingAvailable;
      }
      return InputStatus::kEndOfInput;
    }
    void add_splits(SplitList splits) override { has_split_ = has_split_ || !splits.empty(); }
    void notify_no_more_splits() override { no_more_ = true; }
    SplitList snapshot_state() override { return {}; }

   private:
    SourceReaderContext& context_;
    const ClockedEventSource& source_;
    bool has_split_ = false;
    bool no_more_ = false;
    size_t next_ = 0;
    std::chrono::steady_clock::time_point held_since_{};
  };

  std::vector<Event> events_;
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<std::atomic<bool>> released_;
};

// Runs q12 over `input` arriving at their date_times (processing time); the job ends once
// the windows counted `total_bids` bids.
std::vector<BidderWindowCount> run_q12(std::vector<Event> input, int64_t total_bids,
                                       int parallelism) {
  auto clock = std::make_shared<ManualClock>(input.front().timestamp());
  auto source = std::make_shared<ClockedEventSource>(std::move(input), clock);
  auto counted = std::make_shared<std::atomic<int64_t>>(0);
  auto results = std::make_shared<std::vector<BidderWindowCount>>();
  auto mutex = std::make_shared<std::mutex>();
  StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.set_clock(clock);
  q12(env.from_source(source, "clocked events"))
      .sink_to(sinks::callback([=](BidderWindowCount&& c) {
        {
          std::lock_guard<std::mutex> lock(*mutex);
          results->push_back(c);
        }
        if (counted->fetch_add(c.bid_count) + c.bid_count == total_bids) source->release();
      }));
  JobResult job = env.execute("nexmark q12 test");
  EXPECT_TRUE(job.ok()) << job.error;
  return *results;
}

TEST_P(NexmarkQueriesB, Q12CountsBidsPerBidderPerProcessingTimeWindow) {
  // A bid every 10 ms of processing time: 5 windows of 10 s.
  GeneratorConfig config = config_of(5'000, 100);
  std::vector<Event> input = generate(config);
  std::map<std::pair<int64_t, Timestamp>, int64_t> per_window;  // (bidder, window start)
  std::map<int64_t, int64_t> per_bidder;
  int64_t total = 0;
  for (const Event& e : input) {
    if (!e.is_bid()) continue;
    const Bid& b = e.bid();
    ++per_window[{b.bidder, b.date_time - b.date_time % 10'000}];
    ++per_bidder[b.bidder];
    ++total;
  }
  std::vector<BidderWindowCount> results = run_q12(input, total, GetParam());

  if (GetParam() == 1) {
    // One thread: each bid meets the clock at its date_time.
    std::vector<BidderWindowCount> expected;
    for (const auto& [key, count] : per_window) {
      expected.push_back({key.first, count, key.second, key.second + 10'000});
    }
    EXPECT_EQ(sorted(results), sorted(expected));
  } else {
    // The window operator reads the clock when a bid reaches it, later than the source
    // set it: which window a bid lands in is timing, but every bid is counted once, in
    // aligned 10 s windows, one row per bidder and window.
    std::map<int64_t, int64_t> counted;
    std::set<std::pair<int64_t, Timestamp>> windows;
    for (const BidderWindowCount& c : results) {
      counted[c.bidder] += c.bid_count;
      EXPECT_EQ(c.start % 10'000, 0);
      EXPECT_EQ(c.end, c.start + 10'000);
      EXPECT_TRUE(windows.insert({c.bidder, c.start}).second)
          << "bidder " << c.bidder << " window " << c.start;
    }
    EXPECT_EQ(counted, per_bidder);
  }
}

// ---------------------------------------------------------------------------------------
// q13: side input join
// ---------------------------------------------------------------------------------------

TEST_P(NexmarkQueriesB, Q13JoinsEveryBidWithTheDefaultSideInput) {
  GeneratorConfig config = config_of(5'000, 1'000);
  std::vector<Q13Result> expected;
  for (const Bid& b : generated_bids(config)) {
    expected.push_back(
        {b.auction, b.bidder, b.price, b.date_time, std::to_string(b.auction % 10'000)});
  }
  EXPECT_EQ(
      sorted(run_generated([](const DataStream<Event>& e) { return q13(e); }, config, GetParam())),
      sorted(expected));
}

TEST_P(NexmarkQueriesB, Q13EmitsOneRowPerMatchingSideInputRow) {
  std::vector<SideInputRow> side_input = {
      {1, "a"}, {1, "b"}, {2, "c"}, {10'001, "never"}, {-3, "negative"}};
  std::vector<Event> input = {bid(10'001, 1, 100, 1'000), bid(2, 2, 200, 2'000),
                              bid(5, 3, 300, 3'000), bid(-3, 4, 400, 4'000), auction(1, 10, 5'000)};
  std::vector<Q13Result> expected = {{10'001, 1, 100, 1'000, "a"},
                                     {10'001, 1, 100, 1'000, "b"},
                                     {2, 2, 200, 2'000, "c"},
                                     {-3, 4, 400, 4'000, "negative"}};
  auto query = [side_input](const DataStream<Event>& e) { return q13(e, side_input); };
  EXPECT_EQ(sorted(run_events(query, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q14: calculation
// ---------------------------------------------------------------------------------------

Q14Result expected_q14(const Bid& b) {
  int hour = static_cast<int>(b.date_time / kHour % 24);
  std::string type = "otherTime";
  if (hour >= 8 && hour <= 18) {
    type = "dayTime";
  } else if (hour <= 6 || hour >= 20) {
    type = "nightTime";
  }
  int64_t cs = 0;
  for (char c : b.extra) cs += c == 'c' ? 1 : 0;
  return Q14Result{b.auction, b.bidder, b.price * 908, type, b.date_time, b.extra, cs};
}

TEST_P(NexmarkQueriesB, Q14ConvertsAndFiltersBidsOverADay) {
  GeneratorConfig config = config_of(20'000, 0.25);  // 4 s apart: 22 hours
  std::vector<Q14Result> expected;
  std::set<std::string> types;
  for (const Bid& b : generated_bids(config)) {
    if (b.price * 908 > 1'000'000'000 && b.price * 908 < 50'000'000'000) {
      expected.push_back(expected_q14(b));
      types.insert(expected.back().bid_time_type);
    }
  }
  ASSERT_EQ(types.size(), 3u);
  EXPECT_EQ(sorted(run_generated(&q14, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesB, Q14HourAndPriceBounds) {
  const int64_t ok = 2'000'000;
  std::vector<Event> input = {
      bid(1, 1, ok, kBaseTime + 7 * kHour + 3'599'999, "web", "", "cc"),  // 07:59:59.999 other
      bid(2, 1, ok, kBaseTime + 8 * kHour, "web", "", "Cc"),              // 08:00 day
      bid(3, 1, ok, kBaseTime + 18 * kHour + 3'599'999),                  // 18:59:59.999 day
      bid(4, 1, ok, kBaseTime + 19 * kHour),                              // 19:00 other
      bid(5, 1, ok, kBaseTime + 20 * kHour, "web", "", "cxc"),            // 20:00 night
      bid(6, 1, ok, kBaseTime + 26 * kHour + 3'599'999),                  // 02:59:59.999 night
      bid(7, 1, ok, kBaseTime + 30 * kHour + 3'599'999),                  // 06:59:59.999 night
      bid(8, 1, 1'101'321, kBaseTime + 31 * kHour),    // 0.908 * price = 999'999.468
      bid(9, 1, 1'101'322, kBaseTime + 31 * kHour),    // 1'000'000.376; 07:00 other
      bid(10, 1, 55'066'079, kBaseTime + 31 * kHour),  // 49'999'999.732
      bid(11, 1, 55'066'080, kBaseTime + 31 * kHour),  // 50'000'000.64
      auction(12, 10, kBaseTime + 31 * kHour),
  };
  auto type = [](const Q14Result& r) { return std::make_pair(r.auction, r.bid_time_type); };
  std::vector<Q14Result> results = run_events(&q14, input, GetParam());
  std::map<int64_t, Q14Result> by_auction;
  for (const Q14Result& r : results) by_auction.emplace(r.auction, r);
  std::vector<std::pair<int64_t, std::string>> types;
  for (const auto& [id, r] : by_auction) types.push_back(type(r));
  EXPECT_EQ(types, (std::vector<std::pair<int64_t, std::string>>{{1, "otherTime"},
                                                                 {2, "dayTime"},
                                                                 {3, "dayTime"},
                                                                 {4, "otherTime"},
                                                                 {5, "nightTime"},
                                                                 {6, "nightTime"},
                                                                 {7, "nightTime"},
                                                                 {9, "otherTime"},
                                                                 {10, "otherTime"}}));
  EXPECT_EQ(by_auction[1].c_counts, 2);
  EXPECT_EQ(by_auction[2].c_counts, 1);  // 'C' is not 'c'
  EXPECT_EQ(by_auction[5].c_counts, 2);
  EXPECT_EQ(by_auction[9].price_milli, 1'000'000'376);
  EXPECT_DOUBLE_EQ(by_auction[10].price(), 49'999'999.732);
}

// ---------------------------------------------------------------------------------------
// q15, q16, q17: statistics per day
// ---------------------------------------------------------------------------------------

// 20'000 events over 100 s, from 50 s before midnight: two days.
GeneratorConfig around_midnight() { return config_of(20'000, 200, kBaseTime + kDay - 50'000); }

TEST_P(NexmarkQueriesB, Q15CountsBidsBiddersAndAuctionsPerDayAndRank) {
  GeneratorConfig config = around_midnight();
  std::vector<Bid> bids = generated_bids(config);
  std::map<std::string, ExpectedStats> stats;
  for (const Bid& b : bids) stats[day_of(b.date_time)].add(b);
  std::map<std::string, RankCounts> expected;
  for (const auto& [day, s] : stats) expected[day] = s.counts();
  ASSERT_EQ(expected.size(), 2u);

  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    std::vector<Q15Result> upserts = run_generated(&q15, config, GetParam(), backend);
    EXPECT_EQ(upserts.size(), bids.size()) << "one upsert per bid";
    std::map<std::string, RankCounts> final_counts;
    for (const auto& [day, row] : final_rows(upserts, [](const Q15Result& r) { return r.day; })) {
      final_counts[day] = row.counts;
    }
    EXPECT_EQ(final_counts, expected);
  }
}

// Order-dependent: at parallelism 1, where the bids of a key arrive in input order.
TEST(NexmarkQueriesBInOrder, Q15UpsertsFollowEachBid) {
  std::vector<Event> input = {
      bid(1, 1, 5, kBaseTime + 1'000),       // rank 1
      bid(1, 1, 50'000, kBaseTime + 2'000),  // rank 2: bidder 1 and auction 1 again, in a new rank
      bid(2, 1, 5'000'000, kBaseTime + 3'000),  // rank 3
      bid(2, 2, 7, kBaseTime + 4'000),          // rank 1
      bid(3, 3, 8, kBaseTime + kDay),           // the next day
  };
  std::vector<Q15Result> rows = run_events(&q15, input, 1);
  ASSERT_EQ(rows.size(), 5u);
  RankCounts after_second;
  after_second.bids = {2, 1, 1, 0};
  after_second.bidders = {1, 1, 1, 0};
  after_second.auctions = {1, 1, 1, 0};
  EXPECT_EQ(rows[1], (Q15Result{"2015-07-15", after_second}));
  RankCounts last_of_day;
  last_of_day.bids = {4, 2, 1, 1};
  last_of_day.bidders = {2, 2, 1, 1};
  last_of_day.auctions = {2, 2, 1, 1};
  EXPECT_EQ(rows[3], (Q15Result{"2015-07-15", last_of_day}));
  RankCounts next_day;
  next_day.bids = {1, 1, 0, 0};
  next_day.bidders = {1, 1, 0, 0};
  next_day.auctions = {1, 1, 0, 0};
  EXPECT_EQ(rows[4], (Q15Result{"2015-07-16", next_day}));
}

TEST_P(NexmarkQueriesB, Q16CountsPerChannelAndDayWithTheLatestMinute) {
  GeneratorConfig config = around_midnight();
  std::vector<Bid> bids = generated_bids(config);
  std::map<std::pair<std::string, std::string>, ExpectedStats> stats;
  for (const Bid& b : bids) stats[{b.channel, day_of(b.date_time)}].add(b);
  std::map<std::pair<std::string, std::string>, Q16Result> expected;
  for (const auto& [key, s] : stats) {
    expected[key] = Q16Result{key.first, key.second, s.max_minute, s.counts()};
  }

  // The hot channels bid on both days, around the minutes 23:59 and 00:00.
  ASSERT_EQ(expected[std::make_pair("Google", "2015-07-15")].minute, "23:59");
  ASSERT_EQ(expected[std::make_pair("Google", "2015-07-16")].minute, "00:00");
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    std::vector<Q16Result> upserts = run_generated(&q16, config, GetParam(), backend);
    EXPECT_EQ(upserts.size(), bids.size());
    EXPECT_EQ(
        final_rows(upserts, [](const Q16Result& r) { return std::make_pair(r.channel, r.day); }),
        expected);
  }
}

TEST_P(NexmarkQueriesB, Q17ComputesPriceStatisticsPerAuctionAndDay) {
  GeneratorConfig config = around_midnight();
  std::vector<Bid> bids = generated_bids(config);
  std::map<std::pair<int64_t, std::string>, Q17Result> expected;
  for (const Bid& b : bids) {
    std::string day = day_of(b.date_time);
    auto [it, fresh] = expected.try_emplace({b.auction, day});
    Q17Result& r = it->second;
    if (fresh) r = Q17Result{b.auction, day, 0, 0, 0, 0, b.price, b.price, 0, 0};
    ++r.total_bids;
    int rank = rank_of(b.price);
    r.rank1_bids += rank == 1;
    r.rank2_bids += rank == 2;
    r.rank3_bids += rank == 3;
    r.min_price = std::min(r.min_price, b.price);
    r.max_price = std::max(r.max_price, b.price);
    r.sum_price += b.price;
    r.avg_price = r.sum_price / r.total_bids;
  }
  ASSERT_GT(std::count_if(expected.begin(), expected.end(),
                          [](const auto& e) { return e.second.total_bids > 10; }),
            10);
  std::vector<Q17Result> upserts = run_generated(&q17, config, GetParam());
  EXPECT_EQ(upserts.size(), bids.size());
  EXPECT_EQ(
      final_rows(upserts, [](const Q17Result& r) { return std::make_pair(r.auction, r.day); }),
      expected);
}

TEST_P(NexmarkQueriesB, Q17AverageRoundsTowardZero) {
  std::vector<Event> input = {bid(1, 1, 10, 1'000), bid(1, 2, 11, 2'000), bid(1, 3, 20'000, 3'000)};
  std::vector<Q17Result> rows = run_events(&q17, input, GetParam());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2], (Q17Result{1, "1970-01-01", 3, 2, 1, 0, 10, 20'000, 6'673, 20'021}));
  if (GetParam() == 1) {  // in input order
    EXPECT_EQ(rows[0], (Q17Result{1, "1970-01-01", 1, 1, 0, 0, 10, 10, 10, 10}));
    EXPECT_EQ(rows[1], (Q17Result{1, "1970-01-01", 2, 2, 0, 0, 10, 11, 10, 21}));
  }
}

// ---------------------------------------------------------------------------------------
// q18: last bid
// ---------------------------------------------------------------------------------------

TEST_P(NexmarkQueriesB, Q18KeepsTheLastBidPerBidderAndAuction) {
  GeneratorConfig config = config_of(20'000, 1'000);  // 1 ms apart: no two bids at the same time
  std::map<std::pair<int64_t, int64_t>, Bid> expected;
  size_t bids = 0;
  for (const Bid& b : generated_bids(config)) {
    expected.insert_or_assign({b.bidder, b.auction}, b);
    ++bids;
  }
  ASSERT_LT(expected.size(), bids * 9 / 10) << "bidders should bid again on the same auctions";
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    std::vector<Bid> upserts = run_generated(&q18, config, GetParam(), backend);
    if (GetParam() == 1) {
      EXPECT_EQ(upserts.size(), bids) << "in time order, every bid is the latest when it comes";
    } else {
      EXPECT_LE(upserts.size(), bids) << "bids that arrive after a later one are not emitted";
    }
    EXPECT_EQ(final_rows(upserts, [](const Bid& b) { return std::make_pair(b.bidder, b.auction); }),
              expected);
  }
}

// Order-dependent: at parallelism 1, where the bids of a key arrive in input order.
TEST(NexmarkQueriesBInOrder, Q18IgnoresOlderBidsAndTakesTiesInArrivalOrder) {
  std::vector<Event> input = {
      bid(1, 1, 10, 5'000, "a"),  // the last so far
      bid(1, 1, 20, 3'000, "b"),  // older: not the last bid
      bid(1, 1, 30, 5'000, "c"),  // as late as the last: replaces it
      bid(2, 1, 40, 4'000, "d"),  // another auction
      bid(1, 2, 50, 1'000, "e"),  // another bidder
  };
  std::vector<std::string> channels;
  for (const Bid& b : run_events(&q18, input, 1)) channels.push_back(b.channel);
  EXPECT_EQ(channels, (std::vector<std::string>{"a", "c", "d", "e"}));
}

// ---------------------------------------------------------------------------------------
// q19: top 10
// ---------------------------------------------------------------------------------------

Q19Result q19_row(const Bid& b, int64_t rank) {
  return Q19Result{b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, rank};
}

TEST_P(NexmarkQueriesB, Q19KeepsTheTop10BidsPerAuction) {
  GeneratorConfig config = config_of(20'000, 1'000);
  std::map<int64_t, std::vector<Bid>> by_auction;
  for (const Bid& b : generated_bids(config)) by_auction[b.auction].push_back(b);
  std::map<std::pair<int64_t, int64_t>, Q19Result> expected;  // (auction, rank)
  size_t full = 0;
  for (auto& [id, bids] : by_auction) {
    std::stable_sort(bids.begin(), bids.end(),
                     [](const Bid& a, const Bid& b) { return a.price > b.price; });
    for (size_t i = 0; i < bids.size() && i < 10; ++i) {
      expected[{id, i + 1}] = q19_row(bids[i], i + 1);
    }
    full += bids.size() > 10 ? 1 : 0;
  }
  ASSERT_GT(full, 20u) << "auctions should get more than 10 bids";

  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    std::vector<Q19Result> upserts = run_generated(&q19, config, GetParam(), backend);
    for (const Q19Result& r : upserts) ASSERT_TRUE(r.rank_number >= 1 && r.rank_number <= 10);
    auto actual = final_rows(
        upserts, [](const Q19Result& r) { return std::make_pair(r.auction, r.rank_number); });
    if (GetParam() == 1) {
      EXPECT_EQ(actual, expected);
    } else {
      // In parallel, bids of an auction arrive interleaved from the source subtasks, and equal
      // prices rank by arrival: compare the price at each rank.
      std::map<std::pair<int64_t, int64_t>, int64_t> actual_prices, expected_prices;
      for (const auto& [key, r] : actual) actual_prices[key] = r.price;
      for (const auto& [key, r] : expected) expected_prices[key] = r.price;
      EXPECT_EQ(actual_prices, expected_prices);
    }
  }
}

// Order-dependent: at parallelism 1, where the bids of an auction arrive in input order.
TEST(NexmarkQueriesBInOrder, Q19ReRanksTheBidsBelowANewEntry) {
  std::vector<Event> input;
  for (int i = 1; i <= 10; ++i) {
    input.push_back(bid(1, i, i * 10, i * 1'000));  // bidder i bids 10 * i
  }
  input.push_back(bid(1, 11, 55, 11'000));   // rank 6: ranks 6 .. 10 move, price 10 drops out
  input.push_back(bid(1, 12, 20, 12'000));   // equal to the lowest of a full top 10: not taken
  input.push_back(bid(1, 13, 100, 13'000));  // equal to the highest: after it, at rank 2
  input.push_back(bid(2, 14, 1, 14'000));

  using Row = std::tuple<int64_t, int64_t, int64_t>;  // rank, price, bidder
  std::vector<Row> expected;
  for (int64_t i = 1; i <= 10; ++i) {
    // Each of the first 10 bids is the highest so far: it takes rank 1 and moves all others.
    for (int64_t rank = 1; rank <= i; ++rank) {
      expected.emplace_back(rank, (i - rank + 1) * 10, i - rank + 1);
    }
  }
  for (Row r : {Row{6, 55, 11}, Row{7, 50, 5}, Row{8, 40, 4}, Row{9, 30, 3}, Row{10, 20, 2}}) {
    expected.push_back(r);
  }
  for (Row r : {Row{2, 100, 13}, Row{3, 90, 9}, Row{4, 80, 8}, Row{5, 70, 7}, Row{6, 60, 6},
                Row{7, 55, 11}, Row{8, 50, 5}, Row{9, 40, 4}, Row{10, 30, 3}}) {
    expected.push_back(r);
  }
  expected.emplace_back(1, 1, 14);

  std::vector<Row> actual;
  for (const Q19Result& r : run_events(&q19, input, 1)) {
    actual.emplace_back(r.rank_number, r.price, r.bidder);
  }
  EXPECT_EQ(actual, expected);
}

// ---------------------------------------------------------------------------------------
// q20: join
// ---------------------------------------------------------------------------------------

Q20Result expected_q20(const Bid& b, const Auction& a) {
  return Q20Result{b.auction, b.bidder,    b.price,       b.channel,     b.url,     b.date_time,
                   b.extra,   a.item_name, a.description, a.initial_bid, a.reserve, a.date_time,
                   a.expires, a.seller,    a.category,    a.extra};
}

TEST_P(NexmarkQueriesB, Q20JoinsBidsWithTheirCategory10Auctions) {
  GeneratorConfig config = config_of(20'000, 1'000);
  std::vector<Event> input = generate(config);
  std::multimap<int64_t, Auction> category_10;
  for (const Event& e : input) {
    if (e.is_auction() && e.auction().category == 10) {
      category_10.emplace(e.auction().id, e.auction());
    }
  }
  std::vector<Q20Result> expected;
  for (const Event& e : input) {
    if (!e.is_bid()) continue;
    auto [from, to] = category_10.equal_range(e.bid().auction);
    for (auto it = from; it != to; ++it) expected.push_back(expected_q20(e.bid(), it->second));
  }
  ASSERT_GT(expected.size(), 1'000u);
  expected = sorted(std::move(expected));
  for (const char* backend : kBackends) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(sorted(run_generated(&q20, config, GetParam(), backend)), expected);
  }
}

TEST_P(NexmarkQueriesB, Q20JoinsWhicheverSideComesFirstAndIgnoresDuplicateAuctionIds) {
  std::vector<Event> input = {
      bid(1, 1, 100, 1'000),  // before its auction
      auction(1, 10, 2'000),
      bid(1, 2, 200, 3'000),  // after it
      auction(2, 11, 4'000),  // another category: never joined
      bid(2, 3, 300, 5'000),
      bid(3, 4, 400, 5'500),  // before an auction of another category: dropped when it comes
      auction(3, 12, 5'600),
      auction(1, 10, 6'000),  // a duplicate id (the generator makes none): ignored
      bid(1, 5, 500, 6'500),  // joins the first auction with id 1 only
      auction(2, 10, 6'600),  // a duplicate of a non-category-10 id: ignored too
      bid(2, 6, 600, 6'700),
      person(5, 7'000),
  };
  Auction first = auction(1, 10, 2'000).auction();
  std::vector<Q20Result> expected = {expected_q20(bid(1, 1, 100, 1'000).bid(), first),
                                     expected_q20(bid(1, 2, 200, 3'000).bid(), first),
                                     expected_q20(bid(1, 5, 500, 6'500).bid(), first)};
  EXPECT_EQ(sorted(run_events(&q20, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// q21, q22: string functions
// ---------------------------------------------------------------------------------------

TEST_P(NexmarkQueriesB, Q21AddsChannelIdsLikeTheRegularExpression) {
  GeneratorConfig config = config_of(5'000, 1'000);
  const std::regex pattern("(&|^)channel_id=([^&]*)");
  const std::map<std::string, std::string> hot = {
      {"apple", "0"}, {"google", "1"}, {"facebook", "2"}, {"baidu", "3"}};
  std::vector<Q21Result> expected;
  size_t from_url = 0;
  for (const Bid& b : generated_bids(config)) {
    std::string lower = b.channel;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::smatch match;
    bool found = std::regex_search(b.url, match, pattern);
    if (auto it = hot.find(lower); it != hot.end()) {
      expected.push_back({b.auction, b.bidder, b.price, b.channel, it->second});
    } else if (found) {
      expected.push_back({b.auction, b.bidder, b.price, b.channel, match[2].str()});
      ++from_url;
    }
  }
  ASSERT_GT(from_url, 100u);
  ASSERT_LT(expected.size(), generated_bids(config).size()) << "some channels have no channel_id";
  EXPECT_EQ(sorted(run_generated(&q21, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesB, Q21UrlEdgeCases) {
  std::vector<Event> input = {
      bid(1, 1, 1, 1'000, "APPLE", "x"),
      bid(2, 1, 1, 1'000, "faceboo\xE2\x84\xAA", "x"),
      bid(3, 1, 1, 1'000, "Apple2", "https://a/b?query=1"),                    // dropped
      bid(4, 1, 1, 1'000, "c", "channel_id=7&x=1"),                            // at the start
      bid(5, 1, 1, 1'000, "c", "https://a/b?query=1&channel_id="),             // empty, but present
      bid(6, 1, 1, 1'000, "c", "https://a/b?channel_id=5"),                    // after '?': dropped
      bid(7, 1, 1, 1'000, "c", "https://a/b?q=1&xchannel_id=5&channel_id=6"),  // the first real one
      bid(8, 1, 1, 1'000, "c", "https://a/b?q=1&channel_id=9&channel_id=10"),
      bid(9, 1, 1, 1'000, "Baidu", "https://a/b?q=1&channel_id=9"),  // the channel wins
  };
  std::vector<Q21Result> expected = {{1, 1, 1, "APPLE", "0"}, {2, 1, 1, "faceboo\xE2\x84\xAA", "2"},
                                     {4, 1, 1, "c", "7"},     {5, 1, 1, "c", ""},
                                     {7, 1, 1, "c", "6"},     {8, 1, 1, "c", "9"},
                                     {9, 1, 1, "Baidu", "3"}};
  EXPECT_EQ(sorted(run_events(&q21, input, GetParam())), sorted(expected));
}

// Every part of `s` between separators, empty ones included; none for an empty string.
std::vector<std::string> parts_of(const std::string& s, char separator) {
  std::vector<std::string> parts;
  if (s.empty()) return parts;
  std::string part;
  for (char c : s) {
    if (c == separator) {
      parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  parts.push_back(part);
  return parts;
}

Q22Result expected_q22(const Bid& b) {
  std::vector<std::string> parts = parts_of(b.url, '/');
  auto part = [&](size_t i) {
    return i < parts.size() ? std::optional<std::string>(parts[i]) : std::nullopt;
  };
  return Q22Result{b.auction, b.bidder, b.price, b.channel, part(3), part(4), part(5)};
}

TEST_P(NexmarkQueriesB, Q22SplitsUrlsIntoDirectories) {
  GeneratorConfig config = config_of(5'000, 1'000);
  std::vector<Q22Result> expected;
  for (const Bid& b : generated_bids(config)) expected.push_back(expected_q22(b));
  ASSERT_TRUE(expected.front().dir3.has_value());
  EXPECT_EQ(sorted(run_generated(&q22, config, GetParam())), sorted(expected));
}

TEST_P(NexmarkQueriesB, Q22UrlEdgeCases) {
  using S = std::optional<std::string>;
  std::vector<Event> input = {
      bid(1, 1, 1, 1'000, "c", ""),
      bid(2, 1, 1, 1'000, "c", "a/b/c/d"),
      bid(3, 1, 1, 1'000, "c", "////"),
      bid(4, 1, 1, 1'000, "c", "a/b/c/"),
      bid(5, 1, 1, 1'000, "c", "https://www.nexmark.com/abc/def/item.htm?query=1"),
      bid(6, 1, 1, 1'000, "c", "https://www.nexmark.com/abc/def/ghi/item.htm?query=1&channel_id=5"),
  };
  std::vector<Q22Result> expected = {
      {1, 1, 1, "c", std::nullopt, std::nullopt, std::nullopt},
      {2, 1, 1, "c", S("d"), std::nullopt, std::nullopt},
      {3, 1, 1, "c", S(""), S(""), std::nullopt},
      {4, 1, 1, "c", S(""), std::nullopt, std::nullopt},
      {5, 1, 1, "c", S("abc"), S("def"), S("item.htm?query=1")},
      {6, 1, 1, "c", S("abc"), S("def"), S("ghi")},
  };
  EXPECT_EQ(sorted(run_events(&q22, input, GetParam())), sorted(expected));
}

// ---------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------

TEST(NexmarkQueriesBRegistry, EveryQueryRunsFromTheRegistryIntoItsSink) {
  for (int n = 11; n <= 22; ++n) {
    std::string name = "q" + std::to_string(n);
    const Query* query = find_query(name);
    ASSERT_NE(query, nullptr) << name;
    EXPECT_FALSE(query->description.empty());
    StreamEnvironment env;
    env.set_parallelism(2);
    query->build(env, config_of(2'000, 1'000));
    JobResult job = env.execute(name);
    ASSERT_TRUE(job.ok()) << name << ": " << job.error;
    bool has_sink = false;
    for (const auto& op : job.operators) has_sink = has_sink || op.name == "sink";
    EXPECT_TRUE(has_sink) << name;
  }
}

}  // namespace
}  // namespace eddy::nexmark
