// The checkpoint coordinator on its own: triggering by interval, pause and concurrency,
// completion by acknowledgement, timeouts and declines against the tolerable failure
// count, and the final checkpoint of finished tasks. Times are passed to poll()
// explicitly; no job runs.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "runtime/checkpoint_coordinator.h"

namespace eddy::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("eddy-coordinator-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.interval = milliseconds(100);
    config_.directory = dir_.string();
    config_.timeout = milliseconds(1000);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void make(int tasks = 2) {
    storage_ = std::make_unique<checkpoint::CheckpointStorage>(dir_.string(), 1);
    std::map<TaskId, TaskInbox*> inboxes;
    for (int t = 0; t < tasks; ++t) inboxes[TaskId{0, t}] = &inboxes_.emplace_back(notifier_);
    std::vector<CheckpointedOperator> operators{{0, "op", "op", tasks, 128, false}};
    coordinator_ = std::make_unique<CheckpointCoordinator>(config_, *storage_, operators,
                                                           std::map<int, SourceCoordinator*>{}, inboxes, 1);
    start_ = Clock::now();
  }

  std::deque<TaskEvent> events(int task) {
    std::deque<TaskEvent> out;
    auto it = inboxes_.begin();
    std::advance(it, task);
    it->drain(out);
    return out;
  }

  void ack_all(int64_t id, int tasks = 2) {
    for (int t = 0; t < tasks; ++t) coordinator_->acknowledge(TaskId{0, t}, id, {{0, std::nullopt}});
  }

  Clock::time_point at(int ms) const { return start_ + milliseconds(ms); }

  fs::path dir_;
  CheckpointConfig config_;
  TaskNotifier notifier_;
  std::deque<TaskInbox> inboxes_;
  std::unique_ptr<checkpoint::CheckpointStorage> storage_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  Clock::time_point start_;
};

TEST_F(CoordinatorTest, TriggersAtTheIntervalAndCompletesWhenAllTasksAcknowledge) {
  make();
  coordinator_->poll(at(50));
  EXPECT_TRUE(coordinator_->folder_of(1).empty()) << "triggered before the interval";
  coordinator_->poll(at(150));
  std::string folder = coordinator_->folder_of(1);
  ASSERT_FALSE(folder.empty());
  coordinator_->acknowledge(TaskId{0, 0}, 1, {{0, std::nullopt}});
  EXPECT_FALSE(fs::exists(fs::path(folder) / "_metadata")) << "complete before every task acknowledged";
  coordinator_->acknowledge(TaskId{0, 1}, 1, {{0, std::nullopt}});
  EXPECT_TRUE(fs::exists(fs::path(folder) / "_metadata"));
  EXPECT_EQ(coordinator_->stats().completed, 1);
  auto received = events(0);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received.front().kind, TaskEvent::Kind::kCheckpointComplete);
  EXPECT_EQ(received.front().checkpoint_id, 1);
}

TEST_F(CoordinatorTest, OneCheckpointAtATimeByDefault) {
  make();
  coordinator_->poll(at(150));
  coordinator_->poll(at(400));
  EXPECT_TRUE(coordinator_->folder_of(2).empty()) << "a second checkpoint while the first is pending";
  ack_all(1);
  coordinator_->poll(at(500));
  EXPECT_FALSE(coordinator_->folder_of(2).empty());
}

TEST_F(CoordinatorTest, ADueCheckpointWaitingForOneInFlightDoesNotAskForAnImmediateCall) {
  make();
  coordinator_->poll(at(150));
  for (int ms : {400, 700, 1000}) {  // checkpoint 1 is still pending: 2 is due but waits
    EXPECT_GT(coordinator_->poll(at(ms)), at(ms)) << "the executor would spin at " << ms << " ms";
  }
  EXPECT_TRUE(coordinator_->folder_of(2).empty());
  ack_all(1);
  coordinator_->poll(at(1001));
  EXPECT_FALSE(coordinator_->folder_of(2).empty());
}

TEST_F(CoordinatorTest, MinimumPauseCountsFromTheEndOfTheLastCheckpoint) {
  config_.min_pause = milliseconds(10'000);  // far beyond the test's real time
  make();
  coordinator_->poll(at(150));
  ack_all(1);
  Clock::time_point finished = Clock::now();
  coordinator_->poll(finished + milliseconds(5000));
  EXPECT_TRUE(coordinator_->folder_of(2).empty()) << "triggered within the minimum pause";
  coordinator_->poll(finished + milliseconds(10'001));
  EXPECT_FALSE(coordinator_->folder_of(2).empty());
}

TEST_F(CoordinatorTest, ExpiredCheckpointIsAbortedAndFailsTheJobBeyondTheTolerance) {
  config_.tolerable_failures = 1;
  make();
  coordinator_->poll(at(150));
  std::string first = coordinator_->folder_of(1);
  coordinator_->poll(at(1200));  // checkpoint 1 expired; checkpoint 2 triggered
  EXPECT_FALSE(fs::exists(first)) << "the failed checkpoint's folder is left";
  EXPECT_EQ(coordinator_->stats().failed, 1);
  EXPECT_FALSE(coordinator_->job_failure()) << "one failure is tolerated";
  auto received = events(1);
  ASSERT_FALSE(received.empty());
  EXPECT_EQ(received.front().kind, TaskEvent::Kind::kCheckpointAborted);
  // A late acknowledgement of the aborted checkpoint changes nothing.
  ack_all(1);
  EXPECT_EQ(coordinator_->stats().completed, 0);
  coordinator_->decline(TaskId{0, 0}, 2, "disk full");
  ASSERT_TRUE(coordinator_->job_failure());
  EXPECT_NE(coordinator_->job_failure()->find("disk full"), std::string::npos) << *coordinator_->job_failure();
  EXPECT_NE(coordinator_->job_failure()->find("2 in a row"), std::string::npos) << *coordinator_->job_failure();
}

TEST_F(CoordinatorTest, CompletionResetsTheFailureCount) {
  config_.tolerable_failures = 1;
  make();
  coordinator_->poll(at(150));
  coordinator_->decline(TaskId{0, 1}, 1, "one");
  coordinator_->poll(at(300));
  ack_all(2);
  coordinator_->poll(at(450));
  coordinator_->decline(TaskId{0, 1}, 3, "again");
  EXPECT_FALSE(coordinator_->job_failure()) << "failures are counted in a row only";
}

TEST_F(CoordinatorTest, FinishedTasksStandInWithTheirFinalStateAndMakeTheFinalCheckpoint) {
  make();
  coordinator_->poll(at(150));
  // Task 0 handled checkpoint 1 before it finished: its acknowledgement is awaited.
  coordinator_->task_finished(TaskId{0, 0}, {}, 1);
  coordinator_->acknowledge(TaskId{0, 1}, 1, {{0, std::nullopt}});
  EXPECT_EQ(coordinator_->stats().completed, 0) << "completed without task 0's acknowledgement";
  coordinator_->acknowledge(TaskId{0, 0}, 1, {{0, std::nullopt}});
  EXPECT_EQ(coordinator_->stats().completed, 1);
  // Once every task finished, the final checkpoint (2) is made of the final states.
  coordinator_->task_finished(TaskId{0, 1}, {}, 1);
  EXPECT_EQ(coordinator_->stats().completed, 2);
  bool final_seen = false;
  for (const TaskEvent& event : events(1)) {
    if (event.kind == TaskEvent::Kind::kCheckpointComplete && event.final) final_seen = event.checkpoint_id == 2;
  }
  EXPECT_TRUE(final_seen);
  EXPECT_TRUE(fs::exists(dir_ / "chk-2" / "_metadata"));
}

TEST_F(CoordinatorTest, SavepointCompletesWithoutTellingOperatorsUnlessStopping) {
  make();
  std::future<std::string> savepoint = coordinator_->trigger_savepoint(false);
  ack_all(1);
  std::string folder = savepoint.get();
  EXPECT_NE(folder.find("savepoint-1-"), std::string::npos) << folder;
  EXPECT_TRUE(events(0).empty()) << "a plain savepoint was notified";
  std::future<std::string> stop = coordinator_->trigger_savepoint(true);
  ack_all(2);
  stop.get();
  auto received = events(0);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received.front().checkpoint_id, 2);
  coordinator_->poll(at(10'000));
  EXPECT_TRUE(coordinator_->folder_of(3).empty()) << "a checkpoint after stop-with-savepoint";
}

}  // namespace
}  // namespace eddy::runtime
