#include "nn/data/partition.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/data/sampler.hpp"

namespace murmur::nn::data {
namespace {

void expectDisjointCover(const Shards& shards, size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& s : shards) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    for (uint32_t i : s) {
      ASSERT_LT(i, n);
      ++seen[i];
    }
  }
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "sample " << i;
}

TEST(IidShards, DisjointCoveringBalanced) {
  for (size_t n : {size_t{0}, size_t{7}, size_t{100}, size_t{1003}}) {
    for (uint32_t nodes : {1u, 3u, 8u, 16u}) {
      const Shards s = iidShards(n, nodes, 11);
      ASSERT_EQ(s.size(), nodes);
      expectDisjointCover(s, n);
      size_t lo = n, hi = 0;
      for (const auto& shard : s) {
        lo = std::min(lo, shard.size());
        hi = std::max(hi, shard.size());
      }
      EXPECT_LE(hi - lo, 1u) << n << " samples, " << nodes << " nodes";
    }
  }
}

TEST(IidShards, DeterministicAndSeedDependent) {
  EXPECT_EQ(iidShards(500, 4, 1), iidShards(500, 4, 1));
  EXPECT_NE(iidShards(500, 4, 1), iidShards(500, 4, 2));
  EXPECT_EQ(iidShard(500, 2, 4, 9), iidShards(500, 4, 9)[2]);
  EXPECT_THROW(iidShard(500, 4, 4, 9), InputError);
  EXPECT_THROW(iidShards(10, 0, 9), InputError);
}

TEST(IidShards, ShardsAreMixedNotContiguousRuns) {
  const Shards s = iidShards(1000, 4, 3);
  // A contiguous split would give shard 0 exactly 0..249.
  EXPECT_GT(s[0].back() - s[0].front(), 500u);
}

std::vector<int32_t> balancedLabels(size_t n, int classes) {
  std::vector<int32_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i % static_cast<size_t>(classes));
  return labels;
}

// Mean over nodes of the largest class share on that node: 1/classes for perfect balance, 1
// when each node holds a single class.
double meanMaxClassShare(const Shards& shards, const std::vector<int32_t>& labels, int classes) {
  double total = 0;
  for (const auto& s : shards) {
    std::vector<size_t> counts(static_cast<size_t>(classes), 0);
    for (uint32_t i : s) ++counts[static_cast<size_t>(labels[i])];
    total += static_cast<double>(*std::max_element(counts.begin(), counts.end())) /
             static_cast<double>(s.size());
  }
  return total / static_cast<double>(shards.size());
}

TEST(DirichletShards, DisjointCoveringDeterministic) {
  const auto labels = balancedLabels(5000, 10);
  const Shards a = dirichletShards(labels, 10, 8, 0.5, 17);
  expectDisjointCover(a, labels.size());
  for (const auto& s : a) EXPECT_GE(s.size(), 1u);
  EXPECT_EQ(a, dirichletShards(labels, 10, 8, 0.5, 17));
  EXPECT_NE(a, dirichletShards(labels, 10, 8, 0.5, 18));
}

TEST(DirichletShards, SmallAlphaSkewsLargeAlphaBalances) {
  const auto labels = balancedLabels(20000, 10);
  const double skewed = meanMaxClassShare(dirichletShards(labels, 10, 10, 0.1, 5), labels, 10);
  const double mild = meanMaxClassShare(dirichletShards(labels, 10, 10, 1.0, 5), labels, 10);
  const double iid = meanMaxClassShare(dirichletShards(labels, 10, 10, 1000.0, 5), labels, 10);
  EXPECT_GT(skewed, 0.5);  // most of a node's data is one class
  EXPECT_LT(iid, 0.13);    // close to 1/10
  EXPECT_GT(skewed, mild);
  EXPECT_GT(mild, iid);
}

TEST(DirichletShards, MinimumPerNodeAndErrors) {
  const auto labels = balancedLabels(2000, 10);
  for (const auto& s : dirichletShards(labels, 10, 10, 0.1, 3, 50)) EXPECT_GE(s.size(), 50u);
  EXPECT_THROW(dirichletShards(labels, 10, 10, 0.0, 3), InputError);
  EXPECT_THROW(dirichletShards(labels, 10, 10, 0.5, 3, 300), InputError);
  std::vector<int32_t> bad = labels;
  bad[7] = 10;
  EXPECT_THROW(dirichletShards(bad, 10, 10, 0.5, 3), InputError);
}

TEST(GammaSampler, MeanMatchesShape) {
  for (double shape : {0.1, 0.5, 1.0, 3.0}) {
    Rng rng(99);
    double sum = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
      const double g = rng.gamma(shape);
      ASSERT_GE(g, 0.0);
      sum += g;
    }
    // Gamma(k, 1) has mean k and variance k: allow 5 standard errors.
    EXPECT_NEAR(sum / draws, shape, 5 * std::sqrt(shape / draws)) << "shape " << shape;
  }
}

TEST(RedundantShard, WholeRedundancyHoldsNextShards) {
  const Shards base = iidShards(1000, 8, 4);
  const RedundantShard r = redundantShard(base, 6, 0.25);  // r = 2
  EXPECT_DOUBLE_EQ(r.redundancy, 2.0);
  EXPECT_EQ(r.shardIds, (std::vector<uint32_t>{6, 7, 0}));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[0], base[6]);
  EXPECT_EQ(r.parts[1], base[7]);
  EXPECT_EQ(r.parts[2], base[0]);
  EXPECT_EQ(flatten(r).size(), base[6].size() + base[7].size() + base[0].size());
}

TEST(RedundantShard, FractionalPartIsASliceOfTheNextShard) {
  const Shards base = iidShards(1000, 4, 4);                // 250 each
  const RedundantShard r = redundantShard(base, 3, 0.375);  // r = 1.5
  EXPECT_EQ(r.shardIds, (std::vector<uint32_t>{3, 0, 1}));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[2].size(), 125u);
  std::set<uint32_t> next(base[1].begin(), base[1].end());
  for (uint32_t i : r.parts[2]) EXPECT_TRUE(next.count(i)) << i;
  EXPECT_EQ(std::set<uint32_t>(r.parts[2].begin(), r.parts[2].end()).size(), 125u);
}

TEST(RedundantShard, EveryShardSurvivesAnyRFailures) {
  const uint32_t n = 6;
  const Shards base = iidShards(600, n, 1);
  const double mu = 2.0 / n;  // r = 2: each shard held by 3 nodes
  std::vector<std::vector<uint32_t>> holders(n);
  for (uint32_t j = 0; j < n; ++j) {
    for (uint32_t id : redundantShard(base, j, mu).shardIds) holders[id].push_back(j);
  }
  for (uint32_t s = 0; s < n; ++s) EXPECT_EQ(holders[s].size(), 3u) << "shard " << s;
  // Fail every pair of nodes: each shard still has a live holder.
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = a + 1; b < n; ++b) {
      for (uint32_t s = 0; s < n; ++s) {
        const bool covered = std::any_of(holders[s].begin(), holders[s].end(),
                                         [&](uint32_t h) { return h != a && h != b; });
        EXPECT_TRUE(covered) << "shard " << s << " lost with nodes " << a << ", " << b;
      }
    }
  }
}

TEST(RedundantShard, ZeroRedundancyAndLimits) {
  const Shards base = iidShards(100, 5, 1);
  const auto r0 = redundantShard(base, 2, 0.0);
  EXPECT_EQ(r0.parts.size(), 1u);
  EXPECT_EQ(r0.parts[0], base[2]);
  EXPECT_EQ(redundantShard(base, 2, 0.8).parts.size(), 5u);  // r = N - 1: everything
  EXPECT_THROW(redundantShard(base, 2, 0.9), InputError);
  EXPECT_THROW(redundantShard(base, 5, 0.2), InputError);
  EXPECT_THROW(redundantShard(base, 1, -0.2), InputError);
  // mu * N a hair off an integer in floating point still means whole shards.
  const Shards ten = iidShards(1000, 10, 1);
  EXPECT_EQ(redundantShard(ten, 0, 0.3).parts.size(), 4u);
}

TEST(ProportionalBatchCounts, OwnShareThenProportional) {
  EXPECT_EQ(proportionalBatchCounts({250}, 32), (std::vector<size_t>{32}));
  EXPECT_EQ(proportionalBatchCounts({250, 250, 250}, 32), (std::vector<size_t>{32, 32, 32}));
  EXPECT_EQ(proportionalBatchCounts({250, 250, 125}, 32), (std::vector<size_t>{32, 32, 16}));
  // 251 vs 250: total round(32 * 626 / 251) = 80 = 32 + 32 + 16 (remainders go largest first).
  const auto c = proportionalBatchCounts({251, 250, 125}, 32);
  EXPECT_EQ(c[0], 32u);
  EXPECT_EQ(c[0] + c[1] + c[2], 80u);
}

TEST(PartitionConfig, ParseAndDispatch) {
  const auto iid = parsePartition("iid", 3);
  EXPECT_EQ(iid.kind, PartitionConfig::Kind::kIid);
  EXPECT_EQ(toString(iid), "iid");
  const auto dir = parsePartition("dirichlet:0.25", 3);
  EXPECT_EQ(dir.kind, PartitionConfig::Kind::kDirichlet);
  EXPECT_DOUBLE_EQ(dir.alpha, 0.25);
  EXPECT_EQ(parsePartition(toString(dir), 3).alpha, 0.25);
  EXPECT_DOUBLE_EQ(parsePartition("dirichlet", 3).alpha, 0.5);
  for (const char* bad :
       {"", "IID", "dirichlet:", "dirichlet:0", "dirichlet:x", "dirichlet0.5", "label-skew"}) {
    EXPECT_THROW(parsePartition(bad, 3), InputError) << bad;
  }
  const auto labels = balancedLabels(1000, 10);
  EXPECT_EQ(partition(labels, 10, 4, iid), iidShards(1000, 4, 3));
  EXPECT_EQ(partition(labels, 10, 4, dir), dirichletShards(labels, 10, 4, 0.25, 3));
}

TEST(NodeParts, OwnShardThenRedundantWithProportionalCounts) {
  const Shards base = iidShards(800, 4, 2);  // 200 each
  const auto plain = nodeParts(base, 1, 32);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].indices, base[1]);
  EXPECT_EQ(plain[0].perBatch, 32u);
  const auto ri = nodeParts(base, 3, 32, 0.375);  // r = 1.5
  ASSERT_EQ(ri.size(), 3u);
  EXPECT_EQ(ri[0].indices, base[3]);
  EXPECT_EQ(ri[1].indices, base[0]);
  EXPECT_EQ(ri[2].indices.size(), 100u);
  EXPECT_EQ(ri[0].perBatch, 32u);
  EXPECT_EQ(ri[1].perBatch, 32u);
  EXPECT_EQ(ri[2].perBatch, 16u);
  EXPECT_THROW(nodeParts(base, 0, 0), InputError);
  EXPECT_THROW(nodeParts(iidShards(2, 4, 1), 3, 8), InputError);  // node 3 gets nothing
}

}  // namespace
}  // namespace murmur::nn::data
