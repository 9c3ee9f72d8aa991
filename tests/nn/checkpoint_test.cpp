#include "nn/checkpoint.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::nn {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_ckpt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Checkpoint sample(size_t numel = 1000) {
    Checkpoint c;
    c.model = "mnist-cnn";
    c.fingerprint = 0x0123456789abcdefull;
    c.step = 4242;
    c.epoch = 7;
    for (size_t i = 0; i < numel; ++i) c.params.push_back(static_cast<float>(i) * 0.5f - 3.0f);
    c.buffers = {1.5f, -2.5f};
    c.optimizerState.assign(numel, 0.25f);
    c.meta = {{"method", "eventgrad"}, {"node", "3"}, {"empty", ""}};
    return c;
  }

  static std::vector<char> readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void writeAll(const fs::path& p, const std::vector<char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // Loads and expects an InputError whose message contains the path and `needle`.
  static void expectRefused(const fs::path& p, const std::string& needle) {
    try {
      loadCheckpoint(p);
      FAIL() << "loaded a broken checkpoint; expected '" << needle << "'";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(p.string()), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  }

  size_t filesIn() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  fs::path dir_;
};

TEST_F(CheckpointTest, RoundTripPreservesEverything) {
  const auto path = dir_ / "checkpoint.bin";
  const Checkpoint c = sample();
  saveCheckpoint(path, c);
  const Checkpoint back = loadCheckpoint(path);
  EXPECT_EQ(back.model, c.model);
  EXPECT_EQ(back.fingerprint, c.fingerprint);
  EXPECT_EQ(back.step, c.step);
  EXPECT_EQ(back.epoch, c.epoch);
  EXPECT_EQ(back.params, c.params);
  EXPECT_EQ(back.buffers, c.buffers);
  EXPECT_EQ(back.optimizerState, c.optimizerState);
  EXPECT_EQ(back.meta, c.meta);
  EXPECT_EQ(filesIn(), 1u) << "a temp file was left behind";
}

TEST_F(CheckpointTest, EmptyCheckpointRoundTrips) {
  const auto path = dir_ / "empty.bin";
  saveCheckpoint(path, Checkpoint{});
  const Checkpoint back = loadCheckpoint(path);
  EXPECT_TRUE(back.model.empty());
  EXPECT_TRUE(back.params.empty());
  EXPECT_TRUE(back.meta.empty());
}

TEST_F(CheckpointTest, OverwriteReplacesOldContent) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  Checkpoint c = sample(10);
  c.step = 99;
  saveCheckpoint(path, c);
  EXPECT_EQ(loadCheckpoint(path).step, 99);
  EXPECT_EQ(loadCheckpoint(path).params.size(), 10u);
  EXPECT_EQ(filesIn(), 1u);
}

TEST_F(CheckpointTest, RefusesMissingFile) { expectRefused(dir_ / "nope.bin", "no such file"); }

TEST_F(CheckpointTest, RefusesTruncatedFile) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  const auto bytes = readAll(path);
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{20}}) {
    writeAll(path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(keep)));
    expectRefused(path, "truncated");
  }
  writeAll(path, {});
  expectRefused(path, "magic");
}

TEST_F(CheckpointTest, RefusesWrongMagic) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  auto bytes = readAll(path);
  bytes[0] = 'X';
  writeAll(path, bytes);
  expectRefused(path, "magic");
}

TEST_F(CheckpointTest, RefusesWrongVersion) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  auto bytes = readAll(path);
  bytes[8] = static_cast<char>(kCheckpointVersion + 1);  // little-endian u32 after the magic
  writeAll(path, bytes);
  expectRefused(path, "version");
}

TEST_F(CheckpointTest, RefusesFlippedPayloadBit) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  const auto original = readAll(path);
  for (size_t at : {size_t{40}, original.size() / 2, original.size() - 1}) {
    auto bytes = original;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    writeAll(path, bytes);
    expectRefused(path, "checksum");
  }
}

TEST_F(CheckpointTest, RefusesTrailingGarbage) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample());
  auto bytes = readAll(path);
  bytes.push_back('!');
  writeAll(path, bytes);
  expectRefused(path, "trailing");
}

// A real write failure: the file size limit makes write() fail with EFBIG midway through the
// temp file. The old checkpoint must survive byte for byte and no temp file may remain.
TEST_F(CheckpointTest, FailedSaveLeavesOldFileIntact) {
  const auto path = dir_ / "checkpoint.bin";
  saveCheckpoint(path, sample(10));
  const auto before = readAll(path);

  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = old;
  limited.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  bool threw = false;
  try {
    saveCheckpoint(path, sample(100000));  // 800 KB: cannot fit under the limit
  } catch (const IoError& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, oldHandler);

  EXPECT_TRUE(threw);
  EXPECT_EQ(readAll(path), before);
  EXPECT_EQ(loadCheckpoint(path).params.size(), 10u);
  EXPECT_EQ(filesIn(), 1u) << "a temp file was left behind";
}

TEST_F(CheckpointTest, SaveIntoMissingDirectoryFails) {
  EXPECT_THROW(saveCheckpoint(dir_ / "no" / "such" / "dir" / "c.bin", sample(1)), IoError);
}

TEST_F(CheckpointTest, CompatibilityCheckNamesTheMismatch) {
  const Checkpoint c = sample(1);
  EXPECT_NO_THROW(checkCompatible(c, "mnist-cnn", 0x0123456789abcdefull, "ck.bin"));
  try {
    checkCompatible(c, "resnet20", 0x0123456789abcdefull, "ck.bin");
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mnist-cnn"), std::string::npos) << what;
    EXPECT_NE(what.find("resnet20"), std::string::npos) << what;
    EXPECT_NE(what.find("ck.bin"), std::string::npos) << what;
  }
  try {
    checkCompatible(c, "mnist-cnn", 1, "ck.bin");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fingerprint"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace murmur::nn
