#include "nn/data/dataset.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::nn::data {
namespace {

ByteDataset smallBytes() {
  ByteDataset b;
  b.n = 3;
  b.c = 2;
  b.h = 2;
  b.w = 3;
  b.classes = 4;
  for (size_t i = 0; i < 3 * 2 * 2 * 3; ++i) b.pixels.push_back(static_cast<uint8_t>(i * 23 % 256));
  b.labels = {3, 0, 2};
  return b;
}

TEST(Dataset, ToFloatScalesBytes) {
  const ByteDataset b = smallBytes();
  const Dataset d = toFloat(b);
  EXPECT_EQ(d.n, 3);
  EXPECT_EQ(d.sampleSize(), 12u);
  ASSERT_EQ(d.images.size(), b.pixels.size());
  for (size_t i = 0; i < b.pixels.size(); ++i) {
    EXPECT_FLOAT_EQ(d.images[i], static_cast<float>(b.pixels[i]) / 255.0f);
  }
  EXPECT_EQ(d.labels, b.labels);
}

TEST(Dataset, NormalizeIsPerChannel) {
  Dataset d = toFloat(smallBytes());
  const Dataset raw = d;
  const Normalization norm{{0.5f, 0.25f}, {0.5f, 2.0f}};
  normalize(d, norm);
  for (size_t i = 0; i < 3; ++i) {
    for (size_t ch = 0; ch < 2; ++ch) {
      for (size_t k = 0; k < 6; ++k) {
        const size_t at = (i * 2 + ch) * 6 + k;
        EXPECT_FLOAT_EQ(d.images[at], (raw.images[at] - norm.mean[ch]) / norm.std[ch]);
      }
    }
  }
  EXPECT_THROW(normalize(d, Normalization{{0.5f}, {0.5f}}), InputError);
  EXPECT_THROW(normalize(d, Normalization{{0.5f, 0.5f}, {0.5f, 0.0f}}), InputError);
}

TEST(Dataset, ByteSourceMatchesEagerNormalisation) {
  const ByteDataset b = smallBytes();
  const Normalization norm{{0.4914f, 0.4822f}, {0.2470f, 0.2435f}};
  Dataset eager = toFloat(b);
  normalize(eager, norm);
  const ByteDatasetSource bytes(b, norm);
  const DatasetSource floats(eager);
  ASSERT_EQ(bytes.size(), 3u);
  EXPECT_EQ(bytes.channels(), 2);
  EXPECT_EQ(bytes.classes(), 4);
  std::vector<float> x(12), y(12);
  for (size_t i = 0; i < 3; ++i) {
    bytes.copySample(i, x);
    floats.copySample(i, y);
    for (size_t k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(x[k], y[k]) << i << "," << k;
    EXPECT_EQ(bytes.label(i), floats.label(i));
  }
  EXPECT_EQ(bytes.allLabels(), b.labels);
}

TEST(Dataset, ValidateNamesTheProblem) {
  Dataset d = toFloat(smallBytes());
  EXPECT_NO_THROW(validate(d, "small"));
  d.labels[1] = 4;
  try {
    validate(d, "small");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("small"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("label 4"), std::string::npos);
  }
  d.labels[1] = 0;
  d.images.pop_back();
  EXPECT_THROW(validate(d, "small"), InputError);
}

}  // namespace
}  // namespace murmur::nn::data
