#include "runtime/restart_strategy.h"

#include <chrono>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/error.h"

namespace eddy::runtime {
namespace {

using std::chrono::milliseconds;
using Kind = RestartStrategyConfig::Kind;

RestartStrategyConfig fixed_delay(int attempts, int64_t delay_ms) {
  RestartStrategyConfig config;
  config.kind = Kind::kFixedDelay;
  config.max_attempts = attempts;
  config.delay = milliseconds(delay_ms);
  return config;
}

RestartStrategyConfig exponential(int64_t initial_ms, double multiplier, int64_t max_ms,
                                  int64_t reset_after_ms,
                                  int attempts = kUnlimitedRestartAttempts) {
  RestartStrategyConfig config;
  config.kind = Kind::kExponentialDelay;
  config.delay = milliseconds(initial_ms);
  config.multiplier = multiplier;
  config.max_delay = milliseconds(max_ms);
  config.reset_after = milliseconds(reset_after_ms);
  config.max_attempts = attempts;
  return config;
}

RestartStrategyConfig failure_rate(int max_failures, int64_t interval_ms, int64_t delay_ms) {
  RestartStrategyConfig config;
  config.kind = Kind::kFailureRate;
  config.max_failures_per_interval = max_failures;
  config.failure_interval = milliseconds(interval_ms);
  config.delay = milliseconds(delay_ms);
  return config;
}

std::optional<milliseconds> after(int64_t ms) { return milliseconds(ms); }

Args args_of(std::initializer_list<const char*> words) {
  std::vector<const char*> argv = {"job"};
  argv.insert(argv.end(), words.begin(), words.end());
  return Args::parse(static_cast<int>(argv.size()), argv.data());
}

template <class F>
std::string invalid_job_error(F&& f) {
  try {
    f();
  } catch (const InvalidJobError& e) {
    return e.what();
  }
  return "(no InvalidJobError)";
}

std::string parse_error(std::initializer_list<const char*> words) {
  return invalid_job_error([&] { parse_restart_strategy(args_of(words)); });
}

// --- none ---

TEST(RestartStrategyTest, NoneNeverRestarts) {
  RestartStrategy strategy{RestartStrategyConfig{}};
  EXPECT_EQ(strategy.describe(), "none: no restarts");
  EXPECT_FALSE(strategy.gave_up());
  EXPECT_EQ(strategy.on_failure(0), std::nullopt);
  EXPECT_TRUE(strategy.gave_up());
  EXPECT_EQ(strategy.give_up_reason(),
            "restart strategy none: the job is not restarted after a failure");
  EXPECT_EQ(strategy.restarts(), 0);
}

// --- fixed delay ---

TEST(RestartStrategyTest, FixedDelayRestartsTheGivenNumberOfTimes) {
  RestartStrategy strategy(fixed_delay(3, 1000));
  EXPECT_EQ(strategy.describe(), "fixed delay: 3 attempts, 1000 ms apart");
  EXPECT_EQ(strategy.on_failure(10), after(1000));
  EXPECT_EQ(strategy.on_failure(5000), after(1000));
  // Attempts are counted over the whole run: a long quiet period does not give them back.
  EXPECT_EQ(strategy.on_failure(100'000'000), after(1000));
  EXPECT_EQ(strategy.restarts(), 3);
  EXPECT_TRUE(strategy.give_up_reason().empty());
  EXPECT_EQ(strategy.on_failure(100'000'001), std::nullopt);
  EXPECT_EQ(strategy.give_up_reason(), "restart strategy fixed delay exhausted after 3 restarts");
  // Given up for good.
  EXPECT_EQ(strategy.on_failure(200'000'000), std::nullopt);
  EXPECT_EQ(strategy.restarts(), 3);
}

TEST(RestartStrategyTest, FixedDelayWithNoAttemptsFailsAtOnce) {
  RestartStrategy strategy(fixed_delay(0, 0));
  EXPECT_EQ(strategy.describe(), "fixed delay: 0 attempts, 0 ms apart");
  EXPECT_EQ(strategy.on_failure(0), std::nullopt);
  EXPECT_EQ(strategy.give_up_reason(), "restart strategy fixed delay exhausted after 0 restarts");

  RestartStrategy one(fixed_delay(1, 0));
  EXPECT_EQ(one.describe(), "fixed delay: 1 attempt, 0 ms apart");
  EXPECT_EQ(one.on_failure(0), after(0));
  EXPECT_EQ(one.on_failure(0), std::nullopt);
  EXPECT_EQ(one.give_up_reason(), "restart strategy fixed delay exhausted after 1 restart");
}

// --- exponential delay ---

TEST(RestartStrategyTest, ExponentialDelayGrowsUpToTheMaximum) {
  RestartStrategy strategy(exponential(100, 2.0, 1000, 60'000));
  EXPECT_EQ(
      strategy.describe(),
      "exponential delay: 100 ms, times 2 after each failure up to 1000 ms, reset after 60000 ms "
      "without failure, unlimited attempts");
  // Each failure comes right after the restart, well within the reset period.
  Timestamp now = 1'000'000;
  std::vector<int64_t> delays;
  for (int i = 0; i < 8; ++i) {
    auto delay = strategy.on_failure(now);
    ASSERT_TRUE(delay.has_value());
    delays.push_back(delay->count());
    now += delay->count() + 10;
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000, 1000, 1000}));
  EXPECT_FALSE(strategy.gave_up());
}

TEST(RestartStrategyTest, ExponentialDelayWithAFractionalMultiplier) {
  RestartStrategy strategy(exponential(1000, 1.5, 5000, 60'000));
  std::vector<int64_t> delays;
  for (Timestamp now = 0; now < 6; ++now) delays.push_back(strategy.on_failure(now)->count());
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 1500, 2250, 3375, 5000, 5000}));
}

TEST(RestartStrategyTest, ExponentialDelayResetsAfterAQuietPeriod) {
  RestartStrategy strategy(exponential(100, 2.0, 10'000, 5000));
  EXPECT_EQ(strategy.on_failure(0), after(100));
  EXPECT_EQ(strategy.on_failure(1000), after(200));
  EXPECT_EQ(strategy.on_failure(2000), after(400));
  // The quiet period counts from the restart (failure + delay): 2000 + 400 + 5000 = 7400.
  EXPECT_EQ(strategy.on_failure(7399), after(800)) << "one millisecond short of the quiet period";
  EXPECT_EQ(strategy.on_failure(7399 + 800 + 5000), after(100)) << "ran 5000 ms without failure";
  EXPECT_EQ(strategy.on_failure(13'300), after(200));
  EXPECT_EQ(strategy.restarts(), 6);
}

TEST(RestartStrategyTest, ExponentialDelayAttemptLimitCountsSinceTheLastReset) {
  RestartStrategy strategy(exponential(100, 2.0, 10'000, 5000, 3));
  EXPECT_EQ(
      strategy.describe(),
      "exponential delay: 100 ms, times 2 after each failure up to 10000 ms, reset after 5000 ms "
      "without failure, at most 3 attempts between resets");
  EXPECT_EQ(strategy.on_failure(0), after(100));
  EXPECT_EQ(strategy.on_failure(200), after(200));
  EXPECT_EQ(strategy.on_failure(500), after(400));
  // Quiet long enough: the attempts start over.
  EXPECT_EQ(strategy.on_failure(100'000), after(100));
  EXPECT_EQ(strategy.on_failure(100'200), after(200));
  EXPECT_EQ(strategy.on_failure(100'500), after(400));
  EXPECT_EQ(strategy.on_failure(101'000), std::nullopt);
  EXPECT_EQ(strategy.give_up_reason(),
            "restart strategy exponential delay exhausted after 3 restarts (they start over only "
            "after 5000 ms "
            "without failure)");
  EXPECT_EQ(strategy.restarts(), 6);
  EXPECT_EQ(strategy.on_failure(1'000'000), std::nullopt) << "given up for good";
}

TEST(RestartStrategyTest, ExponentialDelayToleratesAClockGoingBack) {
  RestartStrategy strategy(exponential(100, 2.0, 10'000, 5000));
  EXPECT_EQ(strategy.on_failure(50'000), after(100));
  EXPECT_EQ(strategy.on_failure(10), after(200)) << "no time passed, so no reset";
  EXPECT_EQ(strategy.on_failure(50'000 + 200 + 5000), after(100));
}

// --- failure rate ---

TEST(RestartStrategyTest, FailureRateAllowsAtMostNFailuresWithinTheInterval) {
  RestartStrategy strategy(failure_rate(3, 10'000, 500));
  EXPECT_EQ(strategy.describe(),
            "failure rate: at most 3 failures in 10000 ms, 500 ms between restarts");
  EXPECT_EQ(strategy.on_failure(0), after(500));
  EXPECT_EQ(strategy.on_failure(1000), after(500));
  EXPECT_EQ(strategy.on_failure(2000), after(500));
  EXPECT_EQ(strategy.on_failure(3000), std::nullopt) << "a fourth failure within 10 s";
  EXPECT_EQ(
      strategy.give_up_reason(),
      "restart strategy failure rate exceeded: 4 failures within 10000 ms, at most 3 allowed");
  EXPECT_EQ(strategy.restarts(), 3);
}

TEST(RestartStrategyTest, FailureRateWindowSlides) {
  RestartStrategy strategy(failure_rate(2, 10'000, 0));
  EXPECT_EQ(strategy.on_failure(0), after(0));
  EXPECT_EQ(strategy.on_failure(6000), after(0));
  // The failure at 0 is exactly 10 s old: it still counts (as in Flink).
  RestartStrategy boundary(failure_rate(2, 10'000, 0));
  EXPECT_EQ(boundary.on_failure(0), after(0));
  EXPECT_EQ(boundary.on_failure(6000), after(0));
  EXPECT_EQ(boundary.on_failure(10'000), std::nullopt);
  // One millisecond later it has left the window: failures at 6000 and 10001 remain.
  EXPECT_EQ(strategy.on_failure(10'001), after(0));
  EXPECT_EQ(strategy.on_failure(16'002), after(0))
      << "6000 left the window; 10001 and 16002 remain";
  EXPECT_EQ(strategy.on_failure(26'002), after(0))
      << "10001 left; 16002 is exactly 10 s old and counts";
  EXPECT_EQ(strategy.on_failure(26'002), std::nullopt) << "16002 and twice 26002 within 10 s";
  EXPECT_EQ(strategy.restarts(), 5);
}

TEST(RestartStrategyTest, FailureRateAtASteadyPaceRunsForever) {
  RestartStrategy strategy(failure_rate(1, 1000, 100));
  EXPECT_EQ(strategy.describe(),
            "failure rate: at most 1 failure in 1000 ms, 100 ms between restarts");
  for (Timestamp now = 0; now < 100'000; now += 1001)
    ASSERT_EQ(strategy.on_failure(now), after(100)) << now;
  EXPECT_FALSE(strategy.gave_up());
}

// --- validation ---

TEST(RestartStrategyTest, InvalidConfigsNameTheSettingAndItsOption) {
  auto error = [](const RestartStrategyConfig& config) {
    return invalid_job_error([&] { RestartStrategy strategy(config); });
  };
  EXPECT_EQ(
      error(fixed_delay(-1, 0)),
      "restart strategy fixed-delay: max_attempts (--restart-attempts) must be at least 0, not -1");
  EXPECT_EQ(
      error(fixed_delay(1, -5)),
      "restart strategy fixed-delay: delay (--restart-delay-ms) must be at least 0 ms, not -5 ms");
  EXPECT_EQ(error(exponential(0, 2, 100, 100)),
            "restart strategy exponential-delay: delay (--restart-delay-ms) (the initial delay) "
            "must be at least "
            "1 ms, not 0 ms");
  EXPECT_EQ(error(exponential(200, 2, 100, 100)),
            "restart strategy exponential-delay: max_delay (--restart-max-delay-ms) must be at "
            "least the initial "
            "delay (200 ms), not 100 ms");
  EXPECT_EQ(error(exponential(100, 0.5, 1000, 100)),
            "restart strategy exponential-delay: multiplier (--restart-backoff-multiplier) must be "
            "a number of at "
            "least 1, not 0.5");
  EXPECT_NE(error(exponential(100, std::nan(""), 1000, 100)).find("--restart-backoff-multiplier"),
            std::string::npos);
  EXPECT_EQ(error(exponential(100, 2, 1000, 0)),
            "restart strategy exponential-delay: reset_after (--restart-reset-after-ms) must be at "
            "least 1 ms, "
            "not 0 ms");
  EXPECT_EQ(error(exponential(100, 2, 1000, 10, -1)),
            "restart strategy exponential-delay: max_attempts (--restart-attempts) must be at "
            "least 0, not -1");
  EXPECT_EQ(error(failure_rate(0, 1000, 0)),
            "restart strategy failure-rate: max_failures_per_interval "
            "(--restart-max-failures-per-interval) must "
            "be at least 1, not 0");
  EXPECT_EQ(error(failure_rate(1, 0, 0)),
            "restart strategy failure-rate: failure_interval (--restart-failure-interval-ms) must "
            "be at least 1 ms, "
            "not 0 ms");
  EXPECT_EQ(
      error(failure_rate(1, 10, -1)),
      "restart strategy failure-rate: delay (--restart-delay-ms) must be at least 0 ms, not -1 ms");
  // Settings a strategy does not use are not checked.
  RestartStrategyConfig none;
  none.max_attempts = -1;
  none.delay = milliseconds(-1);
  EXPECT_NO_THROW(RestartStrategy{none});
}

// --- command line ---

TEST(RestartStrategyTest, ParsesEachStrategy) {
  RestartStrategyConfig none = parse_restart_strategy(args_of({}));
  EXPECT_EQ(none.kind, Kind::kNone);
  EXPECT_EQ(parse_restart_strategy(args_of({"--restart-strategy", "none"})).kind, Kind::kNone);

  RestartStrategyConfig fixed = parse_restart_strategy(args_of(
      {"--restart-strategy", "fixed-delay", "--restart-attempts", "5", "--restart-delay-ms=250"}));
  EXPECT_EQ(fixed.kind, Kind::kFixedDelay);
  EXPECT_EQ(fixed.max_attempts, 5);
  EXPECT_EQ(fixed.delay, milliseconds(250));
  EXPECT_EQ(RestartStrategy(fixed).describe(), "fixed delay: 5 attempts, 250 ms apart");

  RestartStrategyConfig fixed_defaults =
      parse_restart_strategy(args_of({"--restart-strategy", "fixed-delay"}));
  EXPECT_EQ(fixed_defaults.max_attempts, RestartStrategyConfig{}.max_attempts);
  EXPECT_EQ(fixed_defaults.delay, RestartStrategyConfig{}.delay);

  RestartStrategyConfig exp = parse_restart_strategy(
      args_of({"--restart-strategy", "exponential-delay", "--restart-delay-ms", "10",
               "--restart-max-delay-ms", "900", "--restart-backoff-multiplier", "1.5",
               "--restart-reset-after-ms", "60000"}));
  EXPECT_EQ(exp.kind, Kind::kExponentialDelay);
  EXPECT_EQ(exp.delay, milliseconds(10));
  EXPECT_EQ(exp.max_delay, milliseconds(900));
  EXPECT_DOUBLE_EQ(exp.multiplier, 1.5);
  EXPECT_EQ(exp.reset_after, milliseconds(60'000));
  EXPECT_EQ(exp.max_attempts, kUnlimitedRestartAttempts)
      << "no limit unless --restart-attempts sets one";
  RestartStrategyConfig exp_limited = parse_restart_strategy(
      args_of({"--restart-strategy", "exponential-delay", "--restart-attempts", "4"}));
  EXPECT_EQ(exp_limited.max_attempts, 4);

  RestartStrategyConfig rate = parse_restart_strategy(
      args_of({"--restart-strategy", "failure-rate", "--restart-max-failures-per-interval", "3",
               "--restart-failure-interval-ms", "300000", "--restart-delay-ms", "10000"}));
  EXPECT_EQ(rate.kind, Kind::kFailureRate);
  EXPECT_EQ(rate.max_failures_per_interval, 3);
  EXPECT_EQ(rate.failure_interval, milliseconds(300'000));
  EXPECT_EQ(rate.delay, milliseconds(10'000));
}

TEST(RestartStrategyTest, ParseErrorsNameTheOption) {
  EXPECT_EQ(parse_error({"--restart-strategy", "sometimes"}),
            "option --restart-strategy needs none, fixed-delay, exponential-delay or failure-rate, "
            "not 'sometimes'");
  EXPECT_EQ(parse_error({"--restart-strategy", "fixed-delay", "--restart-attempts", "three"}),
            "option --restart-attempts needs an integer, not 'three'");
  EXPECT_EQ(parse_error({"--restart-strategy", "fixed-delay", "--restart-attempts", "99999999999"}),
            "option --restart-attempts is out of range: 99999999999");
  EXPECT_EQ(
      parse_error({"--restart-strategy", "fixed-delay", "--restart-attempts", "-2"}),
      "restart strategy fixed-delay: max_attempts (--restart-attempts) must be at least 0, not -2");
  EXPECT_EQ(parse_error({"--restart-strategy", "fixed-delay", "--restart-delay-ms", "1s"}),
            "option --restart-delay-ms needs an integer, not '1s'");
  EXPECT_EQ(parse_error({"--restart-strategy", "exponential-delay", "--restart-backoff-multiplier",
                         "fast"}),
            "option --restart-backoff-multiplier needs a number, not 'fast'");
  EXPECT_NE(parse_error(
                {"--restart-strategy", "exponential-delay", "--restart-backoff-multiplier", "0.9"})
                .find("--restart-backoff-multiplier) must be a number of at least 1, not 0.9"),
            std::string::npos);
  EXPECT_NE(parse_error({"--restart-strategy", "exponential-delay", "--restart-delay-ms", "120000"})
                .find("--restart-max-delay-ms) must be at least the initial delay (120000 ms), not "
                      "60000 ms"),
            std::string::npos);
  EXPECT_NE(
      parse_error({"--restart-strategy", "failure-rate", "--restart-failure-interval-ms", "-1"})
          .find("--restart-failure-interval-ms"),
      std::string::npos);
  EXPECT_NE(parse_error(
                {"--restart-strategy", "failure-rate", "--restart-max-failures-per-interval", "0"})
                .find("--restart-max-failures-per-interval"),
            std::string::npos);
}

TEST(RestartStrategyTest, OptionsThatTheStrategyDoesNotUseAreRejected) {
  EXPECT_EQ(parse_error({"--restart-strategy", "fixed-delay", "--restart-backoff-multiplier", "2"}),
            "option --restart-backoff-multiplier applies to --restart-strategy exponential-delay, "
            "not fixed-delay");
  EXPECT_EQ(parse_error({"--restart-strategy", "failure-rate", "--restart-attempts", "2"}),
            "option --restart-attempts applies to --restart-strategy fixed-delay or "
            "exponential-delay, not "
            "failure-rate");
  EXPECT_EQ(
      parse_error({"--restart-strategy", "none", "--restart-delay-ms", "2"}),
      "option --restart-delay-ms applies to --restart-strategy fixed-delay, exponential-delay or "
      "failure-rate, not none");
  EXPECT_EQ(parse_error({"--restart-attempts", "2"}),
            "option --restart-attempts needs --restart-strategy fixed-delay or exponential-delay");
}

}  // namespace
}  // namespace eddy::runtime
