#pragma once
// N nodes on threads, each minimising f_i(x) = ||x - c_i||^2 / 2 with plain SGD while gossiping
// through a Gossip policy: the nodes should agree (consensus distance falls) and their average
// should approach mean(c). Shared by the fake-transport and the in-memory-transport tests.

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "algo/gossip.hpp"
#include "gossip_fixture.hpp"

namespace murmur::algo::testing {

struct ConsensusResult {
  double initial = 0;           // consensus distance (1/N) sum ||x_i - mean x||^2 at the start
  double final = 0;             // ... after the last step and finish()
  double targetSpread = 0;      // (1/N) sum ||c_i - mean c||^2: where nodes end without gossip
  double initialMeanError = 0;  // ||mean x - mean c||^2 at the start
  double meanError = 0;         // ... at the end
  std::vector<GossipStats> stats;
  std::vector<uint8_t> startedInSync;  // awaitNeighbours succeeded, per node
  uint64_t syncMisses = 0;             // syncReplicas: node-steps whose replicas never caught up
  std::vector<std::vector<float>> params;  // every node's x after finish()
};

inline double consensusDistance(const std::vector<std::vector<float>>& x) {
  const size_t n = x.size(), d = x[0].size();
  double s = 0;
  for (size_t i = 0; i < d; ++i) {
    double m = 0;
    for (const auto& v : x) m += v[i];
    m /= static_cast<double>(n);
    for (const auto& v : x) s += (v[i] - m) * (v[i] - m);
  }
  return s / static_cast<double>(n);
}

// transports[i] is node i's endpoint; adjacency gives Metropolis-Hastings weights. lockStep: a
// barrier after every step keeps the threads at the same step (as equally fast nodes are);
// otherwise they run freely and the fastest may finish before the slowest starts; jitterSeed
// (free-running only, 0: none) makes each thread pause a random 0-200 us before each step, and
// 2 ms one step in ten, so who runs ahead changes from run to run. closeOnFinish: each node
// closes its transport right after finish(), as `murmur node` does.
inline ConsensusResult runConsensus(const MethodConfig& methodIn,
                                    const std::vector<std::vector<NodeId>>& adjacency,
                                    std::vector<std::unique_ptr<Transport>>& transports,
                                    const std::vector<size_t>& sizes, uint64_t steps, double lr,
                                    bool lockStep = true, uint32_t seed = 3,
                                    bool syncReplicas = false, uint32_t jitterSeed = 0,
                                    bool closeOnFinish = false) {
  const size_t n = adjacency.size();
  MethodConfig method = methodIn;
  // In lock-step the barrier already bounds every lag, and a lag wait there could only end at
  // its deadline: nobody sends while the others stand at the barrier.
  if (lockStep) method.maxStepLag = 0;
  const auto layout = makeLayout(sizes);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> x(n, std::vector<float>(layout.total));
  std::vector<std::vector<float>> c(n, std::vector<float>(layout.total));
  for (size_t i = 0; i < n; ++i) {
    for (auto& f : x[i]) f = 3.0f * g(rng);
    for (auto& f : c[i]) f = g(rng);
  }
  ConsensusResult r;
  auto meanError = [&] {
    double e = 0;
    for (size_t p = 0; p < layout.total; ++p) {
      double mx = 0, mc = 0;
      for (size_t i = 0; i < n; ++i) {
        mx += x[i][p];
        mc += c[i][p];
      }
      e += (mx - mc) * (mx - mc) / static_cast<double>(n * n);
    }
    return e;
  };
  r.initial = consensusDistance(x);
  r.initialMeanError = meanError();
  r.startedInSync.assign(n, 0);
  r.targetSpread = consensusDistance(c);
  std::vector<std::unique_ptr<Gossip>> gossips;
  for (NodeId i = 0; i < n; ++i) {
    gossips.push_back(std::make_unique<Gossip>(method, layout, std::span<float>(x[i]),
                                               *transports[i], metropolis(adjacency, i),
                                               SteadyClock::instance()));
  }
  std::barrier sync(static_cast<std::ptrdiff_t>(n));
  std::atomic<int> notReady{0};
  std::atomic<uint64_t> syncMisses{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      std::vector<float> grad(layout.total);
      if (lockStep) {
        // Short waits in rounds until every node holds all replicas: a node that waited at the
        // barrier instead would not answer a neighbour whose keyframe was lost on the way.
        for (int attempt = 0; attempt < 500; ++attempt) {  // at most ~10 s
          if (!gossips[i]->awaitNeighbours(std::chrono::milliseconds(20))) ++notReady;
          sync.arrive_and_wait();
          const bool all = notReady.load() == 0;
          sync.arrive_and_wait();
          if (i == 0) notReady = 0;
          sync.arrive_and_wait();
          if (all) {
            r.startedInSync[i] = 1;
            break;
          }
        }
      } else {
        // As `murmur node` does: wait (bounded) for every neighbour's start-up keyframes. Over
        // TCP on a loaded machine connecting can take well over a few hundred milliseconds, and
        // a node that starts before a neighbour is up mixes without it.
        r.startedInSync[i] = gossips[i]->awaitNeighbours(std::chrono::seconds(10));
      }
      std::mt19937 jitter(jitterSeed * 7919u + static_cast<uint32_t>(i));
      std::uniform_int_distribution<int> pauseUs(0, 200);
      for (uint64_t k = 0; k < steps; ++k) {
        if (jitterSeed != 0 && !lockStep) {
          const int us = jitter() % 10 == 0 ? 2000 : pauseUs(jitter);
          std::this_thread::sleep_for(std::chrono::microseconds(us));
        }
        for (size_t p = 0; p < grad.size(); ++p) grad[p] = x[i][p] - c[i][p];
        gossips[i]->beforeUpdate(k);
        if (lockStep) sync.arrive_and_wait();  // nobody sends step k before all have mixed
        const float step = static_cast<float>(lr * gossips[i]->lrScale(k));
        for (size_t p = 0; p < grad.size(); ++p) x[i][p] -= step * grad[p];
        gossips[i]->afterUpdate(k);
        if (lockStep) sync.arrive_and_wait();
        if (syncReplicas) {
          // A real network delivers later than the barrier: wait (bounded) until this node's
          // replicas equal what its neighbours sent, so the run is as synchronous as in memory.
          // Nobody changes x~ in this phase (keyframes only read it).
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          auto caughtUp = [&] {
            for (NodeId j : adjacency[i]) {
              const auto rep = gossips[i]->replica(j);
              const auto sent = gossips[j]->lastSent();
              if (!std::equal(rep.begin(), rep.end(), sent.begin())) return false;
            }
            return true;
          };
          while (!caughtUp() && std::chrono::steady_clock::now() < until) {
            gossips[i]->poll(std::chrono::milliseconds(1));
          }
          if (!caughtUp()) ++syncMisses;
          sync.arrive_and_wait();
        }
      }
      gossips[i]->finish();
      if (closeOnFinish) transports[i]->close("finished", std::chrono::milliseconds(500));
    });
  }
  for (auto& t : threads) t.join();
  r.syncMisses = syncMisses.load();
  r.final = consensusDistance(x);
  r.meanError = meanError();
  for (const auto& gp : gossips) r.stats.push_back(gp->stats());
  r.params = x;
  return r;
}

}  // namespace murmur::algo::testing
