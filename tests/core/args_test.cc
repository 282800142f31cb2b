#include "eddy/args.h"

#include <gtest/gtest.h>

#include "eddy/error.h"

namespace eddy {
namespace {

TEST(ArgsTest, ParsesValuesFlagsAndEquals) {
  const char* argv[] = {"prog", "--input", "a.txt", "--fast", "--n=3", "--neg", "-5"};
  Args args = Args::parse(7, argv);
  EXPECT_EQ(args.get("input", ""), "a.txt");
  EXPECT_TRUE(args.get_bool("fast", false));
  EXPECT_EQ(args.get_int("n", 0), 3);
  EXPECT_EQ(args.get_int("neg", 0), -5);
  EXPECT_EQ(args.get_int("missing", 7), 7);
  EXPECT_FALSE(args.has("missing"));
  const char* number[] = {"p", "--x", "2.5"};
  EXPECT_DOUBLE_EQ(Args::parse(3, number).get_double("x", 0), 2.5);
}

TEST(ArgsTest, ErrorsNameTheOption) {
  const char* argv[] = {"prog", "--n", "ten"};
  Args args = Args::parse(3, argv);
  try {
    args.get_int("n", 0);
    FAIL();
  } catch (const InvalidJobError& e) {
    EXPECT_STREQ(e.what(), "option --n needs an integer, not 'ten'");
  }
  try {
    args.required("input");
    FAIL();
  } catch (const InvalidJobError& e) {
    EXPECT_STREQ(e.what(), "missing required option --input");
  }
  EXPECT_THROW(args.get_bool("n", false), InvalidJobError);
}

}  // namespace
}  // namespace eddy
