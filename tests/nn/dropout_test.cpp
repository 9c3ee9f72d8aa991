#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::randomVector;

TEST(Dropout, TrainingMasksAndScalesAndBackwardUsesTheSameMask) {
  const Dims3 d{4, 5, 5};
  const int n = 8;
  const float p = 0.3f;
  auto layer = makeDropout(d, p, false, 123);
  auto src = randomVector(size_t(n) * d.size(), 1);
  std::vector<float> dst(src.size());
  layer->forward(n, src.data(), dst.data(), true);
  size_t dropped = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    if (dst[i] == 0.f) {
      ++dropped;
    } else {
      EXPECT_FLOAT_EQ(dst[i], src[i] / (1.f - p));
    }
  }
  const double frac = double(dropped) / double(src.size());
  EXPECT_NEAR(frac, p, 0.06);
  auto diffDst = randomVector(src.size(), 2);
  std::vector<float> diffSrc(src.size());
  layer->backward(n, src.data(), dst.data(), diffDst.data(), diffSrc.data());
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_FLOAT_EQ(diffSrc[i], dst[i] == 0.f ? 0.f : diffDst[i] / (1.f - p));
  }
}

TEST(Dropout, ChannelwiseDropsWholeFeatureMaps) {
  const Dims3 d{6, 3, 3};
  const int n = 10;
  auto layer = makeDropout(d, 0.5f, true, 5);
  std::vector<float> src(size_t(n) * d.size(), 1.f), dst(src.size());
  layer->forward(n, src.data(), dst.data(), true);
  size_t droppedMaps = 0;
  for (int m = 0; m < n * d.c; ++m) {
    const float first = dst[size_t(m) * 9];
    for (int j = 0; j < 9; ++j) EXPECT_EQ(dst[size_t(m) * 9 + j], first);
    EXPECT_TRUE(first == 0.f || first == 2.f);
    droppedMaps += first == 0.f;
  }
  EXPECT_GT(droppedMaps, 10u);
  EXPECT_LT(droppedMaps, 50u);
}

TEST(Dropout, SeededDeterministicAndReseedable) {
  const Dims3 d{3, 4, 4};
  auto a = makeDropout(d, 0.5f, false, 7);
  auto b = makeDropout(d, 0.5f, false, 7);
  auto c = makeDropout(d, 0.5f, false, 8);
  auto src = randomVector(2 * d.size(), 1);
  std::vector<float> da(src.size()), db(src.size()), dc(src.size());
  a->forward(2, src.data(), da.data(), true);
  b->forward(2, src.data(), db.data(), true);
  c->forward(2, src.data(), dc.data(), true);
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
  // Successive steps draw new masks; reseeding replays them.
  std::vector<float> da2(src.size());
  a->forward(2, src.data(), da2.data(), true);
  EXPECT_NE(da, da2);
  a->reseed(7);
  a->forward(2, src.data(), da2.data(), true);
  EXPECT_EQ(da, da2);
}

TEST(Dropout, InferenceIsIdentity) {
  const Dims3 d{2, 3, 3};
  auto layer = makeDropout(d, 0.5f, false, 1);
  auto src = randomVector(3 * d.size(), 1);
  std::vector<float> dst(src.size());
  layer->forward(3, src.data(), dst.data(), false);
  EXPECT_EQ(src, dst);
}

TEST(Dropout, RejectsBadProbability) {
  EXPECT_THROW(makeDropout({1, 1, 1}, 1.f, false, 1), InputError);
  EXPECT_THROW(makeDropout({1, 1, 1}, -0.1f, false, 1), InputError);
}

}  // namespace
}  // namespace murmur::nn
