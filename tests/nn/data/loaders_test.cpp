#include "nn/data/loaders.hpp"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "common/error.hpp"

namespace murmur::nn::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void putBe32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

Bytes idxImages(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  Bytes b;
  putBe32(b, magic);
  putBe32(b, n);
  putBe32(b, rows);
  putBe32(b, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) b.push_back(static_cast<uint8_t>((i * 7) % 256));
  return b;
}

Bytes idxLabels(uint32_t n, uint32_t magic = 0x801) {
  Bytes b;
  putBe32(b, magic);
  putBe32(b, n);
  for (uint32_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i % 10));
  return b;
}

class LoadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_loaders_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const Bytes& bytes) {
    const auto p = dir_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  fs::path writeGz(const std::string& name, const Bytes& bytes) {
    const auto p = dir_ / name;
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return p;
  }
  static Bytes readBytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Expects an InputError whose message names `file` and contains `needle`.
  template <typename F>
  void expectInputError(F&& f, const fs::path& file, const std::string& needle) {
    try {
      f();
      FAIL() << "no error; expected '" << needle << "'";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file.string()), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  }

  fs::path dir_;
};

void expectSmallIdx(const Dataset& d) {
  ASSERT_EQ(d.n, 12);
  EXPECT_EQ(d.c, 1);
  EXPECT_EQ(d.h, 3);
  EXPECT_EQ(d.w, 5);
  EXPECT_EQ(d.classes, 10);
  ASSERT_EQ(d.images.size(), 12u * 15u);
  ASSERT_EQ(d.labels.size(), 12u);
  for (size_t i = 0; i < d.images.size(); ++i) {
    ASSERT_FLOAT_EQ(d.images[i], static_cast<float>((i * 7) % 256) / 255.0f) << i;
  }
  for (size_t i = 0; i < d.labels.size(); ++i) EXPECT_EQ(d.labels[i], static_cast<int>(i % 10));
}

TEST_F(LoadersTest, IdxRaw) {
  expectSmallIdx(loadIdx(write("i", idxImages(12, 3, 5)), write("l", idxLabels(12))));
}

TEST_F(LoadersTest, IdxGzipDetectedByMagic) {
  // Names without .gz: detection is by content, not by file name.
  expectSmallIdx(loadIdx(writeGz("i", idxImages(12, 3, 5)), writeGz("l", idxLabels(12))));
}

TEST_F(LoadersTest, MnistLikeStandardNamesRawOrGz) {
  writeGz("train-images-idx3-ubyte.gz", idxImages(12, 3, 5));
  writeGz("train-labels-idx1-ubyte.gz", idxLabels(12));
  write("t10k-images-idx3-ubyte", idxImages(12, 3, 5));
  write("t10k-labels-idx1-ubyte", idxLabels(12));
  expectSmallIdx(loadMnistLike(dir_, true));
  expectSmallIdx(loadMnistLike(dir_, false));
  expectInputError([&] { loadMnistLike(dir_ / "absent", true); }, dir_ / "absent", "not found");
  fs::remove(dir_ / "t10k-labels-idx1-ubyte");
  expectInputError([&] { loadMnistLike(dir_, false); }, dir_, "t10k-labels-idx1-ubyte");
}

TEST_F(LoadersTest, IdxWrongMagic) {
  const auto labels = write("l", idxLabels(12));
  const auto images = write("i", idxImages(12, 3, 5, 0x801));
  expectInputError([&] { loadIdx(images, labels); }, images, "magic");
  const auto good = write("i2", idxImages(12, 3, 5));
  // Swapped arguments: each file has the other's magic.
  expectInputError([&] { loadIdx(labels, good); }, labels, "magic");
}

TEST_F(LoadersTest, IdxTruncatedRaw) {
  auto bytes = idxImages(12, 3, 5);
  bytes.resize(bytes.size() - 1);
  const auto images = write("i", bytes);
  const auto labels = write("l", idxLabels(12));
  expectInputError([&] { loadIdx(images, labels); }, images, "truncated");
  const auto header = write("h", Bytes{0, 0, 8, 3, 0, 0});
  expectInputError([&] { loadIdx(header, labels); }, header, "truncated");
}

TEST_F(LoadersTest, IdxTruncatedGzipStream) {
  const auto full = writeGz("full", idxImages(200, 28, 28));
  auto bytes = readBytes(full);
  bytes.resize(bytes.size() / 2);
  const auto images = write("i.gz", bytes);
  const auto labels = write("l", idxLabels(200));
  expectInputError([&] { loadIdx(images, labels); }, images, "truncated");
}

TEST_F(LoadersTest, IdxCorruptGzipStream) {
  const auto full = writeGz("full", idxImages(200, 28, 28));
  auto bytes = readBytes(full);
  for (size_t i = 12; i < bytes.size(); i += 3) bytes[i] = static_cast<uint8_t>(bytes[i] ^ 0x5a);
  const auto images = write("i.gz", bytes);
  const auto labels = write("l", idxLabels(200));
  expectInputError([&] { loadIdx(images, labels); }, images, "gzip");
}

TEST_F(LoadersTest, IdxTrailingBytes) {
  auto bytes = idxLabels(12);
  bytes.push_back(1);
  const auto labels = write("l", bytes);
  expectInputError([&] { loadIdx(write("i", idxImages(12, 3, 5)), labels); }, labels, "unexpected");
}

TEST_F(LoadersTest, IdxCountMismatch) {
  const auto images = write("i", idxImages(12, 3, 5));
  const auto labels = write("l", idxLabels(11));
  expectInputError([&] { loadIdx(images, labels); }, labels, "11 labels");
}

TEST_F(LoadersTest, IdxLabelOutOfRange) {
  auto bytes = idxLabels(12);
  bytes[8 + 5] = 10;
  const auto labels = write("l", bytes);
  expectInputError([&] { loadIdx(write("i", idxImages(12, 3, 5)), labels); }, labels, "label 10");
}

TEST_F(LoadersTest, MissingFile) {
  const auto labels = write("l", idxLabels(12));
  expectInputError([&] { loadIdx(dir_ / "none", labels); }, dir_ / "none", "not found");
}

Bytes cifarRecords(int count, int firstLabel) {
  Bytes b;
  for (int r = 0; r < count; ++r) {
    b.push_back(static_cast<uint8_t>((firstLabel + r) % 10));
    for (int k = 0; k < 3072; ++k) b.push_back(static_cast<uint8_t>((r * 31 + k) % 256));
  }
  return b;
}

TEST_F(LoadersTest, CifarBinaryAcrossFiles) {
  const auto a = write("a.bin", cifarRecords(3, 0));
  const auto b = write("b.bin", cifarRecords(2, 5));
  const Dataset d = loadCifarBinary({a, b});
  ASSERT_EQ(d.n, 5);
  EXPECT_EQ(d.c, 3);
  EXPECT_EQ(d.h, 32);
  EXPECT_EQ(d.w, 32);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 1, 2, 5, 6}));
  // Record 1 of file b is sample 4; channel 1 (G), pixel (2, 3) is byte 1024 + 2*32 + 3.
  const size_t k = 1024 + 2 * 32 + 3;
  EXPECT_FLOAT_EQ(d.images[4 * 3072 + k], static_cast<float>((1 * 31 + k) % 256) / 255.0f);
}

TEST_F(LoadersTest, Cifar10StandardNames) {
  for (int i = 1; i <= 5; ++i) {
    write("data_batch_" + std::to_string(i) + ".bin", cifarRecords(2, i));
  }
  write("test_batch.bin", cifarRecords(4, 0));
  EXPECT_EQ(loadCifar10(dir_, true).n, 10);
  EXPECT_EQ(loadCifar10(dir_, false).n, 4);
  fs::remove(dir_ / "data_batch_3.bin");
  expectInputError([&] { loadCifar10(dir_, true); }, dir_ / "data_batch_3.bin", "not found");
}

TEST_F(LoadersTest, CifarRecordSizeAndLabelRange) {
  auto bytes = cifarRecords(2, 0);
  bytes.pop_back();
  const auto cut = write("cut.bin", bytes);
  expectInputError([&] { loadCifarBinary({cut}); }, cut, "3073");
  bytes = cifarRecords(2, 0);
  bytes[3073] = 12;
  const auto badLabel = write("label.bin", bytes);
  expectInputError([&] { loadCifarBinary({badLabel}); }, badLabel, "label 12");
  const auto empty = write("empty.bin", {});
  expectInputError([&] { loadCifarBinary({empty}); }, empty, "records");
}

}  // namespace
}  // namespace murmur::nn::data
