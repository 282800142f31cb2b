#include "eddy/sources.h"

namespace eddy::sources {

std::string NumberRangeSplit::describe() const {
  return "generator range " + std::to_string(index_) + " at index " + std::to_string(next_) +
         " of [.., " + std::to_string(end_) + ")";
}

SplitList split_number_range(int64_t count, int num_splits) {
  SplitList splits;
  if (num_splits < 1) num_splits = 1;
  for (int i = 0; i < num_splits; ++i) {
    // Evenly sized ranges; computed without overflow for count up to INT64_MAX.
    auto bound = [&](int k) {
      __int128 b = static_cast<__int128>(count) * k / num_splits;
      return static_cast<int64_t>(b);
    };
    int64_t from = bound(i);
    int64_t to = bound(i + 1);
    if (to > from) splits.push_back(std::make_unique<NumberRangeSplit>(i, from, to));
  }
  return splits;
}

}  // namespace eddy::sources
