// Fraud detection: alerts for a small card transaction followed by a large one within a
// minute on the same account (see fraud_detection.h for the rule and the job).
//
//   fraud-detection [--transactions N] [--accounts A] [--parallelism P] [--state-backend heap|rocksdb]
//
// Prints one line per alert, then a summary on stderr. The generated transactions are the
// same in every run, and so are the alerts, at any parallelism (their order may differ).
#include <iostream>

#include "fraud_detection.h"

int main(int argc, char** argv) {
  try {
    auto env = eddy::StreamEnvironment::from_args(argc, argv);
    int64_t transactions = env.args().get_int("transactions", 1'000'000);
    int64_t accounts = env.args().get_int("accounts", 1'000);
    auto alerts = fraud::build_job(env, transactions, accounts);
    alerts.print();
    alerts.side_output(fraud::FraudDetector::late()).print("late");
    eddy::JobResult result = env.execute("Fraud Detection");
    std::cerr << result.summary();
    return result.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "fraud-detection: " << e.what() << "\n";
    return 2;
  }
}
