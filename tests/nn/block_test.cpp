#include <gtest/gtest.h>

#include "nn/layers.hpp"
#include "tests/nn/layer_harness.hpp"

namespace murmur::nn {
namespace {

using testing::Harness;
using testing::randomVector;

TEST(BasicBlock, ProjectionShortcutNamesAndShapes) {
  Harness hs;
  hs.attach(makeBasicBlock(*hs.ctx, {4, 6, 6}, 8, 2));
  EXPECT_EQ(hs.layer->outDims(), (Dims3{8, 3, 3}));
  std::vector<std::string> names;
  for (const auto& s : hs.layer->paramSpecs()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight",
                       "bn2.bias", "shortcut.0.weight", "shortcut.1.weight", "shortcut.1.bias"}));
  EXPECT_EQ(hs.layer->bufferSpecs().size(), 6u);
}

// The step is small because the block's final ReLU and the BatchNorm coupling put kinks close
// to many probes: at h = 1e-2 some central differences straddle a kink and miss by ~10%, at
// h = 3e-4 they agree to 1e-4 (measured).
TEST(BasicBlock, IdentityShortcutGradientsMatchFiniteDifferences) {
  Harness hs;
  hs.attach(makeBasicBlock(*hs.ctx, {3, 4, 4}, 3, 1));
  EXPECT_EQ(hs.layer->paramSpecs().size(), 6u);
  hs.checkGradients(3, randomVector(hs.inSize(3), 2), 3e-4f, 5e-3, 2e-2, 5);
}

TEST(BasicBlock, ProjectionShortcutGradientsMatchFiniteDifferences) {
  Harness hs;
  hs.attach(makeBasicBlock(*hs.ctx, {2, 6, 6}, 4, 2));
  hs.checkGradients(3, randomVector(hs.inSize(3), 2), 3e-4f, 5e-3, 2e-2, 5);
}

TEST(Sequential, ComposesLayersAndPrefixesNames) {
  Harness hs;
  auto seq = std::make_unique<Sequential>(Dims3{2, 6, 6});
  seq->add("conv", makeConv2d(*hs.ctx, {2, 6, 6}, 3, 3, 1, 1));
  seq->add("relu", makeReLU(*hs.ctx, {3, 6, 6}));
  seq->add("pool", makeMaxPool2d(*hs.ctx, {3, 6, 6}, 2, 2));
  seq->add("flat", makeFlatten({3, 3, 3}));
  seq->add("fc", makeLinear(*hs.ctx, {27, 1, 1}, 4));
  hs.attach(std::move(seq));
  std::vector<std::string> names;
  for (const auto& s : hs.layer->paramSpecs()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(hs.layer->outDims(), (Dims3{4, 1, 1}));
  auto src = randomVector(hs.inSize(2), 3);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float((i * 37) % src.size()) * 0.05f - 1.f;
  hs.checkGradients(2, src, 1e-3f, 2e-3, 2e-2, 5);
}

}  // namespace
}  // namespace murmur::nn
