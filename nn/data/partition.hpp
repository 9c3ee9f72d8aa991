#pragma once
// Which samples each node trains on. Every node computes the full partition from (seed, node
// count) and keeps its own part, so the cluster agrees without exchanging index lists.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace murmur::nn::data {

using Shards = std::vector<std::vector<uint32_t>>;

// IID: a seeded permutation of 0..n-1 cut into numNodes contiguous shards; disjoint, covering
// all n, sizes differ by at most 1 (the first n % numNodes shards get one more). Each shard's
// indices are sorted.
Shards iidShards(size_t n, uint32_t numNodes, uint64_t seed);
std::vector<uint32_t> iidShard(size_t n, uint32_t nodeId, uint32_t numNodes, uint64_t seed);

// Label-skewed non-IID: for each class, the node proportions are drawn from Dirichlet(alpha)
// and the class's (shuffled) samples are cut accordingly. Small alpha gives nodes few classes;
// large alpha tends to IID. Disjoint and covering. Redraws (deterministically) until every node
// holds at least minPerNode samples; throws InputError after 1000 attempts. Indices sorted.
Shards dirichletShards(std::span<const int32_t> labels, int classes, uint32_t numNodes,
                       double alpha, uint64_t seed, size_t minPerNode = 1);

// RI-SGD redundancy (ALGORITHMS.md): node j holds shard j plus the next r = mu * N shards
// (mod N), the fractional part f of r as floor(f * size) evenly spaced samples of the following
// shard.
struct RedundantShard {
  std::vector<uint32_t> shardIds;            // parts[k] comes from shards[shardIds[k]]
  std::vector<std::vector<uint32_t>> parts;  // parts[0] is the node's own shard
  double redundancy = 0;                     // r = mu * N
};

// `shards` is a base partition (e.g. iidShards). Requires 0 <= mu and r <= N - 1.
RedundantShard redundantShard(const Shards& shards, uint32_t nodeId, double mu);

// A partition as configured by a run: kind, its parameters and the seed.
struct PartitionConfig {
  enum class Kind { kIid, kDirichlet };
  Kind kind = Kind::kIid;
  double alpha = 0.5;     // kDirichlet concentration
  size_t minPerNode = 1;  // kDirichlet: redraw until every node has this many samples
  uint64_t seed = 0;
};

// "iid", "dirichlet" (alpha 0.5) or "dirichlet:ALPHA"; throws InputError naming spec.
PartitionConfig parsePartition(std::string_view spec, uint64_t seed);
std::string toString(const PartitionConfig& config);

// The shards of all numNodes nodes; identical on every node for the same arguments.
Shards partition(std::span<const int32_t> labels, int classes, uint32_t numNodes,
                 const PartitionConfig& config);

// The union of the parts (sorted, duplicates removed), e.g. to evaluate on a node's data.
std::vector<uint32_t> flatten(const RedundantShard& shard);

}  // namespace murmur::nn::data
