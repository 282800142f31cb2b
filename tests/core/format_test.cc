#include "eddy/format.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace eddy {
namespace {

struct Point {
  int x, y;
  friend std::ostream& operator<<(std::ostream& os, const Point& p) { return os << "P(" << p.x << "," << p.y << ")"; }
};

TEST(FormatTest, DisplaysLikeFlink) {
  EXPECT_EQ(to_display_string(42), "42");
  EXPECT_EQ(to_display_string(std::string("hi")), "hi");
  EXPECT_EQ(to_display_string(true), "true");
  EXPECT_EQ(to_display_string(2.5), "2.5");
  EXPECT_EQ(to_display_string(std::pair<std::string, int>{"a", 1}), "(a,1)");
  EXPECT_EQ(to_display_string(std::tuple<int, std::string, double>{1, "b", 0.5}), "(1,b,0.5)");
  EXPECT_EQ(to_display_string(std::optional<int>{}), "null");
  EXPECT_EQ(to_display_string(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(to_display_string(Point{1, 2}), "P(1,2)");
  EXPECT_EQ(to_display_string(std::vector<std::pair<int, Point>>{{1, {2, 3}}}), "[(1,P(2,3))]");
}

}  // namespace
}  // namespace eddy
