// eddy-nexmark: runs Nexmark queries on the engine, each against its hand-written
// single-thread baseline (bench/nexmark/baseline/) in the same process, and reports the
// throughput, the throughput per core, the ratio to the baseline, the peak memory and the
// number of results (docs/nexmark_runner.md, to be merged into docs/nexmark.md).
//
//   eddy-nexmark --query q5 [--events N] [--parallelism P] [--repeat R] [--json] [--rate N]
//                [--seed S] [--baseline false] [runtime options: --state-backend rocksdb, ...]
//   eddy-nexmark --all [--queries q0,q5,...] [--out DIR] [the same options]
//
// It follows bench_common.h: each phase is measured by measure() (wall time, peak RSS), with
// --repeat R the baseline and the engine alternate R times and the best time and the
// largest peak RSS count. Options that are not the runner's own go to
// StreamEnvironment::from_args. --all writes results.md (a table), results.json and
// chart.svg into the results folder.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "baseline/baseline.h"
#include "bench_common.h"
#include "queries.h"

namespace {

namespace nexmark = eddy::nexmark;
namespace baseline = eddy::nexmark::baseline;
namespace bench = eddy::bench;

constexpr const char* kName = "eddy-nexmark";
constexpr const char* kSinkName = "sink";
constexpr int64_t kDefaultEvents = 10'000'000;

// What each query should reach, in events per second per core, the generator counted
// (docs/nexmark.md lists the same table).
struct Target {
  std::string_view query;
  double events_per_second_per_core;
};
constexpr Target kTargets[] = {
    {"q0", 4'000'000}, {"q1", 4'000'000}, {"q2", 4'000'000},  {"q5", 750'000},  {"q7", 250'000},
    {"q8", 1'500'000}, {"q11", 500'000},  {"q17", 1'500'000}, {"q19", 400'000}, {"q20", 200'000},
};

// The queries whose result streams are append-only: the engine's result count must equal
// the baseline's. (q17 and q19 emit upserts: their counts agree only as long as both sides
// emit the same updates, which tests/nexmark/baseline_test.cc checks.)
constexpr std::string_view kAppendOnly[] = {"q0", "q1", "q2", "q5", "q7", "q8", "q11", "q20"};

std::optional<double> target_of(std::string_view query) {
  for (const Target& t : kTargets) {
    if (t.query == query) return t.events_per_second_per_core;
  }
  return std::nullopt;
}

bool is_append_only(std::string_view query) {
  return std::find(std::begin(kAppendOnly), std::end(kAppendOnly), query) != std::end(kAppendOnly);
}

// --- Options ---

constexpr const char* kUsage =
    "usage: eddy-nexmark (--query Q | --all [--queries Q1,Q2,...] [--out DIR])\n"
    "                    [--events N] [--parallelism P] [--repeat R] [--json] [--rate N]\n"
    "                    [--event-rate N] [--seed S] [--baseline false] [runtime options]\n"
    "  --query Q        run one query (q0 ... q22)\n"
    "  --all            run every registered query (or those of --queries) and write\n"
    "                   results.md, results.json and chart.svg into --out DIR\n"
    "                   (default nexmark-results/<date-time>/)\n"
    "  --events N       events to generate (default 10000000)\n"
    "  --parallelism P  parallelism of the engine's job (default 1)\n"
    "  --repeat R       run baseline and engine R times, alternating; report the best\n"
    "  --json           one JSON object on stdout instead of text\n"
    "  --rate N         emit at most N events per second (event time follows N too)\n"
    "  --event-rate N   event time advances N events per second (default 10000000);\n"
    "                   emission stays as fast as possible\n"
    "  --seed S         generator seed (default 0: the reference generator's events)\n"
    "  --baseline false skip the hand-written baselines\n"
    "  runtime options are StreamEnvironment::from_args's (docs/configuration.md), e.g.\n"
    "  --state-backend rocksdb, --checkpoint-interval-ms N --checkpoint-dir DIR\n";

// The options StreamEnvironment::from_args reads (docs/configuration.md).
constexpr std::string_view kRuntimeOptions[] = {
    "parallelism",
    "max-parallelism",
    "runtime-mode",
    "buffer-timeout-ms",
    "channel-capacity",
    "batch-bytes",
    "auto-watermark-interval-ms",
    "state-backend",
    "rocksdb-dir",
    "rocksdb-block-cache-mb",
    "rocksdb-write-buffer-mb",
    "incremental-checkpoints",
    "checkpoint-interval-ms",
    "checkpoint-dir",
    "checkpointing-mode",
    "checkpoint-timeout-ms",
    "min-pause-between-checkpoints-ms",
    "max-concurrent-checkpoints",
    "tolerable-failed-checkpoints",
    "unaligned-checkpoints",
    "aligned-checkpoint-timeout-ms",
    "checkpoints-retained",
    "restart-strategy",
    "restart-attempts",
    "restart-delay-ms",
    "restart-max-delay-ms",
    "restart-backoff-multiplier",
    "restart-reset-after-ms",
    "restart-max-failures-per-interval",
    "restart-failure-interval-ms",
    "restore",
    "allow-non-restored-state",
};
constexpr std::string_view kRunnerOptions[] = {
    "query", "queries", "all",        "out",  "events",   "repeat",
    "json",  "rate",    "event-rate", "seed", "baseline", "help",
};

struct RunnerOptions {
  bench::Options common;  // events, parallelism, repeat, json; the environment
  std::vector<const nexmark::Query*> queries;
  bool all = false;
  std::string out_dir;               // --all only
  std::optional<double> rate;        // --rate
  std::optional<double> event_rate;  // --event-rate
  uint64_t seed = 0;
  bool run_baseline = true;
  std::string state_backend = "heap";
  std::string command_line;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n%s", kName, message.c_str(), kUsage);
  std::exit(2);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string known_query_names() {
  std::string names;
  for (const nexmark::Query& q : nexmark::all_queries())
    names += (names.empty() ? "" : ", ") + q.name;
  return names.empty() ? "(none registered)" : names;
}

const nexmark::Query& query_named(const std::string& name) {
  const nexmark::Query* q = nexmark::find_query(name);
  if (q == nullptr)
    usage_error("unknown query '" + name + "'; the queries are " + known_query_names());
  return *q;
}

std::string timestamp_folder() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
  return text;
}

RunnerOptions parse(int argc, char** argv) {
  RunnerOptions options;
  for (int i = 0; i < argc; ++i) options.command_line += (i == 0 ? "" : " ") + std::string(argv[i]);
  bench::Options& common = options.common;
  common.argc = argc;
  common.argv = argv;
  try {
    common.args = eddy::Args::parse(argc, argv);
    const eddy::Args& args = common.args;
    if (args.has("help")) {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    for (const auto& [key, value] : args.all()) {
      bool known = std::find(std::begin(kRunnerOptions), std::end(kRunnerOptions), key) !=
                       std::end(kRunnerOptions) ||
                   std::find(std::begin(kRuntimeOptions), std::end(kRuntimeOptions), key) !=
                       std::end(kRuntimeOptions);
      if (!known) usage_error("unknown option --" + key);
    }
    common.events = args.get_int("events", kDefaultEvents);
    common.parallelism = static_cast<int>(args.get_int("parallelism", 1));
    common.repeat = static_cast<int>(args.get_int("repeat", 1));
    common.json = args.get_bool("json", false);
    if (common.events < 1) usage_error("option --events must be at least 1");
    if (common.parallelism < 1) usage_error("option --parallelism must be at least 1");
    if (common.repeat < 1) usage_error("option --repeat must be at least 1");
    if (args.has("rate")) {
      double rate = args.get_double("rate", 0);
      if (!(rate > 0)) usage_error("option --rate must be a positive number of events per second");
      options.rate = rate;
    }
    if (args.has("event-rate")) {
      double rate = args.get_double("event-rate", 0);
      if (!(rate > 0))
        usage_error("option --event-rate must be a positive number of events per second");
      if (options.rate)
        usage_error(
            "options --rate and --event-rate exclude each other (--rate sets event time too)");
      options.event_rate = rate;
    }
    int64_t seed = args.get_int("seed", 0);
    if (seed < 0) usage_error("option --seed must not be negative");
    options.seed = static_cast<uint64_t>(seed);
    options.run_baseline = args.get_bool("baseline", true);
    options.all = args.get_bool("all", false);
    options.state_backend = args.get("state-backend", "heap");

    bool has_query = args.has("query");
    if (has_query && options.all) usage_error("give either --query or --all, not both");
    if (!has_query && !options.all) usage_error("give --query Q or --all");
    if (!options.all && (args.has("queries") || args.has("out"))) {
      usage_error("options --queries and --out go with --all");
    }
    if (has_query) {
      options.queries.push_back(&query_named(args.required("query")));
    } else if (args.has("queries")) {
      std::set<std::string> chosen;
      for (const std::string& name : split_list(args.required("queries"))) {
        if (chosen.insert(name).second) options.queries.push_back(&query_named(name));
      }
      if (options.queries.empty()) usage_error("option --queries needs a list such as q0,q5");
    } else {
      for (const nexmark::Query& q : nexmark::all_queries()) options.queries.push_back(&q);
      if (options.queries.empty()) usage_error("no query is registered");
    }
    if (options.all) {
      options.out_dir = args.get("out", "nexmark-results/" + timestamp_folder());
    }
    // Checks the runtime options now rather than before the first engine run.
    (void)common.make_environment();
  } catch (const eddy::Error& e) {
    usage_error(e.what());
  }
  return options;
}

nexmark::GeneratorConfig generator_config(const RunnerOptions& options) {
  nexmark::GeneratorConfig config;
  config.events = options.common.events;
  config.seed = options.seed;
  if (options.rate) {
    config.events_per_second = *options.rate;
    config.rate_limited = true;
  }
  if (options.event_rate) config.events_per_second = *options.event_rate;
  return config;
}

// --- Progress on stderr ---

// Draws a progress bar on stderr (only when it is a terminal) from a thread of its own, a few
// times a second, from a count of the events generated: the baselines publish a counter
// every few thousand events, the engine's source every batch
// (GeneratorConfig::emitted_events).
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {
    if (enabled_) thread_ = std::thread([this] { loop(); });
  }
  ~ProgressBar() {
    if (!enabled_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void start_counted(std::string label, int64_t total, const std::atomic<int64_t>* done) {
    start(std::move(label), total, done);
  }
  void stop() {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    active_ = false;
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }

 private:
  void start(std::string label, int64_t total, const std::atomic<int64_t>* done) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    label_ = std::move(label);
    total_ = total;
    done_ = done;
    started_ = std::chrono::steady_clock::now();
    active_ = true;
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      if (stopping_ || !active_) continue;
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      if (elapsed < 1.0) continue;  // short phases draw nothing
      double fraction = 0;
      if (total_ > 0) {
        fraction = static_cast<double>(done_->load(std::memory_order_relaxed)) /
                   static_cast<double>(total_);
      }
      fraction = std::clamp(fraction, 0.0, 1.0);
      constexpr int kWidth = 30;
      int filled = static_cast<int>(fraction * kWidth);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.append(static_cast<size_t>(kWidth - filled), '.');
      std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%%  %.1f s", label_.c_str(), bar.c_str(),
                   fraction * 100, elapsed);
      std::fflush(stderr);
      drawn_ = true;
    }
    if (drawn_) std::fputs("\r\033[K", stderr);
  }

  bool enabled_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool active_ = false;
  bool drawn_ = false;
  std::string label_;
  int64_t total_ = 0;
  const std::atomic<int64_t>* done_ = nullptr;
  std::chrono::steady_clock::time_point started_;
};

// --- Running one query ---

struct QueryRun {
  std::string query;
  std::string description;
  int64_t events = 0;
  int parallelism = 1;
  int repeat = 1;
  bench::Best engine;
  std::optional<bench::Best> baseline;  // when the query has one and it ran
  int64_t results = 0;                  // the engine's sink records
  baseline::BaselineResult baseline_result;
  std::optional<double> target;  // events/s per core
  std::string error;             // the engine's job failed or was cancelled

  bool ok() const { return error.empty(); }
  double events_per_second() const {
    return engine.best.seconds > 0 ? static_cast<double>(events) / engine.best.seconds : 0;
  }
  double per_core() const { return events_per_second() / parallelism; }
  double baseline_events_per_second() const {
    return baseline && baseline->best.seconds > 0
               ? static_cast<double>(events) / baseline->best.seconds
               : 0;
  }
  double ratio() const {
    double base = baseline_events_per_second();
    return base > 0 ? events_per_second() / base : 0;
  }
  bool target_met() const { return ok() && target && per_core() >= *target; }
  // The engine's result count differs from the baseline's where it must not.
  bool results_mismatch() const {
    return ok() && baseline && is_append_only(query) && results != baseline_result.results;
  }
};

QueryRun run_query(const RunnerOptions& options, const nexmark::Query& query,
                   ProgressBar& progress) {
  QueryRun run;
  run.query = query.name;
  run.description = query.description;
  run.events = options.common.events;
  run.parallelism = options.common.parallelism;
  run.repeat = options.common.repeat;
  run.target = target_of(query.name);
  nexmark::GeneratorConfig config = generator_config(options);
  baseline::BaselineFn baseline_fn =
      options.run_baseline ? baseline::find_baseline(query.name) : nullptr;

  for (int attempt = 0; attempt < options.common.repeat; ++attempt) {
    if (baseline_fn != nullptr) {
      baseline::Progress done{0};
      progress.start_counted(query.name + " baseline", config.events, &done);
      bench::Measurement m =
          bench::measure([&] { run.baseline_result = baseline_fn(config, &done); });
      progress.stop();
      if (!run.baseline) run.baseline.emplace();
      run.baseline->add(m);
    }

    eddy::StreamEnvironment env = options.common.make_environment();
    nexmark::GeneratorConfig engine_config = config;
    engine_config.emitted_events = std::make_shared<std::atomic<int64_t>>(0);
    query.build(env, engine_config);
    eddy::JobResult result;
    progress.start_counted(query.name + " engine", config.events,
                           engine_config.emitted_events.get());
    bench::Measurement m = bench::measure([&] { result = env.execute("nexmark " + query.name); });
    progress.stop();
    if (result.status != eddy::JobStatus::kFinished) {
      run.error = std::string("the job did not finish (") + eddy::job_status_name(result.status) +
                  ")" + (result.error.empty() ? "" : ": " + result.error);
      return run;
    }
    const eddy::OperatorStats* sink = result.find_operator(kSinkName);
    if (sink == nullptr) {
      run.error = "the job has no operator named 'sink'";
      return run;
    }
    run.results = static_cast<int64_t>(sink->records_in);
    run.engine.add(m);
  }
  return run;
}

// --- Reporting ---

std::string millions(double events_per_second) {
  char text[32];
  std::snprintf(text, sizeof text, events_per_second < 100'000 ? "%.3f M" : "%.2f M",
                events_per_second / 1e6);
  return text;
}

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

nlohmann::ordered_json to_json(const RunnerOptions& options, const QueryRun& run) {
  bench::Report report;
  report.benchmark = kName;
  report.events = run.events;
  report.parallelism = run.parallelism;
  report.repeat = run.repeat;
  report.engine = run.engine.best;
  if (run.baseline) report.baseline = run.baseline->best;
  nlohmann::ordered_json j;
  j["query"] = run.query;
  j["description"] = run.description;
  nlohmann::ordered_json common = report.to_json();
  for (const auto& [key, value] : common.items()) j[key] = value;
  j["events_per_second_per_core"] = run.per_core();
  if (!run.baseline) {
    for (const char* key :
         {"baseline_seconds", "baseline_events_per_second", "ratio", "baseline_peak_rss_bytes"}) {
      j[key] = nullptr;
    }
  }
  j["results"] = run.results;
  if (run.baseline) {
    j["baseline_results"] = run.baseline_result.results;
    j["baseline_final_rows"] = run.baseline_result.final_rows;
    j["baseline_checksum"] = run.baseline_result.checksum;
  } else {
    j["baseline_results"] = nullptr;
    j["baseline_final_rows"] = nullptr;
    j["baseline_checksum"] = nullptr;
  }
  j["append_only"] = is_append_only(run.query);
  j["results_match"] = run.baseline && is_append_only(run.query)
                           ? nlohmann::ordered_json(!run.results_mismatch())
                           : nlohmann::ordered_json(nullptr);
  j["target_events_per_second_per_core"] =
      run.target ? nlohmann::ordered_json(*run.target) : nlohmann::ordered_json(nullptr);
  j["target_met"] =
      run.target ? nlohmann::ordered_json(run.target_met()) : nlohmann::ordered_json(nullptr);
  j["state_backend"] = options.state_backend;
  j["rate"] =
      options.rate ? nlohmann::ordered_json(*options.rate) : nlohmann::ordered_json(nullptr);
  j["event_rate"] = options.event_rate ? nlohmann::ordered_json(*options.event_rate)
                                       : nlohmann::ordered_json(nullptr);
  j["seed"] = options.seed;
  j["ok"] = run.ok();
  j["error"] = run.ok() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(run.error);
  return j;
}

void print_text(const QueryRun& run) {
  std::printf("%s (%s): %lld events, parallelism %d, best of %d\n", run.query.c_str(),
              run.description.c_str(), static_cast<long long>(run.events), run.parallelism,
              run.repeat);
  if (!run.ok()) {
    std::printf("  FAILED: %s\n", run.error.c_str());
    return;
  }
  std::printf(
      "  engine:   %8.3f s  %12s events/s  %12s events/s per core  peak RSS %8s  results %lld\n",
      run.engine.best.seconds, millions(run.events_per_second()).c_str(),
      millions(run.per_core()).c_str(), mib(run.engine.best.peak_rss_bytes).c_str(),
      static_cast<long long>(run.results));
  if (run.baseline) {
    std::printf(
        "  baseline: %8.3f s  %12s events/s  %12s (one thread)        peak RSS %8s  results %lld",
        run.baseline->best.seconds, millions(run.baseline_events_per_second()).c_str(), "",
        mib(run.baseline->best.peak_rss_bytes).c_str(),
        static_cast<long long>(run.baseline_result.results));
    if (run.baseline_result.final_rows != run.baseline_result.results) {
      std::printf(" (final rows %lld)", static_cast<long long>(run.baseline_result.final_rows));
    }
    std::printf("\n  ratio (engine / baseline throughput): %.3f\n", run.ratio());
  } else {
    std::printf("  baseline: none for this query\n");
  }
  if (run.target) {
    std::printf("  target: %s events/s per core: %s\n", millions(*run.target).c_str(),
                run.target_met() ? "met" : "NOT met");
  }
  if (run.results_mismatch()) {
    std::printf("  WARNING: the engine emitted %lld results, the baseline %lld\n",
                static_cast<long long>(run.results),
                static_cast<long long>(run.baseline_result.results));
  }
  std::fflush(stdout);
}

std::string machine_description() {
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) cpu = line.substr(colon + 2);
      break;
    }
  }
  std::string load;
  std::ifstream loadavg("/proc/loadavg");
  double one = 0;
  if (loadavg >> one) {
    char text[64];
    std::snprintf(text, sizeof text, ", load average %.2f at the start", one);
    load = text;
  }
  return std::to_string(std::thread::hardware_concurrency()) + " cores, " + cpu + load;
}

std::string markdown_table(const RunnerOptions& options, const std::vector<QueryRun>& runs,
                           const std::string& machine) {
  std::ostringstream md;
  md << "# Nexmark results\n\n";
  md << "- command: `" << options.command_line << "`\n";
  md << "- machine: " << machine << "\n";
  md << "- events: " << options.common.events << ", parallelism " << options.common.parallelism
     << ", state backend " << options.state_backend << ", best of " << options.common.repeat;
  if (options.rate) md << ", rate limited to " << *options.rate << " events/s";
  if (options.event_rate) md << ", event time at " << *options.event_rate << " events/s";
  md << "\n\n";
  md << "| query | events | parallelism | events/s | events/s/core | baseline events/s | ratio | "
        "peak RSS | baseline peak RSS | results | baseline results | target/core | met |\n";
  md << "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|\n";
  for (const QueryRun& run : runs) {
    md << "| " << run.query << " | " << run.events << " | " << run.parallelism << " | ";
    if (!run.ok()) {
      md << "FAILED: " << run.error << " | | | | | | | | "
         << (run.target ? millions(*run.target) : "") << " | no |\n";
      continue;
    }
    md << millions(run.events_per_second()) << " | " << millions(run.per_core()) << " | ";
    if (run.baseline) {
      char ratio[16];
      std::snprintf(ratio, sizeof ratio, "%.2f", run.ratio());
      md << millions(run.baseline_events_per_second()) << " | " << ratio << " | ";
    } else {
      md << "– | – | ";
    }
    md << mib(run.engine.best.peak_rss_bytes) << " | "
       << (run.baseline ? mib(run.baseline->best.peak_rss_bytes) : "–") << " | " << run.results
       << " | ";
    if (run.baseline) {
      md << run.baseline_result.results;
      if (run.baseline_result.final_rows != run.baseline_result.results) {
        md << " (" << run.baseline_result.final_rows << " rows)";
      }
      if (run.results_mismatch()) md << " **≠**";
    } else {
      md << "–";
    }
    md << " | " << (run.target ? millions(*run.target) : "–") << " | "
       << (run.target ? (run.target_met() ? "yes" : "no") : "–") << " |\n";
  }
  md << "\nevents/s counts the generated events (people, auctions and bids) over the job's wall "
        "time, generation included; events/s/core divides by the parallelism. The baseline is "
        "the hand-written single-thread implementation over the same events, measured in the "
        "same process; ratio = events/s / baseline events/s. For updating queries (q17, q19) "
        "results are the upserts each side emits, and the baseline's final table size is in "
        "parentheses. Target: events/s per core the query should reach.\n";
  return md.str();
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A horizontal bar chart of events/s per core per query on a log scale: the engine's bar,
// the baseline's (one thread) below it, and the target as a red mark.
std::string svg_chart(const RunnerOptions& options, const std::vector<QueryRun>& runs) {
  double low = 1e12;
  double high = 0;
  auto consider = [&](double v) {
    if (v > 0) {
      low = std::min(low, v);
      high = std::max(high, v);
    }
  };
  for (const QueryRun& run : runs) {
    if (run.ok()) consider(run.per_core());
    if (run.ok() && run.baseline) consider(run.baseline_events_per_second());
    if (run.target) consider(*run.target);
  }
  if (high <= 0) {
    low = 1e5;
    high = 1e7;
  }
  double axis_low = std::pow(10.0, std::floor(std::log10(low)));
  double axis_high = std::pow(10.0, std::ceil(std::log10(high)));
  if (axis_high <= axis_low) axis_high = axis_low * 10;

  constexpr double kLeft = 70;
  constexpr double kPlot = 640;
  constexpr double kRow = 34;
  constexpr double kTop = 70;
  const double height = kTop + kRow * static_cast<double>(runs.size()) + 50;
  const double width = kLeft + kPlot + 130;
  auto x_of = [&](double v) {
    double f = (std::log10(std::max(v, axis_low)) - std::log10(axis_low)) /
               (std::log10(axis_high) - std::log10(axis_low));
    return kLeft + f * kPlot;
  };
  auto number = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", v);
    return std::string(text);
  };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"15\">Nexmark: events/s per core ("
      << options.common.events << " events, parallelism " << options.common.parallelism
      << ", log scale)</text>\n";
  // Legend.
  svg << "<rect x=\"" << kLeft << "\" y=\"32\" width=\"14\" height=\"10\" fill=\"#3366cc\"/>"
      << "<text x=\"" << kLeft + 18 << "\" y=\"41\">engine</text>\n";
  svg << "<rect x=\"" << kLeft + 80 << "\" y=\"34\" width=\"14\" height=\"6\" fill=\"#aaaaaa\"/>"
      << "<text x=\"" << kLeft + 98 << "\" y=\"41\">hand-written baseline (one thread)</text>\n";
  svg << "<line x1=\"" << kLeft + 320 << "\" y1=\"31\" x2=\"" << kLeft + 320
      << "\" y2=\"44\" stroke=\"#cc0000\" stroke-width=\"3\"/>"
      << "<text x=\"" << kLeft + 327 << "\" y=\"41\">target</text>\n";
  // Grid: every power of ten.
  const double plot_bottom = kTop + kRow * static_cast<double>(runs.size());
  for (double v = axis_low; v <= axis_high * 1.001; v *= 10) {
    double x = x_of(v);
    svg << "<line x1=\"" << number(x) << "\" y1=\"" << kTop - 6 << "\" x2=\"" << number(x)
        << "\" y2=\"" << plot_bottom << "\" stroke=\"#dddddd\"/>";
    std::string label = v >= 1e6   ? number(v / 1e6) + "M"
                        : v >= 1e3 ? number(v / 1e3) + "k"
                                   : number(v);
    if (size_t dot = label.find(".0"); dot != std::string::npos) label.erase(dot, 2);
    svg << "<text x=\"" << number(x) << "\" y=\"" << plot_bottom + 16
        << "\" text-anchor=\"middle\" fill=\"#555555\">" << label << "</text>\n";
  }
  svg << "<text x=\"" << kLeft + kPlot / 2 << "\" y=\"" << plot_bottom + 34
      << "\" text-anchor=\"middle\" fill=\"#555555\">events/s per core</text>\n";

  for (size_t i = 0; i < runs.size(); ++i) {
    const QueryRun& run = runs[i];
    double y = kTop + kRow * static_cast<double>(i);
    svg << "<text x=\"" << kLeft - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">"
        << xml_escape(run.query) << "</text>\n";
    if (!run.ok()) {
      svg << "<text x=\"" << kLeft + 4 << "\" y=\"" << y + 15
          << "\" fill=\"#cc0000\">failed</text>\n";
    } else {
      double x = x_of(run.per_core());
      // The value goes right of the bar, and of the target mark where that is in the way.
      double label_x = x + 4;
      if (run.target) {
        double tx = x_of(*run.target);
        if (tx >= x - 2 && tx < x + 60) label_x = tx + 5;
      }
      svg << "<rect x=\"" << kLeft << "\" y=\"" << y + 4 << "\" width=\"" << number(x - kLeft)
          << "\" height=\"13\" fill=\"#3366cc\"><title>" << xml_escape(run.query)
          << " engine: " << millions(run.per_core()) << " events/s per core</title></rect>";
      svg << "<text x=\"" << number(label_x) << "\" y=\"" << y + 15 << "\">"
          << millions(run.per_core()) << "</text>\n";
      if (run.baseline) {
        double bx = x_of(run.baseline_events_per_second());
        svg << "<rect x=\"" << kLeft << "\" y=\"" << y + 19 << "\" width=\"" << number(bx - kLeft)
            << "\" height=\"7\" fill=\"#aaaaaa\"><title>" << xml_escape(run.query)
            << " baseline: " << millions(run.baseline_events_per_second())
            << " events/s</title></rect>";
        svg << "<text x=\"" << number(bx + 4) << "\" y=\"" << y + 27
            << "\" font-size=\"10\" fill=\"#777777\">" << millions(run.baseline_events_per_second())
            << "</text>\n";
      }
    }
    if (run.target) {
      double tx = x_of(*run.target);
      svg << "<line x1=\"" << number(tx) << "\" y1=\"" << y + 1 << "\" x2=\"" << number(tx)
          << "\" y2=\"" << y + 29 << "\" stroke=\"#cc0000\" stroke-width=\"3\"><title>target "
          << millions(*run.target) << " events/s per core</title></line>\n";
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) bench::fail(kName, "cannot write " + path.string());
}

nlohmann::ordered_json all_json(const RunnerOptions& options, const std::vector<QueryRun>& runs,
                                const std::string& machine) {
  nlohmann::ordered_json j;
  j["benchmark"] = kName;
  j["events"] = options.common.events;
  j["parallelism"] = options.common.parallelism;
  j["repeat"] = options.common.repeat;
  j["state_backend"] = options.state_backend;
  j["machine"] = machine;
  j["out"] = options.out_dir;
  j["queries"] = nlohmann::ordered_json::array();
  for (const QueryRun& run : runs) j["queries"].push_back(to_json(options, run));
  return j;
}

int run_all(const RunnerOptions& options, ProgressBar& progress) {
  std::filesystem::path out(options.out_dir);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec)
    bench::fail(kName, "cannot create the results folder " + out.string() + ": " + ec.message());
  std::string machine = machine_description();
  std::vector<QueryRun> runs;
  bool failed = false;
  for (const nexmark::Query* query : options.queries) {
    QueryRun run = run_query(options, *query, progress);
    if (run.ok()) {
      std::string line = run.query + ": " + millions(run.per_core()) + " events/s per core";
      if (run.baseline) {
        char ratio[32];
        std::snprintf(ratio, sizeof ratio, ", ratio %.2f", run.ratio());
        line += ratio;
      }
      if (run.target) line += run.target_met() ? ", target met" : ", target NOT met";
      std::fprintf(stderr, "%s\n", line.c_str());
      if (run.results_mismatch()) {
        std::fprintf(stderr, "%s: WARNING: the engine emitted %lld results, the baseline %lld\n",
                     run.query.c_str(), static_cast<long long>(run.results),
                     static_cast<long long>(run.baseline_result.results));
      }
    } else {
      std::fprintf(stderr, "%s: FAILED: %s\n", run.query.c_str(), run.error.c_str());
      failed = true;
    }
    runs.push_back(std::move(run));
    // Written after every query, so that an interrupted run keeps what it measured.
    write_file(out / "results.md", markdown_table(options, runs, machine));
    write_file(out / "results.json", all_json(options, runs, machine).dump(2) + "\n");
    write_file(out / "chart.svg", svg_chart(options, runs));
    if (!runs.back().ok() && runs.back().error.find("cancelled") != std::string::npos) break;
  }
  if (options.common.json) {
    std::cout << all_json(options, runs, machine).dump() << std::endl;
  } else {
    std::cout << markdown_table(options, runs, machine) << std::flush;
  }
  std::fprintf(stderr, "%s: results in %s\n", kName, out.string().c_str());
  return failed ? 1 : 0;
}

int run(int argc, char** argv) {
  RunnerOptions options = parse(argc, argv);
  ProgressBar progress(isatty(STDERR_FILENO) != 0);
  if (options.all) return run_all(options, progress);

  QueryRun run = run_query(options, *options.queries.front(), progress);
  if (!run.ok()) bench::fail(kName, run.query + ": " + run.error);
  if (options.common.json) {
    std::cout << to_json(options, run).dump() << std::endl;
  } else {
    print_text(run);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    bench::fail(kName, e.what());
  }
}
