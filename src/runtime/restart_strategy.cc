#include "runtime/restart_strategy.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "eddy/error.h"

namespace eddy::runtime {

namespace {

using Kind = RestartStrategyConfig::Kind;
using std::chrono::milliseconds;

std::string ms(milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

std::string count(int64_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

[[noreturn]] void invalid(Kind kind, const char* setting, const char* option,
                          const std::string& problem) {
  throw InvalidJobError(std::string("restart strategy ") + restart_strategy_name(kind) + ": " +
                        setting + " (--" + option + ") " + problem);
}

// The options of parse_restart_strategy, and the strategies that use each.
struct RestartOption {
  const char* name;
  std::vector<Kind> used_by;
};

const std::vector<RestartOption>& restart_options() {
  static const std::vector<RestartOption> options = {
      {"restart-attempts", {Kind::kFixedDelay, Kind::kExponentialDelay}},
      {"restart-delay-ms", {Kind::kFixedDelay, Kind::kExponentialDelay, Kind::kFailureRate}},
      {"restart-max-delay-ms", {Kind::kExponentialDelay}},
      {"restart-backoff-multiplier", {Kind::kExponentialDelay}},
      {"restart-reset-after-ms", {Kind::kExponentialDelay}},
      {"restart-max-failures-per-interval", {Kind::kFailureRate}},
      {"restart-failure-interval-ms", {Kind::kFailureRate}},
  };
  return options;
}

std::string users_of(const RestartOption& option) {
  std::string users;
  for (size_t i = 0; i < option.used_by.size(); ++i) {
    if (i > 0) users += i + 1 == option.used_by.size() ? " or " : ", ";
    users += restart_strategy_name(option.used_by[i]);
  }
  return users;
}

int parse_int(const Args& args, const char* option, int fallback) {
  int64_t value = args.get_int(option, fallback);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    throw InvalidJobError("option --" + std::string(option) +
                          " is out of range: " + std::to_string(value));
  }
  return static_cast<int>(value);
}

milliseconds parse_ms(const Args& args, const char* option, milliseconds fallback) {
  return milliseconds(args.get_int(option, fallback.count()));
}

}  // namespace

const char* restart_strategy_name(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kFixedDelay:
      return "fixed-delay";
    case Kind::kExponentialDelay:
      return "exponential-delay";
    case Kind::kFailureRate:
      return "failure-rate";
  }
  return "unknown";
}

void validate_restart_strategy(const RestartStrategyConfig& config) {
  Kind kind = config.kind;
  switch (kind) {
    case Kind::kNone:
      return;
    case Kind::kFixedDelay:
      if (config.max_attempts < 0) {
        invalid(kind, "max_attempts", "restart-attempts",
                "must be at least 0, not " + std::to_string(config.max_attempts));
      }
      if (config.delay.count() < 0) {
        invalid(kind, "delay", "restart-delay-ms",
                "must be at least 0 ms, not " + ms(config.delay));
      }
      return;
    case Kind::kExponentialDelay:
      if (config.max_attempts < 0) {
        invalid(kind, "max_attempts", "restart-attempts",
                "must be at least 0, not " + std::to_string(config.max_attempts));
      }
      if (config.delay.count() < 1) {
        invalid(kind, "delay", "restart-delay-ms",
                "(the initial delay) must be at least 1 ms, not " + ms(config.delay));
      }
      if (config.max_delay < config.delay) {
        invalid(kind, "max_delay", "restart-max-delay-ms",
                "must be at least the initial delay (" + ms(config.delay) + "), not " +
                    ms(config.max_delay));
      }
      if (!std::isfinite(config.multiplier) || config.multiplier < 1) {
        invalid(kind, "multiplier", "restart-backoff-multiplier",
                "must be a number of at least 1, not " + number(config.multiplier));
      }
      if (config.reset_after.count() < 1) {
        invalid(kind, "reset_after", "restart-reset-after-ms",
                "must be at least 1 ms, not " + ms(config.reset_after));
      }
      return;
    case Kind::kFailureRate:
      if (config.max_failures_per_interval < 1) {
        invalid(kind, "max_failures_per_interval", "restart-max-failures-per-interval",
                "must be at least 1, not " + std::to_string(config.max_failures_per_interval));
      }
      if (config.failure_interval.count() < 1) {
        invalid(kind, "failure_interval", "restart-failure-interval-ms",
                "must be at least 1 ms, not " + ms(config.failure_interval));
      }
      if (config.delay.count() < 0) {
        invalid(kind, "delay", "restart-delay-ms",
                "must be at least 0 ms, not " + ms(config.delay));
      }
      return;
  }
  throw InvalidJobError("unknown restart strategy kind " + std::to_string(static_cast<int>(kind)));
}

RestartStrategy::RestartStrategy(const RestartStrategyConfig& config) : config_(config) {
  validate_restart_strategy(config_);
}

std::optional<milliseconds> RestartStrategy::on_failure(Timestamp now_ms) {
  if (gave_up()) return std::nullopt;
  std::optional<milliseconds> delay;
  switch (config_.kind) {
    case Kind::kNone:
      return give_up("restart strategy none: the job is not restarted after a failure");
    case Kind::kFixedDelay:
      delay = fixed_delay();
      break;
    case Kind::kExponentialDelay:
      delay = exponential_delay(now_ms);
      break;
    case Kind::kFailureRate:
      delay = failure_rate(now_ms);
      break;
  }
  if (delay) ++restarts_;
  return delay;
}

std::optional<milliseconds> RestartStrategy::fixed_delay() {
  if (restarts_ >= config_.max_attempts) {
    return give_up("restart strategy fixed delay exhausted after " +
                   count(restarts_, "restart", "restarts"));
  }
  return config_.delay;
}

std::optional<milliseconds> RestartStrategy::exponential_delay(Timestamp now_ms) {
  // As Flink's ExponentialDelayRestartBackoffTimeStrategy: the quiet period that resets the
  // delay is counted from the restart, i.e. from the last failure plus its delay.
  bool reset = true;
  if (last_failure_) {
    int64_t since_failure = now_ms > *last_failure_ ? now_ms - *last_failure_ : 0;
    reset = since_failure - current_delay_.count() >= config_.reset_after.count();
  }
  if (reset) {
    current_delay_ = config_.delay;
    attempts_since_reset_ = 0;
  } else {
    double next = static_cast<double>(current_delay_.count()) * config_.multiplier;
    current_delay_ = next >= static_cast<double>(config_.max_delay.count())
                         ? config_.max_delay
                         : milliseconds(static_cast<int64_t>(next));
  }
  last_failure_ = std::max(now_ms, last_failure_.value_or(now_ms));
  if (attempts_since_reset_ >= config_.max_attempts) {
    return give_up("restart strategy exponential delay exhausted after " +
                   count(attempts_since_reset_, "restart", "restarts") +
                   " (they start over only after " + ms(config_.reset_after) + " without failure)");
  }
  ++attempts_since_reset_;
  return current_delay_;
}

std::optional<milliseconds> RestartStrategy::failure_rate(Timestamp now_ms) {
  // A failure exactly `failure_interval` ago still counts (as in Flink).
  while (!recent_failures_.empty() &&
         now_ms - recent_failures_.front() > config_.failure_interval.count()) {
    recent_failures_.pop_front();
  }
  recent_failures_.push_back(now_ms);
  auto failures = static_cast<int64_t>(recent_failures_.size());
  if (failures > config_.max_failures_per_interval) {
    return give_up(
        "restart strategy failure rate exceeded: " + count(failures, "failure", "failures") +
        " within " + ms(config_.failure_interval) + ", at most " +
        std::to_string(config_.max_failures_per_interval) + " allowed");
  }
  return config_.delay;
}

std::optional<milliseconds> RestartStrategy::give_up(std::string reason) {
  give_up_reason_ = std::move(reason);
  return std::nullopt;
}

std::string RestartStrategy::describe() const {
  const RestartStrategyConfig& c = config_;
  switch (c.kind) {
    case Kind::kNone:
      return "none: no restarts";
    case Kind::kFixedDelay:
      return "fixed delay: " + count(c.max_attempts, "attempt", "attempts") + ", " + ms(c.delay) +
             " apart";
    case Kind::kExponentialDelay:
      return "exponential delay: " + ms(c.delay) + ", times " + number(c.multiplier) +
             " after each failure up to " + ms(c.max_delay) + ", reset after " + ms(c.reset_after) +
             " without failure, " +
             (c.max_attempts == kUnlimitedRestartAttempts
                  ? std::string("unlimited attempts")
                  : "at most " + count(c.max_attempts, "attempt", "attempts") + " between resets");
    case Kind::kFailureRate:
      return "failure rate: at most " + count(c.max_failures_per_interval, "failure", "failures") +
             " in " + ms(c.failure_interval) + ", " + ms(c.delay) + " between restarts";
  }
  return restart_strategy_name(c.kind);
}

RestartStrategyConfig parse_restart_strategy(const Args& args) {
  RestartStrategyConfig config;
  std::optional<std::string> name = args.get("restart-strategy");
  if (!name) {
    for (const RestartOption& option : restart_options()) {
      if (args.has(option.name)) {
        throw InvalidJobError("option --" + std::string(option.name) +
                              " needs --restart-strategy " + users_of(option));
      }
    }
    return config;
  }
  bool known = false;
  for (Kind kind : {Kind::kNone, Kind::kFixedDelay, Kind::kExponentialDelay, Kind::kFailureRate}) {
    if (*name == restart_strategy_name(kind)) {
      config.kind = kind;
      known = true;
    }
  }
  if (!known) {
    throw InvalidJobError(
        "option --restart-strategy needs none, fixed-delay, exponential-delay or failure-rate, not "
        "'" +
        *name + "'");
  }
  for (const RestartOption& option : restart_options()) {
    if (!args.has(option.name)) continue;
    bool used = false;
    for (Kind kind : option.used_by) used = used || kind == config.kind;
    if (!used) {
      throw InvalidJobError("option --" + std::string(option.name) +
                            " applies to --restart-strategy " + users_of(option) + ", not " +
                            *name);
    }
  }
  if (config.kind == Kind::kExponentialDelay) config.max_attempts = kUnlimitedRestartAttempts;
  config.max_attempts = parse_int(args, "restart-attempts", config.max_attempts);
  config.delay = parse_ms(args, "restart-delay-ms", config.delay);
  config.max_delay = parse_ms(args, "restart-max-delay-ms", config.max_delay);
  config.multiplier = args.get_double("restart-backoff-multiplier", config.multiplier);
  config.reset_after = parse_ms(args, "restart-reset-after-ms", config.reset_after);
  config.max_failures_per_interval =
      parse_int(args, "restart-max-failures-per-interval", config.max_failures_per_interval);
  config.failure_interval = parse_ms(args, "restart-failure-interval-ms", config.failure_interval);
  validate_restart_strategy(config);
  return config;
}

}  // namespace eddy::runtime
