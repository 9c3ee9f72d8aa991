#include <gtest/gtest.h>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::expectNear;
using testing::Harness;
using testing::randomVector;

struct ConvCase {
  int n, c, h, w, oc, k, stride, pad;
  bool bias;
};

class Conv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv, ForwardAndBackwardMatchNaiveLoops) {
  const ConvCase p = GetParam();
  Harness hs;
  hs.attach(makeConv2d(*hs.ctx, {p.c, p.h, p.w}, p.oc, p.k, p.stride, p.pad, p.bias));
  const Dims3 out = hs.layer->outDims();
  ASSERT_EQ(out.c, p.oc);
  ASSERT_EQ(out.h, (p.h + 2 * p.pad - p.k) / p.stride + 1);
  ASSERT_EQ(out.w, (p.w + 2 * p.pad - p.k) / p.stride + 1);
  const auto& wt = hs.params[0];
  auto src = randomVector(hs.inSize(p.n), 11);
  auto diffDst = randomVector(hs.outSize(p.n), 12);

  auto sIdx = [&](int n, int c, int y, int x) {
    return ((size_t(n) * p.c + c) * p.h + y) * p.w + x;
  };
  auto dIdx = [&](int n, int c, int y, int x) {
    return ((size_t(n) * p.oc + c) * out.h + y) * out.w + x;
  };
  auto wIdx = [&](int o, int c, int y, int x) {
    return ((size_t(o) * p.c + c) * p.k + y) * p.k + x;
  };

  std::vector<double> dst(hs.outSize(p.n)), diffSrc(hs.inSize(p.n), 0.0), diffW(wt.size(), 0.0),
      diffB(size_t(p.oc), 0.0);
  for (int n = 0; n < p.n; ++n)
    for (int o = 0; o < p.oc; ++o)
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox) {
          double acc = p.bias ? hs.params[1][size_t(o)] : 0.0;
          const double g = diffDst[dIdx(n, o, oy, ox)];
          diffB[size_t(o)] += g;
          for (int c = 0; c < p.c; ++c)
            for (int ky = 0; ky < p.k; ++ky)
              for (int kx = 0; kx < p.k; ++kx) {
                const int y = oy * p.stride - p.pad + ky, x = ox * p.stride - p.pad + kx;
                if (y < 0 || y >= p.h || x < 0 || x >= p.w) continue;
                acc += double(src[sIdx(n, c, y, x)]) * wt[wIdx(o, c, ky, kx)];
                diffSrc[sIdx(n, c, y, x)] += g * wt[wIdx(o, c, ky, kx)];
                diffW[wIdx(o, c, ky, kx)] += g * src[sIdx(n, c, y, x)];
              }
          dst[dIdx(n, o, oy, ox)] = acc;
        }

  auto got = hs.forward(p.n, src);
  expectNear(got, dst, 1e-4, "dst");
  std::vector<float> gotDiffSrc(src.size(), -7.f);
  hs.layer->backward(p.n, src.data(), got.data(), diffDst.data(), gotDiffSrc.data());
  expectNear(gotDiffSrc, diffSrc, 1e-4, "diff_src");
  expectNear(hs.grads[0], diffW, 1e-4, "diff_weights");
  if (p.bias) expectNear(hs.grads[1], diffB, 1e-4, "diff_bias");

  // Without diff_src (first layer of a net) the weight gradients are still right.
  std::fill(hs.grads[0].begin(), hs.grads[0].end(), -7.f);
  hs.forward(p.n, src);
  hs.layer->backward(p.n, src.data(), got.data(), diffDst.data(), nullptr);
  expectNear(hs.grads[0], diffW, 1e-4, "diff_weights without diff_src");
}

TEST_P(Conv, GradientsMatchFiniteDifferences) {
  const ConvCase p = GetParam();
  Harness hs;
  hs.attach(makeConv2d(*hs.ctx, {p.c, p.h, p.w}, p.oc, p.k, p.stride, p.pad, p.bias));
  hs.checkGradients(p.n, randomVector(hs.inSize(p.n), 5), 1e-2f, 5e-3, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv,
                         ::testing::Values(ConvCase{2, 3, 7, 6, 4, 3, 1, 1, true},
                                           ConvCase{3, 2, 9, 9, 5, 3, 2, 0, true},
                                           ConvCase{2, 1, 8, 8, 6, 5, 1, 2, true},
                                           ConvCase{2, 16, 8, 8, 32, 1, 2, 0, false},
                                           ConvCase{2, 16, 6, 6, 16, 3, 1, 1, false}));

TEST(Conv, BatchSizesAreIndependentPlans) {
  Harness hs;
  hs.attach(makeConv2d(*hs.ctx, {3, 6, 6}, 8, 3, 1, 1, true));
  auto src = randomVector(hs.inSize(5), 3);
  auto big = hs.forward(5, src);
  auto small = hs.forward(2, src);
  for (size_t i = 0; i < small.size(); ++i) EXPECT_NEAR(small[i], big[i], 1e-5f);
  // Weights changed after the plan was built: the next forward sees the new values.
  for (auto& v : hs.params[0]) v *= 2.f;
  for (auto& v : hs.params[1]) v *= 2.f;
  auto doubled = hs.forward(2, src);
  for (size_t i = 0; i < small.size(); ++i) EXPECT_NEAR(doubled[i], 2.f * small[i], 1e-4f);
}

}  // namespace
}  // namespace murmur::nn
