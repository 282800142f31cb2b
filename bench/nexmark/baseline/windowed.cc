// The event-time windowed queries: q5 (sliding), q7 and q8 (tumbling), q11 (sessions).
//
// Each keeps its open windows by start, fires a window once the watermark reaches its last
// millisecond (end - 1, as Flink's event-time windows do), and fires the rest at the end
// of the input. Records for a window that has already fired are late and dropped, as the
// queries' window aggregations drop them.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "baseline.h"
#include "baseline_internal.h"

namespace eddy::nexmark::baseline {

using internal::for_each_event;
using internal::ResultSink;
using internal::Watermark;
using internal::window_start;

namespace {

constexpr int64_t kNoWindow = std::numeric_limits<int64_t>::min();

}  // namespace

// q5, hot items: for every 10-second window sliding by 2 seconds, the auctions with the
// most bids in it (all of them on a tie), as (auction, count).
//
// Counts are kept per 2-second pane (a bid updates one pane, not five windows); a window
// merges its five panes when it fires.
BaselineResult q5(const GeneratorConfig& config, Progress* progress) {
  constexpr int64_t kSize = 10'000;
  constexpr int64_t kSlide = 2'000;
  using Counts = std::unordered_map<int64_t, int64_t>;  // auction -> bids
  std::map<Timestamp, Counts> panes;                    // by pane start
  Timestamp next_end = kNoWindow;                       // windows ending before it have fired
  Counts merged;
  ResultSink sink;
  Watermark watermark(config.watermark_delay_ms);

  auto fire_window = [&](Timestamp end) {
    auto first = panes.lower_bound(end - kSize);
    auto last = panes.lower_bound(end);
    if (first == last) return;
    const Counts* counts = &first->second;
    if (std::next(first) != last) {  // several panes: merge them
      merged.clear();
      for (auto it = first; it != last; ++it) {
        for (const auto& [auction, n] : it->second) merged[auction] += n;
      }
      counts = &merged;
    }
    int64_t max = 0;
    for (const auto& [auction, n] : *counts) max = std::max(max, n);
    for (const auto& [auction, n] : *counts) {
      if (n >= max) sink.emit(auction, n);
    }
  };
  // Fires every window that ends by `to` and holds data: the earliest is the one after the
  // last fired (next_end), or the first over the oldest pane, whichever is later.
  auto advance = [&](Timestamp to) {
    while (!panes.empty()) {
      Timestamp end = panes.begin()->first + kSlide;
      if (next_end != kNoWindow) end = std::max(end, next_end);
      if (end - 1 > to) break;
      fire_window(end);
      next_end = end + kSlide;
      panes.erase(panes.begin(), panes.lower_bound(next_end - kSize));  // no window left
    }
  };

  Timestamp cached_start = kNoWindow;
  Counts* cached = nullptr;
  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    Timestamp pane = window_start(bid.date_time, kSlide);
    if (pane + kSlide - 1 <= watermark.current()) return;  // late
    if (pane != cached_start) {
      cached = &panes[pane];
      cached_start = pane;
    }
    ++(*cached)[bid.auction];
    if (watermark.observe(bid.date_time)) {
      advance(watermark.current());
      cached_start = kNoWindow;  // the pane may be gone
    }
  });
  watermark.finish();
  advance(watermark.current());
  return internal::finish(events, sink);
}

// q7, highest bid: every bid whose price is the highest of a 10-second tumbling window
// [start, end) and whose time lies in [end - 10 s, end] (the query's BETWEEN includes the
// end, so a bid at exactly `end` also joins the window before its own when its price
// equals that window's maximum).
BaselineResult q7(const GeneratorConfig& config, Progress* progress) {
  constexpr int64_t kSize = 10'000;
  struct Window {
    bool has_bids = false;
    int64_t max = std::numeric_limits<int64_t>::min();
    std::vector<Bid> at_max;    // the window's bids with price == max
    std::vector<Bid> boundary;  // bids at exactly `end` with price >= max when they came
  };
  std::map<Timestamp, Window> windows;               // open windows by start
  std::unordered_map<Timestamp, int64_t> fired_max;  // window end -> its maximum
  ResultSink sink;
  Watermark watermark(config.watermark_delay_ms);

  auto emit = [&](const Bid& bid) {
    sink.emit(bid.auction, bid.bidder, bid.price, bid.date_time, bid.extra);
  };
  auto advance = [&](Timestamp to) {
    while (!windows.empty() && windows.begin()->first + kSize - 1 <= to) {
      auto it = windows.begin();
      Window& w = it->second;
      if (w.has_bids) {
        for (const Bid& bid : w.at_max) emit(bid);
        for (const Bid& bid : w.boundary) {
          if (bid.price == w.max) emit(bid);
        }
        fired_max[it->first + kSize] = w.max;
      }
      windows.erase(it);
    }
  };
  // The bid joins the window ending at `end`, when that one has fired already.
  auto join_fired = [&](const Bid& bid, Timestamp end) {
    auto it = fired_max.find(end);
    if (it != fired_max.end() && it->second == bid.price) emit(bid);
  };

  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    Bid& bid = event.bid();
    Timestamp t = bid.date_time;
    Timestamp start = window_start(t, kSize);
    bool late = start + kSize - 1 <= watermark.current();
    bool at_boundary = t == start;  // also within [end - 10 s, end] of the window before
    if (at_boundary) {
      Timestamp previous = start - kSize;
      if (previous + kSize - 1 <= watermark.current()) {
        join_fired(bid, start);
      } else {
        Window& w = windows[previous];
        if (bid.price >= w.max) w.boundary.push_back(bid);
      }
    }
    if (late) {
      join_fired(bid, start + kSize);  // too late for the maximum, not for the join
    } else {
      Window& w = windows[start];
      w.has_bids = true;
      if (bid.price > w.max) {
        w.max = bid.price;
        w.at_max.clear();
        std::erase_if(w.boundary, [&](const Bid& b) { return b.price < w.max; });
      }
      if (bid.price == w.max) w.at_max.push_back(std::move(bid));
    }
    if (watermark.observe(t)) advance(watermark.current());
  });
  watermark.finish();
  advance(watermark.current());
  return internal::finish(events, sink);
}

// q8, monitor new users: the people who registered in a 10-second tumbling window and
// opened an auction in the same window, as (id, name, window start).
BaselineResult q8(const GeneratorConfig& config, Progress* progress) {
  constexpr int64_t kSize = 10'000;
  struct Window {
    std::unordered_map<int64_t, std::string> people;  // id -> name
    std::unordered_set<int64_t> sellers;
  };
  std::map<Timestamp, Window> windows;
  ResultSink sink;
  Watermark watermark(config.watermark_delay_ms);

  auto advance = [&](Timestamp to) {
    while (!windows.empty() && windows.begin()->first + kSize - 1 <= to) {
      auto it = windows.begin();
      const Window& w = it->second;
      for (const auto& [id, name] : w.people) {
        if (w.sellers.contains(id)) sink.emit(id, name, it->first);
      }
      windows.erase(it);
    }
  };

  Timestamp cached_start = kNoWindow;
  Window* cached = nullptr;
  auto window_of = [&](Timestamp t) -> Window* {
    Timestamp start = window_start(t, kSize);
    if (start + kSize - 1 <= watermark.current()) return nullptr;  // late
    if (start != cached_start) {
      cached = &windows[start];
      cached_start = start;
    }
    return cached;
  };
  int64_t events = for_each_event(config, progress, [&](Event& event) {
    Timestamp t;
    if (event.is_person()) {
      Person& person = event.person();
      t = person.date_time;
      if (Window* w = window_of(t)) w->people.try_emplace(person.id, std::move(person.name));
    } else if (event.is_auction()) {
      const Auction& auction = event.auction();
      t = auction.date_time;
      if (Window* w = window_of(t)) w->sellers.insert(auction.seller);
    } else {
      t = event.bid().date_time;  // bids only move the watermark
    }
    if (watermark.observe(t)) {
      advance(watermark.current());
      cached_start = kNoWindow;
    }
  });
  watermark.finish();
  advance(watermark.current());
  return internal::finish(events, sink);
}

// q11, user sessions: per bidder, the bids of each session (bids at most 10 seconds apart:
// Flink merges sessions that touch), as (bidder, count, start, end = last + 10 s).
//
// A min-heap of (end, bidder) drives the firing, with one entry per bidder: when a session
// has grown since its entry was pushed, the entry is pushed again with the new end.
BaselineResult q11(const GeneratorConfig& config, Progress* progress) {
  constexpr int64_t kGap = 10'000;
  struct Session {
    Timestamp start;
    Timestamp end;  // exclusive: last bid + gap
    int64_t count;
  };
  struct Bidder {
    std::vector<Session> sessions;        // disjoint; usually one
    Timestamp scheduled = kMaxWatermark;  // the end of this bidder's entry in the heap
  };
  std::unordered_map<int64_t, Bidder> bidders;
  using Entry = std::pair<Timestamp, int64_t>;  // (end, bidder)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> timers;
  ResultSink sink;
  Watermark watermark(config.watermark_delay_ms);

  auto advance = [&](Timestamp to) {
    while (!timers.empty() && timers.top().first - 1 <= to) {
      auto [end, id] = timers.top();
      timers.pop();
      auto it = bidders.find(id);
      if (it == bidders.end() || it->second.scheduled != end) continue;  // stale entry
      Bidder& bidder = it->second;
      Timestamp next = kMaxWatermark;
      std::erase_if(bidder.sessions, [&](const Session& s) {
        if (s.end - 1 <= to) {
          sink.emit(id, s.count, s.start, s.end);
          return true;
        }
        next = std::min(next, s.end);
        return false;
      });
      if (bidder.sessions.empty()) {
        bidders.erase(it);
      } else {
        bidder.scheduled = next;
        timers.emplace(next, id);
      }
    }
  };

  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    Timestamp t = bid.date_time;
    Session fresh{t, t + kGap, 1};
    auto [it, inserted] = bidders.try_emplace(bid.bidder);
    Bidder& bidder = it->second;
    // Merge every session the new one touches ([s, e] and [t, t + gap] intersect).
    auto& sessions = bidder.sessions;
    bool merged = false;
    for (size_t i = 0; i < sessions.size();) {
      Session& s = sessions[i];
      if (s.start <= fresh.end && fresh.start <= s.end) {
        fresh.start = std::min(fresh.start, s.start);
        fresh.end = std::max(fresh.end, s.end);
        fresh.count += s.count;
        sessions[i] = sessions.back();
        sessions.pop_back();
        merged = true;
      } else {
        ++i;
      }
    }
    if (!merged && fresh.end - 1 <= watermark.current()) {  // a late bid alone: dropped
      if (inserted) bidders.erase(it);
    } else {
      sessions.push_back(fresh);
      if (inserted || fresh.end < bidder.scheduled) {
        bidder.scheduled = fresh.end;
        timers.emplace(fresh.end, bid.bidder);
      }
    }
    if (watermark.observe(t)) advance(watermark.current());
  });
  watermark.finish();
  advance(watermark.current());
  return internal::finish(events, sink);
}

}  // namespace eddy::nexmark::baseline
