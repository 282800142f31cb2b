// The Nexmark generator and source: java.util.Random reproduced bit for bit, events equal
// to an independent port of the reference generator, the model's proportions, ids, hot
// items, sizes and timestamps, and a source that yields exactly the generator's events at
// any parallelism and across checkpoints and rescaling.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/nexmark/java_random.h"
#include "eddy/eddy.h"
#include "eddy/nexmark.h"

namespace eddy::nexmark {
namespace {

using internal::JavaRandom;

constexpr Timestamp kBaseTime = 1'436'918'400'000;

// ---------------------------------------------------------------------------------------
// java.util.Random. The expected values come from a separate Python implementation of the
// LCG; the first ones are well known (new Random(42).nextInt() == -1170105035,
// new Random(0).nextInt() == -1155484576, new Random(42).nextDouble() == 0.7275636800328681).

TEST(JavaRandomTest, MatchesJavaUtilRandom) {
  EXPECT_EQ(JavaRandom(42).next_int(), -1170105035);
  EXPECT_EQ(JavaRandom(0).next_int(), -1155484576);
  EXPECT_EQ(JavaRandom(42).next_double(), 0.7275636800328681);
  EXPECT_EQ(JavaRandom(42).next_int(10), 0);

  JavaRandom r42(42);
  std::vector<int32_t> hundreds;
  for (int i = 0; i < 5; ++i) hundreds.push_back(r42.next_int(100));
  EXPECT_EQ(hundreds, (std::vector<int32_t>{30, 63, 48, 84, 70}));

  JavaRandom r0(0);
  EXPECT_EQ(r0.next_long(), -4962768465676381896);
  EXPECT_EQ(r0.next_long(), 4437113781045784766);

  JavaRandom minus_one(-1);
  EXPECT_EQ(minus_one.next_double(), 0.26894263088050496);
  EXPECT_EQ(minus_one.next_double(), 0.012269981921235296);

  JavaRandom big((int64_t{1} << 62) + 5);  // only the low 48 bits of a seed count
  EXPECT_EQ(big.next_int(), -1157408321);
  EXPECT_EQ(big.next_int(1000), 92);
}

TEST(JavaRandomTest, BoundedIntsTakeJavasPaths) {
  // Not a power of two (26, 13), a power of two (16: the high bits), and a bound just over
  // 2^30, where half the draws are rejected and redrawn.
  JavaRandom r(123);
  std::vector<int32_t> letters, thirteens, sixteens;
  for (int i = 0; i < 8; ++i) letters.push_back(r.next_int(26));
  for (int i = 0; i < 8; ++i) thirteens.push_back(r.next_int(13));
  for (int i = 0; i < 4; ++i) sixteens.push_back(r.next_int(16));
  EXPECT_EQ(letters, (std::vector<int32_t>{4, 14, 12, 19, 19, 7, 24, 7}));
  EXPECT_EQ(thirteens, (std::vector<int32_t>{8, 0, 11, 9, 7, 12, 0, 4}));
  EXPECT_EQ(sixteens, (std::vector<int32_t>{12, 4, 9, 3}));

  JavaRandom rejecting(1);
  std::vector<int32_t> large;
  for (int i = 0; i < 6; ++i) large.push_back(rejecting.next_int((1 << 30) | 1));
  EXPECT_EQ(large, (std::vector<int32_t>{215764588, 880641847, 874970313, 446064254, 77814904,
                                         714504434}));
}

// ---------------------------------------------------------------------------------------
// Helpers.

// One line per event, fields separated by '|': the form the Python port digests.
std::string canonical(const Event& event) {
  std::string s;
  auto add = [&s](const auto& field) {
    if (!s.empty()) s += '|';
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
      s += field;
    } else {
      s += std::to_string(field);
    }
  };
  if (event.is_person()) {
    const Person& p = event.person();
    s = "P";
    add(p.id), add(p.name), add(p.email_address), add(p.credit_card), add(p.city), add(p.state);
    add(p.date_time), add(p.extra);
  } else if (event.is_auction()) {
    const Auction& a = event.auction();
    s = "A";
    add(a.id), add(a.item_name), add(a.description), add(a.initial_bid), add(a.reserve);
    add(a.date_time), add(a.expires), add(a.seller), add(a.category), add(a.extra);
  } else {
    const Bid& b = event.bid();
    s = "B";
    add(b.auction), add(b.bidder), add(b.price), add(b.channel), add(b.url), add(b.date_time);
    add(b.extra);
  }
  return s;
}

// FNV-1a (64 bit) over the canonical lines of events [from, to).
uint64_t digest(const Generator& generator, int64_t from, int64_t to) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int64_t n = from; n < to; ++n) {
    for (unsigned char c : canonical(generator.event(n)) + "\n") {
      h = (h ^ c) * 0x100000001b3ULL;
    }
  }
  return h;
}

// The reference's record size (PersonGenerator/AuctionGenerator/BidGenerator's
// currentSize, plus the extra): string lengths, and 8 for each number.
size_t reference_size(const Event& event) {
  if (event.is_person()) {
    const Person& p = event.person();
    return 8 + p.name.size() + p.email_address.size() + p.credit_card.size() + p.city.size() +
           p.state.size() + p.extra.size();
  }
  if (event.is_auction()) {
    const Auction& a = event.auction();
    return 8 + a.item_name.size() + a.description.size() + 5 * 8 + a.extra.size();
  }
  return 4 * 8 + event.bid().extra.size();
}

GeneratorConfig config_with(int64_t events, double events_per_second = 1000) {
  GeneratorConfig config;
  config.events = events;
  config.events_per_second = events_per_second;
  return config;
}

// ---------------------------------------------------------------------------------------
// The generator against the reference.

TEST(NexmarkGeneratorTest, FirstEventsAreTheReferences) {
  Generator generator{GeneratorConfig{}};
  Event person = generator.event(0);
  ASSERT_TRUE(person.is_person());
  EXPECT_EQ(person.person().id, 1000);
  EXPECT_EQ(person.person().name, "Peter Jones");
  EXPECT_EQ(person.person().email_address, "nhd@xcat.com");
  EXPECT_EQ(person.person().credit_card, "7241 7320 9143 4888");
  EXPECT_EQ(person.person().city, "Portland");
  EXPECT_EQ(person.person().state, "WY");
  EXPECT_EQ(person.person().date_time, kBaseTime);
  EXPECT_EQ(person.person().extra.size(), 156u);
  EXPECT_EQ(person.person().extra.substr(0, 16), "WN_HS_bnpkkiwhwa");

  Event auction = generator.event(1);
  ASSERT_TRUE(auction.is_auction());
  const Auction& a = auction.auction();
  EXPECT_EQ(a.id, 1000);
  EXPECT_EQ(a.item_name, "wkx mgee");
  EXPECT_EQ(a.description, "eszpqxtdxrvwmmywkmogoahf");
  EXPECT_EQ(a.initial_bid, 28873);
  EXPECT_EQ(a.reserve, 29448);
  EXPECT_EQ(a.date_time, kBaseTime);
  EXPECT_EQ(a.expires, kBaseTime + 1);
  EXPECT_EQ(a.seller, 1000);
  EXPECT_EQ(a.category, 13);

  Event bid = generator.event(4);
  ASSERT_TRUE(bid.is_bid());
  EXPECT_EQ(bid.bid(), (Bid{1000, 2001, 32530001, "Google",
                            "https://www.nexmark.com/xnhd/xcat/bwmn/item.htm?query=1", kBaseTime,
                            "sbolvyqwgticfdrwdyiyofziYMU\\Z`UaTQO][NX\\RM]WPYTOuwogvszlx"}));
}

TEST(NexmarkGeneratorTest, LaterEventsAreTheReferences) {
  Generator generator{config_with(GeneratorConfig::kUnboundedEvents)};  // 1000 events/s
  Event auction = generator.event(250'002);
  ASSERT_TRUE(auction.is_auction());
  EXPECT_EQ(auction.auction().id, 16001);
  EXPECT_EQ(auction.auction().item_name, "wptfgswooxfr");
  EXPECT_EQ(auction.auction().description, "impm ntb hbsckv");
  EXPECT_EQ(auction.auction().initial_bid, 1473193);
  EXPECT_EQ(auction.auction().reserve, 3357688);
  EXPECT_EQ(auction.auction().date_time, kBaseTime + 250'002);
  EXPECT_EQ(auction.auction().expires, kBaseTime + 251'376);
  EXPECT_EQ(auction.auction().seller, 6000);
  EXPECT_EQ(auction.auction().category, 11);

  Event bid = generator.event(1'234'567);  // a cold channel, with a channel_id
  ASSERT_TRUE(bid.is_bid());
  EXPECT_EQ(bid.bid().auction, 74986);
  EXPECT_EQ(bid.bid().bidder, 26601);
  EXPECT_EQ(bid.bid().price, 48503);
  EXPECT_EQ(bid.bid().channel, "channel-6465");
  EXPECT_EQ(bid.bid().url,
            "https://www.nexmark.com/qkg_/tku/vbyi/item.htm?query=1&channel_id=2103967744");

  Event person = generator.event(9'876'550);
  ASSERT_TRUE(person.is_person());
  const std::string expected =
      "P|198531|Luke Noris|sbnkqn@lfe.com|6915 8135 4572 1050|Portland|OR|1436928276550|";
  EXPECT_EQ(canonical(person).substr(0, expected.size()), expected);
}

TEST(NexmarkGeneratorTest, ThousandsOfEventsEqualAnIndependentPortOfTheReference) {
  // Digests from a Python port of nexmark-flink's generator (each event drawn from
  // java.util.Random(event id)): the canonical lines of every event, FNV-1a.
  EXPECT_EQ(digest(Generator{GeneratorConfig{}}, 0, 5000), 0xd78e0f2c7daa58ecULL);
  EXPECT_EQ(digest(Generator{config_with(GeneratorConfig::kUnboundedEvents)}, 1'000'000'000,
                   1'000'005'000),
            0x62811eeb181cef6eULL);
  GeneratorConfig odd = config_with(GeneratorConfig::kUnboundedEvents, 3.0);
  odd.avg_bid_byte_size = 300;
  odd.hot_auction_ratio = 3;
  odd.num_active_people = 50;
  odd.num_in_flight_auctions = 7;
  EXPECT_EQ(digest(Generator{odd}, 0, 3000), 0x5df4bfe1a9daf777ULL);
}

// ---------------------------------------------------------------------------------------
// The model.

TEST(NexmarkGeneratorTest, ProportionsAreOneThreeFortySixPerFifty) {
  Generator generator{config_with(5000)};
  for (int64_t n = 0; n < 5000; ++n) {
    Event event = generator.event(n);
    int64_t rem = n % 50;
    if (rem == 0) {
      ASSERT_TRUE(event.is_person()) << n;
    } else if (rem < 4) {
      ASSERT_TRUE(event.is_auction()) << n;
    } else {
      ASSERT_TRUE(event.is_bid()) << n;
    }
  }
}

TEST(NexmarkGeneratorTest, IdsAndHotItemsFollowTheReferenceFormulas) {
  Generator generator{config_with(50'000)};
  int64_t bids = 0, hot_auctions = 0, hot_bidders = 0, hot_channels = 0;
  int64_t auctions = 0, hot_sellers = 0;
  for (int64_t n = 0; n < 50'000; ++n) {
    Event event = generator.event(n);
    int64_t epoch = n / 50;
    int64_t offset = n % 50;
    // The last person and auction generated at or before this event (base 0).
    int64_t last_person = epoch;
    int64_t last_auction =
        offset == 0 ? 3 * epoch - 1 : 3 * epoch + std::min<int64_t>(offset - 1, 2);
    if (event.is_person()) {
      ASSERT_EQ(event.person().id, 1000 + epoch);
    } else if (event.is_auction()) {
      const Auction& a = event.auction();
      ASSERT_EQ(a.id, 1000 + last_auction);
      ++auctions;
      if (a.seller == 1000 + last_person / 100 * 100) {
        ++hot_sellers;
      } else {
        ASSERT_GE(a.seller, 1000 + std::max<int64_t>(last_person + 1 - 1000, 0));
        ASSERT_LE(a.seller, 1000 + last_person + 10);
      }
      ASSERT_GE(a.category, 10);
      ASSERT_LE(a.category, 14);
      ASSERT_GE(a.reserve, a.initial_bid);
      ASSERT_GT(a.expires, a.date_time);
      // Auctions last 1 to 2 * (the time for 1666 more events) - 1 ms.
      ASSERT_LE(a.expires - a.date_time, 2 * 1666);
    } else {
      const Bid& b = event.bid();
      ++bids;
      if (b.auction == 1000 + last_auction / 100 * 100) {
        ++hot_auctions;
      } else {
        ASSERT_GE(b.auction, 1000 + std::max<int64_t>(last_auction - 100, 0)) << n;
        ASSERT_LE(b.auction, 1000 + last_auction + 10) << n;
      }
      // Bidders carry the reference's doubled FIRST_PERSON_ID (2000).
      if (b.bidder == 2000 + last_person / 100 * 100 + 1) {
        ++hot_bidders;
      } else {
        ASSERT_GE(b.bidder, 2000 + std::max<int64_t>(last_person + 1 - 1000, 0)) << n;
        ASSERT_LE(b.bidder, 2000 + last_person + 10) << n;
      }
      ASSERT_GT(b.price, 0);
      ASSERT_EQ(b.url.rfind("https://www.nexmark.com/", 0), 0u) << b.url;
      if (b.channel == "Google" || b.channel == "Facebook" || b.channel == "Baidu" ||
          b.channel == "Apple") {
        ++hot_channels;
      } else {
        ASSERT_EQ(b.channel.rfind("channel-", 0), 0u) << b.channel;
        ASSERT_LT(std::stoi(b.channel.substr(8)), 10'000);
      }
    }
  }
  // Hot with probability 1 - 1/ratio (a cold pick lands on a hot id now and then).
  EXPECT_NEAR(static_cast<double>(hot_auctions) / bids, 0.5, 0.03);
  EXPECT_NEAR(static_cast<double>(hot_bidders) / bids, 0.75, 0.03);
  EXPECT_NEAR(static_cast<double>(hot_sellers) / auctions, 0.75, 0.05);
  EXPECT_NEAR(static_cast<double>(hot_channels) / bids, 0.5, 0.03);
}

TEST(NexmarkGeneratorTest, AverageSizesAreTheConfigured) {
  for (int sizes : {0, 1}) {
    GeneratorConfig config = config_with(50'000);
    if (sizes == 1) {
      config.avg_person_byte_size = 400;
      config.avg_auction_byte_size = 1000;
      config.avg_bid_byte_size = 250;
    }
    Generator generator(config);
    double total[3] = {0, 0, 0};
    int64_t count[3] = {0, 0, 0};
    for (int64_t n = 0; n < 50'000; ++n) {
      Event event = generator.event(n);
      total[event.value.index()] += static_cast<double>(reference_size(event));
      ++count[event.value.index()];
    }
    EXPECT_NEAR(total[0] / count[0], config.avg_person_byte_size,
                0.03 * config.avg_person_byte_size);
    EXPECT_NEAR(total[1] / count[1], config.avg_auction_byte_size,
                0.03 * config.avg_auction_byte_size);
    EXPECT_NEAR(total[2] / count[2], config.avg_bid_byte_size, 0.03 * config.avg_bid_byte_size);
  }
}

TEST(NexmarkGeneratorTest, SameSeedSameEventsOtherSeedOtherEvents) {
  GeneratorConfig config = config_with(2000);
  Generator a(config);
  Generator b(config);
  Generator copy = a;
  config.seed = 1;
  Generator seeded(config);
  int64_t differing = 0;
  std::set<std::string> urls_seed0, urls_seed1;
  for (int64_t n = 0; n < 2000; ++n) {
    Event event = a.event(n);
    ASSERT_EQ(event, b.event(n));
    ASSERT_EQ(event, copy.event(n));
    Event other = seeded.event(n);
    // The seed changes the fields, not the structure: kinds, ids and times stay.
    ASSERT_EQ(event.value.index(), other.value.index());
    ASSERT_EQ(event.timestamp(), other.timestamp());
    if (event.is_person()) {
      ASSERT_EQ(event.person().id, other.person().id);
    }
    if (event.is_auction()) {
      ASSERT_EQ(event.auction().id, other.auction().id);
    }
    if (event.is_bid()) urls_seed0.insert(event.bid().url), urls_seed1.insert(other.bid().url);
    if (!(event == other)) ++differing;
  }
  EXPECT_GT(differing, 1990);
  std::vector<std::string> common;
  std::set_intersection(urls_seed0.begin(), urls_seed0.end(), urls_seed1.begin(), urls_seed1.end(),
                        std::back_inserter(common));
  EXPECT_LT(common.size(), 10u);  // the channel URLs are drawn from the seed too
}

TEST(NexmarkGeneratorTest, TimestampsFollowTheRate) {
  Generator thousand{config_with(100)};
  for (int64_t n : {0, 1, 7, 99}) {
    EXPECT_EQ(thousand.timestamp(n), kBaseTime + n);
    EXPECT_EQ(thousand.event(n).timestamp(), kBaseTime + n);
  }
  // base + (long) (n * 1e6 / rate) / 1000, as the reference computes it.
  Generator three{config_with(100, 3.0)};
  EXPECT_EQ(three.timestamp(1), kBaseTime + 333);
  EXPECT_EQ(three.timestamp(2), kBaseTime + 666);
  EXPECT_EQ(three.timestamp(3), kBaseTime + 1000);
  EXPECT_EQ(three.timestamp(7), kBaseTime + 2333);
  // The default rate: 10 million events per second, 10 000 per millisecond.
  Generator fast{GeneratorConfig{}};
  EXPECT_EQ(fast.timestamp(9999), kBaseTime);
  EXPECT_EQ(fast.timestamp(10'000), kBaseTime + 1);
  EXPECT_EQ(fast.event(123'456'789).timestamp(), kBaseTime + 12'345);
}

TEST(NexmarkGeneratorTest, OutOfOrderGroupsShuffleIdsAndTimes) {
  GeneratorConfig config = config_with(100);
  config.out_of_order_group_size = 10;
  Generator shuffled(config);
  Generator ordered{config_with(100)};
  // Event n is the ordered stream's event (n / 10) * 10 + (n * 953) % 10.
  for (int64_t n = 0; n < 100; ++n) {
    int64_t id = n / 10 * 10 + n * 953 % 10;
    ASSERT_EQ(shuffled.event(n), ordered.event(id)) << n;
    ASSERT_EQ(shuffled.timestamp(n), kBaseTime + id);
  }
  EXPECT_EQ(shuffled.timestamp(1), kBaseTime + 3);
}

TEST(NexmarkGeneratorTest, InvalidConfigsAreRejected) {
  auto with = [](auto change) {
    GeneratorConfig config;
    change(config);
    return config;
  };
  EXPECT_THROW(Generator(with([](auto& c) { c.events_per_second = 0; })), InvalidJobError);
  EXPECT_THROW(Generator(with([](auto& c) { c.events = -1; })), InvalidJobError);
  EXPECT_THROW(Generator(with([](auto& c) { c.hot_auction_ratio = 0; })), InvalidJobError);
  EXPECT_THROW(Generator(with([](auto& c) { c.out_of_order_group_size = 0; })), InvalidJobError);
  EXPECT_THROW(Generator(with([](auto& c) { c.bid_proportion = -1; })), InvalidJobError);
  EXPECT_THROW(source(with([](auto& c) { c.avg_bid_byte_size = -5; })), InvalidJobError);
  try {
    Generator(with([](auto& c) { c.out_of_order_group_size = 0; }));
  } catch (const InvalidJobError& e) {
    EXPECT_NE(std::string(e.what()).find("out_of_order_group_size"), std::string::npos) << e.what();
  }
}

TEST(NexmarkGeneratorTest, OtherProportions) {
  GeneratorConfig config = config_with(1000);
  config.person_proportion = 2;
  config.auction_proportion = 1;
  config.bid_proportion = 7;
  Generator generator(config);
  int64_t kinds[3] = {0, 0, 0};
  int64_t next_person = 1000, next_auction = 1000;
  for (int64_t n = 0; n < 1000; ++n) {
    Event event = generator.event(n);
    ++kinds[event.value.index()];
    if (event.is_person()) {
      ASSERT_EQ(event.person().id, next_person++);
    }
    if (event.is_auction()) {
      ASSERT_EQ(event.auction().id, next_auction++);
    }
  }
  EXPECT_EQ(kinds[0], 200);
  EXPECT_EQ(kinds[1], 100);
  EXPECT_EQ(kinds[2], 700);
}

// ---------------------------------------------------------------------------------------
// The source, driven by hand: one enumerator and `parallelism` readers, wired the way the
// runtime wires them.

class FakeRuntime final : public RuntimeContext {
 public:
  FakeRuntime(int subtask, int parallelism) : subtask_(subtask), parallelism_(parallelism) {}
  const std::string& operator_name() const override { return name_; }
  int subtask_index() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return 128; }
  const ExecutionConfig& config() const override { return config_; }
  const Clock& clock() const override { return clock_; }
  ProcessingTimeService& processing_time_service() const override {
    throw std::logic_error("no timers here");
  }

 private:
  std::string name_ = "nexmark";
  int subtask_;
  int parallelism_;
  ExecutionConfig config_;
  ManualClock clock_;
};

class FakeReaderContext final : public SourceReaderContext {
 public:
  FakeReaderContext(int subtask, int parallelism) : runtime_(subtask, parallelism) {}
  const RuntimeContext& runtime() const override { return runtime_; }
  void send_split_request() override { ++requests; }
  void poll_again_after(std::chrono::nanoseconds delay) override { poll_again = delay; }
  int requests = 0;
  std::optional<std::chrono::nanoseconds> poll_again;

 private:
  FakeRuntime runtime_;
};

class FakeEnumeratorContext final : public SplitEnumeratorContext {
 public:
  explicit FakeEnumeratorContext(int parallelism)
      : parallelism_(parallelism),
        assigned(static_cast<size_t>(parallelism)),
        no_more(static_cast<size_t>(parallelism), false) {}
  int parallelism() const override { return parallelism_; }
  void assign_split(int subtask, std::unique_ptr<SourceSplit> split) override {
    assigned.at(static_cast<size_t>(subtask)).push_back(std::move(split));
  }
  void signal_no_more_splits(int subtask) override {
    no_more.at(static_cast<size_t>(subtask)) = true;
  }

  int parallelism_;
  std::vector<SplitList> assigned;
  std::vector<bool> no_more;
};

struct Emitted {
  Event event;
  Timestamp timestamp;
};

class RecordingOutput final : public Output<Event> {
 public:
  void emit(Event&& value, Timestamp timestamp) override {
    records.push_back({std::move(value), timestamp});
  }
  void emit_watermark(Timestamp) override {}
  void emit_watermark_status(bool) override {}
  std::vector<Emitted> records;
};

struct Checkpoint {
  std::vector<std::string> unassigned;
  std::vector<std::string> readers;  // every reader's splits
};

class SourceCluster {
 public:
  // A fresh start.
  SourceCluster(const Source<Event>& source, int parallelism)
      : source_(source), enumerator_context_(parallelism) {
    enumerator_ = source.create_enumerator(enumerator_context_);
    start_readers(parallelism, nullptr);
  }
  // A restore: the readers' splits are dealt round-robin (as operator list state is
  // redistributed), the unassigned ones go back to the enumerator.
  SourceCluster(const Source<Event>& source, int parallelism, const Checkpoint& checkpoint)
      : source_(source), enumerator_context_(parallelism) {
    SplitList unassigned;
    for (const auto& bytes : checkpoint.unassigned)
      unassigned.push_back(source.deserialize_split(bytes));
    enumerator_ = source.restore_enumerator(enumerator_context_, std::move(unassigned));
    start_readers(parallelism, &checkpoint);
  }

  // Polls every reader once; false once all of them have ended.
  bool poll_round() {
    bool any = false;
    for (size_t i = 0; i < readers_.size(); ++i) {
      deliver(i);
      if (ended_[i]) continue;
      if (readers_[i]->poll_next(*outputs_[i]) == InputStatus::kEndOfInput) {
        ended_[i] = true;
      } else {
        any = true;
      }
      deliver(i);
    }
    return any;
  }
  void run_to_end() {
    for (int round = 0; poll_round(); ++round) ASSERT_LT(round, 100'000) << "the source never ends";
  }

  Checkpoint checkpoint() {
    Checkpoint checkpoint;
    for (const auto& split : enumerator_->snapshot_state())
      checkpoint.unassigned.push_back(source_.serialize_split(*split));
    for (auto& reader : readers_) {
      for (const auto& split : reader->snapshot_state())
        checkpoint.readers.push_back(source_.serialize_split(*split));
    }
    return checkpoint;
  }

  std::vector<Emitted> records() const {
    std::vector<Emitted> all;
    for (const auto& out : recorded_)
      all.insert(all.end(), out->records.begin(), out->records.end());
    return all;
  }
  FakeReaderContext& reader_context(size_t i) { return *contexts_[i]; }
  size_t records_of(size_t i) const { return recorded_[i]->records.size(); }

 private:
  void start_readers(int parallelism, const Checkpoint* checkpoint) {
    for (int i = 0; i < parallelism; ++i) {
      contexts_.push_back(std::make_unique<FakeReaderContext>(i, parallelism));
      readers_.push_back(source_.create_reader(*contexts_.back()));
      recorded_.push_back(std::make_unique<RecordingOutput>());
      outputs_.push_back(std::make_unique<SourceOutput<Event>>(*recorded_.back()));
      handled_.push_back(0);
      ended_.push_back(false);
      no_more_delivered_.push_back(false);
    }
    if (checkpoint != nullptr) {
      std::vector<SplitList> dealt(static_cast<size_t>(parallelism));
      for (size_t k = 0; k < checkpoint->readers.size(); ++k) {
        dealt[k % dealt.size()].push_back(source_.deserialize_split(checkpoint->readers[k]));
      }
      for (size_t i = 0; i < readers_.size(); ++i) {
        if (!dealt[i].empty()) readers_[i]->add_splits(std::move(dealt[i]));
      }
    }
    for (auto& reader : readers_) reader->start();
  }

  void deliver(size_t i) {
    while (handled_[i] < contexts_[i]->requests) {
      ++handled_[i];
      enumerator_->handle_split_request(static_cast<int>(i));
    }
    auto& assigned = enumerator_context_.assigned[i];
    if (!assigned.empty()) {
      SplitList splits = std::move(assigned);
      assigned.clear();
      readers_[i]->add_splits(std::move(splits));
    }
    if (enumerator_context_.no_more[i] && !no_more_delivered_[i]) {
      no_more_delivered_[i] = true;
      readers_[i]->notify_no_more_splits();
    }
  }

  const Source<Event>& source_;
  FakeEnumeratorContext enumerator_context_;
  std::unique_ptr<SplitEnumerator> enumerator_;
  std::vector<std::unique_ptr<FakeReaderContext>> contexts_;
  std::vector<std::unique_ptr<SourceReader<Event>>> readers_;
  std::vector<std::unique_ptr<RecordingOutput>> recorded_;
  std::vector<std::unique_ptr<SourceOutput<Event>>> outputs_;
  std::vector<int> handled_;
  std::vector<bool> ended_;
  std::vector<bool> no_more_delivered_;
};

// At 1000 events per second event n has timestamp base + n, so the timestamp names it.
int64_t number_of(const Emitted& record) { return record.event.timestamp() - kBaseTime; }

// The records must be exactly events 0 .. count - 1 of `generator`, each once, each with
// its date_time as timestamp.
void expect_exactly_the_events(const std::vector<Emitted>& records, const Generator& generator,
                               int64_t count) {
  ASSERT_EQ(static_cast<int64_t>(records.size()), count);
  std::vector<bool> seen(static_cast<size_t>(count), false);
  for (const Emitted& record : records) {
    int64_t n = number_of(record);
    ASSERT_GE(n, 0);
    ASSERT_LT(n, count);
    ASSERT_FALSE(seen[static_cast<size_t>(n)]) << "event " << n << " twice";
    seen[static_cast<size_t>(n)] = true;
    ASSERT_EQ(record.event, generator.event(n)) << n;
    ASSERT_EQ(record.timestamp, record.event.timestamp());
  }
}

TEST(NexmarkSourceTest, AnyParallelismYieldsExactlyTheGeneratorsEvents) {
  GeneratorConfig config = config_with(3001);
  auto nexmark = source(config);
  EXPECT_TRUE(nexmark->bounded());
  EXPECT_FALSE(source(config_with(GeneratorConfig::kUnboundedEvents))->bounded());
  for (int parallelism : {1, 2, 3, 7}) {
    SCOPED_TRACE("parallelism " + std::to_string(parallelism));
    SourceCluster cluster(*nexmark, parallelism);
    cluster.run_to_end();
    expect_exactly_the_events(cluster.records(), Generator(config), 3001);
  }
  // No events at all: every reader ends.
  SourceCluster empty(*source(config_with(0)), 2);
  empty.run_to_end();
  EXPECT_TRUE(empty.records().empty());
}

TEST(NexmarkSourceTest, CountsTheEventsItEmitsForProgress) {
  for (int parallelism : {1, 3}) {
    GeneratorConfig config = config_with(3001);
    config.emitted_events = std::make_shared<std::atomic<int64_t>>(0);
    SourceCluster cluster(*source(config), parallelism);
    cluster.poll_round();
    int64_t after_one_round = config.emitted_events->load();
    EXPECT_EQ(after_one_round, static_cast<int64_t>(cluster.records().size()));
    cluster.run_to_end();
    EXPECT_EQ(config.emitted_events->load(), 3001) << "parallelism " << parallelism;
  }
}

TEST(NexmarkSourceTest, CheckpointAndRestoreAtAnyParallelismLosesAndRepeatsNothing) {
  GeneratorConfig config = config_with(5000);
  auto nexmark = source(config);
  Generator generator(config);
  for (auto [before, after] : {std::pair{1, 1}, {2, 3}, {3, 1}, {2, 2}, {4, 2}}) {
    for (int rounds : {0, 1, 2, 5}) {
      SCOPED_TRACE("parallelism " + std::to_string(before) + " -> " + std::to_string(after) + ", " +
                   std::to_string(rounds) + " rounds before the checkpoint");
      SourceCluster first(*nexmark, before);
      for (int i = 0; i < rounds; ++i) first.poll_round();
      Checkpoint checkpoint = first.checkpoint();
      if (rounds == 0) {
        EXPECT_EQ(checkpoint.unassigned.size(), static_cast<size_t>(before));
      }
      SourceCluster second(*nexmark, after, checkpoint);
      second.run_to_end();
      std::vector<Emitted> all = first.records();
      for (Emitted& record : second.records()) all.push_back(std::move(record));
      expect_exactly_the_events(all, generator, 5000);
    }
  }
}

TEST(NexmarkSourceTest, AReaderWithSeveralEndlessSplitsReadsThemAll) {
  GeneratorConfig config = config_with(GeneratorConfig::kUnboundedEvents);
  auto nexmark = source(config);
  SourceCluster three(*nexmark, 3);
  for (int i = 0; i < 2; ++i) three.poll_round();
  SourceCluster one(*nexmark, 1, three.checkpoint());
  for (int i = 0; i < 9; ++i) one.poll_round();

  // Per split k (events k, k + 3, ...): a gapless prefix, each event once, read on after
  // the restore.
  std::map<int64_t, std::vector<int64_t>> by_split;
  for (const auto& records : {three.records(), one.records()}) {
    for (const Emitted& record : records)
      by_split[number_of(record) % 3].push_back(number_of(record));
  }
  ASSERT_EQ(by_split.size(), 3u);
  for (auto& [k, numbers] : by_split) {
    std::sort(numbers.begin(), numbers.end());
    for (size_t i = 0; i < numbers.size(); ++i)
      ASSERT_EQ(numbers[i], k + 3 * static_cast<int64_t>(i));
    EXPECT_GT(numbers.size(), 2u * 1024u) << "split " << k << " was not read after the restore";
  }
  for (const Emitted& record : one.records())
    ASSERT_EQ(record.event, Generator(config).event(number_of(record)));
}

TEST(NexmarkSourceTest, RateLimitedReadersWaitForTheirShare) {
  GeneratorConfig config = config_with(100, 0.001);  // one event per 1000 s, in all
  config.rate_limited = true;
  auto nexmark = source(config);
  SourceCluster cluster(*nexmark, 2);
  cluster.poll_round();  // the splits arrive, and one event each: the first is always allowed
  EXPECT_EQ(cluster.records_of(0), 1u);
  EXPECT_EQ(cluster.records_of(1), 1u);
  cluster.poll_round();  // the next is ~2000 s away for each reader
  EXPECT_EQ(cluster.records().size(), 2u);
  ASSERT_TRUE(cluster.reader_context(0).poll_again.has_value());
  EXPECT_GT(*cluster.reader_context(0).poll_again, std::chrono::seconds(1000));
}

TEST(NexmarkSourceTest, SplitsRoundTripAndBadBytesAreRejected) {
  auto nexmark = source(config_with(1000));
  FakeEnumeratorContext context(3);
  auto enumerator = nexmark->create_enumerator(context);
  enumerator->handle_split_request(1);
  ASSERT_EQ(context.assigned[1].size(), 1u);
  EXPECT_TRUE(context.no_more[1]);
  const SourceSplit& split = *context.assigned[1][0];
  EXPECT_EQ(split.split_id(), "nexmark-1");
  EXPECT_EQ(split.describe(), "nexmark split 1 of 3 at event 1");
  std::string bytes = nexmark->serialize_split(split);
  auto restored = nexmark->deserialize_split(bytes);
  EXPECT_EQ(restored->split_id(), "nexmark-1");
  EXPECT_EQ(nexmark->serialize_split(*restored), bytes);
  // The other subtasks' splits wait in the enumerator, and are in its checkpoint.
  EXPECT_EQ(enumerator->snapshot_state().size(), 2u);

  auto error_of = [&](const std::string& b) -> std::string {
    try {
      nexmark->deserialize_split(b);
    } catch (const SerializationError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string prefix = "nexmark source: cannot restore a split from the checkpoint: ";
  auto varints = [](std::initializer_list<uint64_t> values) {
    ByteWriter writer;
    for (uint64_t v : values) writer.write_varint(v);
    return writer.take();
  };
  EXPECT_EQ(varints({1, 1, 3, 1}), bytes);
  EXPECT_EQ(error_of(varints({2, 1, 3, 1})).rfind(prefix + "unknown split version 2", 0), 0u)
      << error_of(varints({2, 1, 3, 1}));
  EXPECT_EQ(error_of("").rfind(prefix + "malformed bytes", 0), 0u) << error_of("");
  EXPECT_EQ(error_of(varints({1, 1, 3})).rfind(prefix + "malformed bytes", 0), 0u);
  EXPECT_EQ(error_of(varints({1, 1, 3, 1, 0})).rfind(prefix + "malformed bytes", 0), 0u);
  EXPECT_EQ(error_of(varints({1, 3, 3, 3})),
            prefix + "split index 3 is not below the split count 3 (corrupt bytes)");
  EXPECT_EQ(error_of(varints({1, 0, 0, 0})).rfind(prefix + "split index 0 is not below", 0), 0u);
  EXPECT_EQ(error_of(varints({1, 1, 3, 5}))
                .rfind(prefix + "position 5 is not an event of split 1 of 3", 0),
            0u)
      << error_of(varints({1, 1, 3, 5}));

  // A split of another source cannot be checkpointed here.
  sources::NumberRangeSplit foreign(0, 0, 10);
  EXPECT_THROW(nexmark->serialize_split(foreign), Error);
}

// ---------------------------------------------------------------------------------------
// The streams, in real jobs.

TEST(NexmarkStreamsTest, EventsSplitIntoPersonsAuctionsAndBids) {
  GeneratorConfig config = config_with(2000);
  StreamEnvironment env;
  env.set_parallelism(2);
  std::vector<Person> persons_out;
  std::vector<Auction> auctions_out;
  std::vector<Bid> bids_out;
  auto stream = events(env, config);
  persons(stream).sink_to(sinks::collect(persons_out));
  auctions(stream).sink_to(sinks::collect(auctions_out));
  bids(stream).sink_to(sinks::collect(bids_out));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_NE(result.find_operator("nexmark"), nullptr);
  EXPECT_EQ(result.find_operator("nexmark")->parallelism, 2);

  Generator generator(config);
  std::vector<std::string> expected[3];
  for (int64_t n = 0; n < 2000; ++n) {
    Event event = generator.event(n);
    expected[event.value.index()].push_back(canonical(event));
  }
  auto lines = [](const auto& records) {
    std::vector<std::string> out;
    for (const auto& record : records) out.push_back(canonical(Event{record}));
    std::sort(out.begin(), out.end());
    return out;
  };
  for (auto& e : expected) std::sort(e.begin(), e.end());
  EXPECT_EQ(lines(persons_out), expected[0]);
  EXPECT_EQ(lines(auctions_out), expected[1]);
  EXPECT_EQ(lines(bids_out), expected[2]);
}

TEST(NexmarkStreamsTest, EventTimeWindowsSeeTheEventsTimestamps) {
  // 1000 events per second: each second of event time holds 20 blocks of 50 events, so 920
  // bids; the splits' watermarks close every window.
  StreamEnvironment env;
  env.set_parallelism(3);
  std::vector<int64_t> counts;
  bids(events(env, config_with(5000)))
      .map([](const Bid&) { return int64_t{1}; })
      .window_all(TumblingEventTimeWindows::of(std::chrono::seconds(1)))
      .reduce([](int64_t a, int64_t b) { return a + b; })
      .sink_to(sinks::collect(counts));
  JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(counts, (std::vector<int64_t>{920, 920, 920, 920, 920}));
}

}  // namespace
}  // namespace eddy::nexmark
