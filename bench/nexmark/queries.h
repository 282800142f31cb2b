// The Nexmark queries as DataStream programs, and the registry the runner and the tests use.
//
// Each query is a function from the event stream to its result stream, with the semantics
// of the reference suite's SQL (nexmark-flink's queries/qN.sql), so that tests can feed it
// any events (generated, or written by hand) and collect typed results. The registry wraps
// each one as "generate events, run the query, discard the results into a sink named
// 'sink'" for the runner (bench/nexmark/runner.cc).
//
// Files: queries_a.{h,cc} hold q0-q9, queries_b.{h,cc} q11-q22; each registers its queries
// through register_queries_a / register_queries_b.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/eddy.h"
#include "eddy/nexmark.h"

namespace eddy::nexmark {

struct Query {
  std::string name;         // "q5"
  std::string description;  // "hot items (sliding window)"
  // Builds the whole job on `env`: nexmark::events(env, config), the query, and a discard
  // sink named "sink" (its records-in count is the number of results).
  std::function<void(StreamEnvironment& env, const GeneratorConfig& config)> build;
};

// The registry entry of a query: `query` (a function from the event stream to a result
// stream) on nexmark::events(env, config), into a discard sink named "sink".
template <class QueryFn>
Query make_query(std::string name, std::string description, QueryFn query) {
  return Query{std::move(name), std::move(description),
               [query](StreamEnvironment& env, const GeneratorConfig& config) {
                 query(events(env, config)).sink_to(sinks::discard(), "sink");
               }};
}

// Every query, in order q0, q1, ... q22.
const std::vector<Query>& all_queries();
// The query called `name` ("q5"), or null.
const Query* find_query(std::string_view name);

void register_queries_a(std::vector<Query>& queries);
void register_queries_b(std::vector<Query>& queries);

}  // namespace eddy::nexmark
