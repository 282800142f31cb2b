// Nexmark q11-q22 (the queries the reference suite added beyond Beam's q0-q9) as DataStream
// programs, with the semantics of nexmark-flink's queries/qN.sql. docs/nexmark.md describes
// each one; the short version:
//
//   q11  bids per bidder per event-time session (gap 10 s)                      append-only
//   q12  bids per bidder per processing-time tumbling window of 10 s            append-only
//   q13  bids joined with a bounded side input on auction % 10000               append-only
//   q14  bids with a converted price, a time-of-day type and a 'c' count        append-only
//   q15  per day: bid counts and distinct bidders/auctions by price rank        upserts, key day
//   q16  per channel and day: as q15, plus the latest minute                    upserts, key
//   (channel, day) q17  per auction and day: bid counts by rank, min/max/avg/sum price upserts, key
//   (auction, day) q18  the last bid (by date_time) of each bidder on each auction upserts, key
//   (bidder, auction) q19  the 10 highest bids of each auction, with their rank upserts, key
//   (auction, rank_number) q20  bids joined with the auctions of category 10 append-only q21  bids
//   with a channel id (from the channel name or the URL)              append-only q22  bids with
//   the first three directories of their URL                     append-only
//
// Updating queries (the reference's unbounded GROUP BY, deduplication and top-N) emit
// upserts: after each input record, the rows it changed, each carrying its key; a later
// row replaces the earlier row with the same key. Their final rows are the SQL result.
//
// Dates and hours are UTC, as the reference's TIMESTAMP(3) values are.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"
#include "queries.h"

namespace eddy::nexmark {

// --- q11, q12: bids per bidder per window -------------------------------------------------

// One window of one bidder: [start, end) and the number of bids in it.
struct BidderWindowCount {
  int64_t bidder = 0;
  int64_t bid_count = 0;
  Timestamp start = 0;
  Timestamp end = 0;
  EDDY_SERIALIZE(bidder, bid_count, start, end)
  bool operator==(const BidderWindowCount&) const = default;
};

// q11 "user sessions": bids per bidder per event-time session window with a 10 s gap
// (SESSION_START / SESSION_END). A session ends 10 s after its last bid; bids at most 10 s
// apart share a session. Emitted when the watermark passes the session's end.
DataStream<BidderWindowCount> q11(const DataStream<Event>& events);

// q12 "processing time windows": bids per bidder per tumbling window of 10 s of processing
// time (the job's clock, StreamEnvironment::set_clock). Emitted when the clock passes the
// window's end; as in Flink, windows still open when bounded input ends are not emitted.
DataStream<BidderWindowCount> q12(const DataStream<Event>& events);

// --- q13: bounded side-input join ---------------------------------------------------------

// A row of q13's side input (the reference reads it from side_input.txt, a CSV file).
struct SideInputRow {
  int64_t key = 0;
  std::string value;
  EDDY_SERIALIZE(key, value)
  bool operator==(const SideInputRow&) const = default;
};

// The reference's side input: key k and value "k" for k in [0, rows) (Beam's
// SideInputGenerator, which the reference's side_input.txt comes from).
std::vector<SideInputRow> default_side_input(int64_t rows = 10'000);

struct Q13Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  Timestamp date_time = 0;
  std::string value;
  EDDY_SERIALIZE(auction, bidder, price, date_time, value)
  bool operator==(const Q13Result&) const = default;
};

// q13 "bounded side input join": each bid joined with the side-input rows whose key is
// auction % 10000 (an inner join: one result per matching row, none when no row matches).
// The side input is fixed for the job (the reference's lookup join reads a file that does
// not change); every subtask shares one read-only index of it.
DataStream<Q13Result> q13(const DataStream<Event>& events,
                          std::vector<SideInputRow> side_input = default_side_input());

// --- q14: calculation ----------------------------------------------------------------------

struct Q14Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  // 0.908 * price, the reference's DECIMAL(23, 3): exactly, in thousandths (price * 908), as
  // q1's Q1Result::price_milli.
  int64_t price_milli = 0;
  std::string bid_time_type;  // "dayTime" (hours 8-18), "nightTime" (<= 6, >= 20), "otherTime"
  Timestamp date_time = 0;
  std::string extra;
  int64_t c_counts = 0;  // occurrences of 'c' in extra (the reference's count_char UDF)
  double price() const { return static_cast<double>(price_milli) / 1000.0; }
  EDDY_SERIALIZE(auction, bidder, price_milli, bid_time_type, date_time, extra, c_counts)
  bool operator==(const Q14Result&) const = default;
};

// q14 "calculation": the bids with 1'000'000 < 0.908 * price < 50'000'000 (compared
// exactly, as the reference's decimals are), converted.
DataStream<Q14Result> q14(const DataStream<Event>& events);

// --- q15, q16: bidding statistics ----------------------------------------------------------

// Counts by price rank: rank 1 is price < 10'000, rank 2 is [10'000, 1'000'000), rank 3 is
// >= 1'000'000. Index 0 of each array is the total, 1-3 the ranks.
struct RankCounts {
  std::array<int64_t, 4> bids{};      // count(*)
  std::array<int64_t, 4> bidders{};   // count(distinct bidder)
  std::array<int64_t, 4> auctions{};  // count(distinct auction)
  EDDY_SERIALIZE(bids, bidders, auctions)
  bool operator==(const RankCounts&) const = default;
};

struct Q15Result {
  std::string day;  // yyyy-MM-dd of date_time; the key
  RankCounts counts;
  EDDY_SERIALIZE(day, counts)
  bool operator==(const Q15Result&) const = default;
};

// q15 "bidding statistics report": per day, bids and distinct bidders and auctions, in
// total and per price rank. Upserts keyed by day.
DataStream<Q15Result> q15(const DataStream<Event>& events);

struct Q16Result {
  std::string channel;  // key, with day
  std::string day;
  std::string minute;  // max(HH:mm of date_time) over the group's bids
  RankCounts counts;
  EDDY_SERIALIZE(channel, day, minute, counts)
  bool operator==(const Q16Result&) const = default;
};

// q16 "channel statistics report": q15 per channel and day. Upserts keyed by (channel, day).
DataStream<Q16Result> q16(const DataStream<Event>& events);

// --- q17: auction statistics ---------------------------------------------------------------

struct Q17Result {
  int64_t auction = 0;  // key, with day
  std::string day;
  int64_t total_bids = 0;
  int64_t rank1_bids = 0;
  int64_t rank2_bids = 0;
  int64_t rank3_bids = 0;
  int64_t min_price = 0;
  int64_t max_price = 0;
  int64_t avg_price = 0;  // sum_price / total_bids, rounded toward zero (SQL AVG of BIGINT)
  int64_t sum_price = 0;
  EDDY_SERIALIZE(auction, day, total_bids, rank1_bids, rank2_bids, rank3_bids, min_price, max_price,
                 avg_price, sum_price)
  bool operator==(const Q17Result&) const = default;
};

// q17 "auction statistics report": per auction and day. Upserts keyed by (auction, day).
DataStream<Q17Result> q17(const DataStream<Event>& events);

// --- q18, q19: deduplication and top-N -----------------------------------------------------

// q18 "find last bid": per (bidder, auction), the bid with the latest date_time (on equal
// date_time, the one that came later). Upserts keyed by (bidder, auction): a bid is
// emitted when it becomes the last one.
DataStream<Bid> q18(const DataStream<Event>& events);

struct Q19Result {
  int64_t auction = 0;  // key, with rank_number
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  Timestamp date_time = 0;
  std::string extra;
  int64_t rank_number = 0;  // 1 = highest price; equal prices rank by arrival
  EDDY_SERIALIZE(auction, bidder, price, channel, url, date_time, extra, rank_number)
  bool operator==(const Q19Result&) const = default;
};

// q19 "auction top-10 price": per auction, the 10 bids with the highest prices (ROW_NUMBER
// over price descending <= 10). Upserts keyed by (auction, rank_number): a bid entering the
// top 10 at rank r emits the rows of ranks r .. min(size, 10), which all moved.
DataStream<Q19Result> q19(const DataStream<Event>& events);

// --- q20: join -----------------------------------------------------------------------------

struct Q20Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  Timestamp bid_date_time = 0;
  std::string bid_extra;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  Timestamp auction_date_time = 0;
  Timestamp expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string auction_extra;
  EDDY_SERIALIZE(auction, bidder, price, channel, url, bid_date_time, bid_extra, item_name,
                 description, initial_bid, reserve, auction_date_time, expires, seller, category,
                 auction_extra)
  bool operator==(const Q20Result&) const = default;
};

// q20 "expand bid with auction": each bid joined with the auction of category 10 with its
// auction id (an inner join of the two append-only streams: each matching pair once, when
// the later of the two arrives). Relies on auction ids being unique, as the generator
// guarantees: only bids that come before their auction are kept, and a later auction with
// an id already seen is ignored (the first one wins).
DataStream<Q20Result> q20(const DataStream<Event>& events);

// --- q21, q22: string functions ------------------------------------------------------------

struct Q21Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string channel_id;
  EDDY_SERIALIZE(auction, bidder, price, channel, channel_id)
  bool operator==(const Q21Result&) const = default;
};

// q21 "add channel id": "0" / "1" / "2" / "3" for the channels apple / google / facebook /
// baidu (any case), else REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2); bids with
// neither are dropped.
DataStream<Q21Result> q21(const DataStream<Event>& events);

struct Q22Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::optional<std::string> dir1;  // SPLIT_INDEX(url, '/', 3): null when out of range
  std::optional<std::string> dir2;  // ... 4
  std::optional<std::string> dir3;  // ... 5
  EDDY_SERIALIZE(auction, bidder, price, channel, dir1, dir2, dir3)
  bool operator==(const Q22Result&) const = default;
};

// q22 "get URL directories": the URL's '/'-separated parts 3, 4 and 5 (0-based).
DataStream<Q22Result> q22(const DataStream<Event>& events);

// --- The SQL functions the queries need, exposed for tests ---------------------------------

// DATE_FORMAT(t, 'yyyy-MM-dd') of a UTC timestamp in milliseconds.
std::string format_day(Timestamp t);
// DATE_FORMAT(t, 'HH:mm').
std::string format_minute(Timestamp t);
// HOUR(t).
int hour_of_day(Timestamp t);
// lower(channel) in ('apple', 'google', 'facebook', 'baidu'): its index 0-3, else -1.
int hot_channel_index(std::string_view channel);
// REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the value of the first channel_id
// parameter that starts the string or follows a '&'; nullopt when there is none.
std::optional<std::string_view> extract_channel_id(std::string_view url);
// Flink's SPLIT_INDEX(s, separator, index) for a one-character separator: part `index` of
// s split at every separator (empty parts kept); nullopt when out of range or s is empty.
std::optional<std::string_view> split_index(std::string_view s, char separator, int index);

}  // namespace eddy::nexmark
