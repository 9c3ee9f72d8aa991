// Gossip over net/'s TCP transport on loopback: real sockets, MACs, heartbeats (which the write
// queue folds together) and update merging.

#include <map>

#include <gtest/gtest.h>

#include "consensus_runner.hpp"
#include "net/tcp_transport.hpp"
#include "tests/support/loopback_cluster.hpp"

namespace murmur::algo {
namespace {

using testing::FakeNetwork;
using namespace std::chrono_literals;

std::vector<std::unique_ptr<Transport>> tcpRing(const std::vector<std::vector<NodeId>>& adj) {
  return testsupport::loopbackCluster(
      adj, {.clusterId = "algo-test", .modelFingerprint = 42,
            .secret = "algo tests share this secret", .heartbeatInterval = 20ms,
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

INSTANTIATE_TEST_SUITE_P(SomeMethods, ConsensusTcp,
                         ::testing::Values("dpsgd", "eventgrad-vote", "local-sgd", "aet-sgd"),
                         [](const auto& param) {
                           std::string s = param.param;
                           for (auto& ch : s) {
                             if (ch == '-') ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace murmur::algo
