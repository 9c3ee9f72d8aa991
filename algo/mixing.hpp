#pragma once
// Gossip averaging x <- W_ii x + sum_j W_ij x^_j on flat spans. The weights are one row of W,
// handed in by node/ (converted from topologies/); a neighbour that is down or whose replica is
// not usable gives its weight to the self term, so the row still sums to 1.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/messages.hpp"

namespace murmur::algo {

struct MixingWeights {
  double self = 1.0;
  std::vector<std::pair<NodeId, double>> neighbours;
};

// Throws InputError unless every weight is finite and >= 0, the row sums to 1 (1e-6), no id
// repeats, and every id is one of `transportNeighbours`.
void validate(const MixingWeights& weights, const std::vector<NodeId>& transportNeighbours);

struct MixTerm {
  double weight = 0.0;
  std::span<const float> replica;
};

// x <- selfWeight * x + sum weight_j * replica_j (every replica has x.size() floats).
void mixInto(std::span<float> x, double selfWeight, std::span<const MixTerm> terms);

}  // namespace murmur::algo
