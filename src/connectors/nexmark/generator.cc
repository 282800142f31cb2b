// The Nexmark generator: event number -> event, as the reference generator makes them
// (nexmark-flink's field generators, seeded per event like Beam's NexmarkGenerator).
// docs/nexmark.md describes the model; the comments here name the reference's functions
// so that each formula can be checked against it.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/nexmark/java_random.h"
#include "eddy/error.h"
#include "eddy/nexmark.h"

namespace eddy::nexmark {

namespace internal {

// BidGenerator's channels: four hot channels with a URL each, and channels "channel-0" to
// "channel-9999" with a URL each (the reference caches them as it first meets them).
struct BidChannels {
  static constexpr int kCount = 10'000;
  std::array<std::string, 4> hot_urls;
  std::vector<std::string> names;
  std::vector<std::string> urls;
};

}  // namespace internal

namespace {

using internal::BidChannels;
using internal::JavaRandom;

// GeneratorConfig.FIRST_*_ID.
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
// The reference adds FIRST_PERSON_ID to a bid's bidder twice (BidGenerator.nextBid), so
// bidders are person ids + 1000. Kept, so that bids are the reference's.
constexpr int64_t kBidderIdOffset = 2 * kFirstPersonId;

// PersonGenerator.PERSON_ID_LEAD, AuctionGenerator.AUCTION_ID_LEAD: ids a little ahead of
// the last one generated, as if events had been swapped in time.
constexpr int kPersonIdLead = 10;
constexpr int kAuctionIdLead = 10;
// Hot sellers, auctions and bidders are the first (bidders: second) of each batch of 100.
constexpr int64_t kHotSellerBatch = 100;
constexpr int64_t kHotAuctionBatch = 100;
constexpr int64_t kHotBidderBatch = 100;
constexpr int kNumCategories = 5;
constexpr int kHotChannelsRatio = 2;
constexpr int kMinStringLength = 3;
// StringsGenerator.nextString's longest string (auction descriptions).
constexpr int kMaxStringLength = 100;

constexpr std::string_view kUsStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::string_view kUsCities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                          "Portland", "Bend",        "Redmond",       "Seattle",
                                          "Kent",     "Cheyenne"};
constexpr std::string_view kFirstNames[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                            "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::string_view kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                           "Walton", "Smith",  "Jones",   "Noris"};
constexpr std::string_view kHotChannels[] = {"Google", "Facebook", "Baidu", "Apple"};

template <class T, size_t N>
constexpr int32_t size_of(const T (&)[N]) {
  return static_cast<int32_t>(N);
}

// Java's (long) cast of a double: truncation, saturating at the ends (NaN gives 0).
int64_t java_to_long(double x) {
  if (std::isnan(x)) return 0;
  if (x >= 9.223372036854775807e18) return std::numeric_limits<int64_t>::max();
  if (x <= -9.223372036854775808e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(x);
}

// Math.round(double) for the non-negative values the generator rounds (half up).
int64_t java_round(double x) { return java_to_long(std::floor(x + 0.5)); }

// Integer.reverse: the bits of v in reverse order.
int32_t java_integer_reverse(int32_t v) {
  auto bits = static_cast<uint32_t>(v);
  uint32_t reversed = 0;
  for (int i = 0; i < 32; ++i, bits >>= 1) reversed = (reversed << 1) | (bits & 1);
  return static_cast<int32_t>(reversed);
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// LongGenerator.nextLong: [0, n), with the reference's skew for n >= 2^31 - 1.
int64_t next_long(JavaRandom& random, int64_t n) {
  if (n < std::numeric_limits<int32_t>::max()) return random.next_int(static_cast<int32_t>(n));
  int64_t r = random.next_long() % n;
  return r < 0 ? -r : r;
}

// PriceGenerator.nextPrice: 10^(6u) * 100 cents, u uniform in [0, 1).
int64_t next_price(JavaRandom& random) {
  return java_round(std::pow(10.0, random.next_double() * 6.0) * 100.0);
}

// StringsGenerator.nextString: 3 to max_length - 1 characters, each `special` with
// probability 1/13 and otherwise a lowercase letter, then trimmed of spaces.
std::string next_string(JavaRandom& random, int max_length, char special = ' ') {
  char buffer[kMaxStringLength];
  int length = kMinStringLength + random.next_int(max_length - kMinStringLength);
  for (int i = 0; i < length; ++i) {
    buffer[i] = random.next_int(13) == 0 ? special : static_cast<char>('a' + random.next_int(26));
  }
  int begin = 0;
  int end = length;
  while (begin < end && buffer[begin] == ' ') ++begin;
  while (end > begin && buffer[end - 1] == ' ') --end;
  return std::string(buffer + begin, static_cast<size_t>(end - begin));
}

// nextExactString's characters for one nextInt() `rnd`: the reference repeats
// c = 'a' + rnd % 26; rnd /= 26 six times (Java's signed, truncating division). Truncating
// divisions compose (trunc(trunc(x / a) / b) == trunc(x / (a * b))), so the characters are
// the six low base-26 digits of |rnd|, least significant first, each added to 'a' with
// rnd's sign. They are made two at a time from a table of the 676 digit pairs: three
// independent multiplications instead of a chain of six divisions (which made this the
// slowest part of the generator).
struct DigitPairs {
  uint16_t chars[2][676];  // [rnd < 0][pair]: the pair's two characters, little-endian
};

constexpr DigitPairs make_digit_pairs() {
  DigitPairs pairs{};
  for (int negative = 0; negative < 2; ++negative) {
    int sign = negative ? -1 : 1;
    for (int pair = 0; pair < 676; ++pair) {
      auto first = static_cast<uint16_t>('a' + sign * (pair % 26));
      auto second = static_cast<uint16_t>('a' + sign * (pair / 26));
      pairs.chars[negative][pair] = static_cast<uint16_t>(first | (second << 8));
    }
  }
  return pairs;
}

constexpr DigitPairs kDigitPairs = make_digit_pairs();
static_assert(std::endian::native == std::endian::little, "kDigitPairs holds little-endian pairs");

// Writes the six characters of `rnd` to out[0..5], and scratch to out[6..7].
inline void write_exact_chars(char* out, int32_t rnd) {
  uint32_t magnitude = rnd < 0 ? 0u - static_cast<uint32_t>(rnd) : static_cast<uint32_t>(rnd);
  const uint16_t* table = kDigitPairs.chars[rnd < 0 ? 1 : 0];
  uint32_t q1 = magnitude / 676;
  uint32_t q2 = magnitude / (676 * 676);
  uint32_t q3 = magnitude / (676 * 676 * 676);
  uint64_t chars = uint64_t{table[magnitude - 676 * q1]} | uint64_t{table[q1 - 676 * q2]} << 16 |
                   uint64_t{table[q2 - 676 * q3]} << 32;
  std::memcpy(out, &chars, 8);
}

// StringsGenerator.nextExtra and nextExactString: a string that brings a record of
// current_size bytes to desired_average_size on average (uniform within +-20%). Its
// characters come six to a nextInt(), as 'a' + rnd % 26 with Java's signed remainder, so
// they range over 'H'..'z'.
std::string next_extra(JavaRandom& random, int current_size, int desired_average_size) {
  if (current_size > desired_average_size) return {};
  int remaining = desired_average_size - current_size;
  auto delta = static_cast<int32_t>(java_round(remaining * 0.2));
  int size = remaining - delta + (delta == 0 ? 0 : random.next_int(2 * delta));
  // Whole groups of six, then cut to size: the reference draws a nextInt() for every
  // started group too.
  std::string extra(static_cast<size_t>(size + 7), '\0');
  for (int i = 0; i < size; i += 6) write_exact_chars(extra.data() + i, random.next_int());
  extra.resize(static_cast<size_t>(size));
  return extra;
}

// BidGenerator.getBaseUrl.
std::string next_base_url(JavaRandom& random) {
  std::string url = "https://www.nexmark.com/";
  url += next_string(random, 5, '_');
  url += '/';
  url += next_string(random, 5, '_');
  url += '/';
  url += next_string(random, 5, '_');
  url += "/item.htm?query=1";
  return url;
}

// The reference draws these from unseeded Randoms; here they come from Random(seed): the
// four hot URLs, then for each channel k its base URL and a nextInt(10) that gives 9 of 10
// channels a "&channel_id=" + abs(Integer.reverse(k)) suffix.
std::shared_ptr<const BidChannels> make_bid_channels(uint64_t seed) {
  auto channels = std::make_shared<BidChannels>();
  JavaRandom random(static_cast<int64_t>(seed));
  for (std::string& url : channels->hot_urls) url = next_base_url(random);
  channels->names.reserve(BidChannels::kCount);
  channels->urls.reserve(BidChannels::kCount);
  for (int32_t k = 0; k < BidChannels::kCount; ++k) {
    std::string url = next_base_url(random);
    if (random.next_int(10) > 0) {
      // Math.abs(Integer.reverse(k)); Math.abs(Integer.MIN_VALUE) stays negative (k = 1).
      int32_t reversed = java_integer_reverse(k);
      int64_t shown =
          reversed == std::numeric_limits<int32_t>::min() ? reversed : std::abs(reversed);
      url += "&channel_id=";
      url += std::to_string(shown);
    }
    channels->names.push_back("channel-" + std::to_string(k));
    channels->urls.push_back(std::move(url));
  }
  return channels;
}

// One table per seed for the whole process: ~10k strings, drawn in about a millisecond.
std::shared_ptr<const BidChannels> bid_channels(uint64_t seed) {
  static std::mutex mutex;
  static std::map<uint64_t, std::shared_ptr<const BidChannels>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(seed);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 16) cache.clear();  // a program that sweeps seeds keeps only a few
  auto channels = make_bid_channels(seed);
  cache.emplace(seed, channels);
  return channels;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw InvalidJobError("nexmark::GeneratorConfig: " + what);
}

void validate(const GeneratorConfig& c) {
  check(c.events >= 0, "events must not be negative (got " + std::to_string(c.events) + ")");
  check(c.events_per_second > 0 && std::isfinite(c.events_per_second),
        "events_per_second must be positive (got " + std::to_string(c.events_per_second) + ")");
  check(c.person_proportion >= 0 && c.auction_proportion >= 0 && c.bid_proportion >= 0 &&
            c.total_proportion() > 0,
        "the person, auction and bid proportions must not be negative, and not all be 0");
  check(c.avg_person_byte_size >= 0 && c.avg_auction_byte_size >= 0 && c.avg_bid_byte_size >= 0,
        "average byte sizes must not be negative");
  check(c.hot_auction_ratio >= 1 && c.hot_sellers_ratio >= 1 && c.hot_bidders_ratio >= 1,
        "hot_auction_ratio, hot_sellers_ratio and hot_bidders_ratio must be at least 1");
  check(c.num_in_flight_auctions >= 0 && c.num_active_people >= 0,
        "num_in_flight_auctions and num_active_people must not be negative");
  check(c.out_of_order_group_size >= 1, "out_of_order_group_size must be at least 1 (got " +
                                            std::to_string(c.out_of_order_group_size) + ")");
  check(c.watermark_delay_ms >= 0, "watermark_delay_ms must not be negative");
}

// What an event's fields are drawn from: the config, the bid channels, the event's id and
// timestamp, and a Random seeded from the id.
class EventMaker {
 public:
  EventMaker(const GeneratorConfig& config, const BidChannels& channels, int64_t id,
             Timestamp timestamp, int64_t random_seed)
      : c_(config), channels_(channels), id_(id), timestamp_(timestamp), random_(random_seed) {}

  // PersonGenerator.nextPerson.
  void person(Person& p) {
    p.id = last_base0_person_id() + kFirstPersonId;
    std::string_view first = kFirstNames[random_.next_int(size_of(kFirstNames))];
    std::string_view last = kLastNames[random_.next_int(size_of(kLastNames))];
    p.name.reserve(first.size() + 1 + last.size());
    p.name.append(first).append(1, ' ').append(last);
    p.email_address = next_string(random_, 7);
    p.email_address += '@';
    p.email_address += next_string(random_, 5);
    p.email_address += ".com";
    p.credit_card.resize(19);
    for (int group = 0; group < 4; ++group) {
      int32_t digits = random_.next_int(10000);  // "%04d"
      char* out = p.credit_card.data() + group * 5;
      for (int i = 3; i >= 0; --i, digits /= 10) out[i] = static_cast<char>('0' + digits % 10);
      if (group < 3) out[4] = ' ';
    }
    p.city = kUsCities[random_.next_int(size_of(kUsCities))];
    p.state = kUsStates[random_.next_int(size_of(kUsStates))];
    p.date_time = timestamp_;
    size_t current_size = 8 + p.name.size() + p.email_address.size() + p.credit_card.size() +
                          p.city.size() + p.state.size();
    p.extra = next_extra(random_, static_cast<int>(current_size), c_.avg_person_byte_size);
  }

  // AuctionGenerator.nextAuction.
  void auction(Auction& a) {
    a.id = last_base0_auction_id() + kFirstAuctionId;
    if (random_.next_int(c_.hot_sellers_ratio) > 0) {
      a.seller = (last_base0_person_id() / kHotSellerBatch) * kHotSellerBatch;
    } else {
      a.seller = next_base0_person_id();
    }
    a.seller += kFirstPersonId;
    a.category = kFirstCategoryId + random_.next_int(kNumCategories);
    a.initial_bid = next_price(random_);
    a.date_time = timestamp_;
    a.expires = timestamp_ + next_auction_length_ms();
    a.item_name = next_string(random_, 20);
    a.description = next_string(random_, 100);
    a.reserve = a.initial_bid + next_price(random_);
    size_t current_size = 8 + a.item_name.size() + a.description.size() + 8 + 8 + 8 + 8 + 8;
    a.extra = next_extra(random_, static_cast<int>(current_size), c_.avg_auction_byte_size);
  }

  // BidGenerator.nextBid.
  void bid(Bid& b) {
    if (random_.next_int(c_.hot_auction_ratio) > 0) {
      b.auction = (last_base0_auction_id() / kHotAuctionBatch) * kHotAuctionBatch;
    } else {
      b.auction = next_base0_auction_id();
    }
    b.auction += kFirstAuctionId;
    if (random_.next_int(c_.hot_bidders_ratio) > 0) {
      b.bidder = (last_base0_person_id() / kHotBidderBatch) * kHotBidderBatch + 1;
    } else {
      b.bidder = next_base0_person_id();
    }
    b.bidder += kBidderIdOffset;
    b.price = next_price(random_);
    if (random_.next_int(kHotChannelsRatio) > 0) {
      int32_t i = random_.next_int(size_of(kHotChannels));
      b.channel = kHotChannels[i];
      b.url = channels_.hot_urls[static_cast<size_t>(i)];
    } else {
      auto k = static_cast<size_t>(random_.next_int(BidChannels::kCount));
      b.channel = channels_.names[k];
      b.url = channels_.urls[k];
    }
    b.date_time = timestamp_;
    b.extra = next_extra(random_, 8 + 8 + 8 + 8, c_.avg_bid_byte_size);
  }

 private:
  // PersonGenerator.lastBase0PersonId: the last person id generated (the current one when
  // generating a person).
  int64_t last_base0_person_id() const {
    int64_t epoch = id_ / c_.total_proportion();
    int64_t offset = id_ % c_.total_proportion();
    if (offset >= c_.person_proportion) offset = c_.person_proportion - 1;
    return epoch * c_.person_proportion + offset;
  }

  // AuctionGenerator.lastBase0AuctionId.
  int64_t last_base0_auction_id() const {
    int64_t epoch = id_ / c_.total_proportion();
    int64_t offset = id_ % c_.total_proportion();
    if (offset < c_.person_proportion) {
      --epoch;
      offset = c_.auction_proportion - 1;
    } else if (offset >= c_.person_proportion + c_.auction_proportion) {
      offset = c_.auction_proportion - 1;
    } else {
      offset -= c_.person_proportion;
    }
    return epoch * c_.auction_proportion + offset;
  }

  // PersonGenerator.nextBase0PersonId: one of the last num_active_people, or a few ahead.
  int64_t next_base0_person_id() {
    int64_t num_people = last_base0_person_id() + 1;
    int64_t active_people = std::min<int64_t>(num_people, c_.num_active_people);
    int64_t n = next_long(random_, active_people + kPersonIdLead);
    return num_people - active_people + n;
  }

  // AuctionGenerator.nextBase0AuctionId: one of the last num_in_flight_auctions, or a few
  // ahead.
  int64_t next_base0_auction_id() {
    int64_t max_auction = last_base0_auction_id();
    int64_t min_auction = std::max<int64_t>(max_auction - c_.num_in_flight_auctions, 0);
    return min_auction + next_long(random_, max_auction - min_auction + 1 + kAuctionIdLead);
  }

  // AuctionGenerator.nextAuctionLengthMs: on average the time until num_in_flight_auctions
  // more auctions have been generated.
  int64_t next_auction_length_ms() {
    int64_t events_for_auctions = static_cast<int64_t>(c_.num_in_flight_auctions) *
                                  c_.total_proportion() / c_.auction_proportion;
    int64_t future_auction = timestamp_at(id_ + events_for_auctions);
    int64_t horizon_ms = future_auction - timestamp_;
    return 1 + next_long(random_, std::max<int64_t>(horizon_ms * 2, 1));
  }

  Timestamp timestamp_at(int64_t number) const {
    double delay_us = 1e6 / c_.events_per_second;
    return c_.base_time_ms + java_to_long(static_cast<double>(number) * delay_us) / 1000;
  }

  const GeneratorConfig& c_;
  const BidChannels& channels_;
  int64_t id_;
  Timestamp timestamp_;
  JavaRandom random_;
};

}  // namespace

Timestamp Event::timestamp() const {
  return std::visit([](const auto& record) { return record.date_time; }, value);
}

Generator::Generator(GeneratorConfig config)
    : config_(std::move(config)),
      inter_event_delay_us_((validate(config_), 1e6 / config_.events_per_second)),
      channels_(bid_channels(config_.seed)) {}

namespace {

// GeneratorConfig.nextAdjustedEventNumber: events are shuffled within groups of
// out_of_order_group_size (Java's wrap-around kept for the product).
int64_t adjusted_number(int64_t n, int64_t group) {
  if (group == 1) return n;
  return (n / group) * group + static_cast<int64_t>(static_cast<uint64_t>(n) * 953) % group;
}

}  // namespace

Timestamp Generator::timestamp(int64_t n) const {
  int64_t number = adjusted_number(n, config_.out_of_order_group_size);
  // GeneratorConfig.timestampForEvent.
  return config_.base_time_ms +
         java_to_long(static_cast<double>(number) * inter_event_delay_us_) / 1000;
}

Event Generator::event(int64_t n) const {
  // The event's id is its adjusted number (the first event id is 0, as in Beam).
  int64_t id = adjusted_number(n, config_.out_of_order_group_size);
  Timestamp timestamp =
      config_.base_time_ms + java_to_long(static_cast<double>(id) * inter_event_delay_us_) / 1000;
  // Beam seeds each event's Random with its id; another seed is mixed in.
  int64_t seed = config_.seed == 0
                     ? id
                     : static_cast<int64_t>(static_cast<uint64_t>(id) ^ splitmix64(config_.seed));
  EventMaker maker(config_, *channels_, id, timestamp, seed);
  // The record is made in place, in the event that is returned.
  int64_t rem = id % config_.total_proportion();
  if (rem < config_.person_proportion) {
    Event event{decltype(Event::value)(std::in_place_type<Person>)};
    maker.person(event.person());
    return event;
  }
  if (rem < config_.person_proportion + config_.auction_proportion) {
    Event event{decltype(Event::value)(std::in_place_type<Auction>)};
    maker.auction(event.auction());
    return event;
  }
  Event event{decltype(Event::value)(std::in_place_type<Bid>)};
  maker.bid(event.bid());
  return event;
}

}  // namespace eddy::nexmark
