#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "topologies/describe.hpp"
#include "topologies/generators.hpp"

namespace murmur::topologies {
namespace {

using ::testing::HasSubstr;

Topology gen(const std::string& k, uint32_t n, uint32_t rows = 0, uint32_t cols = 0) {
  GenOptions o;
  o.kind = k;
  o.n = n;
  o.rows = rows;
  o.cols = cols;
  return generate(o);
}

TEST(Diameter, ClosedForms) {
  for (uint32_t n : {1u, 2u, 3u, 8u, 9u}) EXPECT_EQ(diameter(gen("ring", n)), n / 2) << n;
  // rows x cols torus: floor(rows/2) + floor(cols/2).
  EXPECT_EQ(diameter(gen("torus", 0, 4, 4)), 4u);
  EXPECT_EQ(diameter(gen("torus", 0, 3, 5)), 3u);
  EXPECT_EQ(diameter(gen("torus", 0, 2, 6)), 4u);
  // n = 2^d hypercube: d.
  EXPECT_EQ(diameter(gen("hypercube", 1)), 0u);
  EXPECT_EQ(diameter(gen("hypercube", 8)), 3u);
  EXPECT_EQ(diameter(gen("hypercube", 32)), 5u);
  EXPECT_EQ(diameter(gen("complete", 6)), 1u);
  EXPECT_EQ(diameter(gen("star", 6)), 2u);
}

TEST(Diameter, DisconnectedHasNone) {
  Topology t = gen("ring", 6);
  t.edges.erase(t.edges.begin());  // 0-1
  EXPECT_EQ(diameter(t), 5u);      // now a path
  t.edges.erase(t.edges.begin() + 2);
  EXPECT_EQ(diameter(t), std::nullopt);
}

TEST(Describe, CountsAndDegrees) {
  const TopologyInfo info =
      describe(generate(GenOptions{.kind = "star", .n = 5, .clusterId = "s5"}));
  EXPECT_EQ(info.clusterId, "s5");
  EXPECT_EQ(info.nodes, 5u);
  EXPECT_EQ(info.edges, 4u);
  EXPECT_EQ(info.minDegree, 1u);
  EXPECT_EQ(info.maxDegree, 4u);
  EXPECT_DOUBLE_EQ(info.meanDegree, 1.6);
  EXPECT_EQ(info.components, 1u);
  EXPECT_EQ(info.diameter, 2u);
  EXPECT_EQ(info.rule, MixingRule::kMetropolisHastings);
  // Star with MH: W = 0.2 on edges, leaves self 0.8, hub self 0.2. Eigenvalues: 1, 0.8 (x3,
  // leaf differences), and 0.2 + 0.8 - 1 = 0: slem 0.8.
  EXPECT_NEAR(info.spectralGap.value(), 0.2, 1e-12);

  const std::string text = formatInfo(info);
  EXPECT_THAT(text, HasSubstr("cluster:       s5"));
  EXPECT_THAT(text, HasSubstr("nodes:         5"));
  EXPECT_THAT(text, HasSubstr("degree:        min 1, max 4, mean 1.600"));
  EXPECT_THAT(text, HasSubstr("diameter:      2"));
  EXPECT_THAT(text, HasSubstr("mixing rule:   metropolis-hastings"));
  EXPECT_THAT(text, HasSubstr("spectral gap:  0.200000"));
}

TEST(Describe, SingleNodeAndDisconnected) {
  const TopologyInfo one = describe(gen("ring", 1));
  EXPECT_EQ(one.nodes, 1u);
  EXPECT_EQ(one.diameter, 0u);
  EXPECT_DOUBLE_EQ(one.spectralGap.value(), 1.0);

  Topology t = gen("ring", 6);
  t.edges.erase(t.edges.begin());
  t.edges.erase(t.edges.begin() + 2);
  const TopologyInfo split = describe(t);
  EXPECT_EQ(split.components, 2u);
  // Two separate blocks each keep their own average: eigenvalue 1 twice, no gap.
  EXPECT_NEAR(split.spectralGap.value(), 0.0, 1e-12);
  EXPECT_THAT(formatInfo(split), HasSubstr("no (2 components)"));
  EXPECT_THAT(formatInfo(split), HasSubstr("diameter:      infinite"));
}

}  // namespace
}  // namespace murmur::topologies
