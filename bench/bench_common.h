// The convention every Eddy benchmark follows, and the helpers that implement it.
//
// Command line:  --events N  --parallelism P  --repeat R  --json  (+ the benchmark's own)
//   Runtime options that StreamEnvironment::from_args reads (--buffer-timeout-ms,
//   --channel-capacity, --batch-bytes, ...) apply to the engine run too: build the job's
//   environment with Options::make_environment().
//
// Every benchmark measures the engine against a hand-written baseline doing the same work
// in the same process (usually a single-threaded loop). Each phase is measured by
// measure(): it returns the wall time and the peak RSS of the phase (the kernel's peak-RSS
// counter is reset before the phase by writing "5" to /proc/self/clear_refs and read
// from VmHWM in /proc/self/status after it). With --repeat R, each phase runs R times,
// interleaved (baseline, engine, baseline, engine, ...); the best time and the largest
// peak RSS are reported.
//
// Output: human-readable lines by default; with --json exactly one JSON object on stdout,
// with at least "benchmark", "events", "parallelism", "repeat", "seconds",
// "events_per_second", "baseline_seconds", "baseline_events_per_second", "ratio"
// (events_per_second / baseline_events_per_second), "peak_rss_bytes" (engine) and
// "baseline_peak_rss_bytes", plus the benchmark's extra fields. Diagnostics go to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "eddy/eddy.h"

namespace eddy::bench {

// Keeps the compiler from optimising `value` away, and from assuming it did not change
// (Google Benchmark's DoNotOptimize).
template <class T>
inline void do_not_optimize(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}
template <class T>
inline void do_not_optimize(T& value) {
  asm volatile("" : "+r,m"(value) : : "memory");
}

struct Options {
  int argc = 0;
  const char* const* argv = nullptr;
  Args args;            // every option, the benchmark's extras included
  int64_t events = 0;   // --events
  int parallelism = 1;  // --parallelism
  int repeat = 1;       // --repeat
  bool json = false;    // --json

  // A fresh environment from the command line (a job needs its own environment, so each
  // repetition makes one).
  StreamEnvironment make_environment() const { return StreamEnvironment::from_args(argc, argv); }
};

// Parses the common options. On a malformed option prints the error and `usage` (the
// benchmark's extra options, may be empty) to stderr and exits with status 2.
Options parse_options(int argc, const char* const* argv, const std::string& benchmark,
                      int64_t default_events, const std::string& usage = "");

// Wall-clock seconds since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Returns freed heap memory to the kernel (so that one phase's garbage does not count in
// the next one's RSS) and resets the kernel's peak-RSS counter to the current RSS.
// Failures are ignored (the counter then keeps the process's peak so far).
void reset_peak_rss();
// VmHWM of /proc/self/status in bytes, or 0 when it cannot be read.
int64_t peak_rss_bytes();
// VmRSS of /proc/self/status in bytes, or 0 when it cannot be read.
int64_t current_rss_bytes();

struct Measurement {
  double seconds = 0;
  int64_t peak_rss_bytes = 0;
};

// Runs fn() once and measures it.
template <class F>
Measurement measure(F&& fn) {
  reset_peak_rss();
  Stopwatch watch;
  std::forward<F>(fn)();
  Measurement m;
  m.seconds = watch.seconds();
  m.peak_rss_bytes = peak_rss_bytes();
  return m;
}

// The best (shortest) time and the largest peak RSS of several measurements.
struct Best {
  Measurement best;
  int runs = 0;
  void add(const Measurement& m) {
    if (runs == 0 || m.seconds < best.seconds) best.seconds = m.seconds;
    if (m.peak_rss_bytes > best.peak_rss_bytes) best.peak_rss_bytes = m.peak_rss_bytes;
    ++runs;
  }
};

struct Report {
  std::string benchmark;
  int64_t events = 0;
  int parallelism = 1;
  int repeat = 1;
  Measurement engine;
  Measurement baseline;
  // Benchmark-specific fields, added to the JSON object and listed in the text output.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();

  double events_per_second() const;
  double baseline_events_per_second() const;
  double ratio() const;
  nlohmann::ordered_json to_json() const;
};

// Prints the report: one JSON object on stdout with --json, readable lines otherwise.
void print_report(const Report& report, bool json);

// Prints "benchmark: FAILED: message" to stderr and exits with status 1.
[[noreturn]] void fail(const std::string& benchmark, const std::string& message);

}  // namespace eddy::bench
