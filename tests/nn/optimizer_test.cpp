#include "nn/optimizer.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/data/rng.hpp"

namespace murmur::nn {
namespace {

// Two steps with a constant gradient 0.5, lr 0.1, starting at p = 1; expected values worked out
// by hand from torch.optim.SGD's update rule.
std::vector<float> twoSteps(SgdConfig config) {
  std::vector<float> p{1.0f};
  const std::vector<float> g{0.5f};
  Sgd sgd(config, 1);
  std::vector<float> trace;
  for (int i = 0; i < 2; ++i) {
    sgd.step(p, g, 0.1f);
    trace.push_back(p[0]);
  }
  return trace;
}

TEST(Sgd, PlainStepIsLrTimesGrad) {
  const auto t = twoSteps(SgdConfig{});
  EXPECT_NEAR(t[0], 0.95f, 1e-6);
  EXPECT_NEAR(t[1], 0.90f, 1e-6);
}

TEST(Sgd, WeightDecayAddsToGradient) {
  // g' = 0.5 + 0.1 * p: p1 = 1 - 0.1 * 0.6 = 0.94; p2 = 0.94 - 0.1 * 0.594 = 0.8806.
  const auto t = twoSteps({.momentum = 0, .nesterov = false, .weightDecay = 0.1f});
  EXPECT_NEAR(t[0], 0.94f, 1e-6);
  EXPECT_NEAR(t[1], 0.8806f, 1e-6);
}

TEST(Sgd, MomentumFirstStepUsesGradientThenAccumulates) {
  // b1 = g'1 = 0.6, p1 = 0.94; g'2 = 0.594, b2 = 0.9 * 0.6 + 0.594 = 1.134, p2 = 0.8266.
  const auto t = twoSteps({.momentum = 0.9f, .nesterov = false, .weightDecay = 0.1f});
  EXPECT_NEAR(t[0], 0.94f, 1e-6);
  EXPECT_NEAR(t[1], 0.8266f, 1e-6);
}

TEST(Sgd, NesterovLooksAhead) {
  // b1 = 0.6, step g'1 + 0.9 b1 = 1.14, p1 = 0.886; g'2 = 0.5886, b2 = 0.54 + 0.5886 = 1.1286,
  // step 0.5886 + 0.9 * 1.1286 = 1.60434, p2 = 0.886 - 0.160434 = 0.725566.
  const auto t = twoSteps({.momentum = 0.9f, .nesterov = true, .weightDecay = 0.1f});
  EXPECT_NEAR(t[0], 0.886f, 1e-6);
  EXPECT_NEAR(t[1], 0.725566f, 1e-6);
}

TEST(Sgd, NesterovWithoutWeightDecay) {
  // b1 = 0.5, p1 = 1 - 0.1 * (0.5 + 0.45) = 0.905; b2 = 0.95, p2 = 0.905 - 0.1 * 1.355 = 0.7695.
  const auto t = twoSteps({.momentum = 0.9f, .nesterov = true, .weightDecay = 0});
  EXPECT_NEAR(t[0], 0.905f, 1e-6);
  EXPECT_NEAR(t[1], 0.7695f, 1e-6);
}

// The vectorised paths against a naive per-element loop, over many random steps.
TEST(Sgd, MatchesNaiveLoopOnRandomVectors) {
  for (const SgdConfig config :
       {SgdConfig{0, false, 0}, SgdConfig{0, false, 5e-4f}, SgdConfig{0.9f, false, 0},
        SgdConfig{0.9f, false, 5e-4f}, SgdConfig{0.9f, true, 0}, SgdConfig{0.8f, true, 1e-3f}}) {
    const size_t n = 1037;
    data::Rng rng(42);
    std::vector<float> p(n), ref(n), buf(n, 0.0f), g(n);
    for (size_t i = 0; i < n; ++i) ref[i] = p[i] = static_cast<float>(rng.normal());
    Sgd sgd(config, n);
    for (int s = 0; s < 20; ++s) {
      const float lr = 0.05f / static_cast<float>(s + 1);
      for (auto& x : g) x = static_cast<float>(rng.normal());
      sgd.step(p, g, lr);
      for (size_t i = 0; i < n; ++i) {
        float d = g[i] + config.weightDecay * ref[i];
        if (config.momentum > 0) {
          buf[i] = s == 0 ? d : config.momentum * buf[i] + d;
          d = config.nesterov ? d + config.momentum * buf[i] : buf[i];
        }
        ref[i] -= lr * d;
      }
    }
    for (size_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], ref[i], 1e-5) << "element " << i;
    if (config.momentum > 0) {
      for (size_t i = 0; i < n; ++i) ASSERT_NEAR(sgd.state()[i], buf[i], 1e-5);
    } else {
      EXPECT_TRUE(sgd.state().empty());
    }
  }
}

TEST(Sgd, StateRoundTripResumesIdentically) {
  const SgdConfig config{0.9f, true, 1e-3f};
  std::vector<float> a{1, 2, 3}, g{0.3f, -0.2f, 0.1f};
  Sgd first(config, 3);
  first.step(a, g, 0.1f);
  std::vector<float> b = a;
  Sgd resumed(config, 3);
  resumed.loadState(first.state());
  first.step(a, g, 0.1f);
  resumed.step(b, g, 0.1f);
  EXPECT_EQ(a, b);
  EXPECT_THROW(resumed.loadState(std::vector<float>(2)), InputError);
  resumed.reset();
  for (float v : resumed.state()) EXPECT_EQ(v, 0.0f);
}

TEST(Sgd, RejectsBadConfig) {
  EXPECT_THROW(Sgd(SgdConfig{1.0f, false, 0}, 4), InputError);
  EXPECT_THROW(Sgd(SgdConfig{-0.1f, false, 0}, 4), InputError);
  EXPECT_THROW(Sgd(SgdConfig{0, true, 0}, 4), InputError);
  EXPECT_THROW(Sgd(SgdConfig{0, false, -1}, 4), InputError);
}

}  // namespace
}  // namespace murmur::nn
