// Nexmark q11-q22 as DataStream programs (queries_b.h; docs/nexmark.md).
//
// Common shape: a flat_map takes the bids out of the event stream (moving the strings it
// keeps, dropping the rest), so that what crosses a key_by and what state keeps is small.
// Updating queries keep one state entry per key and touch it once per record; where that
// entry holds a container (q15/q16's distinct sets, q19's top 10) it is AggregatingState,
// which the heap backend updates in place (moved in and out of add()), where ValueState
// would copy the container on every read. (On RocksDB q15/q16 use MapState instead; see
// GroupStats.)
#include "queries_b.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>

namespace eddy::nexmark {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMillisPerHour = 3'600'000;
constexpr int64_t kMillisPerDay = 86'400'000;

constexpr int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
constexpr int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// Days since 1970-01-01 (UTC) of a timestamp.
int32_t day_number(Timestamp t) { return static_cast<int32_t>(floor_div(t, kMillisPerDay)); }
int32_t minute_of_day(Timestamp t) {
  return static_cast<int32_t>(floor_mod(t, kMillisPerDay) / kMillisPerMinute);
}

std::string format_day_number(int32_t day) {
  std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{day}}};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::string format_minute_of_day(int32_t minute) {
  const int32_t hours = minute / 60;
  const int32_t minutes = minute % 60;
  return {static_cast<char>('0' + hours / 10), static_cast<char>('0' + hours % 10), ':',
          static_cast<char>('0' + minutes / 10), static_cast<char>('0' + minutes % 10)};
}

// Consecutive bids mostly fall on the same day: format it once per day change.
class DayFormatter {
 public:
  const std::string& operator()(int32_t day) {
    if (day != day_ || text_.empty()) {
      day_ = day;
      text_ = format_day_number(day);
    }
    return text_;
  }

 private:
  int32_t day_ = 0;
  std::string text_;
};

// The price ranks of q15-q17: 1 below 10'000, 2 below 1'000'000, 3 from there.
int price_rank(int64_t price) { return price < 10'000 ? 1 : price < 1'000'000 ? 2 : 3; }

// The transformations of a DataStream are not const; the handle is cheap to copy.
DataStream<Event> mutable_stream(const DataStream<Event>& events) { return events; }

// --- q11, q12 ---

class CountBids final : public AggregateFunction<int64_t, int64_t, int64_t> {
 public:
  int64_t create_accumulator() const override { return 0; }
  int64_t add(const int64_t&, int64_t count) const override { return count + 1; }
  int64_t get_result(const int64_t& count) const override { return count; }
  int64_t merge(int64_t a, const int64_t& b) const override { return a + b; }
};

template <class Assigner>
DataStream<BidderWindowCount> bids_per_bidder_window(const DataStream<Event>& events,
                                                     Assigner assigner) {
  return mutable_stream(events)
      .flat_map([](const Event& e, Collector<int64_t>& out) {
        if (e.is_bid()) out.collect(e.bid().bidder);
      })
      .name("bidders")
      .key_by([](int64_t bidder) { return bidder; })
      .window(assigner)
      .aggregate(
          CountBids{}, [](const int64_t& bidder, ProcessWindowContext<TimeWindow>& context,
                          std::span<const int64_t> count, Collector<BidderWindowCount>& out) {
            out.collect(
                BidderWindowCount{bidder, count[0], context.window().start, context.window().end});
          });
}

// --- q13 ---

// Side-input rows by key. auction % 10000 lies in (-10000, 10000), so rows with other keys
// can never match and are left out, and the rest sit in an array indexed by key.
class SideInputIndex {
 public:
  static constexpr int64_t kModulus = 10'000;

  explicit SideInputIndex(std::vector<SideInputRow> rows) : values_(2 * kModulus - 1) {
    for (SideInputRow& row : rows) {
      if (row.key <= -kModulus || row.key >= kModulus) continue;
      values_[static_cast<size_t>(row.key + kModulus - 1)].push_back(std::move(row.value));
    }
  }
  // The values of the rows with key `auction % 10000` (C++'s %, as SQL's MOD: the sign of
  // the dividend).
  const std::vector<std::string>& lookup(int64_t auction) const {
    return values_[static_cast<size_t>(auction % kModulus + kModulus - 1)];
  }

 private:
  std::vector<std::vector<std::string>> values_;
};

// --- q15, q16 ---

struct StatsInput {
  int64_t bidder = 0;
  int64_t auction = 0;
  int64_t price = 0;
  int32_t minute = 0;  // of the day
  EDDY_SERIALIZE(bidder, auction, price, minute)
};

// The ids (bidders or auctions) a group has seen, each with the price ranks it was seen in
// (bit r for rank r): the sets of count(distinct ...) and count(distinct ...) filter (...),
// settled by one lookup per bid. An open-addressing table (linear probing over a power-of-two
// array): std::unordered_map allocates a node per id, and most groups (q16's channels) stay
// small while every bid of theirs brings new ids.
class RankSets {
 public:
  // The ranks `id` was seen in, for update; 0 for an id not seen before, which the caller
  // then gives at least one rank (a slot without ranks is empty).
  uint8_t& ranks_of(int64_t id) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash_u64(static_cast<uint64_t>(id)) & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.ranks == 0) {
        slot.id = id;
        ++size_;
        return slot.ranks;
      }
      if (slot.id == id) return slot.ranks;
    }
  }

  struct Slot {
    int64_t id = 0;
    uint8_t ranks = 0;
    EDDY_SERIALIZE(id, ranks)
  };
  EDDY_SERIALIZE(slots_, size_)

 private:
  void grow() {
    std::vector<Slot> old =
        std::exchange(slots_, std::vector<Slot>(std::max<size_t>(8, 2 * slots_.size())));
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.ranks != 0) ranks_of(slot.id) = slot.ranks;
    }
  }

  std::vector<Slot> slots_;
  uint64_t size_ = 0;
};

// One group's statistics.
struct BidStats {
  RankCounts counts;
  int32_t max_minute = -1;
  RankSets bidder_ranks;
  RankSets auction_ranks;
  EDDY_SERIALIZE(counts, max_minute, bidder_ranks, auction_ranks)
};

struct StatsView {
  RankCounts counts;
  int32_t max_minute = -1;
  EDDY_SERIALIZE(counts, max_minute)
};

void count_distinct(RankSets& seen, int64_t id, int rank, std::array<int64_t, 4>& distinct) {
  uint8_t& ranks = seen.ranks_of(id);
  if (ranks == 0) ++distinct[0];
  const auto bit = static_cast<uint8_t>(1u << rank);
  if ((ranks & bit) == 0) {
    ++distinct[static_cast<size_t>(rank)];
    ranks |= bit;
  }
}

class StatsAggregate final : public AggregateFunction<StatsInput, BidStats, StatsView> {
 public:
  BidStats create_accumulator() const override { return {}; }
  BidStats add(const StatsInput& bid, BidStats stats) const override {
    const int rank = price_rank(bid.price);
    ++stats.counts.bids[0];
    ++stats.counts.bids[static_cast<size_t>(rank)];
    count_distinct(stats.bidder_ranks, bid.bidder, rank, stats.counts.bidders);
    count_distinct(stats.auction_ranks, bid.auction, rank, stats.counts.auctions);
    stats.max_minute = std::max(stats.max_minute, bid.minute);
    return stats;
  }
  StatsView get_result(const BidStats& stats) const override {
    return {stats.counts, stats.max_minute};
  }
  BidStats merge(BidStats, const BidStats&) const override {
    throw std::logic_error("bid statistics are never merged");
  }
};

// A group's statistics in keyed state, laid out for the backend. On the heap: one
// AggregatingState, updated in place (one lookup per bid, no copy of the sets). On RocksDB,
// which serializes a value on every access, that would write both whole sets per bid:
// there the counts are a ValueState and each set a MapState from id to ranks (a read per
// set, a write per new id or rank). The two layouts have different states, so a savepoint
// of q15/q16 restores only into the backend that took it.
class GroupStats {
 public:
  void open(RuntimeContext& context) {
    if (context.config().state_backend.kind == "rocksdb") {
      counts_ = &context.get_state(ValueStateDescriptor<StatsView>("bid-stats-counts"));
      bidders_ = &context.get_map_state(MapStateDescriptor<int64_t, uint8_t>("bid-stats-bidders"));
      auctions_ =
          &context.get_map_state(MapStateDescriptor<int64_t, uint8_t>("bid-stats-auctions"));
    } else {
      stats_ = &context.get_aggregating_state(
          AggregatingStateDescriptor<StatsInput, BidStats, StatsView>(
              "bid-stats", std::make_shared<StatsAggregate>()));
    }
  }
  // Adds a bid of the current key's group; its statistics after it.
  StatsView add(const StatsInput& bid) {
    if (stats_ != nullptr) {
      stats_->add(bid);
      return *stats_->get();
    }
    StatsView view = counts_->value_or(StatsView{});
    const int rank = price_rank(bid.price);
    ++view.counts.bids[0];
    ++view.counts.bids[static_cast<size_t>(rank)];
    count_distinct(*bidders_, bid.bidder, rank, view.counts.bidders);
    count_distinct(*auctions_, bid.auction, rank, view.counts.auctions);
    view.max_minute = std::max(view.max_minute, bid.minute);
    counts_->update(view);
    return view;
  }

 private:
  static void count_distinct(MapState<int64_t, uint8_t>& seen, int64_t id, int rank,
                             std::array<int64_t, 4>& distinct) {
    const uint8_t ranks = seen.get(id).value_or(0);
    const auto bit = static_cast<uint8_t>(1u << rank);
    if (ranks == 0) ++distinct[0];
    if ((ranks & bit) != 0) return;
    ++distinct[static_cast<size_t>(rank)];
    seen.put(id, static_cast<uint8_t>(ranks | bit));
  }

  AggregatingState<StatsInput, StatsView>* stats_ = nullptr;
  ValueState<StatsView>* counts_ = nullptr;
  MapState<int64_t, uint8_t>* bidders_ = nullptr;
  MapState<int64_t, uint8_t>* auctions_ = nullptr;
};

struct Q15Input {
  int32_t day = 0;
  StatsInput bid;
  EDDY_SERIALIZE(day, bid)
};

class DailyStats {
 public:
  void open(RuntimeContext& context) { stats_.open(context); }
  void operator()(const Q15Input& in, Collector<Q15Result>& out) {
    out.collect(Q15Result{format_(in.day), stats_.add(in.bid).counts});
  }

 private:
  GroupStats stats_;
  DayFormatter format_;
};

struct Q16Input {
  std::string channel;
  int32_t day = 0;
  StatsInput bid;
  EDDY_SERIALIZE(channel, day, bid)
};

class ChannelDailyStats {
 public:
  void open(RuntimeContext& context) { stats_.open(context); }
  void operator()(const Q16Input& in, Collector<Q16Result>& out) {
    StatsView view = stats_.add(in.bid);
    out.collect(
        Q16Result{in.channel, format_(in.day), format_minute_of_day(view.max_minute), view.counts});
  }

 private:
  GroupStats stats_;
  DayFormatter format_;
};

// --- q18 ---

class LastBid {
 public:
  void open(RuntimeContext& context) {
    latest_ = &context.get_state(ValueStateDescriptor<Timestamp>("latest-date-time"));
  }
  void operator()(Bid&& bid, Collector<Bid>& out) {
    std::optional<Timestamp> latest = latest_->value();
    if (latest && bid.date_time < *latest) return;
    latest_->update(bid.date_time);
    out.collect(std::move(bid));
  }

 private:
  ValueState<Timestamp>* latest_ = nullptr;
};

// --- q19 ---

constexpr size_t kTopN = 10;

// An auction's top bids, highest price first (equal prices in arrival order), and the
// rank from which the last add() changed them (-1: it did not).
struct TopBids {
  std::vector<Bid> bids;
  int32_t changed_from = -1;
  EDDY_SERIALIZE(bids, changed_from)
};

Q19Result ranked(const Bid& bid, size_t rank) {
  return Q19Result{bid.auction, bid.bidder,    bid.price, bid.channel,
                   bid.url,     bid.date_time, bid.extra, static_cast<int64_t>(rank)};
}

class TopBidsAggregate final : public AggregateFunction<Bid, TopBids, std::vector<Q19Result>> {
 public:
  TopBids create_accumulator() const override { return {}; }
  TopBids add(const Bid& bid, TopBids top) const override {
    top.changed_from = -1;
    // Flink's AppendOnlyTopNFunction: a full buffer takes only a strictly better price.
    if (top.bids.size() == kTopN && bid.price <= top.bids.back().price) return top;
    auto at = std::upper_bound(top.bids.begin(), top.bids.end(), bid.price,
                               [](int64_t price, const Bid& b) { return price > b.price; });
    top.changed_from = static_cast<int32_t>(at - top.bids.begin());
    top.bids.insert(at, bid);
    if (top.bids.size() > kTopN) top.bids.pop_back();
    return top;
  }
  std::vector<Q19Result> get_result(const TopBids& top) const override {
    std::vector<Q19Result> rows;
    if (top.changed_from < 0) return rows;
    rows.reserve(top.bids.size() - static_cast<size_t>(top.changed_from));
    for (size_t i = static_cast<size_t>(top.changed_from); i < top.bids.size(); ++i) {
      rows.push_back(ranked(top.bids[i], i + 1));
    }
    return rows;
  }
  TopBids merge(TopBids, const TopBids&) const override {
    throw std::logic_error("top bids are never merged");
  }
};

class TopBidsPerAuction {
 public:
  void open(RuntimeContext& context) {
    top_ = &context.get_aggregating_state(
        AggregatingStateDescriptor<Bid, TopBids, std::vector<Q19Result>>(
            "top-bids", std::make_shared<TopBidsAggregate>()));
  }
  void operator()(const Bid& bid, Collector<Q19Result>& out) {
    top_->add(bid);
    // Not a range-for over *top_->get(): the optional would be gone before the loop runs.
    std::optional<std::vector<Q19Result>> rows = top_->get();
    for (Q19Result& row : *rows) out.collect(std::move(row));
  }

 private:
  AggregatingState<Bid, std::vector<Q19Result>>* top_ = nullptr;
};

// --- q20 ---

constexpr int64_t kJoinedCategory = 10;

// Moves the bid's and the auction's strings into the row (a caller that needs the auction
// again passes a copy).
Q20Result joined(Bid&& bid, Auction&& a) {
  return Q20Result{bid.auction,
                   bid.bidder,
                   bid.price,
                   std::move(bid.channel),
                   std::move(bid.url),
                   bid.date_time,
                   std::move(bid.extra),
                   std::move(a.item_name),
                   std::move(a.description),
                   a.initial_bid,
                   a.reserve,
                   a.date_time,
                   a.expires,
                   a.seller,
                   kJoinedCategory,
                   std::move(a.extra)};
}

// The join in keyed state of the auction id, relying on what the Nexmark generator
// guarantees: every auction id occurs once. So once an auction has been seen, a bid on it
// joins at once (category 10) or never (any other category) and need not be kept; only bids
// that come before their auction wait, and are joined or dropped when it arrives. State per
// auction id: a category-10 auction, or a one-byte "seen" marker for
// any other; plus the early bids until their auction arrives.
//
// A duplicate auction id (not produced by the generator) is ignored: the first auction with
// an id wins, and later ones neither join nor replace it. (Flink's SQL join would join a bid
// with every auction of its id, and so keeps every bid; bounding that needs state TTL.)
class JoinBidsWithAuctions {
 public:
  void open(RuntimeContext& context) {
    matching_ = &context.get_state(ValueStateDescriptor<Auction>("q20/category 10 auction"));
    seen_ = &context.get_state(ValueStateDescriptor<bool>("q20/other auction seen"));
    early_bids_ = &context.get_list_state(ListStateDescriptor<Bid>("q20/bids before auction"));
  }
  void operator()(Event&& event, Collector<Q20Result>& out) {
    if (Bid* bid = std::get_if<Bid>(&event.value)) {
      if (std::optional<Auction> auction = matching_->value()) {
        out.collect(joined(std::move(*bid), std::move(*auction)));
      } else if (!seen_->value()) {
        early_bids_->add(std::move(*bid));
      }
      return;
    }
    Auction& auction = event.auction();
    if (seen_->value() || matching_->value()) return;  // a duplicate id: the first one wins
    if (auction.category == kJoinedCategory) {
      for (Bid& bid : early_bids_->get()) {
        Auction copy = auction;
        out.collect(joined(std::move(bid), std::move(copy)));
      }
      matching_->update(std::move(auction));
    } else {
      seen_->update(true);
    }
    early_bids_->clear();
  }

 private:
  ValueState<Auction>* matching_ = nullptr;
  ValueState<bool>* seen_ = nullptr;
  ListState<Bid>* early_bids_ = nullptr;
};

// --- q21, q22 ---

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether Java's s.toLowerCase() equals `lower` (lowercase ASCII letters). Of all characters
// only A-Z and U+212A KELVIN SIGN (UTF-8 E2 84 AA, lowercased to 'k') lower to ASCII letters.
bool lowers_to(std::string_view s, std::string_view lower) {
  constexpr std::string_view kKelvinSign = "\xE2\x84\xAA";
  size_t i = 0;
  for (char want : lower) {
    if (i < s.size() && ascii_lower(s[i]) == want) {
      ++i;
    } else if (want == 'k' && s.substr(i, kKelvinSign.size()) == kKelvinSign) {
      i += kKelvinSign.size();
    } else {
      return false;
    }
  }
  return i == s.size();
}

std::optional<std::string> to_optional(std::optional<std::string_view> s) {
  return s ? std::optional<std::string>(std::in_place, *s) : std::nullopt;
}

}  // namespace

// --- SQL functions ---

std::string format_day(Timestamp t) { return format_day_number(day_number(t)); }
std::string format_minute(Timestamp t) { return format_minute_of_day(minute_of_day(t)); }
int hour_of_day(Timestamp t) {
  return static_cast<int>(floor_mod(t, kMillisPerDay) / kMillisPerHour);
}

int hot_channel_index(std::string_view channel) {
  static constexpr std::string_view kHotChannels[] = {"apple", "google", "facebook", "baidu"};
  for (int i = 0; i < 4; ++i) {
    if (lowers_to(channel, kHotChannels[i])) return i;
  }
  return -1;
}

// Java's Matcher.find() takes the leftmost match. A match starting at i is either '&' at i
// followed by "channel_id=", or (i = 0 only) "channel_id=" at 0, so the leftmost match is
// the first "channel_id=" at 0 or after a '&'; [^&]* then takes everything up to the next
// '&' (or the end), possibly nothing.
std::optional<std::string_view> extract_channel_id(std::string_view url) {
  constexpr std::string_view kParameter = "channel_id=";
  for (size_t at = url.find(kParameter); at != std::string_view::npos;
       at = url.find(kParameter, at + 1)) {
    if (at == 0 || url[at - 1] == '&') {
      size_t begin = at + kParameter.size();
      size_t end = url.find('&', begin);
      return url.substr(begin,
                        end == std::string_view::npos ? std::string_view::npos : end - begin);
    }
  }
  return std::nullopt;
}

// Flink's SqlFunctionUtils.splitIndex: commons-lang's
// splitByWholeSeparatorPreserveAllTokens, which keeps every empty part (leading, inner and
// trailing) and gives no parts at all for an empty string.
std::optional<std::string_view> split_index(std::string_view s, char separator, int index) {
  if (s.empty() || index < 0) return std::nullopt;
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    size_t at = s.find(separator, begin);
    if (at == std::string_view::npos) return std::nullopt;
    begin = at + 1;
  }
  size_t end = s.find(separator, begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

std::vector<SideInputRow> default_side_input(int64_t rows) {
  std::vector<SideInputRow> side_input;
  side_input.reserve(static_cast<size_t>(std::max<int64_t>(rows, 0)));
  for (int64_t key = 0; key < rows; ++key) {
    side_input.push_back(SideInputRow{key, std::to_string(key)});
  }
  return side_input;
}

// --- Queries ---

DataStream<BidderWindowCount> q11(const DataStream<Event>& events) {
  return bids_per_bidder_window(events,
                                EventTimeSessionWindows::with_gap(std::chrono::seconds(10)));
}

DataStream<BidderWindowCount> q12(const DataStream<Event>& events) {
  return bids_per_bidder_window(events,
                                TumblingProcessingTimeWindows::of(std::chrono::seconds(10)));
}

DataStream<Q13Result> q13(const DataStream<Event>& events, std::vector<SideInputRow> side_input) {
  auto index = std::make_shared<const SideInputIndex>(std::move(side_input));
  return mutable_stream(events).flat_map([index](const Event& e, Collector<Q13Result>& out) {
    if (!e.is_bid()) return;
    const Bid& bid = e.bid();
    for (const std::string& value : index->lookup(bid.auction)) {
      out.collect(Q13Result{bid.auction, bid.bidder, bid.price, bid.date_time, value});
    }
  });
}

DataStream<Q14Result> q14(const DataStream<Event>& events) {
  // 0.908 * price > 1'000'000 and < 50'000'000, exactly: 908 * price > 1e9 and < 5e10.
  constexpr int64_t kLowest = 1'101'322;    // the least price with 908 * price > 1e9
  constexpr int64_t kHighest = 55'066'079;  // the greatest with 908 * price < 5e10
  static_assert(908 * (kLowest - 1) <= 1'000'000'000 && 908 * kLowest > 1'000'000'000);
  static_assert(908 * kHighest < 50'000'000'000 && 908 * (kHighest + 1) >= 50'000'000'000);
  return mutable_stream(events).flat_map([](Event&& e, Collector<Q14Result>& out) {
    if (!e.is_bid()) return;
    Bid& bid = e.bid();
    if (bid.price < kLowest || bid.price > kHighest) return;
    const int hour = hour_of_day(bid.date_time);
    const char* type = hour >= 8 && hour <= 18   ? "dayTime"
                       : hour <= 6 || hour >= 20 ? "nightTime"
                                                 : "otherTime";
    const auto c_counts = static_cast<int64_t>(std::count(bid.extra.begin(), bid.extra.end(), 'c'));
    out.collect(Q14Result{bid.auction, bid.bidder, bid.price * 908, type, bid.date_time,
                          std::move(bid.extra), c_counts});
  });
}

DataStream<Q15Result> q15(const DataStream<Event>& events) {
  return mutable_stream(events)
      .flat_map([](const Event& e, Collector<Q15Input>& out) {
        if (!e.is_bid()) return;
        const Bid& b = e.bid();
        out.collect(Q15Input{day_number(b.date_time), StatsInput{b.bidder, b.auction, b.price, 0}});
      })
      .name("bids by day")
      .key_by([](const Q15Input& in) { return in.day; })
      .flat_map(DailyStats{})
      .name("daily stats");
}

DataStream<Q16Result> q16(const DataStream<Event>& events) {
  return mutable_stream(events)
      .flat_map([](Event&& e, Collector<Q16Input>& out) {
        if (!e.is_bid()) return;
        Bid& b = e.bid();
        out.collect(Q16Input{std::move(b.channel), day_number(b.date_time),
                             StatsInput{b.bidder, b.auction, b.price, minute_of_day(b.date_time)}});
      })
      .name("bids by channel and day")
      .key_by([](const Q16Input& in) { return std::make_pair(in.channel, in.day); })
      .flat_map(ChannelDailyStats{})
      .name("channel daily stats");
}

DataStream<Q17Result> q17(const DataStream<Event>& events) {
  return mutable_stream(events)
      .flat_map([format = DayFormatter()](const Event& e, Collector<Q17Result>& out) mutable {
        if (!e.is_bid()) return;
        const Bid& b = e.bid();
        const int rank = price_rank(b.price);
        out.collect(Q17Result{b.auction, format(day_number(b.date_time)), 1, rank == 1, rank == 2,
                              rank == 3, b.price, b.price, b.price, b.price});
      })
      .name("bids by auction and day")
      .key_by([](const Q17Result& r) { return std::make_pair(r.auction, r.day); })
      .reduce([](Q17Result acc, const Q17Result& bid) {
        acc.total_bids += bid.total_bids;
        acc.rank1_bids += bid.rank1_bids;
        acc.rank2_bids += bid.rank2_bids;
        acc.rank3_bids += bid.rank3_bids;
        acc.min_price = std::min(acc.min_price, bid.min_price);
        acc.max_price = std::max(acc.max_price, bid.max_price);
        acc.sum_price += bid.sum_price;
        acc.avg_price = acc.sum_price / acc.total_bids;
        return acc;
      })
      .name("auction daily stats");
}

DataStream<Bid> q18(const DataStream<Event>& events) {
  return nexmark::bids(events)
      .key_by([](const Bid& b) { return std::make_pair(b.bidder, b.auction); })
      .flat_map(LastBid{})
      .name("last bid");
}

DataStream<Q19Result> q19(const DataStream<Event>& events) {
  return nexmark::bids(events)
      .key_by([](const Bid& b) { return b.auction; })
      .flat_map(TopBidsPerAuction{})
      .name("top 10 bids");
}

DataStream<Q20Result> q20(const DataStream<Event>& events) {
  // All auctions pass (each marks its id as seen), so that a bid on an auction of another
  // category is dropped rather than kept.
  return mutable_stream(events)
      .filter([](const Event& e) { return e.is_bid() || e.is_auction(); })
      .name("bids and auctions")
      .key_by([](const Event& e) { return e.is_bid() ? e.bid().auction : e.auction().id; })
      .flat_map(JoinBidsWithAuctions{})
      .name("join");
}

DataStream<Q21Result> q21(const DataStream<Event>& events) {
  return mutable_stream(events).flat_map([](Event&& e, Collector<Q21Result>& out) {
    if (!e.is_bid()) return;
    Bid& bid = e.bid();
    std::string channel_id;
    if (int hot = hot_channel_index(bid.channel); hot >= 0) {
      channel_id.assign(1, static_cast<char>('0' + hot));
    } else if (auto extracted = extract_channel_id(bid.url)) {
      channel_id.assign(*extracted);
    } else {
      return;
    }
    out.collect(Q21Result{bid.auction, bid.bidder, bid.price, std::move(bid.channel),
                          std::move(channel_id)});
  });
}

DataStream<Q22Result> q22(const DataStream<Event>& events) {
  return mutable_stream(events).flat_map([](Event&& e, Collector<Q22Result>& out) {
    if (!e.is_bid()) return;
    Bid& bid = e.bid();
    out.collect(Q22Result{bid.auction, bid.bidder, bid.price, std::move(bid.channel),
                          to_optional(split_index(bid.url, '/', 3)),
                          to_optional(split_index(bid.url, '/', 4)),
                          to_optional(split_index(bid.url, '/', 5))});
  });
}

// --- Registry ---

void register_queries_b(std::vector<Query>& queries) {
  queries.push_back(make_query(
      "q11", "user sessions: bids per bidder per session (event-time session window)", &q11));
  queries.push_back(make_query("q12", "bids per bidder per processing-time tumbling window", &q12));
  queries.push_back(make_query("q13", "bounded side input join",
                               [](const DataStream<Event>& e) { return q13(e); }));
  queries.push_back(
      make_query("q14", "calculation: converted price, time-of-day type, user function", &q14));
  queries.push_back(
      make_query("q15", "bidding statistics per day (distinct counts, updating)", &q15));
  queries.push_back(
      make_query("q16", "channel statistics per day (distinct counts, updating)", &q16));
  queries.push_back(make_query("q17", "auction statistics per day (updating)", &q17));
  queries.push_back(make_query("q18", "last bid per bidder and auction (deduplication)", &q18));
  queries.push_back(make_query("q19", "top 10 bids per auction (top-N)", &q19));
  queries.push_back(make_query(
      "q20", "bids joined with auctions of category 10 (join on unique auction ids)", &q20));
  queries.push_back(make_query("q21", "channel id from channel or URL (regular expression)", &q21));
  queries.push_back(make_query("q22", "URL directories (split index)", &q22));
}

}  // namespace eddy::nexmark
