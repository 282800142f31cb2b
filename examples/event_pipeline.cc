// An event pipeline on a generated stream of clicks and orders.
//
//   event-pipeline [--events N] [--rate R] [--threshold CENTS] [--parallelism P]
//
// The generator derives every event from its index (a splitmix64 hash), so the events are
// the same in every run. The job keeps the orders, keys them by user, keeps a rolling sum
// of each user's spending, and prints a line whenever a user's total crosses another
// multiple of --threshold (default 10'000'000 cents, i.e. 100000.00). After the job, the
// per-operator summary goes to stderr.
//
// At parallelism 1 the output is the same in every run. With parallel sources a user's
// orders arrive interleaved from several subtasks, so the printed totals may differ from
// run to run, but how many lines each user gets (final total / threshold) does not.
//
// --events 0 runs unbounded at --rate events per second (default 100000) until Ctrl-C,
// which cancels the job cleanly (StreamEnvironment::from_args installs the handler) and
// prints the summary.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <unordered_map>

#include "eddy/eddy.h"

namespace {

enum class Kind : uint8_t { kClick, kOrder };

struct Event {
  int64_t user = 0;
  Kind kind = Kind::kClick;
  int64_t amount_cents = 0;  // 0 for clicks
  int64_t event_time_ms = 0;
};

// A user's spending: one order's amount, then (after the rolling sum) the running total.
struct Spend {
  int64_t user = 0;
  int64_t total_cents = 0;
};

std::ostream& operator<<(std::ostream& os, const Spend& s) {
  return os << "user " << s.user << " has spent " << s.total_cents / 100 << "."
            << (s.total_cents % 100 < 10 ? "0" : "") << s.total_cents % 100;
}

// Keeps the totals that crossed another multiple of `threshold` since the user's previous
// total. It remembers the last total per user: that is correct per subtask because the
// filter follows the keyed sum on a forward edge, so every user's totals reach the same
// subtask, in order. (Plain member state is not checkpointed; keyed state will be.)
class CrossedThreshold {
 public:
  explicit CrossedThreshold(int64_t threshold) : threshold_(threshold) {}
  bool operator()(const Spend& s) {
    int64_t& previous = previous_[s.user];
    bool crossed = s.total_cents / threshold_ != previous / threshold_;
    previous = s.total_cents;
    return crossed;
  }

 private:
  int64_t threshold_;
  std::unordered_map<int64_t, int64_t> previous_;
};

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr double kUsers = 1000;
constexpr int64_t kStartMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

Event make_event(int64_t index) {
  uint64_t h1 = splitmix64(static_cast<uint64_t>(index));
  uint64_t h2 = splitmix64(h1);
  Event e;
  // Users 0..999, log-uniformly: a few heavy users (user 0 has ~10% of the events) and a
  // long tail, as in real traffic.
  double u = static_cast<double>(h1 >> 11) * 0x1.0p-53;  // [0, 1)
  e.user = static_cast<int64_t>(std::pow(kUsers, u)) - 1;
  // One event in five is an order, of 1.00 to 500.00.
  e.kind = h2 % 5 == 0 ? Kind::kOrder : Kind::kClick;
  e.amount_cents = e.kind == Kind::kOrder ? 100 + static_cast<int64_t>((h2 >> 8) % 49'901) : 0;
  // One event per millisecond, up to 2 s late.
  e.event_time_ms = kStartMs + index - static_cast<int64_t>((h2 >> 40) % 2000);
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto env = eddy::StreamEnvironment::from_args(argc, argv);
    const eddy::Args& args = env.args();
    int64_t events = args.get_int("events", 1'000'000);
    double rate = args.get_double("rate", 100'000);
    int64_t threshold = args.get_int("threshold", 10'000'000);
    if (events < 0 || rate < 0 || threshold <= 0) {
      std::fputs(
          "usage: event-pipeline [--events N (0 = unbounded)] [--rate R] "
          "[--threshold CENTS > 0] [--parallelism P]\n",
          stderr);
      return 2;
    }

    eddy::sources::GeneratorOptions options;
    if (events == 0) {
      options.count = eddy::sources::kUnbounded;
      options.records_per_second = rate;
    } else {
      options.count = events;
    }

    env.from_source(eddy::sources::generator(make_event, options), "Events")
        .filter([](const Event& e) { return e.kind == Kind::kOrder; })
        .name("Orders")
        .map([](const Event& e) {
          return Spend{e.user, e.amount_cents};
        })
        .name("To Spend")
        .key_by([](const Spend& s) { return s.user; })
        .sum(&Spend::total_cents)
        .name("Total per User")
        .filter(CrossedThreshold(threshold))
        .name("Crossed Threshold")
        .print();

    eddy::JobResult result = env.execute("event-pipeline");
    // A cancelled job's summary is printed by execute() already (from_args).
    if (result.status != eddy::JobStatus::kCancelled) std::fputs(result.summary().c_str(), stderr);
    if (!result.ok()) {
      std::fprintf(stderr, "event-pipeline: %s\n", result.error.c_str());
      return 1;
    }
    return 0;
  } catch (const eddy::Error& e) {
    std::fprintf(stderr, "event-pipeline: %s\n", e.what());
    return 2;
  }
}
