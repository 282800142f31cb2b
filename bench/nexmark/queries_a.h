// Nexmark queries q0-q9 as DataStream programs, with the semantics of the reference suite's
// SQL (nexmark-flink's queries/qN.sql). Each takes the event stream (nexmark::events, or any
// stream of events with timestamps and watermarks) and returns its typed result stream.
// docs/nexmark.md ("Queries q0-q9") says what each emits and how it deviates, if at all.
//
// Two kinds of result streams:
//   - append-only: every record is a result row (q0, q1, q2, q3, q5, q7, q8, q9);
//   - upserts: a record replaces the previous row with the same key (q4, keyed by category).
//
// Every query projects each event to a small record in one operator right after the source
// (moving strings out of the event where the result needs them), so that shuffles and state
// carry only what the query reads.
//
// The queries that keep state by event time (q4, q9) drop it once the watermark has passed
// the point after which no on-time record can join it: an auction at its `expires`, a bid
// that waits for its auction at the bid's own time. Records behind the watermark (late) may
// therefore miss their partner; the Nexmark source never emits late records.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"
#include "queries.h"

namespace eddy::nexmark {

// --- Result rows ---

// q0 (pass through) and q7 (highest bid): the bid columns the reference selects (no channel,
// no url).
struct Q0Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  Timestamp date_time = 0;
  std::string extra;
  EDDY_SERIALIZE(auction, bidder, price, date_time, extra)
  bool operator==(const Q0Result&) const = default;
};
using Q7Result = Q0Result;

// q1: the price in euros, 0.908 * price, as the reference's DECIMAL(23, 3): exactly, as an
// integer number of thousandths (price_milli = price * 908).
struct Q1Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price_milli = 0;
  Timestamp date_time = 0;
  std::string extra;
  double price() const { return static_cast<double>(price_milli) / 1000.0; }
  EDDY_SERIALIZE(auction, bidder, price_milli, date_time, extra)
  bool operator==(const Q1Result&) const = default;
};

// q2: bids on every 123rd auction.
struct Q2Result {
  int64_t auction = 0;
  int64_t price = 0;
  EDDY_SERIALIZE(auction, price)
  bool operator==(const Q2Result&) const = default;
  auto operator<=>(const Q2Result&) const = default;
};

// q3: sellers in OR, ID or CA with their auctions of category 10 (`id` is the auction's).
struct Q3Result {
  std::string name;
  std::string city;
  std::string state;
  int64_t id = 0;
  EDDY_SERIALIZE(name, city, state, id)
  bool operator==(const Q3Result&) const = default;
  auto operator<=>(const Q3Result&) const = default;
};

// q4: an upsert of the average winning price of `category`. AVG of the reference's BIGINT
// column is a BIGINT: the sum divided by the count, truncated.
struct Q4Result {
  int64_t category = 0;
  int64_t average = 0;
  EDDY_SERIALIZE(category, average)
  bool operator==(const Q4Result&) const = default;
};

// q5: an auction with the most bids of the window [window_start, window_end) (the reference
// selects auction and num; the window is added so that rows can be told apart).
struct Q5Result {
  int64_t auction = 0;
  int64_t num = 0;
  Timestamp window_start = 0;
  Timestamp window_end = 0;
  EDDY_SERIALIZE(auction, num, window_start, window_end)
  bool operator==(const Q5Result&) const = default;
  auto operator<=>(const Q5Result&) const = default;
};

// q8: a person who registered and opened an auction in the same 10 s window.
struct Q8Result {
  int64_t id = 0;
  std::string name;
  Timestamp window_start = 0;
  EDDY_SERIALIZE(id, name, window_start)
  bool operator==(const Q8Result&) const = default;
  auto operator<=>(const Q8Result&) const = default;
};

// q9: an auction with its winning bid.
struct Q9Result {
  Auction auction;
  Bid bid;
  EDDY_SERIALIZE(auction, bid)
  bool operator==(const Q9Result&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Q0Result& r);
std::ostream& operator<<(std::ostream& os, const Q1Result& r);
std::ostream& operator<<(std::ostream& os, const Q2Result& r);
std::ostream& operator<<(std::ostream& os, const Q3Result& r);
std::ostream& operator<<(std::ostream& os, const Q4Result& r);
std::ostream& operator<<(std::ostream& os, const Q5Result& r);
std::ostream& operator<<(std::ostream& os, const Q8Result& r);
std::ostream& operator<<(std::ostream& os, const Q9Result& r);

// --- The queries ---

// q0, pass through: every bid (append-only).
DataStream<Q0Result> q0(const DataStream<Event>& events);

// q1, currency conversion: every bid with its price in euros (append-only).
DataStream<Q1Result> q1(const DataStream<Event>& events);

// q2, selection: the bids on auctions whose id is a multiple of 123 (append-only).
DataStream<Q2Result> q2(const DataStream<Event>& events);

// q3, local item suggestion: the inner join of people in OR, ID or CA with the auctions of
// category 10 they sell (person.id = auction.seller). Unbounded, as the reference's
// regular join: both sides stay in keyed state, and each match is emitted once, when its
// second side arrives (append-only).
DataStream<Q3Result> q3(const DataStream<Event>& events);

// q4, average price for a category: the highest price of the bids on each auction within
// [auction.date_time, auction.expires], averaged per category. Upserts keyed by category,
// emitted whenever a category's average changes; an auction's maximum enters the average
// with its first bid and replaces its previous value when it rises (the reference's
// retraction).
DataStream<Q4Result> q4(const DataStream<Event>& events);

// q5, hot items: for each sliding window of 10 s every 2 s, the auctions with the most bids
// (all of them on ties), with that count (append-only, when the window closes).
DataStream<Q5Result> q5(const DataStream<Event>& events);

// q7, highest bid: for each tumbling 10 s window [start, end), the bids of the closed
// interval [start, end] whose price is the highest price of the window (append-only, when
// the window closes). As in the reference's join, a bid at exactly `end` is compared with
// the window before it as well as counted in its own.
DataStream<Q7Result> q7(const DataStream<Event>& events);

// q8, monitor new users: the people who opened an auction in the tumbling 10 s window in
// which they registered, once per (person, name, window) (append-only, when the window
// closes).
DataStream<Q8Result> q8(const DataStream<Event>& events);

// q9, winning bids: each auction with its highest bid within [date_time, expires] (ties:
// the earliest; then the lowest bidder; then the smallest bid). Emitted once per auction
// with at least one such bid, when the watermark passes its `expires`: the reference's
// updating top-1 (ROW_NUMBER() ... <= 1) in its final state (append-only).
DataStream<Q9Result> q9(const DataStream<Event>& events);

}  // namespace eddy::nexmark
