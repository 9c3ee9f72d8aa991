#include "topologies/describe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <Eigen/Dense>

#include "common/error.hpp"

namespace murmur::topologies {

std::optional<size_t> diameter(const Topology& t) {
  const auto adj = adjacency(t);
  const size_t n = adj.size();
  constexpr size_t kUnseen = std::numeric_limits<size_t>::max();
  size_t longest = 0;
  std::vector<size_t> dist(n);
  std::vector<uint32_t> queue;
  queue.reserve(n);
  for (uint32_t source = 0; source < n; ++source) {
    std::fill(dist.begin(), dist.end(), kUnseen);
    queue.clear();
    queue.push_back(source);
    dist[source] = 0;
    for (size_t head = 0; head < queue.size(); ++head) {
      const uint32_t x = queue[head];
      for (uint32_t y : adj[x]) {
        if (dist[y] == kUnseen) {
          dist[y] = dist[x] + 1;
          queue.push_back(y);
        }
      }
    }
    if (queue.size() != n) return std::nullopt;
    longest = std::max(longest, dist[queue.back()]);  // BFS order: the last one is farthest
  }
  return longest;
}

std::vector<double> mixingEigenvalues(const Topology& t, MixingRule rule) {
  const DenseMatrix w = mixingMatrix(t, rule);
  const auto n = static_cast<Eigen::Index>(w.n);
  if (n == 0) return {};
  // DenseMatrix is row-major; W is symmetric, so either reading is the same matrix.
  const Eigen::Map<const Eigen::MatrixXd> map(w.values.data(), n, n);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(map, Eigen::EigenvaluesOnly);
  MURMUR_CHECK(solver.info() == Eigen::Success, "eigen solver failed on a {}x{} mixing matrix", n,
               n);
  std::vector<double> values(solver.eigenvalues().data(), solver.eigenvalues().data() + n);
  std::sort(values.begin(), values.end(), std::greater<>());
  return values;
}

TopologyInfo describe(const Topology& t, MixingRule rule) {
  TopologyInfo info;
  info.clusterId = t.clusterId;
  info.nodes = t.nodes.size();
  info.edges = t.edges.size();
  info.rule = rule;
  const auto adj = adjacency(t);
  if (!adj.empty()) {
    info.minDegree = std::numeric_limits<size_t>::max();
    for (const auto& row : adj) {
      info.minDegree = std::min(info.minDegree, row.size());
      info.maxDegree = std::max(info.maxDegree, row.size());
    }
    info.meanDegree = 2.0 * static_cast<double>(info.edges) / static_cast<double>(info.nodes);
  }
  info.components = components(t).size();
  info.diameter = diameter(t);
  if (info.nodes <= kMaxSpectrumNodes) {
    const auto eig = mixingEigenvalues(t, rule);
    info.slem = eig.size() >= 2 ? std::max(std::fabs(eig[1]), std::fabs(eig.back())) : 0.0;
    info.spectralGap = 1.0 - *info.slem;
  } else {
    // Still check the rule applies (explicit weights present), as a smaller graph would.
    (void)mixingRow(t, 0, rule);
  }
  return info;
}

std::string formatInfo(const TopologyInfo& info) {
  std::string out;
  if (!info.clusterId.empty()) out += fmt::format("cluster:       {}\n", info.clusterId);
  out += fmt::format("nodes:         {}\n", info.nodes);
  out += fmt::format("edges:         {}\n", info.edges);
  out += fmt::format("degree:        min {}, max {}, mean {:.3f}\n", info.minDegree, info.maxDegree,
                     info.meanDegree);
  out += fmt::format("connected:     {}\n",
                     info.components <= 1 ? std::string("yes")
                                          : fmt::format("no ({} components)", info.components));
  out += fmt::format("diameter:      {}\n",
                     info.diameter ? fmt::format("{}", *info.diameter) : std::string("infinite"));
  out += fmt::format("mixing rule:   {}\n", toString(info.rule));
  if (info.slem && info.spectralGap) {
    out += fmt::format("slem:          {:.6f}\n", *info.slem);
    out += fmt::format("spectral gap:  {:.6f}\n", *info.spectralGap);
  } else {
    out += fmt::format("spectral gap:  not computed (more than {} nodes)\n", kMaxSpectrumNodes);
  }
  return out;
}

}  // namespace murmur::topologies
