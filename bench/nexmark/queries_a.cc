// Nexmark q0-q9 (queries_a.h): the DataStream programs and their registration.
#include "queries_a.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eddy::nexmark {

namespace {

using std::chrono::seconds;

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

Q0Result project_bid(Bid&& b) {
  return Q0Result{b.auction, b.bidder, b.price, b.date_time, std::move(b.extra)};
}

// The order of q9's ROW_NUMBER() OVER (ORDER BY price DESC, dateTime ASC), made total so
// that the winner does not depend on arrival order: then the lowest bidder, then the
// smallest remaining columns.
bool better_bid(const Bid& a, const Bid& b) {
  if (a.price != b.price) return a.price > b.price;
  if (a.date_time != b.date_time) return a.date_time < b.date_time;
  if (a.bidder != b.bidder) return a.bidder < b.bidder;
  return std::tie(a.channel, a.url, a.extra) < std::tie(b.channel, b.url, b.extra);
}

// ---------------------------------------------------------------------------------------
// q3: the incremental join of people and auctions on seller
// ---------------------------------------------------------------------------------------

// One side of the join, keyed by person id: a person (auction < 0) or an auction's id.
struct Q3Input {
  int64_t person = 0;
  int64_t auction = -1;
  std::string name;
  std::string city;
  std::string state;
  EDDY_SERIALIZE(person, auction, name, city, state)
};

struct Q3Person {
  std::string name;
  std::string city;
  std::string state;
  EDDY_SERIALIZE(name, city, state)
};

// Both sides stay in keyed state (the reference's regular join keeps them forever); each
// record joins what the other side has so far.
class Q3Join {
 public:
  void open(RuntimeContext& context) {
    persons_ = &context.get_list_state(ListStateDescriptor<Q3Person>("q3/persons"));
    auctions_ = &context.get_list_state(ListStateDescriptor<int64_t>("q3/auctions"));
  }
  void operator()(Q3Input&& in, Collector<Q3Result>& out) {
    if (in.auction < 0) {
      for (int64_t auction : auctions_->get())
        out.collect(Q3Result{in.name, in.city, in.state, auction});
      persons_->add(Q3Person{std::move(in.name), std::move(in.city), std::move(in.state)});
    } else {
      for (Q3Person& p : persons_->get()) {
        out.collect(Q3Result{std::move(p.name), std::move(p.city), std::move(p.state), in.auction});
      }
      auctions_->add(in.auction);
    }
  }

 private:
  ListState<Q3Person>* persons_ = nullptr;
  ListState<int64_t>* auctions_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// q4: max per auction (within its lifetime), then the average per category
// ---------------------------------------------------------------------------------------

// An auction's lifetime and category, or a bid's price and time, keyed by auction id.
struct Q4Input {
  int64_t auction = 0;
  bool is_auction = false;
  int64_t category = 0;   // auctions
  Timestamp expires = 0;  // auctions
  int64_t price = 0;      // bids
  Timestamp date_time = 0;
  EDDY_SERIALIZE(auction, is_auction, category, expires, price, date_time)
};

struct Q4Auction {
  int64_t category = 0;
  Timestamp date_time = 0;
  Timestamp expires = 0;
  EDDY_SERIALIZE(category, date_time, expires)
};

struct Q4PendingBid {
  int64_t price = 0;
  Timestamp date_time = 0;
  EDDY_SERIALIZE(price, date_time)
};

// A change of an auction's maximum: `previous` (when it had one) becomes `max`.
struct Q4MaxChange {
  int64_t category = 0;
  bool has_previous = false;
  int64_t previous = 0;
  int64_t max = 0;
  EDDY_SERIALIZE(category, has_previous, previous, max)
};

class Q4AuctionMax final : public KeyedProcessFunction<int64_t, Q4Input, Q4MaxChange> {
 public:
  void open(RuntimeContext& context) override {
    auction_ = &context.get_state(ValueStateDescriptor<Q4Auction>("q4/auction"));
    max_ = &context.get_state(ValueStateDescriptor<int64_t>("q4/max"));
    pending_ = &context.get_list_state(ListStateDescriptor<Q4PendingBid>("q4/pending-bids"));
  }

  void process_element(const Q4Input& in, Context& context, Collector<Q4MaxChange>& out) override {
    if (in.is_auction) {
      if (auction_->value()) return;  // ids are unique; a repeated id keeps the first auction
      // Its bids that arrived first no longer wait (their timers go before the auction's
      // own is set: they may share its time).
      std::vector<Q4PendingBid> pending = pending_->get();
      for (const Q4PendingBid& b : pending)
        context.timer_service().delete_event_time_timer(b.date_time + 1);
      pending_->clear();
      Q4Auction auction{in.category, in.date_time, in.expires};
      auction_->update(auction);
      // After `expires` no bid on time can fall within the auction's lifetime.
      context.timer_service().register_event_time_timer(in.expires + 1);
      for (const Q4PendingBid& b : pending) add_bid(auction, b.price, b.date_time, out);
      return;
    }
    if (std::optional<Q4Auction> auction = auction_->value()) {
      add_bid(*auction, in.price, in.date_time, out);
    } else {
      // The auction has not arrived yet (bids may name auctions a few ids ahead, and
      // parallel sources interleave): wait for it until the watermark passes the bid.
      pending_->add(Q4PendingBid{in.price, in.date_time});
      context.timer_service().register_event_time_timer(in.date_time + 1);
    }
  }

  void on_timer(Timestamp time, OnTimerContext&, Collector<Q4MaxChange>&) override {
    if (std::optional<Q4Auction> auction = auction_->value()) {
      if (time > auction->expires) {
        auction_->clear();
        max_->clear();
      }
      return;
    }
    // Bids whose auction can no longer arrive on time.
    std::vector<Q4PendingBid> pending = pending_->get();
    std::erase_if(pending, [time](const Q4PendingBid& b) { return b.date_time < time; });
    pending_->update(std::move(pending));
  }

 private:
  void add_bid(const Q4Auction& auction, int64_t price, Timestamp date_time,
               Collector<Q4MaxChange>& out) {
    if (date_time < auction.date_time || date_time > auction.expires) return;
    std::optional<int64_t> max = max_->value();
    if (max && price <= *max) return;
    max_->update(price);
    out.collect(Q4MaxChange{auction.category, max.has_value(), max.value_or(0), price});
  }

  ValueState<Q4Auction>* auction_ = nullptr;
  ValueState<int64_t>* max_ = nullptr;
  ListState<Q4PendingBid>* pending_ = nullptr;
};

struct Q4Average {
  int64_t sum = 0;
  int64_t count = 0;
  int64_t emitted = 0;  // the average last emitted (count > 0)
  EDDY_SERIALIZE(sum, count, emitted)
};

class Q4CategoryAverage final : public KeyedProcessFunction<int64_t, Q4MaxChange, Q4Result> {
 public:
  void open(RuntimeContext& context) override {
    average_ = &context.get_state(ValueStateDescriptor<Q4Average>("q4/average"));
  }
  void process_element(const Q4MaxChange& in, Context&, Collector<Q4Result>& out) override {
    Q4Average a = average_->value_or(Q4Average{});
    bool first = a.count == 0;
    if (in.has_previous) {
      a.sum += in.max - in.previous;
    } else {
      a.sum += in.max;
      ++a.count;
    }
    int64_t average = a.sum / a.count;
    // As the reference's aggregation, an unchanged result is not emitted again.
    bool changed = first || average != a.emitted;
    a.emitted = average;
    average_->update(a);
    if (changed) out.collect(Q4Result{in.category, average});
  }

 private:
  ValueState<Q4Average>* average_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// q5: bid counts per auction and sliding window, then the top auctions per window
// ---------------------------------------------------------------------------------------

constexpr int64_t kQ5SizeMs = 10'000;
constexpr int64_t kQ5SlideMs = 2'000;
// Auctions are spread over this many groups, each of which finds its own top auctions per
// window; the groups' tops are then combined.
constexpr int64_t kQ5Groups = 128;

// Bids are counted per auction in tumbling panes of one slide (2 s): a sliding window is
// its five panes (as Flink slices hopping windows), so each bid is counted once, not five
// times, and state holds a count per auction and pane, not per auction and window.
struct Q5PaneCount {
  int64_t auction = 0;
  int64_t num = 0;
  Timestamp pane_end = 0;
  EDDY_SERIALIZE(auction, num, pane_end)
};

struct Q5Count {
  int64_t auction = 0;
  int64_t num = 0;
  Timestamp window_end = 0;
  EDDY_SERIALIZE(auction, num, window_end)
};

// Keyed by group: the pane counts of the group's auctions. When the watermark reaches a
// window's end (its panes are all in), emits the group's auctions with the most bids in
// that window, and drops the panes no later window holds.
class Q5GroupTop final : public KeyedProcessFunction<int64_t, Q5PaneCount, Q5Count> {
 public:
  void open(RuntimeContext& context) override {
    panes_ = &context.get_map_state(
        MapStateDescriptor<std::pair<int64_t, Timestamp>, int64_t>("q5/panes"));
  }
  void process_element(const Q5PaneCount& in, Context& context, Collector<Q5Count>&) override {
    // The pane window emits one count per auction and pane.
    panes_->put({in.auction, in.pane_end}, in.num);
    // The first window that holds this pane ends with it (window results carry end - 1).
    context.timer_service().register_event_time_timer(in.pane_end - 1);
  }
  void on_timer(Timestamp time, OnTimerContext& context, Collector<Q5Count>& out) override {
    Timestamp end = time + 1;
    sums_.clear();
    bool more = false;
    for (const auto& [pane, n] : panes_->entries()) {
      const auto& [auction, pane_end] = pane;
      if (pane_end > end - kQ5SizeMs && pane_end <= end) sums_[auction] += n;
      if (pane_end > end + kQ5SlideMs - kQ5SizeMs) {
        more = true;  // in the next window too
      } else {
        panes_->remove(pane);
      }
    }
    int64_t max = 0;
    for (const auto& [auction, n] : sums_) max = std::max(max, n);
    for (const auto& [auction, n] : sums_) {
      if (n == max) out.collect(Q5Count{auction, n, end});
    }
    if (more) context.timer_service().register_event_time_timer(time + kQ5SlideMs);
  }

 private:
  MapState<std::pair<int64_t, Timestamp>, int64_t>* panes_ = nullptr;
  std::unordered_map<int64_t, int64_t> sums_;  // scratch: auction -> bids in the window
};

// Keyed by window end: the groups' top auctions, of which those with the most bids are
// emitted when the watermark reaches the window's end.
class Q5TopAuctions final : public KeyedProcessFunction<Timestamp, Q5Count, Q5Result> {
 public:
  void open(RuntimeContext& context) override {
    max_ = &context.get_state(ValueStateDescriptor<int64_t>("q5/max"));
    auctions_ = &context.get_list_state(ListStateDescriptor<int64_t>("q5/auctions"));
  }
  void process_element(const Q5Count& in, Context& context, Collector<Q5Result>&) override {
    std::optional<int64_t> max = max_->value();
    if (!max) context.timer_service().register_event_time_timer(in.window_end - 1);
    if (!max || in.num > *max) {
      max_->update(in.num);
      auctions_->update({in.auction});
    } else if (in.num == *max) {
      auctions_->add(in.auction);
    }
  }
  void on_timer(Timestamp, OnTimerContext& context, Collector<Q5Result>& out) override {
    Timestamp end = context.current_key();
    int64_t max = max_->value_or(0);
    for (int64_t auction : auctions_->get())
      out.collect(Q5Result{auction, max, end - kQ5SizeMs, end});
    max_->clear();
    auctions_->clear();
  }

 private:
  ValueState<int64_t>* max_ = nullptr;
  ListState<int64_t>* auctions_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// q7: the bids at the highest price of each tumbling window
// ---------------------------------------------------------------------------------------

constexpr int64_t kQ7SizeMs = 10'000;
// Partial maxima are computed in this many groups (by price, which spreads evenly; the
// auctions and bidders are skewed towards hot ones), then combined per window.
constexpr int64_t kQ7Groups = 128;

// A bid for q7. `boundary`: a copy of a bid at exactly a window start, for the window
// before it (the reference's join takes bids up to window_end inclusive).
struct Q7Bid {
  Q0Result bid;
  bool boundary = false;
  EDDY_SERIALIZE(bid, boundary)
};

// Tumbling windows, except that a boundary copy goes to the window that ends at its time.
class Q7Windows {
 public:
  using window_type = TimeWindow;
  void assign_windows(const Q7Bid& b, Timestamp timestamp, WindowAssignerContext& context,
                      std::vector<TimeWindow>& windows) const {
    if (b.boundary) {
      windows.push_back(TimeWindow{timestamp - kQ7SizeMs, timestamp});
    } else {
      tumbling_.assign_windows(b, timestamp, context, windows);
    }
  }
  EventTimeTrigger default_trigger() const { return {}; }
  bool is_event_time() const { return true; }
  std::string to_string() const { return "Q7Windows(" + std::to_string(kQ7SizeMs) + ")"; }

 private:
  TumblingEventTimeWindows tumbling_ =
      TumblingEventTimeWindows::of(std::chrono::milliseconds(kQ7SizeMs));
};

// The highest price of the window so far, its bids, and the boundary bids that may still
// equal the window's highest price (those at or above the highest price seen here).
struct Q7Max {
  int64_t max = -1;
  std::vector<Q0Result> at_max;
  std::vector<Q0Result> boundary;
  EDDY_SERIALIZE(max, at_max, boundary)

  void add(const Q0Result& b) {
    if (b.price > max) {
      max = b.price;
      at_max.assign(1, b);
      std::erase_if(boundary, [this](const Q0Result& c) { return c.price < max; });
    } else if (b.price == max) {
      at_max.push_back(b);
    }
  }
  void add_boundary(const Q0Result& b) {
    if (b.price >= max) boundary.push_back(b);
  }
  void merge(const Q7Max& other) {
    if (other.max > max) {
      max = other.max;
      at_max = other.at_max;
    } else if (other.max == max) {
      at_max.insert(at_max.end(), other.at_max.begin(), other.at_max.end());
    }
    boundary.insert(boundary.end(), other.boundary.begin(), other.boundary.end());
    std::erase_if(boundary, [this](const Q0Result& c) { return c.price < max; });
  }
};

class Q7PartialMax final : public AggregateFunction<Q7Bid, Q7Max, Q7Max> {
 public:
  Q7Max create_accumulator() const override { return {}; }
  Q7Max add(const Q7Bid& b, Q7Max acc) const override {
    if (b.boundary) {
      acc.add_boundary(b.bid);
    } else {
      acc.add(b.bid);
    }
    return acc;
  }
  Q7Max get_result(const Q7Max& acc) const override { return acc; }
  Q7Max merge(Q7Max a, const Q7Max& b) const override {
    a.merge(b);
    return a;
  }
};

class Q7MergeMax final : public AggregateFunction<Q7Max, Q7Max, Q7Max> {
 public:
  Q7Max create_accumulator() const override { return {}; }
  Q7Max add(const Q7Max& partial, Q7Max acc) const override {
    acc.merge(partial);
    return acc;
  }
  Q7Max get_result(const Q7Max& acc) const override { return acc; }
  Q7Max merge(Q7Max a, const Q7Max& b) const override {
    a.merge(b);
    return a;
  }
};

// ---------------------------------------------------------------------------------------
// q8: people and sellers per tumbling window
// ---------------------------------------------------------------------------------------

constexpr int64_t kQ8SizeMs = 10'000;

// A person (id, name) or an auction's seller (id), keyed by id.
struct Q8Input {
  int64_t id = 0;
  bool is_person = false;
  std::string name;
  EDDY_SERIALIZE(id, is_person, name)
};

// What a window knows of one id: the distinct names it registered with, and whether it
// sold anything.
struct Q8Window {
  std::vector<std::string> names;
  bool seller = false;
  EDDY_SERIALIZE(names, seller)
};

class Q8Aggregate final : public AggregateFunction<Q8Input, Q8Window, Q8Window> {
 public:
  Q8Window create_accumulator() const override { return {}; }
  Q8Window add(const Q8Input& in, Q8Window acc) const override {
    if (!in.is_person) {
      acc.seller = true;
    } else if (std::find(acc.names.begin(), acc.names.end(), in.name) == acc.names.end()) {
      acc.names.push_back(in.name);
    }
    return acc;
  }
  Q8Window get_result(const Q8Window& acc) const override { return acc; }
  Q8Window merge(Q8Window a, const Q8Window& b) const override {
    a.seller = a.seller || b.seller;
    for (const std::string& name : b.names) {
      if (std::find(a.names.begin(), a.names.end(), name) == a.names.end()) a.names.push_back(name);
    }
    return a;
  }
};

// ---------------------------------------------------------------------------------------
// q9: the winning bid of each auction
// ---------------------------------------------------------------------------------------

struct Q9Lifetime {
  Timestamp date_time = 0;
  Timestamp expires = 0;
  EDDY_SERIALIZE(date_time, expires)
};

// The best bid's columns that decide most comparisons, so that a bid is compared without
// reading the whole best bid.
struct Q9BestKey {
  int64_t price = 0;
  Timestamp date_time = 0;
  int64_t bidder = 0;
  EDDY_SERIALIZE(price, date_time, bidder)
};

class Q9WinningBid final : public KeyedProcessFunction<int64_t, Event, Q9Result> {
 public:
  void open(RuntimeContext& context) override {
    lifetime_ = &context.get_state(ValueStateDescriptor<Q9Lifetime>("q9/lifetime"));
    auction_ = &context.get_state(ValueStateDescriptor<Auction>("q9/auction"));
    best_key_ = &context.get_state(ValueStateDescriptor<Q9BestKey>("q9/best-key"));
    best_ = &context.get_state(ValueStateDescriptor<Bid>("q9/best"));
    pending_ = &context.get_list_state(ListStateDescriptor<Bid>("q9/pending-bids"));
  }

  void process_element(const Event& event, Context& context, Collector<Q9Result>&) override {
    if (event.is_auction()) {
      const Auction& a = event.auction();
      if (lifetime_->value()) return;  // ids are unique; a repeated id keeps the first auction
      // Its bids that arrived first no longer wait (their timers go before the auction's
      // own is set: they may share its time).
      std::vector<Bid> pending = pending_->get();
      for (const Bid& b : pending) context.timer_service().delete_event_time_timer(b.date_time + 1);
      pending_->clear();
      Q9Lifetime lifetime{a.date_time, a.expires};
      lifetime_->update(lifetime);
      auction_->update(a);
      // After `expires` no bid on time can fall within the auction's lifetime.
      context.timer_service().register_event_time_timer(a.expires + 1);
      for (const Bid& b : pending) add_bid(lifetime, b);
      return;
    }
    const Bid& b = event.bid();
    if (std::optional<Q9Lifetime> lifetime = lifetime_->value()) {
      add_bid(*lifetime, b);
    } else {
      // The auction has not arrived yet: wait for it until the watermark passes the bid.
      pending_->add(b);
      context.timer_service().register_event_time_timer(b.date_time + 1);
    }
  }

  void on_timer(Timestamp time, OnTimerContext&, Collector<Q9Result>& out) override {
    if (std::optional<Q9Lifetime> lifetime = lifetime_->value()) {
      if (time <= lifetime->expires) return;
      std::optional<Bid> best = best_->value();
      if (best) out.collect(Q9Result{*auction_->value(), std::move(*best)});
      lifetime_->clear();
      auction_->clear();
      best_key_->clear();
      best_->clear();
      return;
    }
    // Bids whose auction can no longer arrive on time.
    std::vector<Bid> pending = pending_->get();
    std::erase_if(pending, [time](const Bid& b) { return b.date_time < time; });
    pending_->update(std::move(pending));
  }

 private:
  void add_bid(const Q9Lifetime& lifetime, const Bid& b) {
    if (b.date_time < lifetime.date_time || b.date_time > lifetime.expires) return;
    std::optional<Q9BestKey> key = best_key_->value();
    if (key) {
      if (b.price < key->price) return;
      if (b.price == key->price) {
        if (b.date_time > key->date_time) return;
        if (b.date_time == key->date_time) {
          if (b.bidder > key->bidder) return;
          if (b.bidder == key->bidder && !better_bid(b, *best_->value())) return;
        }
      }
    }
    best_key_->update(Q9BestKey{b.price, b.date_time, b.bidder});
    best_->update(b);
  }

  ValueState<Q9Lifetime>* lifetime_ = nullptr;
  ValueState<Auction>* auction_ = nullptr;
  ValueState<Q9BestKey>* best_key_ = nullptr;
  ValueState<Bid>* best_ = nullptr;
  ListState<Bid>* pending_ = nullptr;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// The queries
// ---------------------------------------------------------------------------------------

DataStream<Q0Result> q0(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](Event&& e, Collector<Q0Result>& out) {
        if (e.is_bid()) out.collect(project_bid(std::move(e.bid())));
      })
      .name("q0: bids");
}

DataStream<Q1Result> q1(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](Event&& e, Collector<Q1Result>& out) {
        if (!e.is_bid()) return;
        Bid& b = e.bid();
        out.collect(Q1Result{b.auction, b.bidder, b.price * 908, b.date_time, std::move(b.extra)});
      })
      .name("q1: bids in euros");
}

DataStream<Q2Result> q2(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](const Event& e, Collector<Q2Result>& out) {
        if (!e.is_bid()) return;
        const Bid& b = e.bid();
        if (b.auction % 123 == 0) out.collect(Q2Result{b.auction, b.price});
      })
      .name("q2: bids on every 123rd auction");
}

DataStream<Q3Result> q3(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](Event&& e, Collector<Q3Input>& out) {
        if (e.is_person()) {
          Person& p = e.person();
          if (p.state == "OR" || p.state == "ID" || p.state == "CA") {
            out.collect(
                Q3Input{p.id, -1, std::move(p.name), std::move(p.city), std::move(p.state)});
          }
        } else if (e.is_auction()) {
          const Auction& a = e.auction();
          if (a.category == 10) out.collect(Q3Input{a.seller, a.id, {}, {}, {}});
        }
      })
      .name("q3: sellers in OR/ID/CA, auctions of category 10")
      .key_by([](const Q3Input& in) { return in.person; })
      .flat_map(Q3Join{})
      .name("q3: join on seller");
}

DataStream<Q4Result> q4(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](const Event& e, Collector<Q4Input>& out) {
        if (e.is_auction()) {
          const Auction& a = e.auction();
          out.collect(Q4Input{a.id, true, a.category, a.expires, 0, a.date_time});
        } else if (e.is_bid()) {
          const Bid& b = e.bid();
          out.collect(Q4Input{b.auction, false, 0, 0, b.price, b.date_time});
        }
      })
      .name("q4: auctions and bids")
      .key_by([](const Q4Input& in) { return in.auction; })
      .process(Q4AuctionMax{})
      .name("q4: max per auction")
      .key_by([](const Q4MaxChange& c) { return c.category; })
      .process(Q4CategoryAverage{})
      .name("q4: average per category");
}

DataStream<Q5Result> q5(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  using Count = std::pair<int64_t, int64_t>;  // auction, bids
  return in
      .flat_map([](const Event& e, Collector<Count>& out) {
        if (e.is_bid()) out.collect(Count{e.bid().auction, 1});
      })
      .name("q5: bid auctions")
      .key_by([](const Count& c) { return c.first; })
      .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(kQ5SlideMs)))
      .sum<1>()
      .name("q5: bids per auction and pane")
      // Window results carry the window's end - 1.
      .process([](const Count& c, ProcessContext<Count, Q5PaneCount>& context,
                  Collector<Q5PaneCount>& out) {
        out.collect(Q5PaneCount{c.first, c.second, context.timestamp() + 1});
      })
      .name("q5: pane end")
      .key_by([](const Q5PaneCount& c) { return c.auction % kQ5Groups; })
      .process(Q5GroupTop{})
      .name("q5: top auctions per group and window")
      .key_by([](const Q5Count& c) { return c.window_end; })
      .process(Q5TopAuctions{})
      .name("q5: auctions with the most bids");
}

DataStream<Q7Result> q7(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](Event&& e, Collector<Q7Bid>& out) {
        if (!e.is_bid()) return;
        Q0Result b = project_bid(std::move(e.bid()));
        if (b.date_time % kQ7SizeMs == 0) out.collect(Q7Bid{b, true});
        out.collect(Q7Bid{std::move(b), false});
      })
      .name("q7: bids")
      .key_by([](const Q7Bid& b) { return b.bid.price % kQ7Groups; })
      .window(Q7Windows{})
      .aggregate(Q7PartialMax{})
      .name("q7: partial max per window")
      .window_all(TumblingEventTimeWindows::of(std::chrono::milliseconds(kQ7SizeMs)))
      .aggregate(Q7MergeMax{},
                 [](ProcessWindowContext<TimeWindow>&, std::span<const Q7Max> maxima,
                    Collector<Q7Result>& out) {
                   for (const Q7Max& m : maxima) {
                     for (const Q0Result& b : m.at_max) out.collect(b);
                     for (const Q0Result& b : m.boundary) {
                       if (b.price == m.max) out.collect(b);
                     }
                   }
                 })
      .name("q7: highest bids per window");
}

DataStream<Q8Result> q8(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in
      .flat_map([](Event&& e, Collector<Q8Input>& out) {
        if (e.is_person()) {
          out.collect(Q8Input{e.person().id, true, std::move(e.person().name)});
        } else if (e.is_auction()) {
          out.collect(Q8Input{e.auction().seller, false, {}});
        }
      })
      .name("q8: people and sellers")
      .key_by([](const Q8Input& in) { return in.id; })
      .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(kQ8SizeMs)))
      .aggregate(Q8Aggregate{},
                 [](const int64_t& id, ProcessWindowContext<TimeWindow>& context,
                    std::span<const Q8Window> windows, Collector<Q8Result>& out) {
                   for (const Q8Window& w : windows) {
                     if (!w.seller) continue;
                     for (const std::string& name : w.names) {
                       out.collect(Q8Result{id, name, context.window().start});
                     }
                   }
                 })
      .name("q8: new sellers per window");
}

DataStream<Q9Result> q9(const DataStream<Event>& events) {
  DataStream<Event> in = events;
  return in.filter([](const Event& e) { return !e.is_person(); })
      .name("q9: auctions and bids")
      .key_by([](const Event& e) { return e.is_auction() ? e.auction().id : e.bid().auction; })
      .process(Q9WinningBid{})
      .name("q9: winning bid per auction");
}

// ---------------------------------------------------------------------------------------
// Printing (test messages)
// ---------------------------------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const Q0Result& r) {
  return os << "{auction " << r.auction << ", bidder " << r.bidder << ", price " << r.price
            << ", date_time " << r.date_time << ", extra " << r.extra.size() << " bytes}";
}
std::ostream& operator<<(std::ostream& os, const Q1Result& r) {
  return os << "{auction " << r.auction << ", bidder " << r.bidder << ", price_milli "
            << r.price_milli << ", date_time " << r.date_time << ", extra " << r.extra.size()
            << " bytes}";
}
std::ostream& operator<<(std::ostream& os, const Q2Result& r) {
  return os << "{auction " << r.auction << ", price " << r.price << "}";
}
std::ostream& operator<<(std::ostream& os, const Q3Result& r) {
  return os << "{name '" << r.name << "', city '" << r.city << "', state " << r.state << ", id "
            << r.id << "}";
}
std::ostream& operator<<(std::ostream& os, const Q4Result& r) {
  return os << "{category " << r.category << ", average " << r.average << "}";
}
std::ostream& operator<<(std::ostream& os, const Q5Result& r) {
  return os << "{auction " << r.auction << ", num " << r.num << ", window [" << r.window_start
            << ", " << r.window_end << ")}";
}
std::ostream& operator<<(std::ostream& os, const Q8Result& r) {
  return os << "{id " << r.id << ", name '" << r.name << "', window_start " << r.window_start
            << "}";
}
std::ostream& operator<<(std::ostream& os, const Q9Result& r) {
  return os << "{auction " << r.auction.id << " [" << r.auction.date_time << ", "
            << r.auction.expires << "], bid {bidder " << r.bid.bidder << ", price " << r.bid.price
            << ", date_time " << r.bid.date_time << "}}";
}

void register_queries_a(std::vector<Query>& queries) {
  queries.push_back(make_query("q0", "pass through", &q0));
  queries.push_back(make_query("q1", "currency conversion", &q1));
  queries.push_back(make_query("q2", "selection", &q2));
  queries.push_back(make_query("q3", "local item suggestion (incremental join)", &q3));
  queries.push_back(make_query("q4", "average price for a category (join, max, average)", &q4));
  queries.push_back(make_query("q5", "hot items (sliding window)", &q5));
  queries.push_back(make_query("q7", "highest bid (tumbling window)", &q7));
  queries.push_back(make_query("q8", "monitor new users (tumbling window join)", &q8));
  queries.push_back(make_query("q9", "winning bids (top bid per auction)", &q9));
}

}  // namespace eddy::nexmark
