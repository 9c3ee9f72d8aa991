#include <cmath>
#include <functional>
#include <numbers>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "topologies/describe.hpp"
#include "topologies/generators.hpp"
#include "topologies/mixing.hpp"

namespace murmur::topologies {
namespace {

using ::testing::HasSubstr;

std::string inputErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

Topology gen(const std::string& k, uint32_t n, uint64_t seed = 3) {
  GenOptions o;
  o.kind = k;
  o.n = n;
  o.seed = seed;
  o.degree = 3;
  o.p = 0.3;
  return generate(o);
}

// Row-stochastic, symmetric, non-negative, and zero off the graph's edges.
void expectDoublyStochastic(const Topology& t, MixingRule rule) {
  const DenseMatrix w = mixingMatrix(t, rule);
  ASSERT_EQ(w.n, t.size());
  for (size_t i = 0; i < w.n; ++i) {
    double sum = 0.0;
    for (size_t j = 0; j < w.n; ++j) {
      sum += w(i, j);
      EXPECT_GE(w(i, j), 0.0) << i << "," << j;
      EXPECT_NEAR(w(i, j), w(j, i), 1e-15) << i << "," << j;
      if (i != j && t.findEdge(static_cast<uint32_t>(i), static_cast<uint32_t>(j)) == nullptr) {
        EXPECT_EQ(w(i, j), 0.0) << i << "," << j;
      }
    }
    EXPECT_NEAR(sum, 1.0, 1e-12) << "row " << i;
    const MixingRow row = mixingRow(t, static_cast<uint32_t>(i), rule);
    EXPECT_NEAR(row.sum(), 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(row.self, w(i, i));
  }
}

TEST(Mixing, RowsSumToOneOnEveryGenerator) {
  for (const std::string k : {"ring", "torus", "complete", "star", "hypercube", "exponential",
                              "random-regular", "erdos-renyi", "small-world"}) {
    SCOPED_TRACE(k);
    const Topology t = gen(k, 16);
    expectDoublyStochastic(t, MixingRule::kMetropolisHastings);
    expectDoublyStochastic(t, MixingRule::kMaxDegree);
  }
}

TEST(Mixing, MetropolisHastingsOnStar) {
  // Hub degree 4, leaves degree 1: every edge 1/(1+4), hub self 1 - 4/5, leaf self 4/5.
  const Topology t = gen("star", 5);
  const MixingRow hub = mixingRow(t, 0, MixingRule::kMetropolisHastings);
  ASSERT_EQ(hub.neighbours.size(), 4u);
  for (const auto& [j, w] : hub.neighbours) EXPECT_DOUBLE_EQ(w, 0.2) << j;
  EXPECT_NEAR(hub.self, 0.2, 1e-15);
  const MixingRow leaf = mixingRow(t, 3, MixingRule::kMetropolisHastings);
  EXPECT_EQ(leaf.neighbours, (std::vector<std::pair<uint32_t, double>>{{0, 0.2}}));
  EXPECT_NEAR(leaf.self, 0.8, 1e-15);
  EXPECT_DOUBLE_EQ(leaf.weightOf(0), 0.2);
  EXPECT_EQ(leaf.weightOf(2), 0.0);
}

TEST(Mixing, MaxDegreeUsesTheLargestDegree) {
  // A path 0-1-2-3 plus a chord 1-3: degrees 1, 3, 2, 2; max degree 3, so every W_ij = 1/4.
  const Topology t = parseTopology(
      "node 0 a:1\nnode 1 a:2\nnode 2 a:3\nnode 3 a:4\nedge 0 1\nedge 1 2\nedge 2 3\nedge 1 3\n",
      "p.topo");
  const MixingRow row0 = mixingRow(t, 0, MixingRule::kMaxDegree);
  EXPECT_DOUBLE_EQ(row0.weightOf(1), 0.25);
  EXPECT_DOUBLE_EQ(row0.self, 0.75);
  const MixingRow mh0 = mixingRow(t, 0, MixingRule::kMetropolisHastings);
  EXPECT_DOUBLE_EQ(mh0.weightOf(1), 0.25);  // max(d_0 = 1, d_1 = 3) = 3
  const MixingRow mh2 = mixingRow(t, 2, MixingRule::kMetropolisHastings);
  EXPECT_DOUBLE_EQ(mh2.weightOf(1), 0.25);
  EXPECT_DOUBLE_EQ(mh2.weightOf(3), 1.0 / 3.0);  // max(2, 2) = 2
  EXPECT_DOUBLE_EQ(mh2.self, 1.0 - 0.25 - 1.0 / 3.0);
  expectDoublyStochastic(t, MixingRule::kMaxDegree);
  expectDoublyStochastic(t, MixingRule::kMetropolisHastings);
}

TEST(Mixing, ExplicitWeightsFromTheFile) {
  const Topology t =
      parseTopology("node 0 a:1\nnode 1 a:2\nnode 2 a:3\nedge 0 1 0.5\nedge 1 2 0.125\n", "w.topo");
  EXPECT_EQ(defaultMixingRule(t), MixingRule::kExplicit);
  const MixingRow row1 = mixingRow(t, 1, MixingRule::kExplicit);
  EXPECT_DOUBLE_EQ(row1.weightOf(0), 0.5);
  EXPECT_DOUBLE_EQ(row1.weightOf(2), 0.125);
  EXPECT_DOUBLE_EQ(row1.self, 0.375);
  expectDoublyStochastic(t, MixingRule::kExplicit);
  // A weightless topology cannot use them.
  const Topology plain = gen("ring", 4);
  EXPECT_EQ(defaultMixingRule(plain), MixingRule::kMetropolisHastings);
  EXPECT_THAT(inputErrorOf([&] { mixingRow(plain, 0, MixingRule::kExplicit); }),
              HasSubstr("explicit"));
  EXPECT_THAT(inputErrorOf([&] { mixingRow(plain, 4, MixingRule::kMetropolisHastings); }),
              HasSubstr("no node 4"));
}

TEST(Mixing, DownNeighboursMoveTheirWeightToSelf) {
  const Topology t = gen("ring", 6);
  const MixingRow row = mixingRow(t, 0, MixingRule::kMetropolisHastings);
  const MixingRow one = withoutNeighbours(row, {5, 3 /* not a neighbour: ignored */});
  ASSERT_EQ(one.neighbours.size(), 1u);
  EXPECT_EQ(one.neighbours[0].first, 1u);
  EXPECT_NEAR(one.self, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(one.sum(), 1.0, 1e-15);
  const MixingRow none = keepNeighbours(row, [](uint32_t) { return false; });
  EXPECT_TRUE(none.neighbours.empty());
  EXPECT_NEAR(none.self, 1.0, 1e-15);
  EXPECT_EQ(withoutNeighbours(row, {}).neighbours, row.neighbours);
}

TEST(Mixing, ParseRuleNames) {
  EXPECT_EQ(parseMixingRule("mh"), MixingRule::kMetropolisHastings);
  EXPECT_EQ(parseMixingRule("metropolis"), MixingRule::kMetropolisHastings);
  EXPECT_EQ(parseMixingRule(toString(MixingRule::kMaxDegree)), MixingRule::kMaxDegree);
  EXPECT_EQ(parseMixingRule("file"), MixingRule::kExplicit);
  EXPECT_THAT(inputErrorOf([] { parseMixingRule("uniform"); }), HasSubstr("'uniform'"));
}

TEST(Spectrum, RingMatchesClosedForm) {
  // Ring with MH weights 1/3: eigenvalues 1/3 + 2/3 cos(2 pi k / n), k = 0..n-1.
  for (uint32_t n : {5u, 8u, 13u}) {
    const auto eig = mixingEigenvalues(gen("ring", n), MixingRule::kMetropolisHastings);
    std::vector<double> expected;
    for (uint32_t k = 0; k < n; ++k) {
      expected.push_back(1.0 / 3.0 + 2.0 / 3.0 * std::cos(2.0 * std::numbers::pi * k / n));
    }
    std::sort(expected.begin(), expected.end(), std::greater<>());
    ASSERT_EQ(eig.size(), n);
    for (uint32_t k = 0; k < n; ++k) EXPECT_NEAR(eig[k], expected[k], 1e-12) << n << " " << k;
    const TopologyInfo info = describe(gen("ring", n));
    const double slem = std::max(std::fabs(expected[1]), std::fabs(expected.back()));
    EXPECT_NEAR(info.spectralGap.value(), 1.0 - slem, 1e-12);
  }
}

TEST(Spectrum, CompleteGraphHasGapOne) {
  // MH on K_n: every weight 1/n, W = J/n, eigenvalues 1 and 0.
  const TopologyInfo info = describe(gen("complete", 7));
  EXPECT_NEAR(info.spectralGap.value(), 1.0, 1e-12);
  EXPECT_NEAR(info.slem.value(), 0.0, 1e-12);
}

TEST(Spectrum, HypercubeClosedForm) {
  // d-cube with MH weights 1/(d+1): eigenvalues (1 + d - 2m)/(d+1), so slem = (d-1)/(d+1).
  const TopologyInfo info = describe(gen("hypercube", 16));
  EXPECT_NEAR(info.spectralGap.value(), 1.0 - 3.0 / 5.0, 1e-12);
}

TEST(Spectrum, SparserGraphsMixSlower) {
  const double ring = describe(gen("ring", 16)).spectralGap.value();
  const double torus = describe(gen("torus", 16)).spectralGap.value();
  const double cube = describe(gen("hypercube", 16)).spectralGap.value();
  const double complete = describe(gen("complete", 16)).spectralGap.value();
  EXPECT_LT(ring, torus);
  EXPECT_LT(torus, complete);
  EXPECT_LT(cube, complete);
  EXPECT_GT(ring, 0.0);
}

}  // namespace
}  // namespace murmur::topologies
