#include "nn/data/registry.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/data/loaders.hpp"

namespace murmur::nn::data {
namespace {

namespace fs = std::filesystem;

void expectLabelsInRange(const Dataset& d) {
  ASSERT_EQ(d.labels.size(), static_cast<size_t>(d.n));
  std::vector<int> perClass(10, 0);
  for (int32_t l : d.labels) {
    ASSERT_GE(l, 0);
    ASSERT_LT(l, 10);
    ++perClass[static_cast<size_t>(l)];
  }
  for (int count : perClass) EXPECT_GT(count, 0);
}

// Mean and std of the normalised training images should be close to 0 and 1.
void expectStandardised(const Dataset& d, int channel) {
  const size_t plane = static_cast<size_t>(d.h) * d.w;
  double sum = 0, sq = 0;
  size_t count = 0;
  for (int i = 0; i < d.n; i += 7) {
    const float* p = d.images.data() + (static_cast<size_t>(i) * d.c + channel) * plane;
    for (size_t k = 0; k < plane; ++k) {
      sum += p[k];
      sq += static_cast<double>(p[k]) * p[k];
    }
    count += plane;
  }
  const double mean = sum / static_cast<double>(count);
  const double sd = std::sqrt(sq / static_cast<double>(count) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02) << "channel " << channel;
  EXPECT_NEAR(sd, 1.0, 0.03) << "channel " << channel;
}

TEST(Registry, KnowsTheDatasets) {
  EXPECT_EQ(datasetNames(), (std::vector<std::string>{"fashion-mnist", "mnist", "cifar10"}));
  EXPECT_EQ(datasetSpec("cifar10").c, 3);
  EXPECT_TRUE(datasetSpec("cifar10").trainAugment.has_value());
  EXPECT_FALSE(datasetSpec("mnist").trainAugment.has_value());
  try {
    datasetSpec("imagenet");
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("imagenet"), std::string::npos);
    EXPECT_NE(what.find("fashion-mnist"), std::string::npos);
  }
}

TEST(Registry, OverridePathWinsAndMissingDirIsNamed) {
  const fs::path missing = fs::temp_directory_path() / "murmur_no_such_dataset_dir";
  EXPECT_EQ(datasetDir(datasetSpec("mnist"), missing), missing);
  try {
    loadDataset("mnist", Split::kTrain, missing);
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(missing.string()), std::string::npos) << what;
    EXPECT_NE(what.find("MURMUR_MNIST_DIR"), std::string::npos) << what;
  }
}

TEST(Registry, RealFashionMnist) {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found";
  const Dataset train = loadDataset("fashion-mnist", Split::kTrain, dir);
  EXPECT_EQ(train.n, 60000);
  EXPECT_EQ(train.c, 1);
  EXPECT_EQ(train.h, 28);
  EXPECT_EQ(train.w, 28);
  expectLabelsInRange(train);
  expectStandardised(train, 0);
  const Dataset test = loadDataset("fashion-mnist", Split::kTest, dir);
  EXPECT_EQ(test.n, 10000);
  expectLabelsInRange(test);

  // The compact form reads back the same normalised samples.
  const ByteDataset bytes = loadDatasetBytes("fashion-mnist", Split::kTest, dir);
  ASSERT_EQ(bytes.n, test.n);
  EXPECT_EQ(bytes.labels, test.labels);
  const ByteDatasetSource source(bytes, datasetSpec("fashion-mnist").norm);
  std::vector<float> sample(source.sampleSize());
  for (size_t i : {size_t{0}, size_t{4321}, size_t{9999}}) {
    source.copySample(i, sample);
    const auto expected = test.image(i);
    for (size_t k = 0; k < sample.size(); ++k) ASSERT_FLOAT_EQ(sample[k], expected[k]) << i;
  }
}

fs::path mnistDir() {
  if (const char* env = std::getenv("MURMUR_MNIST_DIR"); env != nullptr && *env != '\0') return env;
  return "/work/shared/data/mnist";
}

TEST(Registry, RealMnist) {
  const fs::path dir = mnistDir();
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found";
  const Dataset test = loadDataset("mnist", Split::kTest, dir);
  EXPECT_EQ(test.n, 10000);
  expectLabelsInRange(test);
  const Dataset train = loadDataset("mnist", Split::kTrain, dir);
  EXPECT_EQ(train.n, 60000);
  expectStandardised(train, 0);
}

fs::path cifarDir() {
  if (const char* env = std::getenv("MURMUR_CIFAR10_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* src = std::getenv("MURMUR_SOURCE_DIR");
  return fs::path(src != nullptr ? src : ".") / "data" / "cifar10";
}

TEST(Registry, RealCifar10) {
  const fs::path dir = cifarDir();
  if (!fs::exists(dir / "test_batch.bin")) GTEST_SKIP() << dir << " not found";
  const Dataset test = loadDataset("cifar10", Split::kTest, dir);
  EXPECT_EQ(test.n, 10000);
  EXPECT_EQ(test.c, 3);
  expectLabelsInRange(test);
  // The JPEG copy's statistics are within 1% of the original release's standard values.
  for (int ch = 0; ch < 3; ++ch) expectStandardised(test, ch);
}

}  // namespace
}  // namespace murmur::nn::data
