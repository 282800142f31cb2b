// The queries over unbounded state: q17 (group aggregation), q19 (top-N) and q20 (join).
// Their state only grows; nothing fires on the watermark.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "baseline.h"
#include "baseline_internal.h"

namespace eddy::nexmark::baseline {

using internal::for_each_event;
using internal::ResultSink;

namespace {

constexpr int64_t kDayMs = 86'400'000;

// DATE_FORMAT(t, 'yyyy-MM-dd') in UTC, of a day number (days since the epoch).
std::string format_day(int64_t day) {
  std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{day}}};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

int64_t day_of(Timestamp t) { return t >= 0 ? t / kDayMs : (t - kDayMs + 1) / kDayMs; }

}  // namespace

// q17, auction statistics: per (auction, day), the number of bids (all, and in three price
// bands), min, max, average and sum of the price. Every bid updates its group's row: one
// upsert per bid.
BaselineResult q17(const GeneratorConfig& config, Progress* progress) {
  struct Key {
    int64_t auction;
    int64_t day;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t mixed = static_cast<uint64_t>(k.auction) * 0x9e3779b97f4a7c15ULL;
      return static_cast<size_t>(mixed ^ (mixed >> 29) ^ static_cast<uint64_t>(k.day));
    }
  };
  struct Stats {
    const std::string* day = nullptr;  // the formatted day
    int64_t total = 0;
    int64_t rank1 = 0;  // price < 10,000
    int64_t rank2 = 0;  // 10,000 <= price < 1,000,000
    int64_t rank3 = 0;  // price >= 1,000,000
    int64_t min = 0;
    int64_t max = 0;
    int64_t sum = 0;
  };
  std::unordered_map<Key, Stats, KeyHash> groups;
  std::unordered_map<int64_t, std::string> days;
  ResultSink sink;

  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    Key key{bid.auction, day_of(bid.date_time)};
    auto [it, inserted] = groups.try_emplace(key);
    Stats& s = it->second;
    if (inserted) {
      auto day = days.try_emplace(key.day);
      if (day.second) day.first->second = format_day(key.day);
      s.day = &day.first->second;
      s.min = bid.price;
      s.max = bid.price;
    }
    ++s.total;
    if (bid.price < 10'000) {
      ++s.rank1;
    } else if (bid.price < 1'000'000) {
      ++s.rank2;
    } else {
      ++s.rank3;
    }
    s.min = std::min(s.min, bid.price);
    s.max = std::max(s.max, bid.price);
    s.sum += bid.price;
    sink.emit(key.auction, *s.day, s.total, s.rank1, s.rank2, s.rank3, s.min, s.max,
              s.sum / s.total, s.sum);
  });
  return internal::finish(events, sink, static_cast<int64_t>(groups.size()));
}

// q19, top-10 bids of each auction by price (ROW_NUMBER, the rank in the output): a bid
// that enters the top 10 takes rank r, and the rows from rank r down change (the bids
// below move one rank down, the 11th leaves): one upsert per changed (auction, rank).
// Equal prices keep their arrival order, as Flink's top-N does.
BaselineResult q19(const GeneratorConfig& config, Progress* progress) {
  constexpr size_t kTop = 10;
  std::unordered_map<int64_t, std::vector<Bid>> tops;  // auction -> bids, highest first
  ResultSink sink;

  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    Bid& bid = event.bid();
    std::vector<Bid>& top = tops[bid.auction];
    auto pos =
        std::find_if(top.begin(), top.end(), [&](const Bid& b) { return b.price < bid.price; });
    size_t rank = static_cast<size_t>(pos - top.begin());
    if (rank >= kTop) return;
    top.insert(pos, std::move(bid));
    if (top.size() > kTop) top.pop_back();
    for (size_t r = rank; r < top.size(); ++r) {
      const Bid& b = top[r];
      sink.emit(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
                static_cast<int64_t>(r + 1));
    }
  });
  int64_t rows = 0;
  for (const auto& [auction, top] : tops) rows += static_cast<int64_t>(top.size());
  return internal::finish(events, sink, rows);
}

// q20, bids joined with their auction, for auctions of category 10 (an inner join on
// auction id without time bounds). Auction ids are unique, so once an auction has been
// seen a bid on it either joins at once or never; bids that come before their auction
// wait for it.
BaselineResult q20(const GeneratorConfig& config, Progress* progress) {
  constexpr int64_t kCategory = 10;
  enum : uint8_t { kUnseen = 0, kSeen = 1 };
  std::vector<uint8_t> seen;                              // by auction id, when the id is small
  std::unordered_map<int64_t, uint8_t> seen_large;        // the others
  std::unordered_map<int64_t, Auction> matching;          // id -> auction, category 10
  std::unordered_map<int64_t, std::vector<Bid>> waiting;  // bids before their auction
  ResultSink sink;

  constexpr int64_t kDense = int64_t{1} << 32;
  auto is_seen = [&](int64_t id) {
    if (id >= 0 && id < kDense) {
      return static_cast<size_t>(id) < seen.size() && seen[static_cast<size_t>(id)] == kSeen;
    }
    return seen_large.contains(id);
  };
  auto mark_seen = [&](int64_t id) {
    if (id >= 0 && id < kDense) {
      auto index = static_cast<size_t>(id);
      if (index >= seen.size()) seen.resize(std::max(index + 1, seen.size() * 2), kUnseen);
      seen[index] = kSeen;
    } else {
      seen_large[id] = kSeen;
    }
  };
  auto emit = [&](const Bid& b, const Auction& a) {
    sink.emit(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, a.item_name,
              a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category,
              a.extra);
  };

  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (event.is_bid()) {
      Bid& bid = event.bid();
      auto it = matching.find(bid.auction);
      if (it != matching.end()) {
        emit(bid, it->second);
      } else if (!is_seen(bid.auction)) {
        waiting[bid.auction].push_back(std::move(bid));
      }
    } else if (event.is_auction()) {
      Auction& auction = event.auction();
      int64_t id = auction.id;
      mark_seen(id);
      auto early = waiting.find(id);
      if (auction.category == kCategory) {
        if (early != waiting.end()) {
          for (const Bid& bid : early->second) emit(bid, auction);
        }
        matching.emplace(id, std::move(auction));
      }
      if (early != waiting.end()) waiting.erase(early);
    }
  });
  return internal::finish(events, sink);
}

}  // namespace eddy::nexmark::baseline
