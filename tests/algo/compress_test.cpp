#include "algo/compress.hpp"
#include "common/messages.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

namespace murmur::algo {
namespace {

std::vector<uint32_t> naiveTopK(const std::vector<float>& x, const std::vector<float>& xs,
                                size_t k) {
  std::vector<uint32_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    return std::fabs(x[a] - xs[a]) > std::fabs(x[b] - xs[b]);
  });
  idx.resize(std::min(k, idx.size()));
  std::sort(idx.begin(), idx.end());
  return idx;
}

TEST(TopK, CountRoundsUpWithAFloor) {
  EXPECT_EQ(topKCount(0.1, 100), 10u);
  EXPECT_EQ(topKCount(0.1, 101), 11u);
  EXPECT_EQ(topKCount(0.001, 10), 1u);
  EXPECT_EQ(topKCount(1.0, 7), 7u);
  EXPECT_EQ(topKCount(0.5, 0), 0u);
}

TEST(TopK, MatchesANaiveSortIncludingTies) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> q(-4, 4);  // few distinct values: many ties
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 1 + rng() % 200;
    std::vector<float> x(n), xs(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] = static_cast<float>(q(rng)) * 0.25f;
      xs[i] = static_cast<float>(q(rng)) * 0.25f;
    }
    const size_t k = 1 + rng() % n;
    EXPECT_EQ(topKIndices(x, xs, k), naiveTopK(x, xs, k)) << "n=" << n << " k=" << k;
  }
}

TEST(TopK, TiesGoToTheLowerIndex) {
  std::vector<float> x = {1, -3, 3, 0, 3};
  std::vector<float> xs(5, 0.0f);
  EXPECT_EQ(topKIndices(x, xs, 2), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(topKIndices(x, xs, 3), (std::vector<uint32_t>{1, 2, 4}));
}

TEST(MajorityVote, HighestCountWins) {
  std::vector<float> x = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  std::vector<float> xs(6, 0.0f);
  std::vector<uint32_t> own = {4, 5}, a = {0, 1}, b = {1, 2}, c = {1, 0};
  std::sort(c.begin(), c.end());
  // counts: 0:2, 1:3, 2:1, 4:1, 5:1
  EXPECT_EQ(decideMask({own, a, b, c}, x, xs, 2), (std::vector<uint32_t>{0, 1}));
}

TEST(MajorityVote, TiesByOwnChangeThenLowerIndex) {
  // Every index voted once: the own |x - xs| decides, and equal changes go to the lower index.
  std::vector<float> x = {0.5f, -0.9f, 0.5f, 0.9f, 0.1f};
  std::vector<float> xs(5, 0.0f);
  std::vector<uint32_t> a = {0, 1}, b = {2, 3}, c = {4};
  EXPECT_EQ(decideMask({a, b, c}, x, xs, 3), (std::vector<uint32_t>{0, 1, 3}));
  // An unvoted index never beats a voted one, however large its change.
  std::vector<float> y = {0.0f, 0.0f, 100.0f};
  std::vector<float> ys(3, 0.0f);
  std::vector<uint32_t> v = {0};
  EXPECT_EQ(decideMask({v}, y, ys, 2), (std::vector<uint32_t>{0, 2}));
  // The decision does not depend on the order the ballots arrive in.
  EXPECT_EQ(decideMask({c, b, a}, x, xs, 3), decideMask({a, b, c}, x, xs, 3));
}

TEST(Int8, QuantisesOntoTheGridOfMaxOver127) {
  std::vector<float> v = {0.5f, -1.27f, 0.0f, 0.004f, 1.0f, -0.006f};
  const std::vector<float> before = v;
  const float scale = quantizeInt8(v);
  EXPECT_FLOAT_EQ(scale, 1.27f / 127.0f);
  for (size_t i = 0; i < v.size(); ++i) {
    const float q = v[i] / scale;
    EXPECT_EQ(q, std::nearbyint(q)) << i;  // on the grid
    EXPECT_LE(std::fabs(q), 127.0f);
    EXPECT_EQ(static_cast<float>(std::nearbyint(q)) * scale, v[i]);  // what a receiver computes
    EXPECT_LE(std::fabs(v[i] - before[i]), 0.5f * scale * 1.0001f) << i;
  }
  EXPECT_EQ(v[2], 0.0f);
  EXPECT_EQ(v[3], 0.0f);  // below half a step: it waits in the residual
  // Idempotent: values on the grid stay put (the scale is the same).
  const std::vector<float> once = v;
  EXPECT_EQ(quantizeInt8(v), scale);
  EXPECT_EQ(v, once);
  // All zero: scale 1, nothing moves. Tiny values: the scale stays a normal float.
  std::vector<float> zeros(4, 0.0f);
  EXPECT_EQ(quantizeInt8(zeros), 1.0f);
  EXPECT_EQ(zeros, std::vector<float>(4, 0.0f));
  std::vector<float> tiny = {std::numeric_limits<float>::denorm_min(), 0.0f};
  const float ts = quantizeInt8(tiny);
  EXPECT_GE(ts, std::numeric_limits<float>::min());
  EXPECT_TRUE(validInt8Scale(ts));
  EXPECT_TRUE(std::isfinite(tiny[0]));
  // Huge and infinite values: the scale stays encodable and every value finite.
  const float big = std::numeric_limits<float>::max();
  std::vector<float> huge = {big, -big, 1.0f, std::numeric_limits<float>::infinity()};
  const float hs = quantizeInt8(huge);
  EXPECT_TRUE(validInt8Scale(hs)) << hs;
  for (float x : huge) EXPECT_TRUE(std::isfinite(x)) << x;
}

TEST(Sign, ValuesBecomePlusOrMinusTheMeanMagnitude) {
  std::vector<float> v = {0.5f, -1.5f, 0.0f, 2.0f};
  const float scale = quantizeSign(v);
  EXPECT_FLOAT_EQ(scale, 1.0f);                                 // (0.5 + 1.5 + 0 + 2) / 4
  EXPECT_EQ(v, (std::vector<float>{1.0f, -1.0f, 1.0f, 1.0f}));  // 0 counts as +
  // The mean magnitude minimises the squared error for these signs: a nudge either way costs.
  auto err = [](const std::vector<float>& x, float s) {
    double e = 0;
    for (float f : x) e += (std::fabs(f) - s) * (std::fabs(f) - s);
    return e;
  };
  const std::vector<float> w = {0.3f, -0.1f, 0.7f, -0.2f, 0.05f};
  auto q = w;
  const float s = quantizeSign(q);
  EXPECT_LT(err(w, s), err(w, s * 1.05f));
  EXPECT_LT(err(w, s), err(w, s * 0.95f));
  // Error feedback: what the signs got wrong stays in the residual, and repeated frames of the
  // same residual converge on it (the sum of what was sent approaches the change).
  std::vector<float> change = {0.9f, -0.05f, 0.3f, -0.6f, 0.01f, 0.0f, 0.2f, -0.25f};
  std::vector<float> sent(change.size(), 0.0f);
  double firstErr = 0, lastErr = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<float> residual(change.size());
    for (size_t i = 0; i < change.size(); ++i) residual[i] = change[i] - sent[i];
    double e = 0;
    for (float r : residual) e += static_cast<double>(r) * r;
    if (round == 0) firstErr = e;
    lastErr = e;
    quantizeSign(residual);
    for (size_t i = 0; i < change.size(); ++i) sent[i] += residual[i];
  }
  EXPECT_LT(lastErr, 0.1 * firstErr);
  // All zero, tiny and huge: the scale stays a valid wire scale and every value finite.
  std::vector<float> zeros(3, 0.0f);
  EXPECT_TRUE(validSignScale(quantizeSign(zeros)));
  std::vector<float> tiny = {std::numeric_limits<float>::denorm_min(), 0.0f};
  EXPECT_TRUE(validSignScale(quantizeSign(tiny)));
  const float big = std::numeric_limits<float>::max();
  std::vector<float> huge = {big, -big, big};
  EXPECT_TRUE(validSignScale(quantizeSign(huge)));
  for (float x : huge) EXPECT_TRUE(std::isfinite(x));
}

TEST(Half, RoundsToNearestEvenAndStaysFinite) {
  EXPECT_EQ(roundToHalf(1.0f), 1.0f);
  EXPECT_EQ(roundToHalf(1.0f + std::ldexp(1.0f, -11)), 1.0f);  // tie -> even
  EXPECT_EQ(roundToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(roundToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)),
            1.0f + std::ldexp(1.0f, -10));
  EXPECT_EQ(roundToHalf(0.1f), 0.0999755859375f);
  EXPECT_EQ(roundToHalf(-0.1f), -0.0999755859375f);
  EXPECT_EQ(roundToHalf(65504.0f), 65504.0f);
  EXPECT_EQ(roundToHalf(70000.0f), 65504.0f);
  EXPECT_EQ(roundToHalf(-1e9f), -65504.0f);
  EXPECT_EQ(roundToHalf(std::ldexp(1.0f, -14)), std::ldexp(1.0f, -14));
  EXPECT_EQ(roundToHalf(std::ldexp(1.0f, -24)), std::ldexp(1.0f, -24));
  EXPECT_EQ(roundToHalf(std::ldexp(1.0f, -25)), 0.0f);                       // tie -> even (0)
  EXPECT_EQ(roundToHalf(3 * std::ldexp(1.0f, -25)), std::ldexp(1.0f, -23));  // tie -> even (2)
  EXPECT_EQ(roundToHalf(0.0f), 0.0f);
  // Idempotent: a rounded value is exactly representable.
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 10.0f);
  for (int i = 0; i < 1000; ++i) {
    const float v = g(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 30) - 20);
    const float r = roundToHalf(v);
    EXPECT_EQ(roundToHalf(r), r);
    if (std::fabs(v) < 60000.0f && std::fabs(v) > 1e-4f) {
      EXPECT_LE(std::fabs(r - v), std::fabs(v) * std::ldexp(1.0f, -11) * 1.0001f) << v;
    }
  }
}

}  // namespace
}  // namespace murmur::algo
