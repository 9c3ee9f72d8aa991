#include <gtest/gtest.h>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::expectNear;
using testing::Harness;
using testing::randomVector;

struct PoolCase {
  int n, c, h, w, k, stride;
};
class MaxPool : public ::testing::TestWithParam<PoolCase> {};

TEST_P(MaxPool, ForwardAndBackwardMatchNaive) {
  const PoolCase p = GetParam();
  Harness hs;
  hs.attach(makeMaxPool2d(*hs.ctx, {p.c, p.h, p.w}, p.k, p.stride));
  const Dims3 out = hs.layer->outDims();
  ASSERT_EQ(out, (Dims3{p.c, (p.h - p.k) / p.stride + 1, (p.w - p.k) / p.stride + 1}));
  auto src = randomVector(hs.inSize(p.n), 1);
  auto diffDst = randomVector(hs.outSize(p.n), 2);
  std::vector<double> dst(hs.outSize(p.n)), diffSrc(src.size(), 0.0);
  for (int n = 0; n < p.n; ++n)
    for (int c = 0; c < p.c; ++c)
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox) {
          size_t best = 0;
          float mx = -1e30f;
          for (int ky = 0; ky < p.k; ++ky)
            for (int kx = 0; kx < p.k; ++kx) {
              size_t i =
                  ((size_t(n) * p.c + c) * p.h + oy * p.stride + ky) * p.w + ox * p.stride + kx;
              if (src[i] > mx) {
                mx = src[i];
                best = i;
              }
            }
          size_t o = ((size_t(n) * p.c + c) * out.h + oy) * out.w + ox;
          dst[o] = mx;
          diffSrc[best] += diffDst[o];
        }
  auto got = hs.forward(p.n, src);
  expectNear(got, dst, 0, "dst");
  std::vector<float> gotDiff(src.size(), -7.f);
  hs.layer->backward(p.n, src.data(), got.data(), diffDst.data(), gotDiff.data());
  expectNear(gotDiff, diffSrc, 1e-6, "diff_src");
}

TEST_P(MaxPool, GradientsMatchFiniteDifferences) {
  const PoolCase p = GetParam();
  Harness hs;
  hs.attach(makeMaxPool2d(*hs.ctx, {p.c, p.h, p.w}, p.k, p.stride));
  // Distinct, well-separated values so a small step never changes the argmax.
  auto src = randomVector(hs.inSize(p.n), 9);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float((i * 7919) % src.size()) * 0.1f;
  hs.checkGradients(p.n, src, 1e-2f, 1e-3, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MaxPool,
                         ::testing::Values(PoolCase{2, 3, 8, 8, 2, 2}, PoolCase{2, 2, 11, 11, 2, 2},
                                           PoolCase{1, 4, 7, 9, 3, 2}));

TEST(GlobalAvgPool, ForwardAndBackwardMatchNaive) {
  Harness hs;
  const int n = 3, c = 4, h = 5, w = 6;
  hs.attach(makeGlobalAvgPool(*hs.ctx, {c, h, w}));
  ASSERT_EQ(hs.layer->outDims(), (Dims3{c, 1, 1}));
  auto src = randomVector(hs.inSize(n), 1);
  auto diffDst = randomVector(hs.outSize(n), 2);
  std::vector<double> dst(size_t(n) * c, 0.0), diffSrc(src.size());
  for (int i = 0; i < n * c; ++i) {
    for (int j = 0; j < h * w; ++j) dst[size_t(i)] += src[size_t(i) * h * w + j] / double(h * w);
    for (int j = 0; j < h * w; ++j)
      diffSrc[size_t(i) * h * w + j] = diffDst[size_t(i)] / double(h * w);
  }
  auto got = hs.forward(n, src);
  expectNear(got, dst, 1e-5, "dst");
  std::vector<float> gotDiff(src.size(), -7.f);
  hs.layer->backward(n, src.data(), got.data(), diffDst.data(), gotDiff.data());
  expectNear(gotDiff, diffSrc, 1e-5, "diff_src");
  hs.checkGradients(n, src, 1e-2f, 1e-4, 1e-3);
}

}  // namespace
}  // namespace murmur::nn
