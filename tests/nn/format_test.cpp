// Layers in the blocked nChw16c and the NHWC formats must compute exactly what their NCHW
// versions compute (which the other tests check against naive loops): same dst, diff_src and
// gradients.
#include <gtest/gtest.h>

#include <functional>

#include "common/error.hpp"
#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::Harness;
using testing::randomVector;

// NCHW <-> nChw16c for C % 16 == 0.
std::vector<float> toBlocked(const std::vector<float>& x, int n, Dims3 d) {
  std::vector<float> y(x.size());
  const size_t hw = size_t(d.h) * d.w;
  for (int b = 0; b < n; ++b)
    for (int c = 0; c < d.c; ++c)
      for (size_t j = 0; j < hw; ++j)
        y[((size_t(b) * (d.c / 16) + c / 16) * hw + j) * 16 + c % 16] =
            x[(size_t(b) * d.c + c) * hw + j];
  return y;
}
std::vector<float> fromBlocked(const std::vector<float>& y, int n, Dims3 d) {
  std::vector<float> x(y.size());
  const size_t hw = size_t(d.h) * d.w;
  for (int b = 0; b < n; ++b)
    for (int c = 0; c < d.c; ++c)
      for (size_t j = 0; j < hw; ++j)
        x[(size_t(b) * d.c + c) * hw + j] =
            y[((size_t(b) * (d.c / 16) + c / 16) * hw + j) * 16 + c % 16];
  return x;
}

std::vector<float> toNhwc(const std::vector<float>& x, int n, Dims3 d) {
  std::vector<float> y(x.size());
  const size_t hw = size_t(d.h) * d.w;
  for (int b = 0; b < n; ++b)
    for (int c = 0; c < d.c; ++c)
      for (size_t j = 0; j < hw; ++j)
        y[(size_t(b) * hw + j) * d.c + c] = x[(size_t(b) * d.c + c) * hw + j];
  return y;
}
std::vector<float> fromNhwc(const std::vector<float>& y, int n, Dims3 d) {
  std::vector<float> x(y.size());
  const size_t hw = size_t(d.h) * d.w;
  for (int b = 0; b < n; ++b)
    for (int c = 0; c < d.c; ++c)
      for (size_t j = 0; j < hw; ++j)
        x[(size_t(b) * d.c + c) * hw + j] = y[(size_t(b) * hw + j) * d.c + c];
  return x;
}

void expectClose(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::abs(a[i] - b[i]) > 1e-4f * (1.f + std::abs(b[i])) && ++bad <= 5) {
      ADD_FAILURE() << what << "[" << i << "] " << a[i] << " vs " << b[i];
    }
  }
}

// make(srcFormat, dstFormat) builds the layer under test.
void checkSame(const std::function<std::unique_ptr<Layer>(Context&, Format, Format)>& make,
               bool srcBlocked, int n = 2, Format alt = Format::kBlocked16, bool dstAlt = true) {
  auto to = alt == Format::kNhwc ? toNhwc : toBlocked;
  auto from = alt == Format::kNhwc ? fromNhwc : fromBlocked;
  auto toBlocked = [&](const std::vector<float>& x, int nn, Dims3 d) {
    return dstAlt ? to(x, nn, d) : x;
  };
  auto fromBlockedDst = [&](const std::vector<float>& x, int nn, Dims3 d) {
    return dstAlt ? from(x, nn, d) : x;
  };
  Harness plain, blocked;
  plain.attach(make(*plain.ctx, Format::kNchw, Format::kNchw), 4);
  blocked.attach(make(*blocked.ctx, srcBlocked ? alt : Format::kNchw, alt), 4);
  const Dims3 in = plain.layer->inDims(), out = plain.layer->outDims();
  auto src = randomVector(plain.inSize(n), 1);
  auto diffDst = randomVector(plain.outSize(n), 2);
  auto bsrc = srcBlocked ? to(src, n, in) : src;
  for (bool training : {true, false}) {
    auto dst = plain.forward(n, src, training);
    auto bdst = blocked.forward(n, bsrc, training);
    expectClose(fromBlockedDst(bdst, n, out), dst, training ? "dst" : "inference dst");
  }
  auto dst = plain.forward(n, src, true);
  auto bdst = blocked.forward(n, bsrc, true);
  std::vector<float> diffSrc(src.size()), bdiffSrc(src.size());
  auto bdiffDst = toBlocked(diffDst, n, out);
  plain.layer->backward(n, src.data(), dst.data(), diffDst.data(), diffSrc.data());
  blocked.layer->backward(n, bsrc.data(), bdst.data(), bdiffDst.data(), bdiffSrc.data());
  expectClose(srcBlocked ? from(bdiffSrc, n, in) : bdiffSrc, diffSrc, "diff_src");
  for (size_t t = 0; t < plain.grads.size(); ++t)
    expectClose(blocked.grads[t], plain.grads[t], "grad");
  for (size_t t = 0; t < plain.buffers.size(); ++t)
    expectClose(blocked.buffers[t], plain.buffers[t], "buffer");
}

TEST(BlockedFormat, Conv) {
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {16, 6, 6}, 32, 3, 1, 1, true, {s, d});
      },
      true);
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {16, 6, 6}, 16, 1, 2, 0, false, {s, d});
      },
      true);
}
TEST(BlockedFormat, ConvFromPlainInput) {
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {3, 8, 8}, 16, 3, 1, 1, false, {s, d});
      },
      false);
}
TEST(BlockedFormat, BatchNormReluPool) {
  checkSame(
      [](Context& c, Format, Format d) {
        return makeBatchNorm2d(c, {32, 4, 4}, 0.1f, 1e-5f, d);
      },
      true);
  checkSame([](Context& c, Format, Format d) { return makeReLU(c, {16, 5, 5}, d); }, true);
  checkSame(
      [](Context& c, Format, Format d) {
        return makeMaxPool2d(c, {16, 6, 6}, 2, 2, d);
      },
      true);
  checkSame([](Context& c, Format, Format d) { return makeGlobalAvgPool(c, {32, 4, 4}, d); }, true);
}
TEST(BlockedFormat, BasicBlock) {
  checkSame(
      [](Context& c, Format, Format d) {
        return makeBasicBlock(c, {16, 8, 8}, 32, 2, d);
      },
      true);
  checkSame(
      [](Context& c, Format, Format d) {
        return makeBasicBlock(c, {16, 4, 4}, 16, 1, d);
      },
      true);
}
TEST(NhwcFormat, ConvReluPoolDropoutFlatten) {
  const Format h = Format::kNhwc;
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {6, 14, 14}, 16, 5, 1, 0, true, {s, d});
      },
      true, 2, h);
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {1, 12, 12}, 6, 5, 1, 2, true, {s, d});
      },
      true, 2, h);
  checkSame(
      [](Context& c, Format s, Format d) {
        return makeConv2d(c, {3, 9, 9}, 5, 3, 2, 1, false, {s, d});
      },
      true, 3, h);
  checkSame([](Context& c, Format, Format d) { return makeReLU(c, {6, 5, 5}, d); }, true, 2, h);
  checkSame(
      [](Context& c, Format, Format d) {
        return makeMaxPool2d(c, {10, 11, 11}, 2, 2, d);
      },
      true, 2, h);
  // Same seed, same masks, whatever the format.
  checkSame(
      [](Context&, Format, Format d) {
        return makeDropout({20, 5, 5}, 0.5f, true, 9, d);
      },
      true, 3, h);
  // Flatten reads NHWC and writes PyTorch's NCHW feature order: dst is plain in both.
  checkSame(
      [](Context&, Format s, Format) {
        return makeFlatten({6, 4, 3}, s);
      },
      true, 2, h, false);
}

TEST(BlockedFormat, RejectsChannelsNotMultipleOf16) {
  auto ctx = makeContext();
  EXPECT_THROW(makeReLU(*ctx, {6, 4, 4}, Format::kBlocked16), InputError);
  EXPECT_THROW(
      makeConv2d(*ctx, {16, 4, 4}, 6, 3, 1, 1, true, {Format::kBlocked16, Format::kBlocked16}),
      InputError);
}

}  // namespace
}  // namespace murmur::nn
