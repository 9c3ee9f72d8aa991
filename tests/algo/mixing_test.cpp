#include "algo/mixing.hpp"

#include <random>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::algo {
namespace {

TEST(Mixing, KeepsTheAverageUnderADoublyStochasticW) {
  // 4-node ring, Metropolis-Hastings: W_ij = 1/3 for neighbours, W_ii = 1/3.
  const size_t n = 4, dim = 37;
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> x(n, std::vector<float>(dim));
  for (auto& v : x)
    for (auto& f : v) f = g(rng);
  auto average = [&](size_t i) {
    double s = 0;
    for (size_t k = 0; k < n; ++k) s += x[k][i];
    return s / n;
  };
  std::vector<double> before(dim);
  for (size_t i = 0; i < dim; ++i) before[i] = average(i);
  auto spread = [&] {
    double s = 0;
    for (size_t k = 0; k < n; ++k)
      for (size_t i = 0; i < dim; ++i) s += (x[k][i] - average(i)) * (x[k][i] - average(i));
    return s;
  };
  const double spread0 = spread();
  for (int round = 0; round < 5; ++round) {
    const auto snapshot = x;  // exact replicas of every neighbour
    for (size_t k = 0; k < n; ++k) {
      std::vector<MixTerm> terms = {{1.0 / 3, snapshot[(k + 1) % n]},
                                    {1.0 / 3, snapshot[(k + n - 1) % n]}};
      mixInto(x[k], 1.0 / 3, terms);
    }
  }
  for (size_t i = 0; i < dim; ++i) EXPECT_NEAR(average(i), before[i], 1e-5);
  EXPECT_LT(spread(), spread0 * 1e-2);  // |lambda_2| = 1/3 per round
}

TEST(Mixing, ADownNeighboursWeightMovesToSelf) {
  std::vector<float> x = {1, 2, 3};
  std::vector<float> r = {5, 5, 5};
  std::vector<MixTerm> terms = {{0.25, r}};
  mixInto(x, 0.75, terms);
  EXPECT_FLOAT_EQ(x[0], 0.75f + 1.25f);
  std::vector<float> y = {1, 2, 3};
  mixInto(y, 1.0, {});
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3}));
}

TEST(Mixing, ValidateRejectsBadRows) {
  std::vector<NodeId> nbrs = {1, 2};
  EXPECT_NO_THROW(validate(MixingWeights{0.5, {{1, 0.25}, {2, 0.25}}}, nbrs));
  EXPECT_THROW(validate(MixingWeights{0.5, {{1, 0.25}}}, nbrs), InputError);  // sums to 0.75
  EXPECT_THROW(validate(MixingWeights{0.5, {{3, 0.5}}}, nbrs), InputError);   // not a neighbour
  EXPECT_THROW(validate(MixingWeights{0.0, {{1, 0.5}, {1, 0.5}}}, nbrs), InputError);
  EXPECT_THROW(validate(MixingWeights{1.5, {{1, -0.5}}}, nbrs), InputError);
}

}  // namespace
}  // namespace murmur::algo
