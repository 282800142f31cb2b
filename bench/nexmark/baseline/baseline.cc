// The baseline registry, and the stateless queries q0, q1 and q2.
#include "baseline.h"

#include <string_view>
#include <utility>
#include <vector>

#include "baseline_internal.h"

namespace eddy::nexmark::baseline {

using internal::for_each_event;
using internal::ResultSink;

namespace {

struct Entry {
  std::string_view query;
  BaselineFn fn;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {"q0", &q0}, {"q1", &q1},   {"q2", &q2},   {"q5", &q5},   {"q7", &q7},
      {"q8", &q8}, {"q11", &q11}, {"q17", &q17}, {"q19", &q19}, {"q20", &q20},
  };
  return all;
}

}  // namespace

BaselineFn find_baseline(std::string_view query) {
  for (const Entry& entry : entries()) {
    if (entry.query == query) return entry.fn;
  }
  return nullptr;
}

const std::vector<std::string_view>& baseline_queries() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const Entry& entry : entries()) out.push_back(entry.query);
    return out;
  }();
  return names;
}

// q0, pass through: every bid (the columns the reference selects: no channel, no url).
BaselineResult q0(const GeneratorConfig& config, Progress* progress) {
  ResultSink sink;
  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    sink.emit(bid.auction, bid.bidder, bid.price, bid.date_time, bid.extra);
  });
  return internal::finish(events, sink);
}

// q1, currency conversion: every bid with its price in euros, 0.908 * price as
// DECIMAL(23, 3) (kept exactly, in thousandths).
BaselineResult q1(const GeneratorConfig& config, Progress* progress) {
  ResultSink sink;
  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    int64_t euro_thousandths = bid.price * 908;
    sink.emit(bid.auction, bid.bidder, euro_thousandths, bid.date_time, bid.extra);
  });
  return internal::finish(events, sink);
}

// q2, selection: (auction, price) of the bids on every 123rd auction.
BaselineResult q2(const GeneratorConfig& config, Progress* progress) {
  ResultSink sink;
  int64_t events = for_each_event(config, progress, [&](Event& event) {
    if (!event.is_bid()) return;
    const Bid& bid = event.bid();
    if (bid.auction % 123 == 0) sink.emit(bid.auction, bid.price);
  });
  return internal::finish(events, sink);
}

}  // namespace eddy::nexmark::baseline
