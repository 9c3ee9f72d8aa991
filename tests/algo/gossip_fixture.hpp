#pragma once
// Shared helpers for Gossip tests: a small layout, Metropolis-Hastings weights, and a cluster of
// Gossip instances over the fake network, stepped in lock-step from one thread.

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "algo/gossip.hpp"
#include "fake_transport.hpp"

namespace murmur::algo::testing {

inline nn::TensorLayout makeLayout(const std::vector<size_t>& sizes) {
  nn::TensorLayout layout;
  size_t offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    nn::TensorInfo t;
    t.name = std::string("t");
    t.name += std::to_string(i);
    t.shape = {static_cast<int64_t>(sizes[i])};
    t.offset = offset;
    t.numel = sizes[i];
    offset += sizes[i];
    layout.tensors.push_back(t);
  }
  layout.total = offset;
  return layout;
}

// W_ij = 1 / (1 + max(d_i, d_j)), W_ii = 1 - sum.
inline MixingWeights metropolis(const std::vector<std::vector<NodeId>>& adj, NodeId i) {
  MixingWeights w;
  double sum = 0;
  for (NodeId j : adj[i]) {
    const double v = 1.0 / (1.0 + static_cast<double>(std::max(adj[i].size(), adj[j].size())));
    w.neighbours.emplace_back(j, v);
    sum += v;
  }
  w.self = 1.0 - sum;
  return w;
}

// Every neighbour gets weight 0: the node never moves by mixing (isolates the send path).
inline MixingWeights selfOnly(const std::vector<std::vector<NodeId>>& adj, NodeId i) {
  MixingWeights w;
  w.self = 1.0;
  for (NodeId j : adj[i]) w.neighbours.emplace_back(j, 0.0);
  return w;
}

struct Cluster {
  Cluster(std::vector<std::vector<NodeId>> adj, const std::vector<size_t>& sizes,
          const MethodConfig& method, const Clock& clock, ManualClock* manual = nullptr,
          bool mix = true, uint32_t seed = 1, bool sharedInit = false)
      : adjacency(adj), layout(makeLayout(sizes)), net(adj, manual) {
    // Distinct starting points by default (mixing has something to do); sharedInit starts every
    // node from the same one, as `murmur run` does (one seed), so digest keyframes match.
    const size_t n = adj.size();
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    x.resize(n);
    for (auto& v : x) {
      v.resize(layout.total);
      for (auto& f : v) f = g(rng);
      if (sharedInit) v = x.front();
    }
    for (NodeId i = 0; i < n; ++i) {
      transports.push_back(net.endpoint(i));
      gossips.push_back(
          std::make_unique<Gossip>(method, layout, std::span<float>(x[i]), *transports[i],
                                   mix ? metropolis(adj, i) : selfOnly(adj, i), clock));
    }
  }

  std::vector<std::vector<NodeId>> adjacency;
  nn::TensorLayout layout;
  FakeNetwork net;
  std::vector<std::vector<float>> x;
  std::vector<std::unique_ptr<Transport>> transports;
  std::vector<std::unique_ptr<Gossip>> gossips;
};

// A gtest parameter name for a method preset ("eventgrad-vote" -> "eventgrad_vote"): gtest
// names allow only [A-Za-z0-9_].
inline std::string presetTestName(const std::string& preset) {
  std::string s = preset;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

}  // namespace murmur::algo::testing
