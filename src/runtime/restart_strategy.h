// What a job does after a task fails (Flink's restart strategies): restart after a delay,
// or give up and fail. One RestartStrategy per job run; the executor calls on_failure()
// with the time of each failure and waits the delay it returns before restarting. The
// strategy keeps the history it needs (restarts so far, recent failures), so the same
// object must see every failure of the job. Times are explicit, so tests need no clock.
//
//   none               never restart
//   fixed-delay        at most `max_attempts` restarts in all, `delay` apart
//   exponential-delay  `delay`, then times `multiplier` after each failure up to
//                      `max_delay`; after `reset_after` without failure (counted from the
//                      restart) the delay and the attempt count start over; at most
//                      `max_attempts` restarts between two resets
//   failure-rate       restart `delay` later unless more than `max_failures_per_interval`
//                      failures fell within the last `failure_interval`
//
// Not thread-safe: used by the thread that handles the job's failures.
#pragma once

#include <chrono>
#include <deque>
#include <limits>
#include <optional>
#include <string>

#include "eddy/args.h"
#include "eddy/config.h"
#include "eddy/time.h"

namespace eddy::runtime {

// max_attempts for an exponential delay without a limit (Flink's default).
inline constexpr int kUnlimitedRestartAttempts = std::numeric_limits<int>::max();

class RestartStrategy {
 public:
  // Throws InvalidJobError (see validate_restart_strategy) for an invalid config.
  explicit RestartStrategy(const RestartStrategyConfig& config);

  // A task failed at `now_ms`. Returns the delay before the job restarts, or nullopt when
  // the job must fail instead; give_up_reason() then says why. Once it has given up it
  // stays given up. `now_ms` should not go back in time; if it does, no time has passed.
  std::optional<std::chrono::milliseconds> on_failure(Timestamp now_ms);

  // The strategy and its settings: "fixed delay: 3 attempts, 1000 ms apart".
  std::string describe() const;
  // Why on_failure() returned nullopt, for the job's error ("restart strategy fixed delay
  // exhausted after 3 restarts"); empty while the strategy has not given up.
  const std::string& give_up_reason() const { return give_up_reason_; }
  bool gave_up() const { return !give_up_reason_.empty(); }
  // Restarts granted so far, over the whole run.
  int restarts() const { return restarts_; }
  const RestartStrategyConfig& config() const { return config_; }

 private:
  using Kind = RestartStrategyConfig::Kind;

  std::optional<std::chrono::milliseconds> fixed_delay();
  std::optional<std::chrono::milliseconds> exponential_delay(Timestamp now_ms);
  std::optional<std::chrono::milliseconds> failure_rate(Timestamp now_ms);
  std::optional<std::chrono::milliseconds> give_up(std::string reason);

  RestartStrategyConfig config_;
  int restarts_ = 0;
  std::string give_up_reason_;
  // Exponential delay: the last failure, the delay it got, and the restarts since the last
  // reset.
  std::optional<Timestamp> last_failure_;
  std::chrono::milliseconds current_delay_{0};
  int attempts_since_reset_ = 0;
  // Failure rate: the times of the failures within the interval, oldest first (at most
  // max_failures_per_interval + 1 of them).
  std::deque<Timestamp> recent_failures_;
};

// Throws InvalidJobError naming the setting and its command-line option when a setting the
// config's kind uses is out of range (negative delays or attempts, a multiplier below 1, a
// maximum delay below the initial one, an empty failure interval, ...).
void validate_restart_strategy(const RestartStrategyConfig& config);

// "none", "fixed-delay", "exponential-delay", "failure-rate": the --restart-strategy values.
const char* restart_strategy_name(RestartStrategyConfig::Kind kind);

// The restart strategy of the command line:
//   --restart-strategy none|fixed-delay|exponential-delay|failure-rate
//   --restart-attempts N                    fixed-delay, exponential-delay
//   --restart-delay-ms N                    fixed-delay, failure-rate; exponential-delay: the
//                                           initial delay
//   --restart-max-delay-ms N                exponential-delay
//   --restart-backoff-multiplier X          exponential-delay
//   --restart-reset-after-ms N              exponential-delay
//   --restart-max-failures-per-interval N   failure-rate
//   --restart-failure-interval-ms N         failure-rate
// Settings not given keep RestartStrategyConfig's defaults, except that an exponential delay
// has no attempt limit unless --restart-attempts sets one (as in Flink). Throws
// InvalidJobError naming the option for an unknown strategy, a value that is not a number or
// out of range, and an option the chosen strategy does not use (or one given without
// --restart-strategy).
RestartStrategyConfig parse_restart_strategy(const Args& args);

}  // namespace eddy::runtime
