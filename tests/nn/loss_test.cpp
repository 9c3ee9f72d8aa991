#include "nn/loss.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::randomVector;

TEST(SoftmaxCrossEntropy, MatchesNaiveAndFiniteDifferences) {
  const int batch = 5, classes = 7;
  auto logits = randomVector(size_t(batch) * classes, 1, 3.f);
  std::vector<int32_t> labels{0, 6, 3, 3, 1};
  std::vector<float> diff(logits.size());
  int correct = -1;
  const float loss =
      softmaxCrossEntropy(logits.data(), labels.data(), batch, classes, diff.data(), &correct);
  double expect = 0;
  int hits = 0;
  for (int b = 0; b < batch; ++b) {
    const float* r = &logits[size_t(b) * classes];
    double s = 0;
    for (int k = 0; k < classes; ++k) s += std::exp(double(r[k]));
    expect += std::log(s) - r[labels[size_t(b)]];
    int arg = 0;
    for (int k = 1; k < classes; ++k) arg = r[k] > r[arg] ? k : arg;
    hits += arg == labels[size_t(b)];
    for (int k = 0; k < classes; ++k) {
      const double g = (std::exp(double(r[k])) / s - (k == labels[size_t(b)])) / batch;
      EXPECT_NEAR(diff[size_t(b) * classes + k], g, 1e-6);
    }
  }
  EXPECT_NEAR(loss, expect / batch, 1e-5);
  EXPECT_EQ(correct, hits);
  for (size_t i = 0; i < logits.size(); i += 3) {
    const float orig = logits[i];
    const float h = 1e-2f;
    logits[i] = orig + h;
    const double lp =
        softmaxCrossEntropy(logits.data(), labels.data(), batch, classes, nullptr, nullptr);
    logits[i] = orig - h;
    const double lm =
        softmaxCrossEntropy(logits.data(), labels.data(), batch, classes, nullptr, nullptr);
    logits[i] = orig;
    EXPECT_NEAR(diff[i], (lp - lm) / (2 * h), 2e-4);
  }
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  std::vector<float> logits{1000.f, 0.f, -1000.f};
  std::vector<int32_t> labels{0};
  std::vector<float> diff(3);
  EXPECT_NEAR(softmaxCrossEntropy(logits.data(), labels.data(), 1, 3, diff.data(), nullptr), 0.f,
              1e-6);
  labels[0] = 2;
  const float l = softmaxCrossEntropy(logits.data(), labels.data(), 1, 3, diff.data(), nullptr);
  EXPECT_NEAR(l, 2000.f, 1e-2);
  EXPECT_NEAR(diff[0], 1.f, 1e-6);
  EXPECT_NEAR(diff[2], -1.f, 1e-6);
}

TEST(SoftmaxCrossEntropy, RejectsOutOfRangeLabels) {
  std::vector<float> logits(4, 0.f);
  std::vector<int32_t> labels{0, 2};
  EXPECT_THROW(softmaxCrossEntropy(logits.data(), labels.data(), 2, 2, nullptr, nullptr),
               InputError);
  labels[1] = -1;
  EXPECT_THROW(softmaxCrossEntropy(logits.data(), labels.data(), 2, 2, nullptr, nullptr),
               InputError);
}

}  // namespace
}  // namespace murmur::nn
