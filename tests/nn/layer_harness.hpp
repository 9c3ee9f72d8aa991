#pragma once
// Test helper for nn/layers.hpp: owns a layer's parameter/gradient/buffer storage, fills it
// with seeded random values, and checks gradients against central finite differences.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "nn/layers.hpp"
#include "nn/runtime.hpp"

namespace murmur::nn::testing {

inline std::vector<float> randomVector(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

struct Harness {
  // One thread: the results of the same call repeat exactly, and tests stay fast on a busy box.
  Harness() { setNumThreads(1); }
  std::shared_ptr<Context> ctx = makeContext();
  std::unique_ptr<Layer> layer;
  std::vector<std::vector<float>> params, grads, buffers;

  // Binds storage for `l`; params random (seeded), buffers per their Init.
  void attach(std::unique_ptr<Layer> l, uint32_t seed = 1) {
    layer = std::move(l);
    std::vector<float*> p, g, b;
    uint32_t s = seed;
    for (const auto& spec : layer->paramSpecs()) {
      size_t n = 1;
      for (auto d : spec.shape) n *= static_cast<size_t>(d);
      params.push_back(randomVector(n, ++s, 0.5f));
      grads.emplace_back(n, -7.f);  // backward must overwrite
    }
    for (const auto& spec : layer->bufferSpecs()) {
      size_t n = 1;
      for (auto d : spec.shape) n *= static_cast<size_t>(d);
      buffers.emplace_back(n, spec.init == Init::kOnes ? 1.f : 0.f);
    }
    for (auto& v : params) p.push_back(v.data());
    for (auto& v : grads) g.push_back(v.data());
    for (auto& v : buffers) b.push_back(v.data());
    layer->bind(p, g, b);
  }

  size_t inSize(int batch) const { return static_cast<size_t>(batch) * layer->inDims().size(); }
  size_t outSize(int batch) const { return static_cast<size_t>(batch) * layer->outDims().size(); }

  std::vector<float> forward(int batch, const std::vector<float>& src, bool training = true) {
    std::vector<float> dst(outSize(batch));
    layer->forward(batch, src.data(), dst.data(), training);
    return dst;
  }

  // L(src, params) = sum(dst * weights) in double.
  double weightedLoss(int batch, const std::vector<float>& src, const std::vector<float>& w) {
    auto dst = forward(batch, src);
    double l = 0;
    for (size_t i = 0; i < dst.size(); ++i) l += static_cast<double>(dst[i]) * w[i];
    return l;
  }

  // Runs forward+backward with diff_dst = w and compares diff_src and every parameter gradient
  // with central differences of weightedLoss at `probes` entries each. `beforeEval` runs before
  // every forward (e.g. to reseed dropout).
  void checkGradients(int batch, std::vector<float> src, float h, double atol, double rtol,
                      int probes = 6, std::function<void()> beforeEval = {}) {
    auto w = randomVector(outSize(batch), 77);
    if (beforeEval) beforeEval();
    auto dst = forward(batch, src);
    std::vector<float> diffSrc(inSize(batch), -7.f);
    layer->backward(batch, src.data(), dst.data(), w.data(), diffSrc.data());
    auto analyticParams = grads;
    std::mt19937 rng(3);
    auto fd = [&](float& x) {
      const float orig = x;
      x = orig + h;
      if (beforeEval) beforeEval();
      const double lp = weightedLoss(batch, src, w);
      x = orig - h;
      if (beforeEval) beforeEval();
      const double lm = weightedLoss(batch, src, w);
      x = orig;
      return (lp - lm) / (2.0 * h);
    };
    for (int k = 0; k < probes; ++k) {
      size_t i = rng() % src.size();
      double num = fd(src[i]);
      EXPECT_NEAR(diffSrc[i], num, atol + rtol * std::abs(num)) << "diff_src[" << i << "]";
    }
    for (size_t t = 0; t < params.size(); ++t) {
      for (int k = 0; k < probes; ++k) {
        size_t i = rng() % params[t].size();
        double num = fd(params[t][i]);
        EXPECT_NEAR(analyticParams[t][i], num, atol + rtol * std::abs(num))
            << "grad of param " << t << " [" << i << "] h=" << h;
      }
    }
  }
};

inline void expectNear(const std::vector<float>& a, const std::vector<double>& b, double tol,
                       const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::abs(a[i] - b[i]) > tol * (1.0 + std::abs(b[i]))) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs " << b[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

}  // namespace murmur::nn::testing
