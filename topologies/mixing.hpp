#pragma once
// Mixing weights W for gossip averaging: x_i <- W_ii x_i + sum_j W_ij x^_j. Every rule gives a
// symmetric, row-stochastic, non-negative W on the graph's edges (formulas in
// ../shared/reference/ALGORITHMS.md). Plain C++ types here; Eigen stays inside the library.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "topologies/topology.hpp"

namespace murmur::topologies {

enum class MixingRule {
  kMetropolisHastings,  // W_ij = 1 / (1 + max(d_i, d_j))
  kMaxDegree,           // W_ij = 1 / (1 + d_max)
  kExplicit,            // W_ij = the edge's weight from the file
};

// "metropolis-hastings" (or "metropolis", "mh"), "max-degree" (or "maxdegree"), "explicit" (or
// "file"). Throws InputError.
MixingRule parseMixingRule(std::string_view text);
const char* toString(MixingRule rule);
// kExplicit when every edge carries a weight, else kMetropolisHastings.
MixingRule defaultMixingRule(const Topology& t);

// Node i's row of W: its self weight and one (neighbour id, weight) per neighbour, sorted by id.
struct MixingRow {
  double self = 1.0;
  std::vector<std::pair<uint32_t, double>> neighbours;

  // W_ij, 0 when j is not a neighbour.
  double weightOf(uint32_t j) const;
  double sum() const;
};

// Throws InputError for an unknown node, or for kExplicit on edges without weights.
MixingRow mixingRow(const Topology& t, uint32_t node, MixingRule rule);

// Row-major dense n x n matrix.
struct DenseMatrix {
  size_t n = 0;
  std::vector<double> values;
  double operator()(size_t i, size_t j) const { return values[i * n + j]; }
};
DenseMatrix mixingMatrix(const Topology& t, MixingRule rule);

// The row with the given neighbours taken out (down, unreachable, evicted): their weight moves
// to the self weight, so the row still sums to 1. Ids that are not neighbours are ignored.
MixingRow withoutNeighbours(const MixingRow& row, const std::vector<uint32_t>& down);
// The same, keeping only the neighbours for which isUp(id) is true.
MixingRow keepNeighbours(const MixingRow& row, const std::function<bool(uint32_t)>& isUp);

}  // namespace murmur::topologies
