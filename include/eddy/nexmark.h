// Nexmark: the online-auction event model of the Nexmark benchmark, and a generator that is
// compatible with the reference generator of Flink's Nexmark suite (nexmark-flink, itself
// derived from Apache Beam's): people register, open auctions and bid on them, in the
// proportion 1 : 3 : 46, with the same id formulas (hot auctions, hot bidders and hot
// sellers), the same field distributions and the same average record sizes. docs/nexmark.md
// describes the model.
//
//   nexmark::GeneratorConfig config;
//   config.events = 10'000'000;
//   auto events = nexmark::events(env, config);     // DataStream<nexmark::Event>, event time
//   auto bids = nexmark::bids(events);              // DataStream<nexmark::Bid>
//
// Event number n (0, 1, 2, ... over the whole stream) is a pure function of the config and n:
// the same config gives the same events at any parallelism, in any run.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "eddy/serializer.h"
#include "eddy/source.h"
#include "eddy/time.h"

namespace eddy {
template <class T>
class DataStream;
class StreamEnvironment;
}  // namespace eddy

namespace eddy::nexmark {

namespace internal {
struct BidChannels;
}  // namespace internal

// Times are milliseconds since the Unix epoch (event time).
struct Person {
  int64_t id = 0;
  std::string name;
  std::string email_address;
  std::string credit_card;
  std::string city;
  std::string state;
  Timestamp date_time = 0;
  std::string extra;
  EDDY_SERIALIZE(id, name, email_address, credit_card, city, state, date_time, extra)
  bool operator==(const Person&) const = default;
};

struct Auction {
  int64_t id = 0;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  Timestamp date_time = 0;
  Timestamp expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;
  EDDY_SERIALIZE(id, item_name, description, initial_bid, reserve, date_time, expires, seller,
                 category, extra)
  bool operator==(const Auction&) const = default;
};

struct Bid {
  int64_t auction = 0;
  // A person id + 1000: the reference adds FIRST_PERSON_ID twice, and so does Eddy.
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  Timestamp date_time = 0;
  std::string extra;
  EDDY_SERIALIZE(auction, bidder, price, channel, url, date_time, extra)
  bool operator==(const Bid&) const = default;
};

// One event of the stream: exactly one of a person, an auction or a bid.
struct Event {
  std::variant<Person, Auction, Bid> value;

  bool is_person() const { return value.index() == 0; }
  bool is_auction() const { return value.index() == 1; }
  bool is_bid() const { return value.index() == 2; }
  const Person& person() const { return std::get<Person>(value); }
  const Auction& auction() const { return std::get<Auction>(value); }
  const Bid& bid() const { return std::get<Bid>(value); }
  Person& person() { return std::get<Person>(value); }
  Auction& auction() { return std::get<Auction>(value); }
  Bid& bid() { return std::get<Bid>(value); }
  // The event's date_time.
  Timestamp timestamp() const;
  bool operator==(const Event&) const = default;
};

// What the generator makes. The defaults are the reference suite's (nexmark-flink's
// nexmark.yaml and NexmarkConfiguration).
struct GeneratorConfig {
  // Events in the stream; kUnboundedEvents for an endless stream.
  int64_t events = kUnboundedEvents;
  static constexpr int64_t kUnboundedEvents = INT64_MAX;

  // 0 gives the reference generator's events: each drawn from java.util.Random(event id),
  // as Beam seeds it (but for the bid channels' URLs, which the reference draws unseeded
  // and which come from Random(seed) here). Any other seed is mixed into every event's.
  uint64_t seed = 0;

  // Event time: event n has timestamp base_time_ms + n * 1e3 / events_per_second
  // (rounded down to a millisecond). This sets event time only; the source emits as fast
  // as it can unless rate_limited.
  double events_per_second = 10'000'000;
  Timestamp base_time_ms = 1'436'918'400'000;  // 2015-07-15T00:00:00Z, Beam's base time
  // Emit at most events_per_second events per wall-clock second (over all subtasks).
  bool rate_limited = false;

  int person_proportion = 1;
  int auction_proportion = 3;
  int bid_proportion = 46;

  // Average serialized sizes, reached through each record's `extra` field.
  int avg_person_byte_size = 200;
  int avg_auction_byte_size = 500;
  int avg_bid_byte_size = 100;

  // 1 - 1/ratio of bids go to a hot auction / come from a hot bidder; of auctions, to a
  // hot seller.
  int hot_auction_ratio = 2;
  int hot_sellers_ratio = 4;
  int hot_bidders_ratio = 4;

  // Bids pick auctions among the last num_in_flight_auctions; bids and auctions pick people
  // among the last num_active_people.
  int num_in_flight_auctions = 100;
  int num_active_people = 1000;

  // Events are shuffled within groups of this many (1 = in timestamp order).
  int out_of_order_group_size = 1;

  // Watermarks of the source trail the highest timestamp by this much (the reference
  // suite declares `WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`).
  int64_t watermark_delay_ms = 4000;

  // Progress, for runners: when set, the source adds the events it has emitted, once per
  // batch of about a thousand (a restarted job counts replayed events again).
  std::shared_ptr<std::atomic<int64_t>> emitted_events;

  int total_proportion() const { return person_proportion + auction_proportion + bid_proportion; }
};

// The events of one config, by number. Cheap to copy; thread-safe.
class Generator {
 public:
  // Throws InvalidJobError for an invalid config (a rate that is not positive, a negative
  // count or size, a ratio or group size below 1, proportions negative or all 0).
  explicit Generator(GeneratorConfig config);
  const GeneratorConfig& config() const { return config_; }

  // Event number n (0-based over the whole stream).
  Event event(int64_t n) const;
  // Its timestamp (the event's date_time), without making the event.
  Timestamp timestamp(int64_t n) const;

 private:
  GeneratorConfig config_;
  double inter_event_delay_us_;
  // The bid channels and their URLs, drawn once per seed and shared by all copies.
  std::shared_ptr<const internal::BidChannels> channels_;
};

// A parallel source of the events of `config`. Split k of s (s = the parallelism the job
// starts with) emits events k, k + s, k + 2s, ..., so every split covers the whole time
// range and the union of the splits is the stream, whatever the parallelism. Bounded when
// config.events is; positions are checkpointed, and a restore at another parallelism
// redistributes the splits.
std::shared_ptr<const Source<Event>> source(const GeneratorConfig& config);

// The source with timestamps (each event's date_time) and watermarks (the highest
// timestamp - config.watermark_delay_ms, per split), named "nexmark".
DataStream<Event> events(StreamEnvironment& env, const GeneratorConfig& config);

// The people, auctions and bids of an event stream (Flink's person/auction/bid views).
DataStream<Person> persons(const DataStream<Event>& events);
DataStream<Auction> auctions(const DataStream<Event>& events);
DataStream<Bid> bids(const DataStream<Event>& events);

}  // namespace eddy::nexmark
