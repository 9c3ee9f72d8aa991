// Gossip over net/'s in-memory transport: the real codec (fp16 included) and the fault layer.

#include <cstring>

#include <gtest/gtest.h>

#include "consensus_runner.hpp"
#include "net/inmemory_transport.hpp"

namespace murmur::algo {
namespace {

using testing::FakeNetwork;

std::vector<std::unique_ptr<Transport>> endpoints(net::InMemoryNetwork& network, size_t n) {
  std::vector<std::unique_ptr<Transport>> t;
  for (NodeId i = 0; i < n; ++i) t.push_back(network.endpoint(i));
  return t;
}

class ConsensusInMemory : public ::testing::TestWithParam<std::string> {};

TEST_P(ConsensusInMemory, FourNodeRingAgreesOnTheMean) {
  const auto adj = FakeNetwork::ring(4);
  net::InMemoryNetwork network(4, adj);
  auto transports = endpoints(network, 4);
  MethodConfig method = parseMethod(GetParam());
  method.topKFraction = 0.3;  // scaled to the 30-parameter toy, as in consensus_test.cpp
  method.maskEvery = 5;
  const auto r = testing::runConsensus(method, adj, transports, {20, 7, 3}, 150, 0.05);
  std::printf("%-15s consensus %.3g -> %.3g (no gossip: %.3g), |mean x - mean c|^2 %.3g -> %.3g\n",
              GetParam().c_str(), r.initial, r.final, r.targetSpread, r.initialMeanError,
              r.meanError);
  for (uint8_t ok : r.startedInSync) EXPECT_TRUE(ok);
  EXPECT_LT(r.final, 0.05 * r.initial);
  EXPECT_LT(r.final, 0.5 * r.targetSpread);
  EXPECT_LT(r.meanError, 0.5 * r.initialMeanError);
  for (const auto& s : r.stats) {
    EXPECT_EQ(s.roundWaitTimeouts, 0u);
    EXPECT_EQ(s.voteTimeouts, 0u);
    EXPECT_EQ(s.updatesRejected, 0u);
    EXPECT_EQ(s.gapsDetected, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, ConsensusInMemory, ::testing::ValuesIn(methodNames()),
                         [](const auto& param) { return testing::presetTestName(param.param); });

TEST(InMemoryGossip, Fp16AndSparseReplicasMatchTheSenderBitForBit) {
  // The sender rounds to binary16 itself, so the codec's conversion must be lossless on it.
  const auto adj = FakeNetwork::ring(2);
  // Sign values likewise: +-scale decodes to the sender's floats exactly.
  for (const std::string name : {"dpsgd", "eventgrad-topk", "eventgrad-vote", "dpsgd+sign",
                                 "eventgrad-topk+sign", "eventgrad-vote+sign"}) {
    net::InMemoryNetwork network(2, adj);
    auto transports = endpoints(network, 2);
    const bool sign = name.ends_with("+sign");
    MethodConfig method = parseMethod(name.substr(0, name.find('+')));
    method.fp16 = !sign;
    method.sign = sign;
    method.maskEvery = 3;
    const auto layout = testing::makeLayout({6, 10, 3});
    std::vector<std::vector<float>> x(2, std::vector<float>(layout.total, 0.5f));
    std::vector<std::unique_ptr<Gossip>> g;
    for (NodeId i = 0; i < 2; ++i) {
      g.push_back(std::make_unique<Gossip>(method, layout, std::span<float>(x[i]), *transports[i],
                                           testing::selfOnly(adj, i), SteadyClock::instance()));
    }
    std::barrier sync(2);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        EXPECT_TRUE(g[i]->awaitNeighbours(std::chrono::seconds(10)));
        std::mt19937 rng(static_cast<uint32_t>(i) + 40);
        std::normal_distribution<float> n(0.0f, 0.01f);
        for (uint64_t k = 0; k < 20; ++k) {
          g[i]->beforeUpdate(k);
          for (auto& f : x[i]) f += n(rng) * (k % 4 == 0 ? 300.0f : 1.0f);
          g[i]->afterUpdate(k);
          sync.arrive_and_wait();
        }
        g[i]->beforeUpdate(20);  // drain the last step
      });
    }
    for (auto& t : threads) t.join();
    for (NodeId i = 0; i < 2; ++i) {
      const auto rep = g[1 - i]->replica(i);
      const auto sent = g[i]->lastSent();
      EXPECT_EQ(std::memcmp(rep.data(), sent.data(), sent.size() * sizeof(float)), 0)
          << name << " node " << i;
      EXPECT_EQ(g[1 - i]->stats().updatesRejected, 0u) << name;
    }
  }
}

TEST(InMemoryGossip, LossyDuplicatingReorderingLinksAreRepaired) {
  const auto adj = FakeNetwork::ring(4);
  for (const char* name : {"dpsgd", "eventgrad", "eventgrad-topk"}) {
    net::InMemoryOptions options;
    net::LinkRule rule;
    rule.drop = 0.03;
    rule.duplicate = 0.05;
    rule.reorder = 0.05;
    options.faults = net::FaultScenario{};
    options.faults->rules.push_back(rule);
    options.seed = 17;
    net::InMemoryNetwork network(4, adj, options);
    auto transports = endpoints(network, 4);
    MethodConfig method = parseMethod(name);
    method.topKFraction = 0.3;
    method.keyframeRetry = std::chrono::milliseconds(2);
    const auto r = testing::runConsensus(method, adj, transports, {20, 7, 3}, 300, 0.05);
    uint64_t repairs = 0, gaps = 0;
    for (const auto& s : r.stats) {
      repairs += s.keyframeRequestsReceived;
      gaps += s.gapsDetected + s.staleIgnored;
    }
    std::printf("%-15s lossy: consensus %.3g -> %.3g, gaps+stale %llu, keyframe requests %llu\n",
                name, r.initial, r.final, static_cast<unsigned long long>(gaps),
                static_cast<unsigned long long>(repairs));
    EXPECT_GT(gaps, 0u) << name;
    EXPECT_GT(repairs, 0u) << name;
    EXPECT_LT(r.final, 0.05 * r.initial) << name;
    EXPECT_LT(r.final, 0.5 * r.targetSpread) << name;
  }
}

}  // namespace
}  // namespace murmur::algo
