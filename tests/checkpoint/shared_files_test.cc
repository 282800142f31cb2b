// Incremental checkpoints in the checkpoint storage: the encoding of incremental keyed
// state, uploads into the shared folder, reference counting across checkpoints (retained
// checkpoints keep their files, unreferenced files go), the sweep of files a crash left,
// and fetching shared files back with their checksums checked.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "checkpoint/checkpoint_storage.h"
#include "eddy/serializer.h"

namespace eddy::checkpoint {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

IncrementalKeyedSnapshot sample_incremental() {
  IncrementalKeyedSnapshot snapshot;
  snapshot.backend = "rocksdb";
  snapshot.key_groups = {64, 127};
  snapshot.states.push_back({"count", StateKind::kValue, "int64", "", false, 1});
  snapshot.states.push_back({"seen", StateKind::kMap, "bool", "string", true, 1});
  snapshot.shared_files.push_back({"000012.sst", "000012-0123456789abcdef0123456789abcdef.sst", 4096,
                                   0x0102030405060708});
  snapshot.shared_files.push_back({"000015.sst", "000015-fedcba9876543210fedcba9876543210.sst", 17, 9});
  snapshot.private_files = {{"CURRENT", "MANIFEST-000005\n"}, {"MANIFEST-000005", std::string(200, 'm')}};
  return snapshot;
}

TEST(IncrementalEncodingTest, SubtaskStateWithIncrementalPartRoundTripsAsVersion2) {
  OperatorSubtaskState state;
  state.keyed = KeyedStateSnapshot{};
  state.keyed->key_groups = {64, 127};
  state.keyed->states.push_back({"_timers/t/event", StateKind::kTimers, "", "", false, 1});
  state.keyed->entries = {{{"\x00\x40k"s, "t"}}};
  state.incremental = sample_incremental();
  EXPECT_FALSE(state.empty());
  std::string payload = encode_subtask_state(state);
  EXPECT_EQ(payload[0], '\x02');  // version 2: it has an incremental part
  OperatorSubtaskState back = decode_subtask_state(payload);
  ASSERT_TRUE(back.incremental.has_value());
  EXPECT_EQ(*back.incremental, *state.incremental);
  ASSERT_TRUE(back.keyed.has_value());
  EXPECT_EQ(back.keyed->entries, state.keyed->entries);

  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_THROW(decode_subtask_state(payload.substr(0, n)), SerializationError) << n;
  }
  EXPECT_THROW(decode_subtask_state(payload + "x"), SerializationError);

  OperatorSubtaskState only_incremental;
  only_incremental.incremental = IncrementalKeyedSnapshot{};
  EXPECT_FALSE(only_incremental.empty());
}

// Golden bytes of the incremental part, as docs/savepoints.md describes it.
TEST(IncrementalEncodingTest, LayoutIsPinned) {
  OperatorSubtaskState state;
  state.incremental = IncrementalKeyedSnapshot{};
  state.incremental->backend = "r";
  state.incremental->key_groups = {0, 1};
  state.incremental->states.push_back({"v", StateKind::kValue, "i", "", false, 1});
  state.incremental->shared_files.push_back({"1.sst", "s", 3, 0x0807060504030201});
  state.incremental->private_files = {{"C", "x"}};
  EXPECT_EQ(encode_subtask_state(state),
            "\x02"                   // payload version 2
            "\x00\x00\x00"           // no keyed state, no operator state, no channel state
            "\x01"                   // incremental part present
            "\x01\x01r\x00\x02"      // version 1, backend "r", key groups 0..1
            "\x01\x01v\x00\x01i\x00\x00\x01"  // 1 state: name, kind, sigs, ttl, v1
            "\x01\x05"
            "1.sst\x01s\x03\x01\x02\x03\x04\x05\x06\x07\x08"  // 1 shared file
            "\x01\x01"
            "C\x01x"s);  // 1 private file
}

TEST(IncrementalEncodingTest, VersionOneStaysReadableAndIsWrittenWithoutIncrementalState) {
  // A version 1 payload (written by an older Eddy) has no incremental flag.
  OperatorSubtaskState state = decode_subtask_state("\x01\x00\x00\x00"s);
  EXPECT_FALSE(state.incremental.has_value());
  EXPECT_EQ(encode_subtask_state({})[0], '\x01');
  // Version 2 with the flag off is accepted too.
  EXPECT_FALSE(decode_subtask_state("\x02\x00\x00\x00\x00"s).incremental.has_value());
}

TEST(IncrementalEncodingTest, RejectsFileNamesThatLeaveTheirFolder) {
  OperatorSubtaskState state;
  state.incremental = sample_incremental();
  state.incremental->shared_files[0].shared_name = "../../etc/passwd";
  EXPECT_THROW(encode_subtask_state(state), Error);
  state.incremental = sample_incremental();
  state.incremental->private_files[0].first = "a/b";
  EXPECT_THROW(encode_subtask_state(state), Error);

  // The same names, crafted into the bytes, are refused on decoding.
  state.incremental = sample_incremental();
  state.incremental->private_files = {{"CURRENT", ""}};
  std::string payload = encode_subtask_state(state);
  size_t at = payload.rfind("CURRENT");
  ASSERT_NE(at, std::string::npos);
  payload.replace(at, 7, "../CURR");
  EXPECT_THROW(decode_subtask_state(payload), SerializationError);
}

TEST(IncrementalEncodingTest, MetadataListsSharedFilesFromVersion2) {
  CheckpointMetadata metadata;
  metadata.checkpoint_id = 3;
  OperatorMetadata op;
  op.uid = "u";
  op.name = "n";
  op.parallelism = 2;
  op.max_parallelism = 128;
  op.subtasks.resize(2);
  op.subtasks[0] = StateFileHandle{"op0-0.state", 100, 7, {}};
  metadata.operators.push_back(op);
  EXPECT_EQ(encode_metadata(metadata)[0], '\x01');  // nothing shared: version 1

  metadata.operators[0].subtasks[1] = StateFileHandle{"op0-1.state", 50, 8, {"a.sst", "b.sst"}};
  std::string payload = encode_metadata(metadata);
  EXPECT_EQ(payload[0], '\x02');
  CheckpointMetadata back = decode_metadata(payload);
  ASSERT_TRUE(back.operators[0].subtasks[0].has_value());
  EXPECT_TRUE(back.operators[0].subtasks[0]->shared_files.empty());
  ASSERT_TRUE(back.operators[0].subtasks[1].has_value());
  EXPECT_EQ(back.operators[0].subtasks[1]->shared_files, (std::vector<std::string>{"a.sst", "b.sst"}));
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_THROW(decode_metadata(payload.substr(0, n)), SerializationError) << n;
  }
  metadata.operators[0].subtasks[1]->shared_files = {"../x"};
  EXPECT_THROW(encode_metadata(metadata), Error);
}

class SharedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "eddy-shared-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    root_ = pattern;
    dir_ = (root_ / "checkpoints").string();
    local_ = root_ / "db";
    fs::create_directories(local_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A file of the "database" the checkpoints upload from.
  std::string local_file(const std::string& name, const std::string& content) {
    std::string p = (local_ / name).string();
    write_bytes(p, content);
    return p;
  }

  // Checkpoint `id` of one keyed subtask whose state is made of `reused` (files of earlier
  // checkpoints, reused where the storage still has them, else uploaded again) and the
  // local files `uploaded`. Returns the subtask's shared files.
  std::vector<SharedFileHandle> checkpoint(CheckpointStorage& storage, int64_t id,
                                           const std::vector<SharedFileHandle>& reused,
                                           const std::vector<std::string>& uploaded) {
    std::string folder = storage.begin(id, false, 1000 + id);
    auto uploader = storage.shared_file_uploader(id);
    OperatorSubtaskState state;
    state.incremental = IncrementalKeyedSnapshot{};
    state.incremental->backend = "rocksdb";
    state.incremental->key_groups = {0, 127};
    for (const SharedFileHandle& file : reused) {
      if (uploader->reuse(file)) {
        state.incremental->shared_files.push_back(file);
      } else {
        state.incremental->shared_files.push_back(
            uploader->upload((local_ / file.local_name).string(), file.local_name));
      }
    }
    for (const std::string& name : uploaded) {
      state.incremental->shared_files.push_back(uploader->upload((local_ / name).string(), name));
    }
    CheckpointMetadata metadata;
    metadata.checkpoint_id = id;
    metadata.timestamp_ms = 1000 + id;
    OperatorMetadata op;
    op.uid = "keyed";
    op.name = "keyed";
    op.parallelism = 1;
    op.max_parallelism = 128;
    op.subtasks = {storage.write_state_file(folder, "op0-0.state", state)};
    metadata.operators.push_back(op);
    storage.complete(folder, metadata);
    return state.incremental->shared_files;
  }

  std::set<std::string> shared_folder_files() const {
    std::set<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(fs::path(dir_) / "shared", ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      names.insert(it->path().filename().string());
    }
    return names;
  }

  fs::path root_;
  std::string dir_;
  fs::path local_;
};

TEST_F(SharedFilesTest, UploadsACopyWithItsChecksumUnderAUniqueName) {
  CheckpointStorage storage(dir_, 1);
  std::string content(3 << 20, 'a');  // several copy buffers
  content += "tail";
  local_file("000007.sst", content);
  storage.begin(1, false, 0);
  auto uploader = storage.shared_file_uploader(1);
  SharedFileHandle first = uploader->upload((local_ / "000007.sst").string(), "000007.sst");
  SharedFileHandle second = uploader->upload((local_ / "000007.sst").string(), "000007.sst");
  EXPECT_EQ(first.local_name, "000007.sst");
  EXPECT_NE(first.shared_name, second.shared_name);
  EXPECT_TRUE(first.shared_name.starts_with("000007-")) << first.shared_name;
  EXPECT_TRUE(first.shared_name.ends_with(".sst")) << first.shared_name;
  EXPECT_EQ(first.size, content.size());
  EXPECT_EQ(first.checksum, hash_bytes64(content.data(), content.size()));
  EXPECT_EQ(read_bytes(storage.shared_folder() + "/" + first.shared_name), content);
  EXPECT_EQ(storage.shared_folder(), (fs::path(dir_) / "shared").string());
}

TEST_F(SharedFilesTest, WritesProducedBytesWithTheirChecksumAndLeavesNothingWhenTheProducerFails) {
  CheckpointStorage storage(dir_, 1);
  storage.begin(1, false, 0);
  auto uploader = storage.shared_file_uploader(1);
  std::string expected;
  SharedFileHandle file = uploader->upload_produced("heap-1-full", [&](SharedFileSink& sink) {
    for (int i = 0; i < 3000; ++i) {  // small appends and ones beyond the write buffer
      std::string piece = i % 1000 == 999 ? std::string(2 << 20, static_cast<char>('a' + i % 26))
                                          : "piece " + std::to_string(i) + ";";
      sink.append(piece);
      expected += piece;
    }
  });
  EXPECT_EQ(file.local_name, "heap-1-full");
  EXPECT_TRUE(file.shared_name.starts_with("heap-1-full-")) << file.shared_name;
  EXPECT_EQ(file.size, expected.size());
  EXPECT_EQ(file.checksum, hash_bytes64(expected.data(), expected.size()));
  EXPECT_EQ(read_bytes(storage.shared_folder() + "/" + file.shared_name), expected);
  EXPECT_EQ(storage.shared_file_references()[file.shared_name], (std::set<int64_t>{1}));

  EXPECT_THROW(uploader->upload_produced("heap-1-delta",
                                         [&](SharedFileSink& sink) {
                                           sink.append(std::string(3 << 20, 'x'));
                                           throw Error("the producer failed");
                                         }),
               Error);
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{file.shared_name}));
  EXPECT_EQ(storage.shared_file_references().size(), 1u);
}

TEST_F(SharedFilesTest, CheckpointsShareFilesAndRetainedCheckpointsKeepTheirs) {
  CheckpointStorage storage(dir_, 2);
  local_file("1.sst", "one");
  local_file("2.sst", "two");
  local_file("3.sst", "three");
  local_file("4.sst", "four");
  std::vector<SharedFileHandle> c1 = checkpoint(storage, 1, {}, {"1.sst", "2.sst"});
  // Checkpoint 2 still has file 1 and adds 3; file 2 was compacted away.
  std::vector<SharedFileHandle> c2 = checkpoint(storage, 2, {c1[0]}, {"3.sst"});
  EXPECT_EQ(c2[0], c1[0]);  // shared, not uploaded again
  EXPECT_EQ(shared_folder_files(),
            (std::set<std::string>{c1[0].shared_name, c1[1].shared_name, c2[1].shared_name}));
  auto refs = storage.shared_file_references();
  EXPECT_EQ(refs[c1[0].shared_name], (std::set<int64_t>{1, 2}));
  EXPECT_EQ(refs[c1[1].shared_name], (std::set<int64_t>{1}));

  // Checkpoint 3 keeps 1 and 3, adds 4: checkpoint 1 goes (2 retained), and with it the file
  // only it referenced; every file of the retained checkpoints 2 and 3 stays.
  std::vector<SharedFileHandle> c3 = checkpoint(storage, 3, {c2[0], c2[1]}, {"4.sst"});
  EXPECT_FALSE(fs::exists(storage.checkpoint_folder(1)));
  EXPECT_EQ(shared_folder_files(),
            (std::set<std::string>{c1[0].shared_name, c2[1].shared_name, c3[2].shared_name}));

  // Checkpoint 4 has only file 4: checkpoint 2 goes; file 1 stays for checkpoint 3.
  checkpoint(storage, 4, {c3[2]}, {});
  EXPECT_EQ(shared_folder_files(),
            (std::set<std::string>{c1[0].shared_name, c2[1].shared_name, c3[2].shared_name}));
  // Checkpoint 5 likewise: now nothing retained references files 1 and 3.
  checkpoint(storage, 5, {c3[2]}, {});
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{c3[2].shared_name}));
  refs = storage.shared_file_references();
  EXPECT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[c3[2].shared_name], (std::set<int64_t>{4, 5}));
}

TEST_F(SharedFilesTest, FailedCheckpointsDeleteWhatOnlyTheyUploaded) {
  CheckpointStorage storage(dir_, 1);
  local_file("1.sst", "one");
  local_file("2.sst", "two");
  std::vector<SharedFileHandle> c1 = checkpoint(storage, 1, {}, {"1.sst"});

  std::string folder = storage.begin(2, false, 0);
  auto uploader = storage.shared_file_uploader(2);
  ASSERT_TRUE(uploader->reuse(c1[0]));
  SharedFileHandle fresh = uploader->upload((local_ / "2.sst").string(), "2.sst");
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{c1[0].shared_name, fresh.shared_name}));
  storage.discard(folder);  // checkpoint 2 failed
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{c1[0].shared_name}));  // 1 keeps its file
  EXPECT_EQ(storage.shared_file_references()[c1[0].shared_name], (std::set<int64_t>{1}));

  // An aborted checkpoint uploads and reuses nothing any more.
  EXPECT_FALSE(uploader->reuse(c1[0]));
  EXPECT_THROW(uploader->upload((local_ / "2.sst").string(), "2.sst"), Error);
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{c1[0].shared_name}));
}

TEST_F(SharedFilesTest, ACheckpointCannotCompleteWithASharedFileItDidNotTake) {
  CheckpointStorage storage(dir_, 1);
  local_file("1.sst", "one");
  std::vector<SharedFileHandle> c1 = checkpoint(storage, 1, {}, {"1.sst"});
  std::string folder = storage.begin(2, false, 0);
  CheckpointMetadata metadata;
  metadata.checkpoint_id = 2;
  OperatorMetadata op;
  op.uid = "keyed";
  op.parallelism = 1;
  op.max_parallelism = 128;
  op.subtasks = {StateFileHandle{"op0-0.state", 1, 1, {c1[0].shared_name}}};
  metadata.operators.push_back(op);
  try {
    storage.complete(folder, metadata);
    ADD_FAILURE() << "completed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(c1[0].shared_name), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(fs::path(folder) / "_metadata"));
}

TEST_F(SharedFilesTest, ANewStorageKnowsTheReferencesAndSweepsWhatACrashLeft) {
  local_file("1.sst", "one");
  local_file("2.sst", "two");
  local_file("3.sst", "three");
  std::vector<SharedFileHandle> c1;
  std::vector<SharedFileHandle> c2;
  std::string orphan;
  {
    CheckpointStorage storage(dir_, 2);
    c1 = checkpoint(storage, 1, {}, {"1.sst"});
    c2 = checkpoint(storage, 2, {c1[0]}, {"2.sst"});
    // Checkpoint 3 uploads, then the process dies (nothing discards it).
    storage.begin(3, false, 0);
    orphan = storage.shared_file_uploader(3)->upload((local_ / "3.sst").string(), "3.sst").shared_name;
  }
  write_bytes(fs::path(dir_) / "shared" / "half-written.sst.tmp", "x");
  ASSERT_EQ(shared_folder_files().size(), 4u);

  CheckpointStorage storage(dir_, 2);
  auto refs = storage.shared_file_references();
  EXPECT_EQ(refs[c1[0].shared_name], (std::set<int64_t>{1, 2}));
  EXPECT_EQ(refs[c2[1].shared_name], (std::set<int64_t>{2}));
  EXPECT_EQ(refs.count(orphan), 0u);
  EXPECT_EQ(shared_folder_files().size(), 4u);  // nothing is deleted before a completion

  // The restarted job reuses what checkpoint 2 uploaded; its first completion sweeps.
  std::vector<SharedFileHandle> c4 = checkpoint(storage, 4, {c1[0], c2[1]}, {});
  EXPECT_EQ(c4, c2);
  EXPECT_EQ(shared_folder_files(), (std::set<std::string>{c1[0].shared_name, c2[1].shared_name}));
  EXPECT_FALSE(fs::exists(storage.checkpoint_folder(3)));
}

TEST_F(SharedFilesTest, NoSweepWhenACheckpointsReferencesAreUnknown) {
  local_file("1.sst", "one");
  std::vector<SharedFileHandle> c1;
  {
    CheckpointStorage storage(dir_, 5);
    c1 = checkpoint(storage, 1, {}, {"1.sst"});
  }
  std::string metadata = (fs::path(dir_) / "chk-1" / "_metadata").string();
  std::string bytes = read_bytes(metadata);
  bytes[bytes.size() / 2] ^= 1;
  write_bytes(metadata, bytes);  // checkpoint 1's references cannot be read

  CheckpointStorage storage(dir_, 5);
  local_file("2.sst", "two");
  checkpoint(storage, 2, {}, {"2.sst"});
  EXPECT_TRUE(shared_folder_files().count(c1[0].shared_name));  // not swept: it may be needed
}

TEST_F(SharedFilesTest, FetchLinksOrCopiesAndChecksTheChecksum) {
  CheckpointStorage storage(dir_, 1);
  local_file("1.sst", "the bytes of an SST file");
  std::vector<SharedFileHandle> c1 = checkpoint(storage, 1, {}, {"1.sst"});
  const std::string shared = storage.shared_folder();
  const std::string source = shared + "/" + c1[0].shared_name;
  fs::create_directories(root_ / "restore");
  const std::string target = (root_ / "restore" / "000001.sst").string();

  fetch_shared_file(shared, c1[0], target);
  EXPECT_EQ(read_bytes(target), "the bytes of an SST file");
  fs::remove(target);
  EXPECT_EQ(load_checkpoint(storage.checkpoint_folder(1)).shared_folder(), shared);

  auto expect_corrupt = [&](const std::string& problem) {
    try {
      fetch_shared_file(shared, c1[0], target);
      ADD_FAILURE() << "no error for " << problem;
    } catch (const CorruptCheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(source), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(target));
  };
  std::string good = read_bytes(source);
  std::string flipped = good;
  flipped[3] ^= 0x20;
  write_bytes(source, flipped);
  expect_corrupt("checksum mismatch");
  write_bytes(source, good.substr(1));
  expect_corrupt("bytes, but the checkpoint recorded");
  fs::remove(source);
  expect_corrupt("missing");
}

}  // namespace
}  // namespace eddy::checkpoint
