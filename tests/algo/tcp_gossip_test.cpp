// Gossip over net/'s TCP transport on loopback: real sockets, MACs, heartbeats (which the write
// queue folds together) and update merging.

#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "consensus_runner.hpp"
#include "gossip_fixture.hpp"
#include "net/tcp_transport.hpp"
#include "tests/support/loopback_cluster.hpp"

namespace murmur::algo {
namespace {

using testing::FakeNetwork;
using namespace std::chrono_literals;

std::vector<std::unique_ptr<Transport>> tcpRing(const std::vector<std::vector<NodeId>>& adj) {
  return testsupport::loopbackCluster(adj, {.clusterId = "algo-test",
                                            .modelFingerprint = 42,
                                            .secret = "algo tests share this secret",
                                            .heartbeatInterval = 20ms,
                                            .peerTimeout = 2000ms});
}

class ConsensusTcp : public ::testing::TestWithParam<std::string> {};

TEST_P(ConsensusTcp, FourNodeRingOnLoopback) {
  const auto adj = FakeNetwork::ring(4);
  auto transports = tcpRing(adj);
  MethodConfig method = parseMethod(GetParam());
  method.topKFraction = 0.3;
  method.maskEvery = 5;
  const auto r = testing::runConsensus(method, adj, transports, {20, 7, 3}, 150, 0.05,
                                       /*lockStep=*/true, /*seed=*/3, /*syncReplicas=*/true);
  EXPECT_EQ(r.syncMisses, 0u);
  std::printf("%-15s tcp: consensus %.3g -> %.3g (no gossip: %.3g), |mean x - mean c|^2 %.3g\n",
              GetParam().c_str(), r.initial, r.final, r.targetSpread, r.meanError);
  for (uint8_t ok : r.startedInSync) EXPECT_TRUE(ok);
  EXPECT_LT(r.final, 0.05 * r.initial);
  EXPECT_LT(r.final, 0.5 * r.targetSpread);
  EXPECT_LT(r.meanError, 0.5 * r.initialMeanError);
  for (const auto& s : r.stats) {
    EXPECT_EQ(s.roundWaitTimeouts, 0u);
    EXPECT_EQ(s.voteTimeouts, 0u);
    EXPECT_EQ(s.updatesRejected, 0u);
  }
  for (auto& t : transports) t->close("test over", 500ms);
}

// finalDense over real sockets: the write queue merges heartbeats and updates, so "a
// neighbour's final deltas are in" must not rest on a heartbeat arriving after them.
TEST(GossipTcp, FinalDenseExchangeIsOneFullAveragingStep) {
  const auto adj = FakeNetwork::ring(3);
  auto transports = tcpRing(adj);
  const auto layout = testing::makeLayout({6, 10, 3});
  MethodConfig m = parseMethod("eventgrad-topk");
  m.topKFraction = 0.2;
  m.mixPublicCopies = true;
  m.publicMixStep = 0.2;
  m.finalDense = true;
  m.roundDeadline = 5000ms;
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> x(3, std::vector<float>(layout.total));
  for (auto& f : x[0]) f = g(rng);
  x[1] = x[2] = x[0];
  std::vector<std::unique_ptr<Gossip>> gossips;
  for (NodeId i = 0; i < 3; ++i) {
    gossips.push_back(std::make_unique<Gossip>(m, layout, std::span<float>(x[i]), *transports[i],
                                               testing::metropolis(adj, i),
                                               SteadyClock::instance()));
  }
  auto onEveryNode = [&](auto fn) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 3; ++i) threads.emplace_back([&, i] { fn(i); });
    for (auto& t : threads) t.join();
  };
  std::vector<uint8_t> ready(3, 0);
  onEveryNode([&](size_t i) { ready[i] = gossips[i]->awaitNeighbours(5000ms); });
  for (uint8_t ok : ready) ASSERT_TRUE(ok);
  for (uint64_t k = 0; k < 12; ++k) {
    for (size_t i = 0; i < 3; ++i) {
      gossips[i]->beforeUpdate(k);
      for (auto& f : x[i]) f += 0.1f * g(rng);
    }
    for (auto& gs : gossips) gs->afterUpdate(k);
  }
  const auto before = x;
  onEveryNode([&](size_t i) { gossips[i]->finish(); });
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(gossips[i]->stats().finalExchangeTimeouts, 0u) << "node " << i;
    const auto w = testing::metropolis(adj, static_cast<NodeId>(i));
    for (size_t p = 0; p < layout.total; ++p) {
      double want = w.self * before[i][p];
      for (const auto& [j, wj] : w.neighbours) want += wj * before[j][p];
      ASSERT_NEAR(x[i][p], want, 1e-5) << "node " << i << " coordinate " << p;
    }
  }
  for (auto& t : transports) t->close("test over", 500ms);
}

INSTANTIATE_TEST_SUITE_P(SomeMethods, ConsensusTcp,
                         ::testing::Values("dpsgd", "eventgrad-vote", "local-sgd", "aet-sgd"),
                         [](const auto& param) { return testing::presetTestName(param.param); });

}  // namespace
}  // namespace murmur::algo
