#include <gtest/gtest.h>

#include <cmath>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::expectNear;
using testing::Harness;
using testing::randomVector;

TEST(BatchNorm2d, DeclaresParamsAndBuffers) {
  Harness hs;
  hs.attach(makeBatchNorm2d(*hs.ctx, {3, 4, 4}));
  auto ps = hs.layer->paramSpecs();
  auto bs = hs.layer->bufferSpecs();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].name, "weight");
  EXPECT_EQ(ps[0].init, Init::kOnes);
  EXPECT_EQ(ps[1].name, "bias");
  ASSERT_EQ(bs.size(), 2u);
  EXPECT_EQ(bs[0].name, "running_mean");
  EXPECT_EQ(bs[1].name, "running_var");
  EXPECT_EQ(bs[1].init, Init::kOnes);
}

TEST(BatchNorm2d, TrainingForwardBackwardAndRunningStatsMatchNaive) {
  Harness hs;
  const int n = 3, c = 4, h = 3, w = 5;
  const double eps = 1e-5, momentum = 0.1;
  hs.attach(makeBatchNorm2d(*hs.ctx, {c, h, w}));
  auto src = randomVector(hs.inSize(n), 1, 2.f);
  for (size_t i = 0; i < src.size(); ++i) src[i] += float((i / (h * w)) % c);  // per-channel offset
  auto diffDst = randomVector(hs.outSize(n), 2);
  const auto& gamma = hs.params[0];
  const auto& beta = hs.params[1];
  const int m = n * h * w;
  std::vector<double> dst(src.size()), diffSrc(src.size()), dGamma(c), dBeta(c), rm(c), rv(c);
  auto at = [&](int b, int ch, int j) { return (size_t(b) * c + ch) * h * w + j; };
  for (int ch = 0; ch < c; ++ch) {
    double mean = 0, var = 0;
    for (int b = 0; b < n; ++b)
      for (int j = 0; j < h * w; ++j) mean += src[at(b, ch, j)];
    mean /= m;
    for (int b = 0; b < n; ++b)
      for (int j = 0; j < h * w; ++j) var += std::pow(src[at(b, ch, j)] - mean, 2);
    var /= m;
    const double inv = 1.0 / std::sqrt(var + eps);
    double sg = 0, sgx = 0;
    for (int b = 0; b < n; ++b)
      for (int j = 0; j < h * w; ++j) {
        const double xh = (src[at(b, ch, j)] - mean) * inv;
        dst[at(b, ch, j)] = gamma[size_t(ch)] * xh + beta[size_t(ch)];
        sg += diffDst[at(b, ch, j)];
        sgx += diffDst[at(b, ch, j)] * xh;
      }
    dGamma[size_t(ch)] = sgx;
    dBeta[size_t(ch)] = sg;
    for (int b = 0; b < n; ++b)
      for (int j = 0; j < h * w; ++j) {
        const double xh = (src[at(b, ch, j)] - mean) * inv;
        diffSrc[at(b, ch, j)] =
            gamma[size_t(ch)] * inv / m * (m * diffDst[at(b, ch, j)] - sg - xh * sgx);
      }
    rm[size_t(ch)] = momentum * mean;
    rv[size_t(ch)] = (1 - momentum) * 1.0 + momentum * var * m / (m - 1);
  }
  auto got = hs.forward(n, src, true);
  expectNear(got, dst, 1e-4, "dst");
  expectNear(hs.buffers[0], rm, 1e-5, "running_mean");
  expectNear(hs.buffers[1], rv, 1e-5, "running_var");
  std::vector<float> gotDiff(src.size(), -7.f);
  hs.layer->backward(n, src.data(), got.data(), diffDst.data(), gotDiff.data());
  expectNear(gotDiff, diffSrc, 1e-4, "diff_src");
  expectNear(hs.grads[0], dGamma, 1e-4, "diff_scale");
  expectNear(hs.grads[1], dBeta, 1e-4, "diff_shift");

  // Inference uses the running statistics and leaves them alone.
  auto inf = hs.forward(n, src, false);
  std::vector<double> expect(src.size());
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int j = 0; j < h * w; ++j)
        expect[at(b, ch, j)] = gamma[size_t(ch)] * (src[at(b, ch, j)] - rm[size_t(ch)]) /
                                   std::sqrt(rv[size_t(ch)] + eps) +
                               beta[size_t(ch)];
  expectNear(inf, expect, 1e-4, "inference dst");
  expectNear(hs.buffers[0], rm, 1e-5, "running_mean after inference");
}

TEST(BatchNorm2d, GradientsMatchFiniteDifferences) {
  Harness hs;
  hs.attach(makeBatchNorm2d(*hs.ctx, {3, 2, 3}));
  hs.checkGradients(4, randomVector(hs.inSize(4), 3), 1e-2f, 2e-3, 1e-2);
}

}  // namespace
}  // namespace murmur::nn
