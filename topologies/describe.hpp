#pragma once
// Graph metrics for `murmur topo info FILE` and for choosing topologies: degrees, diameter and
// the spectral gap of the mixing matrix (how fast gossip averaging forgets disagreement: the
// distance to consensus shrinks roughly by (1 - gap) per mixing step).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::topologies {

struct TopologyInfo {
  std::string clusterId;
  size_t nodes = 0;
  size_t edges = 0;
  size_t minDegree = 0;
  size_t maxDegree = 0;
  double meanDegree = 0.0;
  size_t components = 0;
  std::optional<size_t> diameter;  // longest shortest path in hops; none when disconnected
  MixingRule rule = MixingRule::kMetropolisHastings;
  // Eigenvalues of W: 1 = lambda_1 >= lambda_2 >= ... >= lambda_n >= -1.
  // slem = max(|lambda_2|, |lambda_n|) (0 for a single node); spectralGap = 1 - slem.
  // Not computed (nullopt) above kMaxSpectrumNodes nodes: the dense solver is O(n^3).
  std::optional<double> slem;
  std::optional<double> spectralGap;
};

inline constexpr size_t kMaxSpectrumNodes = 3000;

// Hop-count diameter by BFS from every node; nullopt when the graph is disconnected.
std::optional<size_t> diameter(const Topology& t);

// Eigenvalues of the (symmetric) mixing matrix, in descending order.
std::vector<double> mixingEigenvalues(const Topology& t, MixingRule rule);

TopologyInfo describe(const Topology& t, MixingRule rule);
inline TopologyInfo describe(const Topology& t) { return describe(t, defaultMixingRule(t)); }

// Several "key: value" lines, ending in a newline.
std::string formatInfo(const TopologyInfo& info);

}  // namespace murmur::topologies
