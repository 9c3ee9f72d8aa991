#include "common/file_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.hpp"

namespace murmur {
namespace {

namespace fs = std::filesystem;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("murmur_file_io_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  size_t entries() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(FileIoTest, WritesAndReplacesWholeFiles) {
  const auto p = dir_ / "a.txt";
  writeFileAtomic(p, "first version\n");
  EXPECT_EQ(read(p), "first version\n");
  const std::string head = "second ";
  const std::string tail = "version";
  writeFileAtomic(
      p, {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(head.data()), head.size()),
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(tail.data()), tail.size())});
  EXPECT_EQ(read(p), "second version");
  EXPECT_EQ(entries(), 1u) << "no temp file may remain";
}

TEST_F(FileIoTest, FailureNamesThePathAndLeavesNothingBehind) {
  const auto p = dir_ / "missing" / "b.txt";
  try {
    writeFileAtomic(p, "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(), 0u);
}

TEST_F(FileIoTest, ReplacingADirectoryFailsAndKeepsIt) {
  const auto p = dir_ / "sub";
  fs::create_directories(p / "inside");
  EXPECT_THROW(writeFileAtomic(p, "x"), IoError);
  EXPECT_TRUE(fs::is_directory(p / "inside"));
  EXPECT_EQ(entries(), 1u) << "the temp file must be removed after the failed rename";
}

}  // namespace
}  // namespace murmur
