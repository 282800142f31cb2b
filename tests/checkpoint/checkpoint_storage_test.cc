#include "checkpoint/checkpoint_storage.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/key.h"
#include "eddy/serializer.h"

namespace eddy::checkpoint {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// A fresh folder under the test temp dir, removed with the fixture.
class CheckpointStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "eddy-ckpt-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Runs `f`, which must throw CorruptCheckpointError mentioning `path` and `problem`.
void expect_corrupt(const std::function<void()>& f, const std::string& path,
                    const std::string& problem) {
  try {
    f();
    ADD_FAILURE() << "no CorruptCheckpointError for " << path;
  } catch (const CorruptCheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
  }
}

KeyedStateSnapshot sample_keyed() {
  KeyedStateSnapshot keyed;
  keyed.key_groups = {32, 63};
  keyed.states.push_back({"count", StateKind::kValue, "int64", "", false, 1});
  keyed.states.push_back({"sessions", StateKind::kMap, "struct[v2]", "string", true, 2});
  keyed.states.push_back({"timers", StateKind::kTimers, "", "", false, 1});
  keyed.states.push_back({"unused", StateKind::kAggregating, "pair<int64,int64>", "", true, 7});
  keyed.entries.resize(4);
  keyed.entries[0] = {{"\x00\x20k1"s, "\x01\0\0\0\0\0\0\0"s}, {"\x00\x21k2"s, ""}};
  keyed.entries[1] = {{"\x00\x20k1\x00u"s, std::string(300, 'x')}};
  keyed.entries[2] = {
      {"\x00\x3f"
       "event\x00\x80"s,
       "t"}};
  return keyed;  // "unused" has no entries
}

OperatorStateSnapshot sample_operator_state() {
  OperatorStateSnapshot snapshot;
  snapshot.states.push_back({"offsets",
                             OperatorStateMode::kSplitList,
                             "int64",
                             {serialize(int64_t{1}), serialize(int64_t{2})}});
  snapshot.states.push_back({"seen", OperatorStateMode::kUnionList, "string", {serialize("a"s)}});
  snapshot.states.push_back({"rules",
                             OperatorStateMode::kBroadcast,
                             "pair<string,int32>",
                             {serialize(std::pair{"r"s, 1})}});
  snapshot.states.push_back({"empty", OperatorStateMode::kSplitList, "int64", {}});
  return snapshot;
}

void expect_same(const OperatorStateSnapshot& a, const OperatorStateSnapshot& b) {
  ASSERT_EQ(a.states.size(), b.states.size());
  for (size_t i = 0; i < a.states.size(); ++i) {
    EXPECT_EQ(a.states[i].name, b.states[i].name);
    EXPECT_EQ(a.states[i].mode, b.states[i].mode);
    EXPECT_EQ(a.states[i].signature, b.states[i].signature);
    EXPECT_EQ(a.states[i].elements, b.states[i].elements);
  }
}

void expect_same(const OperatorSubtaskState& a, const OperatorSubtaskState& b) {
  ASSERT_EQ(a.keyed.has_value(), b.keyed.has_value());
  if (a.keyed) {
    EXPECT_EQ(a.keyed->key_groups, b.keyed->key_groups);
    EXPECT_EQ(a.keyed->states, b.keyed->states);
    EXPECT_EQ(a.keyed->entries, b.keyed->entries);
  }
  expect_same(a.operator_state, b.operator_state);
  EXPECT_EQ(a.channel_state, b.channel_state);
}

OperatorSubtaskState sample_state() {
  OperatorSubtaskState state;
  state.keyed = sample_keyed();
  state.operator_state = sample_operator_state();
  state.channel_state = {"records of channel 0", "", std::string(1000, '\xff')};
  return state;
}

OperatorMetadata operator_metadata(std::string uid, int parallelism) {
  OperatorMetadata op;
  op.uid = uid;
  op.name = "op " + uid;
  op.parallelism = parallelism;
  op.max_parallelism = 128;
  op.subtasks.resize(static_cast<size_t>(parallelism));
  return op;
}

CheckpointMetadata sample_metadata() {
  CheckpointMetadata metadata;
  metadata.checkpoint_id = 42;
  metadata.savepoint = true;
  metadata.timestamp_ms = 1'700'000'000'123;
  OperatorMetadata source = operator_metadata("source", 2);
  source.subtasks[0] = StateFileHandle{"op0-0.state", 123, 0xfedcba9876543210, {}};
  source.enumerator_splits = std::vector<std::string>{"split-3", ""};
  OperatorMetadata keyed = operator_metadata("counts", 3);
  keyed.subtasks[2] = StateFileHandle{"op1-2.state", 28, 1, {}};
  OperatorMetadata sink = operator_metadata("sink", 1);
  sink.enumerator_splits = std::vector<std::string>{};  // present but empty
  metadata.operators = {source, keyed, sink};
  return metadata;
}

void expect_same(const CheckpointMetadata& a, const CheckpointMetadata& b) {
  EXPECT_EQ(a.checkpoint_id, b.checkpoint_id);
  EXPECT_EQ(a.savepoint, b.savepoint);
  EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
  ASSERT_EQ(a.operators.size(), b.operators.size());
  for (size_t i = 0; i < a.operators.size(); ++i) {
    const OperatorMetadata& x = a.operators[i];
    const OperatorMetadata& y = b.operators[i];
    EXPECT_EQ(x.uid, y.uid);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.parallelism, y.parallelism);
    EXPECT_EQ(x.max_parallelism, y.max_parallelism);
    ASSERT_EQ(x.subtasks.size(), y.subtasks.size());
    for (size_t s = 0; s < x.subtasks.size(); ++s) {
      ASSERT_EQ(x.subtasks[s].has_value(), y.subtasks[s].has_value()) << "subtask " << s;
      if (!x.subtasks[s]) continue;
      EXPECT_EQ(x.subtasks[s]->file, y.subtasks[s]->file);
      EXPECT_EQ(x.subtasks[s]->size, y.subtasks[s]->size);
      EXPECT_EQ(x.subtasks[s]->checksum, y.subtasks[s]->checksum);
    }
    EXPECT_EQ(x.enumerator_splits, y.enumerator_splits);
  }
}

// Writes a complete checkpoint `id` with one operator of two subtasks (the second without
// state) and returns its folder.
std::string write_checkpoint(CheckpointStorage& storage, int64_t id, bool savepoint = false) {
  std::string folder = storage.begin(id, savepoint, 1000 + id);
  CheckpointMetadata metadata;
  metadata.checkpoint_id = id;
  metadata.savepoint = savepoint;
  metadata.timestamp_ms = 1000 + id;
  OperatorMetadata op = operator_metadata("counts", 2);
  op.subtasks[0] = storage.write_state_file(folder, "op0-0.state", sample_state());
  metadata.operators.push_back(op);
  storage.complete(folder, metadata);
  return folder;
}

// --- payloads ---------------------------------------------------------------------------

TEST(SubtaskStateEncodingTest, RoundTripsKeyedOperatorAndChannelState) {
  OperatorSubtaskState state = sample_state();
  expect_same(decode_subtask_state(encode_subtask_state(state)), state);
}

TEST(SubtaskStateEncodingTest, RoundTripsEmptyAndKeyedWithoutStates) {
  OperatorSubtaskState none;
  EXPECT_TRUE(none.empty());
  expect_same(decode_subtask_state(encode_subtask_state(none)), none);

  OperatorSubtaskState keyed_only;
  keyed_only.keyed = KeyedStateSnapshot{};
  keyed_only.keyed->key_groups = {0, 127};
  EXPECT_TRUE(keyed_only.empty());
  OperatorSubtaskState back = decode_subtask_state(encode_subtask_state(keyed_only));
  ASSERT_TRUE(back.keyed.has_value());
  EXPECT_EQ(back.keyed->key_groups, (KeyGroupRange{0, 127}));

  EXPECT_FALSE(sample_state().empty());
  OperatorSubtaskState channel_only;
  channel_only.channel_state = {""};
  EXPECT_FALSE(channel_only.empty());
}

// Golden bytes: the layout docs/savepoints.md describes.
TEST(SubtaskStateEncodingTest, LayoutIsPinned) {
  EXPECT_EQ(encode_subtask_state({}), "\x01\x00\x00\x00"s);  // version, no keyed, 0, 0

  OperatorSubtaskState state;
  state.keyed = KeyedStateSnapshot{};
  state.keyed->key_groups = {0, 1};
  state.keyed->states.push_back({"v", StateKind::kList, "i", "", true, 2});
  state.keyed->entries = {{{"k", "x"}}};
  state.operator_state.states.push_back({"o", OperatorStateMode::kBroadcast, "s", {"e"}});
  state.channel_state = {"c"};
  EXPECT_EQ(encode_subtask_state(state),
            "\x01"              // payload version
            "\x01\x01\x00\x02"  // keyed: flag, version, groups 0..1
            "\x01"
            "\x01v\x01\x01i\x00\x01\x02"  // 1 state: name, kind, sigs, ttl, v2
            "\x01\x01k\x01x"              // 1 entry
            "\x01\x01o\x02\x01s\x01\x01"
            "e"  // operator state
            "\x01\x01"
            "c"s);  // channel state
}

TEST(SubtaskStateEncodingTest, RejectsNewerVersionsWithAClearMessage) {
  std::string payload = encode_subtask_state(sample_state());
  payload[0] = 3;
  try {
    decode_subtask_state(payload);
    ADD_FAILURE() << "accepted version 3";
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported subtask state version 3"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("versions 1 to 2"), std::string::npos) << e.what();
  }
  payload[0] = 1;
  payload[2] = 9;  // the keyed state's version
  EXPECT_THROW(decode_subtask_state(payload), SerializationError);
}

TEST(SubtaskStateEncodingTest, EveryTruncationAndTrailingByteIsRejected) {
  std::string payload = encode_subtask_state(sample_state());
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_THROW(decode_subtask_state(payload.substr(0, n)), SerializationError) << n;
  }
  EXPECT_THROW(decode_subtask_state(payload + "x"), SerializationError);
}

TEST(SubtaskStateEncodingTest, HugeCountsFailBeforeAllocating) {
  ByteWriter w;
  w.write_varint(1);                  // version
  w.write_fixed(uint8_t{0});          // no keyed state
  w.write_varint(uint64_t{1} << 60);  // operator states
  EXPECT_THROW(decode_subtask_state(w.bytes()), SerializationError);

  ByteWriter k;
  k.write_varint(1);
  k.write_fixed(uint8_t{1});
  k.write_varint(1);
  k.write_signed_varint(0);
  k.write_signed_varint(1);
  k.write_varint(~uint64_t{0});  // keyed states
  EXPECT_THROW(decode_subtask_state(k.bytes()), SerializationError);
}

TEST(SubtaskStateEncodingTest, RejectsUnknownKindsModesAndFlags) {
  OperatorSubtaskState state;
  state.operator_state.states.push_back({"o", OperatorStateMode::kSplitList, "s", {}});
  std::string payload = encode_subtask_state(state);
  ASSERT_EQ(payload, "\x01\x00\x01\x01o\x00\x01s\x00\x00"s);
  std::string bad_mode = payload;
  bad_mode[5] = 3;
  EXPECT_THROW(decode_subtask_state(bad_mode), SerializationError);
  std::string bad_flag = payload;
  bad_flag[1] = 2;
  EXPECT_THROW(decode_subtask_state(bad_flag), SerializationError);
}

TEST(SubtaskStateEncodingTest, EncodeRejectsEntryListsNotMatchingStates) {
  OperatorSubtaskState state;
  state.keyed = sample_keyed();
  state.keyed->entries.pop_back();
  EXPECT_THROW(encode_subtask_state(state), Error);
}

TEST(MetadataEncodingTest, RoundTrips) {
  CheckpointMetadata metadata = sample_metadata();
  expect_same(decode_metadata(encode_metadata(metadata)), metadata);
  CheckpointMetadata empty;
  expect_same(decode_metadata(encode_metadata(empty)), empty);
}

TEST(MetadataEncodingTest, RejectsNewerVersionsTruncationAndBadFileNames) {
  std::string payload = encode_metadata(sample_metadata());
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_THROW(decode_metadata(payload.substr(0, n)), SerializationError) << n;
  }
  std::string newer = payload;
  newer[0] = 3;
  EXPECT_THROW(decode_metadata(newer), SerializationError);

  CheckpointMetadata escaping = sample_metadata();
  escaping.operators[0].subtasks[0]->file = "../../etc/passwd";
  EXPECT_THROW(encode_metadata(escaping), Error);
  CheckpointMetadata wrong_count = sample_metadata();
  wrong_count.operators[1].subtasks.pop_back();
  EXPECT_THROW(encode_metadata(wrong_count), Error);
}

// --- framed files -------------------------------------------------------------------------

TEST_F(CheckpointStorageTest, FramedFileRoundTripsAndHasTheDocumentedLayout) {
  std::string file = path("data");
  StateFileHandle handle = write_framed_file(file, "ab");
  EXPECT_EQ(handle.file, "data");
  std::string bytes = read_bytes(file);
  EXPECT_EQ(handle.size, bytes.size());
  ASSERT_EQ(bytes.size(), 30u);
  EXPECT_EQ(bytes.substr(0, 22), "EDDYCKPT\x01\0\0\0\x02\0\0\0\0\0\0\0ab"s);
  EXPECT_EQ(handle.checksum, hash_bytes64(bytes.data(), 22));
  EXPECT_EQ(deserialize<uint64_t>(bytes.substr(22)), handle.checksum);
  EXPECT_FALSE(fs::exists(file + ".tmp"));

  EXPECT_EQ(read_framed_file(file), "ab");
  EXPECT_EQ(read_framed_file(file, &handle), "ab");
  EXPECT_EQ(write_framed_file(path("empty"), "").size, 28u);
  EXPECT_EQ(read_framed_file(path("empty")), "");
}

TEST_F(CheckpointStorageTest, EveryKindOfDamageIsReportedWithThePath) {
  std::string file = path("data");
  StateFileHandle handle = write_framed_file(file, "payload bytes");
  const std::string good = read_bytes(file);
  auto read = [&] { read_framed_file(file); };

  for (size_t i : {size_t{0}, size_t{9}, size_t{15}, size_t{22}, good.size() - 1}) {
    std::string flipped = good;
    flipped[i] ^= 0x01;
    write_bytes(file, flipped);
    EXPECT_THROW(read(), CorruptCheckpointError) << "byte " << i;
  }
  std::string flipped = good;
  flipped[25] ^= 0x40;  // in the payload
  write_bytes(file, flipped);
  expect_corrupt(read, file, "checksum mismatch");

  write_bytes(file, good.substr(0, good.size() - 1));
  expect_corrupt(read, file, "truncated: 40 bytes, expected 41");
  write_bytes(file, good.substr(0, 5));
  expect_corrupt(read, file, "truncated: 5 bytes, expected at least 28");
  write_bytes(file, "");
  expect_corrupt(read, file, "truncated: 0 bytes");
  write_bytes(file, good + "x");
  expect_corrupt(read, file, "42 bytes, expected 41");
  write_bytes(file, "EDDYCKPX" + good.substr(8));
  expect_corrupt(read, file, "bad magic");
  write_bytes(file, "{\"json\": true}");
  expect_corrupt(read, file, "bad magic");

  std::string newer = good;
  newer[8] = 2;
  write_bytes(file, newer);
  expect_corrupt(read, file, "unsupported format version 2");

  // A valid file, but not the one the metadata recorded.
  write_framed_file(file, "payload bytez");
  expect_corrupt([&] { read_framed_file(file, &handle); }, file, "metadata recorded");
  write_framed_file(file, "payload");
  expect_corrupt([&] { read_framed_file(file, &handle); }, file, "metadata recorded");

  fs::remove(file);
  expect_corrupt(read, file, "missing");
}

TEST_F(CheckpointStorageTest, FailedWriteLeavesNoFileAndNamesThePath) {
  std::string file = path("no-such-folder/_metadata");
  try {
    write_framed_file(file, "x");
    ADD_FAILURE() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(path("no-such-folder")));
}

// A full disk: the temporary file is a link to /dev/full, where every write fails with
// ENOSPC.
TEST_F(CheckpointStorageTest, FullDiskLeavesNoFileAndSaysWhy) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  std::string file = path("op0-0.state");
  fs::create_symlink("/dev/full", file + ".tmp");
  try {
    write_framed_file(file, std::string(100, 'x'));
    ADD_FAILURE() << "a write to /dev/full succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(file + ".tmp")));
  EXPECT_FALSE(fs::exists(file));
}

// --- storage ------------------------------------------------------------------------------

TEST_F(CheckpointStorageTest, WritesAndLoadsACheckpoint) {
  CheckpointStorage storage(path("checkpoints/job"), 1);  // created with its parents
  EXPECT_EQ(storage.max_checkpoint_id(), 0);
  EXPECT_EQ(storage.latest_completed(), std::nullopt);

  std::string folder = write_checkpoint(storage, 1);
  EXPECT_EQ(folder, storage.checkpoint_folder(1));
  EXPECT_EQ(fs::path(folder).filename(), "chk-1");
  EXPECT_TRUE(fs::exists(fs::path(folder) / "_metadata"));
  EXPECT_EQ(storage.latest_completed(), folder);

  for (const std::string& where : {folder, folder + "/", folder + "/_metadata"}) {
    LoadedCheckpoint loaded = load_checkpoint(where);
    EXPECT_EQ(fs::path(loaded.folder) / "_metadata", fs::path(folder) / "_metadata");
    EXPECT_EQ(loaded.metadata.checkpoint_id, 1);
    EXPECT_EQ(loaded.metadata.timestamp_ms, 1001);
    ASSERT_EQ(loaded.metadata.operators.size(), 1u);
    expect_same(loaded.read_subtask(0, 0), sample_state());
    EXPECT_TRUE(loaded.read_subtask(0, 1).empty());  // no file
    EXPECT_THROW(loaded.read_subtask(0, 2), Error);
    EXPECT_THROW(loaded.read_subtask(1, 0), Error);
  }
}

TEST_F(CheckpointStorageTest, SavepointFoldersAreNamedByIdAndTime) {
  CheckpointStorage storage(root_.string(), 1);
  std::string folder = write_checkpoint(storage, 7, /*savepoint=*/true);
  EXPECT_EQ(fs::path(folder).filename(), "savepoint-7-1007");
  EXPECT_TRUE(load_checkpoint(folder).metadata.savepoint);
  EXPECT_EQ(storage.max_checkpoint_id(), 7);
  EXPECT_EQ(storage.latest_completed(), std::nullopt);  // savepoints are never picked
}

TEST_F(CheckpointStorageTest, LatestCompletedSkipsFoldersWithoutMetadataAndOrdersNumerically) {
  CheckpointStorage storage(root_.string(), 10);
  write_checkpoint(storage, 9);
  std::string ten = write_checkpoint(storage, 10);
  storage.begin(11, false, 0);  // in progress, no _metadata
  fs::create_directory(path("chk-12"));
  write_bytes(path("chk-12/_metadata.tmp"), "half");  // crashed while completing
  EXPECT_EQ(storage.latest_completed(), ten);         // "chk-10" sorts before "chk-9" as text
}

TEST_F(CheckpointStorageTest, LatestCompletedThrowsOnCorruptMetadataInsteadOfFallingBack) {
  CheckpointStorage storage(root_.string(), 3);
  write_checkpoint(storage, 1);
  std::string folder = write_checkpoint(storage, 2);
  std::string metadata = folder + "/_metadata";
  std::string bytes = read_bytes(metadata);
  bytes[bytes.size() / 2] ^= 0x10;
  write_bytes(metadata, bytes);
  expect_corrupt([&] { storage.latest_completed(); }, metadata, "checksum mismatch");
  expect_corrupt([&] { load_checkpoint(folder); }, metadata, "checksum mismatch");
}

TEST_F(CheckpointStorageTest, DamagedDataFilesAreReportedByName) {
  CheckpointStorage storage(root_.string(), 1);
  std::string folder = write_checkpoint(storage, 1);
  std::string data = folder + "/op0-0.state";
  const std::string good = read_bytes(data);
  LoadedCheckpoint loaded = load_checkpoint(folder);
  auto read = [&] { loaded.read_subtask(0, 0); };

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x01;
  write_bytes(data, flipped);
  expect_corrupt(read, data, "checksum mismatch");
  write_bytes(data, good.substr(0, good.size() - 10));
  expect_corrupt(read, data, "truncated");
  write_bytes(data, good + "\n");
  expect_corrupt(read, data, "unexpected bytes after the checksum");
  write_bytes(data, "XDDYCKPT" + good.substr(8));
  expect_corrupt(read, data, "bad magic");
  write_framed_file(data, encode_subtask_state({}));  // valid, but another file
  expect_corrupt(read, data, "metadata recorded");
  write_framed_file(data, "\x01\x05");  // right framing, undecodable payload
  expect_corrupt(read, data, "metadata recorded");
  fs::remove(data);
  expect_corrupt(read, data, "missing");
}

TEST_F(CheckpointStorageTest, UndecodablePayloadIsCorruption) {
  CheckpointStorage storage(root_.string(), 1);
  std::string folder = storage.begin(1, false, 0);
  write_framed_file(folder + "/_metadata", "\x01\x02");  // framing fine, payload truncated
  expect_corrupt([&] { load_checkpoint(folder); }, folder + "/_metadata", "cannot decode");
}

TEST_F(CheckpointStorageTest, MissingMetadataIsNotACheckpoint) {
  CheckpointStorage storage(root_.string(), 1);
  std::string folder = storage.begin(1, false, 0);
  try {
    load_checkpoint(folder);
    ADD_FAILURE() << "loaded a checkpoint without _metadata";
  } catch (const CorruptCheckpointError& e) {
    ADD_FAILURE() << "an incomplete checkpoint is not corrupt: " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("never completed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_checkpoint(path("nowhere")), Error);
}

TEST_F(CheckpointStorageTest, RetentionKeepsTheNewestAndRemovesOlderIncompleteFolders) {
  CheckpointStorage storage(root_.string(), 2);
  std::string savepoint = write_checkpoint(storage, 1, /*savepoint=*/true);
  write_checkpoint(storage, 2);
  storage.begin(3, false, 0);  // failed, never discarded
  write_checkpoint(storage, 4);
  write_checkpoint(storage, 5);
  std::string in_flight = storage.begin(7, false, 0);  // concurrent with 6
  write_checkpoint(storage, 6);

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"chk-5", "chk-6", "chk-7", "savepoint-1-1001"}));
  EXPECT_TRUE(fs::exists(fs::path(savepoint) / "_metadata"));
  EXPECT_TRUE(fs::exists(in_flight));
  EXPECT_EQ(storage.latest_completed(), storage.checkpoint_folder(6));

  // Completing a savepoint applies no retention.
  write_checkpoint(storage, 8, /*savepoint=*/true);
  EXPECT_TRUE(fs::exists(storage.checkpoint_folder(5)));
}

TEST_F(CheckpointStorageTest, RetentionOfOneKeepsOnlyTheLatest) {
  CheckpointStorage storage(root_.string(), 1);
  for (int64_t id = 1; id <= 4; ++id) write_checkpoint(storage, id);
  EXPECT_FALSE(fs::exists(storage.checkpoint_folder(3)));
  EXPECT_TRUE(fs::exists(storage.checkpoint_folder(4)));
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 1);
}

TEST_F(CheckpointStorageTest, IdsAreNeverReused) {
  CheckpointStorage storage(root_.string(), 1);
  storage.begin(7, false, 0);  // incomplete
  EXPECT_EQ(storage.max_checkpoint_id(), 7);
  EXPECT_THROW(storage.begin(7, false, 0), Error);
  storage.begin(9, true, 123);
  EXPECT_EQ(storage.max_checkpoint_id(), 9);
  // Names that are not checkpoint folders do not count.
  fs::create_directory(path("chk-x"));
  fs::create_directory(path("chk-"));
  fs::create_directory(path("chk--20"));
  fs::create_directory(path("savepoint-30"));
  fs::create_directory(path("other-40"));
  write_bytes(path("chk-50"), "a file");
  EXPECT_EQ(storage.max_checkpoint_id(), 9);
  // A new storage on the same directory (a restarted job) sees the same.
  EXPECT_EQ(CheckpointStorage(root_.string(), 1).max_checkpoint_id(), 9);
}

TEST_F(CheckpointStorageTest, DiscardRemovesAFolderAndNeverThrows) {
  CheckpointStorage storage(root_.string(), 1);
  std::string folder = storage.begin(1, false, 0);
  storage.write_state_file(folder, "op0-0.state", sample_state());
  storage.discard(folder);
  EXPECT_FALSE(fs::exists(folder));
  storage.discard(folder);
  storage.discard(path("never/existed"));
  EXPECT_EQ(storage.max_checkpoint_id(), 0);
}

TEST_F(CheckpointStorageTest, RejectsBadSettingsAndFileNames) {
  EXPECT_THROW(CheckpointStorage(root_.string(), 0), InvalidJobError);
  EXPECT_THROW(CheckpointStorage("", 1), InvalidJobError);
  write_bytes(path("a-file"), "");
  EXPECT_THROW(CheckpointStorage(path("a-file/sub"), 1), Error);

  CheckpointStorage storage(root_.string(), 1);
  std::string folder = storage.begin(1, false, 0);
  EXPECT_THROW(storage.write_state_file(folder, "_metadata", {}), Error);
  EXPECT_THROW(storage.write_state_file(folder, "../escape", {}), Error);
  EXPECT_THROW(storage.begin(0, false, 0), Error);
}

}  // namespace
}  // namespace eddy::checkpoint
