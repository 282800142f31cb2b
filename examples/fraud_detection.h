// Fraud detection on a stream of card transactions (after Flink's fraud-detection
// walkthrough): alert when an account makes a small transaction (under 1.00) followed, as
// its next transaction and within one minute of event time, by a large one (over 500.00).
//
// Transactions arrive out of order (up to kMaxDelayMs late). The detector therefore
// buffers each account's transactions in keyed state and handles them in event-time order
// when the watermark passes them, with an event-time timer per transaction time; the
// "small" flag lives in keyed state too. Shared by the example program and its test.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "eddy/eddy.h"

namespace fraud {

constexpr int64_t kSmallCents = 100;     // under 1.00
constexpr int64_t kLargeCents = 50'000;  // over 500.00
constexpr eddy::Timestamp kWindowMs = 60'000;
constexpr eddy::Timestamp kMaxDelayMs = 2'000;

struct Transaction {
  int64_t id = 0;
  int64_t account = 0;
  eddy::Timestamp time = 0;
  int64_t amount_cents = 0;
  EDDY_SERIALIZE(id, account, time, amount_cents)
};

inline std::ostream& operator<<(std::ostream& os, const Transaction& t) {
  return os << "transaction " << t.id << " of account " << t.account << " at " << t.time;
}

struct Alert {
  int64_t account = 0;
  int64_t small_id = 0;
  int64_t large_id = 0;
  eddy::Timestamp time = 0;  // of the large transaction
  int64_t large_cents = 0;
  bool operator==(const Alert&) const = default;
  bool operator<(const Alert& o) const { return large_id < o.large_id; }
};

inline std::ostream& operator<<(std::ostream& os, const Alert& a) {
  return os << "ALERT account " << a.account << ": transaction " << a.large_id << " of "
            << a.large_cents / 100 << "." << (a.large_cents % 100 < 10 ? "0" : "") << a.large_cents % 100
            << " at " << a.time << " ms follows small transaction " << a.small_id;
}

inline uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Transaction i: one every 10 ms of event time, delayed by up to kMaxDelayMs; about 2% are
// small and 2% large.
inline Transaction make_transaction(int64_t i, int64_t accounts) {
  uint64_t h = mix(static_cast<uint64_t>(i));
  Transaction t;
  t.id = i;
  t.account = static_cast<int64_t>(h % static_cast<uint64_t>(accounts));
  t.time = 1'700'000'000'000 + i * 10 - static_cast<int64_t>((h >> 20) % kMaxDelayMs);
  uint64_t kind = (h >> 40) % 100;
  if (kind < 2) {
    t.amount_cents = static_cast<int64_t>(1 + (h >> 50) % 99);
  } else if (kind < 4) {
    t.amount_cents = static_cast<int64_t>(50'001 + (h >> 48) % 100'000);
  } else {
    t.amount_cents = static_cast<int64_t>(100 + (h >> 44) % 49'900);
  }
  return t;
}

class FraudDetector final : public eddy::KeyedProcessFunction<int64_t, Transaction, Alert> {
 public:
  void open(eddy::RuntimeContext& context) override {
    pending_ = &context.get_map_state(eddy::MapStateDescriptor<eddy::Timestamp, std::vector<Transaction>>("pending"));
    small_ = &context.get_state(eddy::ValueStateDescriptor<Transaction>("small"));
  }

  void process_element(const Transaction& t, Context& context, eddy::Collector<Alert>&) override {
    if (t.time <= context.timer_service().current_watermark()) {
      context.output(late(), t);  // behind the watermark: reported, never silently dropped
      return;
    }
    std::vector<Transaction> at = pending_->get(t.time).value_or(std::vector<Transaction>{});
    at.push_back(t);
    pending_->put(t.time, std::move(at));
    context.timer_service().register_event_time_timer(t.time);
  }

  // Event time has reached `time`: expire the small flag, then handle the transactions of
  // that millisecond in id order.
  void on_timer(eddy::Timestamp time, OnTimerContext&, eddy::Collector<Alert>& out) override {
    std::optional<Transaction> small = small_->value();
    if (small && time - small->time >= kWindowMs) {
      small.reset();
      small_->clear();
    }
    std::optional<std::vector<Transaction>> at = pending_->get(time);
    if (!at) return;  // the flag's own expiry timer
    pending_->remove(time);
    std::sort(at->begin(), at->end(), [](const Transaction& a, const Transaction& b) { return a.id < b.id; });
    for (const Transaction& t : *at) {
      if (small) {
        if (t.amount_cents > kLargeCents) out.collect(Alert{t.account, small->id, t.id, t.time, t.amount_cents});
        small.reset();
        small_->clear();
      }
      if (t.amount_cents < kSmallCents) {
        small = t;
        small_->update(t);
      }
    }
  }

  static const eddy::OutputTag<Transaction>& late() {
    static const eddy::OutputTag<Transaction> tag("late-transactions");
    return tag;
  }

 private:
  eddy::MapState<eddy::Timestamp, std::vector<Transaction>>* pending_ = nullptr;
  eddy::ValueState<Transaction>* small_ = nullptr;
};

// The job: generated transactions -> watermarks -> per-account detection -> alerts.
// Returns the alerts stream; late transactions go to FraudDetector::late().
inline eddy::DataStream<Alert> build_job(eddy::StreamEnvironment& env, int64_t transactions, int64_t accounts) {
  auto strategy = eddy::WatermarkStrategy<Transaction>::for_bounded_out_of_orderness(
                      std::chrono::milliseconds(kMaxDelayMs))
                      .with_timestamp_assigner([](const Transaction& t) { return t.time; });
  eddy::sources::GeneratorOptions options;
  options.count = transactions;
  auto source = eddy::sources::generator([accounts](int64_t i) { return make_transaction(i, accounts); }, options);
  return env.from_source(source, strategy, "Transactions")
      .key_by([](const Transaction& t) { return t.account; })
      .process(FraudDetector())
      .name("Fraud Detector")
      .uid("fraud-detector");
}

// The same rule computed directly, for the test: each account's transactions in
// event-time order (ties by id).
inline std::vector<Alert> expected_alerts(int64_t transactions, int64_t accounts) {
  std::vector<Transaction> all;
  for (int64_t i = 0; i < transactions; ++i) all.push_back(make_transaction(i, accounts));
  std::sort(all.begin(), all.end(), [](const Transaction& a, const Transaction& b) {
    return a.account != b.account ? a.account < b.account : a.time != b.time ? a.time < b.time : a.id < b.id;
  });
  std::vector<Alert> alerts;
  std::optional<Transaction> small;
  for (size_t i = 0; i < all.size(); ++i) {
    const Transaction& t = all[i];
    if (i > 0 && all[i - 1].account != t.account) small.reset();
    if (small && t.time - small->time >= kWindowMs) small.reset();
    if (small) {
      if (t.amount_cents > kLargeCents) alerts.push_back(Alert{t.account, small->id, t.id, t.time, t.amount_cents});
      small.reset();
    }
    if (t.amount_cents < kSmallCents) small = t;
  }
  std::sort(alerts.begin(), alerts.end());
  return alerts;
}

}  // namespace fraud
