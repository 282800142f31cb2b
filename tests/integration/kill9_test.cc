// End to end: the job process is killed with SIGKILL again and again while it runs, and
// restarted with --restore latest each time; once it finishes, the committed output must
// be exactly the expected records, each once.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kRecords = 40000;
constexpr int64_t kKeys = 8;

size_t count_completed_checkpoints(const fs::path& dir) {
  size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (fs::exists(entry.path() / "_metadata")) ++n;
  }
  return n;
}

// The highest id of a completed checkpoint folder (chk-<id>/_metadata), or 0.
int64_t latest_checkpoint_id(const fs::path& dir) {
  int64_t latest = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("chk-", 0) != 0 || !fs::exists(entry.path() / "_metadata")) continue;
    latest = std::max<int64_t>(latest, std::stoll(name.substr(4)));
  }
  return latest;
}

pid_t start_job(const fs::path& root, bool restore, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {EDDY_EXACTLY_ONCE_JOB,
                                   "--records", std::to_string(kRecords),
                                   "--rate", "40000",
                                   "--out", (root / "out").string(),
                                   "--checkpoint-dir", (root / "checkpoints").string(),
                                   "--checkpoint-interval-ms", "50",
                                   "--restart-strategy", "none"};
  if (restore) {
    args.push_back("--restore");
    args.push_back("latest");
  }
  if (std::find(extra.begin(), extra.end(), "--parallelism") == extra.end()) {
    extra.push_back("--parallelism");
    extra.push_back("2");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

void expect_exactly_once(const std::map<std::pair<int64_t, int64_t>, int>& lines);

class Kill9Test : public ::testing::TestWithParam<std::string> {};

TEST_P(Kill9Test, RepeatedKillsThenRestoreLatestCommitExactlyOnce) {
  const std::string backend = GetParam();
  fs::path root = fs::path(::testing::TempDir()) / ("eddy-kill9-" + backend + "-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  std::mt19937 random(42);
  int kills = 0;
  int exit_code = -1;
  for (int run = 0; run < 30 && exit_code != 0; ++run) {
    int64_t before = latest_checkpoint_id(root / "checkpoints");
    pid_t pid = start_job(root, run > 0,
                          {"--state-backend", backend, "--rocksdb-dir", (root / "rocksdb").string()});
    ASSERT_GT(pid, 0);
    // Kill the first runs once they have made progress: after 1 to 3 more checkpoints
    // completed (so every kill lands at a different point of the output).
    bool killed = false;
    if (run < 5) {
      int64_t target = before + 1 + static_cast<int64_t>(random() % 3);
      int status = 0;
      while (true) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
          exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
          break;
        }
        if (latest_checkpoint_id(root / "checkpoints") >= target) {
          // A little later, so the kill also hits the middle of the next checkpoint.
          std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          killed = true;
          ++kills;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (!killed && exit_code != 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
  }
  ASSERT_EQ(exit_code, 0) << "the job did not finish cleanly after " << kills << " kills";
  EXPECT_GE(kills, 3);
  std::map<std::pair<int64_t, int64_t>, int> lines;
  for (const auto& entry : fs::recursive_directory_iterator(root / "out")) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    EXPECT_NE(name.front(), '.') << "uncommitted part file left: " << entry.path();
    if (name.front() == '.') continue;
    std::ifstream in(entry.path());
    int64_t key = 0;
    int64_t seq = 0;
    while (in >> key >> seq) ++lines[{key, seq}];
  }
  expect_exactly_once(lines);
  if (backend == "rocksdb") {
    // Incremental checkpoints: shared files of killed runs that no checkpoint kept are gone.
    const fs::path shared = root / "checkpoints" / "shared";
    size_t referenced_or_left = 0;
    if (fs::exists(shared)) {
      for (const auto& entry : fs::directory_iterator(shared)) {
        (void)entry;
        ++referenced_or_left;
      }
    }
    EXPECT_EQ(referenced_or_left, 0u) << "the final checkpoint is canonical, so no shared file is needed";
  }
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Backends, Kill9Test, ::testing::Values("heap", "rocksdb"),
                         [](const auto& info) { return info.param; });

// Stop-with-savepoint from outside (SIGUSR2), then resume from the savepoint folder
// (--restore PATH) at parallelism 3.
TEST(Kill9SavepointTest, SignalStopsWithSavepointAndRestoreResumesAtAnotherParallelism) {
  fs::path root = fs::path(::testing::TempDir()) / ("eddy-sigusr2-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  pid_t pid = start_job(root, false);
  ASSERT_GT(pid, 0);
  int status = 0;
  bool exited_early = false;
  while (latest_checkpoint_id(root / "checkpoints") < 2) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited_early = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(exited_early) << "the job ended before it could be stopped";
  kill(pid, SIGUSR2);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string savepoint;
  for (const auto& entry : fs::directory_iterator(root / "checkpoints")) {
    if (entry.path().filename().string().rfind("savepoint-", 0) == 0) savepoint = entry.path().string();
  }
  ASSERT_FALSE(savepoint.empty()) << "no savepoint folder in " << root / "checkpoints";
  ASSERT_TRUE(fs::exists(fs::path(savepoint) / "_metadata"));
  pid = start_job(root, false, {"--restore", savepoint, "--parallelism", "3"});
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::map<std::pair<int64_t, int64_t>, int> lines;
  for (const auto& entry : fs::recursive_directory_iterator(root / "out")) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.front() == '.') continue;
    std::ifstream in(entry.path());
    int64_t key = 0;
    int64_t seq = 0;
    while (in >> key >> seq) ++lines[{key, seq}];
  }
  expect_exactly_once(lines);
  fs::remove_all(root);
}

void expect_exactly_once(const std::map<std::pair<int64_t, int64_t>, int>& lines) {
  EXPECT_EQ(static_cast<int64_t>(lines.size()), kRecords);
  for (int64_t i = 0; i < kRecords; ++i) {
    // As the job makes them: two splits, each with half of the keys.
    int64_t split = i / (kRecords / 2);
    int64_t j = i % (kRecords / 2);
    int64_t key = split * (kKeys / 2) + j % (kKeys / 2);
    int64_t seq = j / (kKeys / 2);
    auto it = lines.find({key, seq});
    if (it == lines.end() || it->second != 1) {
      ADD_FAILURE() << "record " << key << " " << seq << " committed "
                    << (it == lines.end() ? 0 : it->second) << " times";
      break;
    }
  }
}

}  // namespace
