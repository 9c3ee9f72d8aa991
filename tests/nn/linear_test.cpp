#include <gtest/gtest.h>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::expectNear;
using testing::Harness;
using testing::randomVector;

class Linear : public ::testing::TestWithParam<bool> {};

TEST_P(Linear, ForwardAndBackwardMatchNaive) {
  const bool bias = GetParam();
  Harness hs;
  const int n = 5, out = 7;
  const Dims3 in{3, 2, 2};  // flattened: 12 features
  hs.attach(makeLinear(*hs.ctx, in, out, bias));
  ASSERT_EQ(hs.layer->outDims(), (Dims3{out, 1, 1}));
  ASSERT_EQ(hs.layer->paramSpecs()[0].shape, (std::vector<int64_t>{out, 12}));
  const auto& wt = hs.params[0];
  auto src = randomVector(hs.inSize(n), 1);
  auto diffDst = randomVector(hs.outSize(n), 2);
  std::vector<double> dst(size_t(n) * out), diffSrc(src.size(), 0.0), diffW(wt.size(), 0.0),
      diffB(size_t(out), 0.0);
  for (int b = 0; b < n; ++b)
    for (int o = 0; o < out; ++o) {
      double acc = bias ? hs.params[1][size_t(o)] : 0.0;
      const double g = diffDst[size_t(b) * out + o];
      diffB[size_t(o)] += g;
      for (int i = 0; i < 12; ++i) {
        acc += double(src[size_t(b) * 12 + i]) * wt[size_t(o) * 12 + i];
        diffSrc[size_t(b) * 12 + i] += g * wt[size_t(o) * 12 + i];
        diffW[size_t(o) * 12 + i] += g * src[size_t(b) * 12 + i];
      }
      dst[size_t(b) * out + o] = acc;
    }
  auto got = hs.forward(n, src);
  expectNear(got, dst, 1e-5, "dst");
  std::vector<float> gotDiff(src.size(), -7.f);
  hs.layer->backward(n, src.data(), got.data(), diffDst.data(), gotDiff.data());
  expectNear(gotDiff, diffSrc, 1e-5, "diff_src");
  expectNear(hs.grads[0], diffW, 1e-5, "diff_weights");
  if (bias) expectNear(hs.grads[1], diffB, 1e-5, "diff_bias");
  hs.checkGradients(n, src, 1e-2f, 1e-3, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Bias, Linear, ::testing::Values(true, false));

}  // namespace
}  // namespace murmur::nn
