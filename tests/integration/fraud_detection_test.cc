// The fraud-detection example (examples/fraud_detection.h) finds exactly the alerts that
// a direct computation of its rule finds, on out-of-order input, at every parallelism and
// on both state backends.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "fraud_detection.h"
#include "test_util.h"

namespace {

class FraudDetectionTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(FraudDetectionTest, AlertsMatchTheRuleComputedDirectly) {
  auto [backend, parallelism] = GetParam();
  constexpr int64_t kTransactions = 100'000;
  constexpr int64_t kAccounts = 100;
  eddy::StreamEnvironment env;
  env.set_parallelism(parallelism);
  env.config().state_backend.kind = backend;
  std::vector<fraud::Alert> alerts;
  std::vector<fraud::Transaction> late;
  auto stream = fraud::build_job(env, kTransactions, kAccounts);
  stream.sink_to(eddy::sinks::collect(alerts));
  stream.side_output(fraud::FraudDetector::late()).sink_to(eddy::sinks::collect(late));
  eddy::JobResult result = env.execute();
  ASSERT_TRUE(result.ok()) << result.error;

  std::vector<fraud::Alert> expected = fraud::expected_alerts(kTransactions, kAccounts);
  ASSERT_GT(expected.size(), 20u) << "the generated input should contain fraud";
  EXPECT_EQ(eddy::testing::sorted(alerts), expected);
  EXPECT_TRUE(late.empty()) << "the watermark bound covers the generator's delay";
}

INSTANTIATE_TEST_SUITE_P(BackendsAndParallelism, FraudDetectionTest,
                         ::testing::Combine(::testing::Values("heap", "rocksdb"), ::testing::Values(1, 2, 4)));

}  // namespace
