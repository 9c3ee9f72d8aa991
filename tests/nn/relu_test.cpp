#include <gtest/gtest.h>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::expectNear;
using testing::Harness;
using testing::randomVector;

TEST(ReLU, ForwardAndBackwardMatchNaive) {
  Harness hs;
  hs.attach(makeReLU(*hs.ctx, {3, 5, 4}));
  const int n = 3;
  auto src = randomVector(hs.inSize(n), 1);
  auto diffDst = randomVector(hs.outSize(n), 2);
  std::vector<double> dst(src.size()), diffSrc(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    dst[i] = src[i] > 0 ? src[i] : 0.0;
    diffSrc[i] = src[i] > 0 ? diffDst[i] : 0.0;
  }
  auto got = hs.forward(n, src);
  expectNear(got, dst, 0, "dst");
  std::vector<float> gotDiff(src.size(), -7.f);
  hs.layer->backward(n, src.data(), got.data(), diffDst.data(), gotDiff.data());
  expectNear(gotDiff, diffSrc, 0, "diff_src");
}

TEST(ReLU, GradientsMatchFiniteDifferences) {
  Harness hs;
  hs.attach(makeReLU(*hs.ctx, {2, 3, 3}));
  // Keep inputs away from the kink so central differences are exact.
  auto src = randomVector(hs.inSize(2), 4);
  for (auto& v : src) v += v > 0 ? 0.1f : -0.1f;
  hs.checkGradients(2, src, 1e-2f, 1e-4, 1e-3);
}

TEST(Flatten, IsAViewWithFlatOutput) {
  auto f = makeFlatten({4, 3, 2});
  EXPECT_TRUE(f->isView());
  EXPECT_EQ(f->outDims(), (Dims3{24, 1, 1}));
  std::vector<float> src = randomVector(48, 1), dst(48);
  f->forward(2, src.data(), dst.data(), true);
  EXPECT_EQ(src, dst);
  std::vector<float> diff(48);
  f->backward(2, src.data(), dst.data(), src.data(), diff.data());
  EXPECT_EQ(src, diff);
}

}  // namespace
}  // namespace murmur::nn
