#include <algorithm>

#include "queries.h"

namespace eddy::nexmark {

const std::vector<Query>& all_queries() {
  static const std::vector<Query> queries = [] {
    std::vector<Query> all;
    register_queries_a(all);
    register_queries_b(all);
    // q0 ... q22 in numeric order, whichever file registered them.
    std::stable_sort(all.begin(), all.end(), [](const Query& a, const Query& b) {
      return std::stoi(a.name.substr(1)) < std::stoi(b.name.substr(1));
    });
    return all;
  }();
  return queries;
}

const Query* find_query(std::string_view name) {
  for (const Query& q : all_queries()) {
    if (q.name == name) return &q;
  }
  return nullptr;
}

}  // namespace eddy::nexmark
