#include "algo/gossip.hpp"

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "algo/compress.hpp"
#include "common/error.hpp"
#include "gossip_fixture.hpp"

namespace murmur::algo {
namespace {

using testing::Cluster;
using testing::FakeNetwork;

const std::vector<size_t> kSizes = {6, 10, 3};

// A deterministic "optimizer step": every coordinate moves by a pseudo-random amount.
void drift(std::vector<float>& x, std::mt19937& rng, float scale = 0.1f) {
  std::normal_distribution<float> g(0.0f, scale);
  for (auto& f : x) f += g(rng);
}

bool bitwiseEqual(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

MethodConfig zeroThresholdEventGrad(bool viaHorizon) {
  MethodConfig c = parseMethod("eventgrad");
  c.eventgrad.warmup = 0;
  c.eventgrad.maxSilence = 0;
  if (viaHorizon) {
    c.eventgrad.horizon = 0.0;
  } else {
    c.eventgrad.adaptive = false;
    c.eventgrad.staticThreshold = 0.0;
  }
  return c;
}

// Runs `steps` lock-step steps: every node's beforeUpdate, its drift, then every afterUpdate.
void runLockStep(Cluster& c, uint64_t steps, uint32_t seed = 5, float scale = 0.1f) {
  std::mt19937 rng(seed);
  for (uint64_t k = 0; k < steps; ++k) {
    for (size_t i = 0; i < c.gossips.size(); ++i) {
      c.gossips[i]->beforeUpdate(k);
      drift(c.x[i], rng, scale);
    }
    for (auto& g : c.gossips) g->afterUpdate(k);
  }
}

TEST(Gossip, ZeroThresholdIsExactlyDpsgd) {
  const uint64_t steps = 40;
  const auto adj = FakeNetwork::ring(3);
  Cluster d(adj, kSizes, parseMethod("dpsgd"), SteadyClock::instance());
  Cluster e(adj, kSizes, zeroThresholdEventGrad(false), SteadyClock::instance());
  Cluster h(adj, kSizes, zeroThresholdEventGrad(true), SteadyClock::instance());
  runLockStep(d, steps);
  runLockStep(e, steps);
  runLockStep(h, steps);
  for (size_t i = 0; i < 3; ++i) {
    const auto sd = d.gossips[i]->stats();
    for (const Cluster* c : {&e, &h}) {
      const auto s = c->gossips[i]->stats();
      EXPECT_EQ(s.eventsPerTensor, std::vector<uint64_t>(kSizes.size(), steps));
      EXPECT_EQ(s.updateFramesSent, sd.updateFramesSent);
      EXPECT_EQ(s.valuesSent, sd.valuesSent);
      EXPECT_DOUBLE_EQ(s.triggerRate, 1.0);
      // Same messages, same mixing: the same models bit for bit.
      EXPECT_TRUE(bitwiseEqual(c->x[i], d.x[i])) << "node " << i;
    }
    EXPECT_EQ(sd.eventsPerTensor, std::vector<uint64_t>(kSizes.size(), steps));
  }
}

TEST(Gossip, AdaptiveEventGradSendsLessThanDpsgd) {
  const auto adj = FakeNetwork::ring(3);
  Cluster e(adj, kSizes, parseMethod("eventgrad"), SteadyClock::instance());
  // Changes that shrink over time, as a converging optimizer's do.
  std::mt19937 rng(9);
  const uint64_t steps = 200;
  for (uint64_t k = 0; k < steps; ++k) {
    for (size_t i = 0; i < 3; ++i) {
      e.gossips[i]->beforeUpdate(k);
      drift(e.x[i], rng, 0.5f / static_cast<float>(1 + k));
    }
    for (auto& g : e.gossips) g->afterUpdate(k);
  }
  const auto s = e.gossips[0]->stats();
  EXPECT_LT(s.events, steps * kSizes.size());
  // Warm-up sends every tensor for the first 30 steps; S_max = 100 bounds silence.
  for (uint64_t ev : s.eventsPerTensor) EXPECT_GE(ev, 30u + (steps - 30) / 100);
}

TEST(Gossip, MaximumSilenceHoldsInTheLoop) {
  MethodConfig m = parseMethod("eventgrad");
  m.eventgrad.adaptive = false;
  m.eventgrad.staticThreshold = 1e9;  // never by threshold
  m.eventgrad.warmup = 0;
  m.eventgrad.maxSilence = 7;
  Cluster c(FakeNetwork::ring(2), kSizes, m, SteadyClock::instance());
  runLockStep(c, 70);
  for (uint64_t ev : c.gossips[0]->stats().eventsPerTensor) EXPECT_EQ(ev, 10u);
}

struct StreamLog {
  // What node 0 delivered to node 1, summed in double per coordinate since the last keyframe.
  std::vector<double> sum;
  std::vector<double> base;
};

void expectErrorFeedback(MethodConfig method) {
  ManualClock clock;
  // The nodes start apart, so a start-up digest would be refused and the replica would arrive a
  // step later; this test follows the stream from its first full keyframe.
  method.digestKeyframes = false;
  const auto adj = FakeNetwork::ring(2);
  Cluster c(adj, kSizes, method, clock, &clock, /*mix=*/false);
  const auto& layout = c.layout;
  StreamLog log;
  log.sum.assign(layout.total, 0.0);
  const std::vector<float> x0 = c.x[0];
  c.net.setHook([&](NodeId from, NodeId to, Message& m) {
    if (from != 0 || to != 1) return false;
    if (auto* u = std::get_if<TensorUpdate>(&m)) {
      const auto& info = layout.tensors[u->tensor];
      if (u->kind == UpdateKind::kKeyframe) {
        for (size_t i = 0; i < info.numel; ++i) {
          EXPECT_EQ(u->values[i], x0[info.offset + i]) << "the start keyframe carries x~ = x0";
        }
      } else if (u->kind == UpdateKind::kDense) {
        for (size_t i = 0; i < info.numel; ++i) log.sum[info.offset + i] += u->values[i];
      } else if (u->kind == UpdateKind::kSparse) {
        for (size_t i = 0; i < u->indices.size(); ++i)
          log.sum[info.offset + u->indices[i]] += u->values[i];
      } else if (u->kind == UpdateKind::kMasked) {
        const auto& mask = c.gossips[0]->ownMask(u->tensor);
        EXPECT_EQ(mask.size(), u->values.size());
        for (size_t i = 0; i < mask.size(); ++i) log.sum[info.offset + mask[i]] += u->values[i];
      }
      if (method.fp16) {
        EXPECT_TRUE(u->fp16 || u->kind == UpdateKind::kKeyframe);
        for (float v : u->values) {
          if (u->kind != UpdateKind::kKeyframe) {
            EXPECT_EQ(roundToHalf(v), v);
          }
        }
      }
      if (method.int8 && u->kind != UpdateKind::kKeyframe) {
        EXPECT_GT(u->int8Scale, 0.0f);  // every value on that frame's grid
        for (float v : u->values) EXPECT_EQ(std::nearbyint(v / u->int8Scale) * u->int8Scale, v);
      }
    }
    return false;
  });
  std::mt19937 rng(21);
  for (uint64_t k = 0; k < 60; ++k) {
    c.gossips[0]->beforeUpdate(k);
    c.gossips[1]->beforeUpdate(k);
    drift(c.x[0], rng, k % 9 == 0 ? 3.0f : 0.05f);  // large outliers exercise fp16 and top-K
    c.gossips[0]->afterUpdate(k);
    c.gossips[1]->afterUpdate(k);
    c.gossips[1]->beforeUpdate(k + 1);  // drain what node 0 sent
    // What node 1 holds of node 0 is node 0's x~, bit for bit.
    for (uint32_t t = 0; t < kSizes.size(); ++t) ASSERT_TRUE(c.gossips[1]->replicaValid(0, t));
    ASSERT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent())) << "step " << k;
    // Sent + residual == total change.
    const auto xs = c.gossips[0]->lastSent();
    for (size_t i = 0; i < layout.total; ++i) {
      const double total = static_cast<double>(c.x[0][i]) - x0[i];
      const double residual = static_cast<double>(c.x[0][i]) - xs[i];
      ASSERT_NEAR(log.sum[i] + residual, total, 1e-4 * (1.0 + std::fabs(total))) << i;
    }
  }
  // Something was held back (compression) or nothing was (dense): the residual says which.
  const auto s = c.gossips[0]->stats();
  EXPECT_GT(s.updateFramesSent, 0u);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeDense) {
  MethodConfig m = parseMethod("dpsgd");
  expectErrorFeedback(m);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeDenseFp16) {
  MethodConfig m = parseMethod("dpsgd");
  m.fp16 = true;
  expectErrorFeedback(m);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeDenseInt8) {
  MethodConfig m = parseMethod("dpsgd");
  m.int8 = true;
  expectErrorFeedback(m);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeVotedMaskInt8) {
  MethodConfig m = parseMethod("eventgrad-vote");
  m.int8 = true;
  m.topKFraction = 0.3;
  m.maskEvery = 5;
  expectErrorFeedback(m);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeTopK) {
  MethodConfig m = parseMethod("eventgrad-topk");
  m.topKFraction = 0.2;
  expectErrorFeedback(m);
}

TEST(Gossip, ErrorFeedbackConservesTheChangeVotedMask) {
  MethodConfig m = parseMethod("eventgrad-vote");
  m.topKFraction = 0.3;
  m.maskEvery = 5;
  m.fp16 = true;
  expectErrorFeedback(m);
}

TEST(Gossip, DenseSendLeavesOnlyRoundingBehind) {
  ManualClock clock;
  Cluster c(FakeNetwork::ring(2), kSizes, parseMethod("dpsgd"), clock, &clock, false);
  std::mt19937 rng(1);
  drift(c.x[0], rng, 1.0f);
  c.gossips[0]->afterUpdate(0);
  const auto xs = c.gossips[0]->lastSent();
  for (size_t i = 0; i < c.layout.total; ++i) {
    EXPECT_LE(std::fabs(c.x[0][i] - xs[i]), 1e-6f * (1.0f + std::fabs(c.x[0][i])));
  }
}

TEST(Gossip, MajorityVoteBothEndsAgreeOnMasks) {
  MethodConfig m = parseMethod("eventgrad-vote");
  m.topKFraction = 0.3;
  m.maskEvery = 4;
  m.eventgrad.warmup = 1000;  // every step sends: every mask gets used
  const auto adj = FakeNetwork::ring(3);
  Cluster c(adj, kSizes, m, SteadyClock::instance());
  std::vector<std::map<uint32_t, std::vector<std::vector<uint32_t>>>> own(3);  // epoch -> masks
  std::atomic<int> diffs{0}, full{0};
  c.net.setHook([&](NodeId, NodeId, Message& msg) {
    if (auto* d = std::get_if<MaskDecision>(&msg)) ++(d->againstVote ? diffs : full);
    return false;
  });
  const uint64_t steps = 17;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(100 + static_cast<uint32_t>(i));
      for (uint64_t k = 0; k < steps; ++k) {
        c.gossips[i]->beforeUpdate(k);
        drift(c.x[i], rng);
        c.gossips[i]->afterUpdate(k);
        if (k % m.maskEvery == 0) {
          auto& masks = own[i][c.gossips[i]->maskEpoch()];
          for (uint32_t t = 0; t < kSizes.size(); ++t) masks.push_back(c.gossips[i]->ownMask(t));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < 3; ++i) c.gossips[i]->beforeUpdate(steps);  // drain the last decisions
  const uint32_t last = static_cast<uint32_t>((steps - 1) / m.maskEvery);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.gossips[i]->stats().voteTimeouts, 0u);
    EXPECT_EQ(c.gossips[i]->stats().maskEpochs, last + 1);
    for (NodeId j : adj[i]) {
      for (uint32_t t = 0; t < kSizes.size(); ++t) {
        const auto* seen = c.gossips[i]->peerMask(j, t, last);
        ASSERT_NE(seen, nullptr);
        EXPECT_EQ(*seen, own[j][last][t]) << "node " << i << " sees node " << j << "'s mask";
        // K minus the share kept for the node's own residuals (sent with indices).
        const size_t k = topKCount(m.topKFraction, kSizes[t]);
        const auto ownK =
            static_cast<size_t>(std::ceil(m.maskOwnFraction * static_cast<double>(k)));
        EXPECT_EQ(seen->size(), k - std::min(k, ownK));
      }
      // Masked updates applied on the agreed masks keep replicas exact.
      EXPECT_TRUE(bitwiseEqual(c.gossips[i]->replica(j), c.gossips[j]->lastSent()));
    }
    EXPECT_EQ(c.gossips[i]->stats().updatesRejected, 0u);
  }
  // Decisions went both ways, so the masks above were decoded from differences too.
  EXPECT_GT(diffs.load(), 0);
  uint64_t counted = 0;
  for (auto& g : c.gossips) counted += g->stats().decisionsAgainstVote;
  EXPECT_EQ(counted * 2, static_cast<uint64_t>(diffs.load()));  // one frame per neighbour
}

// Node 0 of a 3-ring changes coordinate 10 once, by more than anything else it does; every node
// then moves coordinates 0 and 1 each step, its neighbours by more. Node 0's own top-2 holds
// coordinate 10, but neither neighbour's does, so it loses every majority vote (count 1 against
// 2 and 3). Returns what node 1 holds of node 0's coordinate 10, and node 0's value of it.
struct OutvotedResidual {
  float replica = 0;
  float value = 0;
  float start = 0;
  float sent = 0;  // node 0's x~ of it
  GossipStats stats;
};
OutvotedResidual runOutvotedResidual(uint64_t flushEvery, double ownFraction) {
  MethodConfig m = parseMethod("eventgrad-vote");
  m.topKFraction = 0.1;  // K = 2 of 20
  m.maskEvery = 4;
  m.maskFlushEvery = flushEvery;
  m.maskOwnFraction = ownFraction;  // > 0: 1 of the 2 is the node's own
  m.eventgrad.warmup = 1000;        // every step sends on the mask
  const auto adj = FakeNetwork::ring(3);
  Cluster c(adj, {20}, m, SteadyClock::instance(), nullptr, /*mix=*/false);
  OutvotedResidual r;
  r.start = c.x[0][10];
  const uint64_t steps = 24;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      for (uint64_t k = 0; k < steps; ++k) {
        c.gossips[i]->beforeUpdate(k);
        if (i == 0 && k == 0) c.x[0][10] += 1.0f;
        const float d = i == 0 ? 0.1f : 0.5f;
        c.x[i][0] += d;
        c.x[i][1] += d;
        c.gossips[i]->afterUpdate(k);
        if (i == 0) {
          const auto& mask = c.gossips[0]->ownMask(0);
          EXPECT_EQ(mask.size(), ownFraction > 0 ? 1u : 2u);
          EXPECT_TRUE(std::find(mask.begin(), mask.end(), 10u) == mask.end()) << "step " << k;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  c.gossips[1]->poll(std::chrono::milliseconds(0));  // what node 0 sent last
  r.replica = c.gossips[1]->replica(0)[10];
  r.value = c.x[0][10];
  r.sent = c.gossips[0]->lastSent()[10];
  r.stats = c.gossips[0]->stats();
  return r;
}

TEST(Gossip, ResidualOutsideEveryNeighboursTopKIsEventuallyDelivered) {
  // With the whole K voted and no flush, the outvoted change never leaves node 0 (the old
  // behaviour, which biased the average).
  const auto stale = runOutvotedResidual(0, 0.0);
  EXPECT_EQ(stale.replica, stale.start);
  EXPECT_EQ(stale.sent, stale.start);
  EXPECT_EQ(stale.stats.maskFlushes, 0u);
  // A flush every 5 mask epochs (steps 16..19 are epoch 4) delivers it, exactly.
  const auto fixed = runOutvotedResidual(5, 0.0);
  EXPECT_EQ(fixed.replica, fixed.sent);
  EXPECT_NEAR(fixed.replica, fixed.value, 1e-6f * (1.0f + std::fabs(fixed.value)));
  EXPECT_NE(fixed.replica, fixed.start);
  EXPECT_EQ(fixed.stats.maskFlushes, 1u);
  EXPECT_EQ(fixed.stats.voteTimeouts, 0u);
  EXPECT_EQ(fixed.stats.updatesRejected, 0u);
  // So does the share of K kept for the node's own residuals, without any flush.
  const auto own = runOutvotedResidual(0, 0.5);
  EXPECT_EQ(own.replica, own.sent);
  EXPECT_NEAR(own.replica, own.value, 1e-6f * (1.0f + std::fabs(own.value)));
  EXPECT_NE(own.replica, own.start);
  EXPECT_EQ(own.stats.maskFlushes, 0u);
  EXPECT_GT(own.stats.indicesSent, 0u);
  EXPECT_EQ(own.stats.updatesRejected, 0u);
}

TEST(Gossip, SilentNeighboursVoteIsNotWaitedForForever) {
  ManualClock clock;
  MethodConfig m = parseMethod("eventgrad-vote");
  m.maskOwnFraction = 0.0;  // the whole K is voted
  m.voteDeadline = std::chrono::milliseconds(2000);
  m.maskEvery = 5;
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock);
  // Node 1 is up but never steps: node 0 decides alone once the deadline passes.
  const int64_t t0 = clock.nowNs();
  c.gossips[0]->beforeUpdate(0);
  c.gossips[0]->afterUpdate(0);
  const int64_t waited = clock.nowNs() - t0;
  EXPECT_GE(waited, 2'000'000'000);
  EXPECT_LT(waited, 2'100'000'000);
  EXPECT_EQ(c.gossips[0]->stats().voteTimeouts, 1u);
  for (uint32_t t = 0; t < kSizes.size(); ++t) {
    EXPECT_EQ(c.gossips[0]->ownMask(t).size(), topKCount(m.topKFraction, kSizes[t]));
  }
  // A neighbour reported down is not waited for at all.
  c.net.setAlive(1, false);
  for (uint64_t k = 1; k <= 5; ++k) {
    c.gossips[0]->beforeUpdate(k);
    c.gossips[0]->afterUpdate(k);
  }
  EXPECT_EQ(clock.nowNs() - t0, waited);
  EXPECT_EQ(c.gossips[0]->stats().maskEpochs, 2u);
  EXPECT_EQ(c.gossips[0]->stats().voteTimeouts, 1u);
}

// Full start-up keyframes (nodes start apart) in the repair tests, so the counts below are the
// start plus the repairs; the digest path has its own tests.
MethodConfig dpsgdFullKeyframes() {
  MethodConfig m = parseMethod("dpsgd");
  m.digestKeyframes = false;
  return m;
}

TEST(Gossip, KeyframeRepairsAnInjectedGap) {
  ManualClock clock;
  Cluster c(FakeNetwork::ring(2), kSizes, dpsgdFullKeyframes(), clock, &clock, false);
  int dropped = 0;
  c.net.setHook([&](NodeId from, NodeId, Message& m) {
    auto* u = std::get_if<TensorUpdate>(&m);
    if (from == 0 && u && u->tensor == 1 && u->seq == 3 && u->kind == UpdateKind::kDense) {
      ++dropped;
      return true;
    }
    return false;
  });
  runLockStep(c, 12);
  c.gossips[1]->beforeUpdate(12);
  EXPECT_EQ(dropped, 1);
  const auto s1 = c.gossips[1]->stats();
  const auto s0 = c.gossips[0]->stats();
  EXPECT_EQ(s1.gapsDetected, 1u);
  EXPECT_EQ(s1.keyframeRequestsSent, 1u);
  EXPECT_EQ(s0.keyframeRequestsReceived, 1u);
  EXPECT_EQ(s0.keyframesSent, kSizes.size() + 1);  // start of run + the repair
  EXPECT_GT(s1.staleIgnored, 0u);                  // the delta in flight behind the gap
  for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[1]->replicaValid(0, t));
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
}

// lockstep holds updates from later steps; a neighbour whose stamps run far ahead (a bug, or a
// hostile peer) must not grow that hold without bound, nor take the node down.
TEST(Gossip, LockstepBoundsWhatAFarAheadNeighbourMakesItHold) {
  ManualClock clock;
  MethodConfig m = dpsgdFullKeyframes();
  m.lockstep = true;
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock);
  c.net.setHook([&](NodeId from, NodeId, Message& msg) {
    auto* u = std::get_if<TensorUpdate>(&msg);
    if (from == 0 && u && u->kind != UpdateKind::kKeyframe) u->step += 1000000;
    return false;
  });
  runLockStep(c, 40);
  const auto s1 = c.gossips[1]->stats();
  // 40 steps x 3 tensors arrive early; at most 16 per tensor are held before a resync.
  EXPECT_GE(s1.heldOverflows, 2u);
  EXPECT_LE(s1.heldUpdates, 40u * kSizes.size());
  EXPECT_GT(s1.keyframeRequestsSent, 0u);
  EXPECT_EQ(s1.lockstepTimeouts, 0u);  // node 0's end-of-step markers are honest
  // The keyframes (never held) keep node 1's replica of node 0 usable.
  c.gossips[1]->beforeUpdate(40);
  for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[1]->replicaValid(0, t));
}

TEST(Gossip, RejectedUpdateIsRepairedByKeyframe) {
  ManualClock clock;
  Cluster c(FakeNetwork::ring(2), kSizes, dpsgdFullKeyframes(), clock, &clock, false);
  c.net.setHook([&](NodeId from, NodeId, Message& m) {
    auto* u = std::get_if<TensorUpdate>(&m);
    if (from == 0 && u && u->tensor == 0 && u->seq == 4 && u->kind == UpdateKind::kDense) {
      u->values[2] = std::numeric_limits<float>::quiet_NaN();
    }
    if (from == 0 && u && u->tensor == 2 && u->seq == 6 && u->kind == UpdateKind::kDense) {
      u->values.pop_back();  // wrong size
    }
    return false;
  });
  runLockStep(c, 10);
  c.gossips[1]->beforeUpdate(10);
  EXPECT_EQ(c.gossips[1]->stats().updatesRejected, 2u);
  EXPECT_EQ(c.gossips[0]->stats().keyframesSent, kSizes.size() + 2);
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
  for (float v : c.gossips[1]->replica(0)) EXPECT_TRUE(std::isfinite(v));
}

TEST(Gossip, LostMaskDecisionIsRepairedWithTheKeyframe) {
  ManualClock clock;
  MethodConfig m = parseMethod("eventgrad-vote");
  m.maskEvery = 4;
  m.topKFraction = 0.3;
  m.eventgrad.warmup = 1000;  // every step sends
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock, false);
  int dropped = 0;
  c.net.setHook([&](NodeId from, NodeId, Message& msg) {
    auto* d = std::get_if<MaskDecision>(&msg);
    if (from == 0 && d && d->tensor == 1 && d->epoch == 1 && dropped == 0) {
      ++dropped;
      return true;
    }
    return false;
  });
  runLockStep(c, 10);
  c.gossips[1]->beforeUpdate(10);
  EXPECT_EQ(dropped, 1);
  // The first masked update of epoch 1 cannot be decoded; the keyframe that repairs it brings
  // the decision along, so the rest of the epoch decodes.
  EXPECT_EQ(c.gossips[1]->stats().updatesRejected, 1u);
  ASSERT_NE(c.gossips[1]->peerMask(0, 1, 2), nullptr);
  for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[1]->replicaValid(0, t));
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
}

TEST(Gossip, DecisionAgainstALostVoteIsRepairedWithTheKeyframe) {
  ManualClock clock;
  MethodConfig m = parseMethod("eventgrad-vote");
  m.maskEvery = 4;
  m.topKFraction = 0.5;
  m.maskOwnFraction = 0.0;  // decision and vote the same size: differences are common
  m.eventgrad.warmup = 1000;
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock, false, 1, /*sharedInit=*/true);
  int dropped = 0, undecodable = 0;
  uint32_t droppedTensor = 0;
  c.net.setHook([&](NodeId from, NodeId, Message& msg) {
    if (auto* v = std::get_if<MaskVote>(&msg); v && from == 0 && v->epoch >= 1 && dropped == 0) {
      dropped = 1;
      droppedTensor = v->tensor;
      return true;
    }
    if (auto* d = std::get_if<MaskDecision>(&msg);
        d && from == 0 && dropped == 1 && d->tensor == droppedTensor && d->epoch >= 1) {
      undecodable += d->againstVote ? 1 : 0;
      dropped = 2;
    }
    return false;
  });
  runLockStep(c, 12);
  c.gossips[1]->beforeUpdate(12);
  EXPECT_EQ(dropped, 2);
  // With these seeds the decision after the lost vote is a difference from it (deterministic
  // in lock-step): it and the first masked update on it are rejected, and the keyframe that
  // update asks for brings the decision in full.
  ASSERT_EQ(undecodable, 1);
  EXPECT_EQ(c.gossips[1]->stats().updatesRejected, 2u);
  for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[1]->replicaValid(0, t));
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
}

TEST(Gossip, DownNeighbourGivesItsWeightToSelfAndReconnectSendsKeyframes) {
  ManualClock clock;
  const auto adj = FakeNetwork::ring(3);
  Cluster c(adj, kSizes, parseMethod("dpsgd"), clock, &clock);
  runLockStep(c, 5);
  c.net.setAlive(2, false);
  c.net.setAlive(1, false);
  // Node 0's neighbours are both down: mixing leaves it where it is.
  c.gossips[0]->beforeUpdate(5);
  const auto before = c.x[0];
  c.gossips[0]->beforeUpdate(6);
  EXPECT_EQ(c.x[0], before);
  c.net.setAlive(1, true);
  c.net.setAlive(2, true);
  const uint64_t kf0 = c.gossips[0]->stats().keyframesSent;
  runLockStep(c, 5, 77);
  for (size_t i = 0; i < 3; ++i) c.gossips[i]->beforeUpdate(100);
  EXPECT_EQ(c.gossips[0]->stats().keyframesSent, kf0 + 2 * kSizes.size());
  for (size_t i = 0; i < 3; ++i) {
    for (NodeId j : adj[i]) {
      for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[i]->replicaValid(j, t));
      EXPECT_TRUE(bitwiseEqual(c.gossips[i]->replica(j), c.gossips[j]->lastSent()))
          << i << " <- " << j;
    }
  }
}

TEST(Gossip, DigestKeyframesFromASharedSeedChangeNothingButTheBytes) {
  const auto adj = FakeNetwork::ring(4);
  MethodConfig on = parseMethod("dpsgd");
  MethodConfig off = on;
  off.digestKeyframes = false;
  Cluster a(adj, kSizes, on, SteadyClock::instance(), nullptr, true, 3, /*sharedInit=*/true);
  Cluster b(adj, kSizes, off, SteadyClock::instance(), nullptr, true, 3, /*sharedInit=*/true);
  for (auto* c : {&a, &b}) {
    for (auto& g : c->gossips) g->poll(std::chrono::milliseconds(0));  // start-up keyframes
  }
  runLockStep(a, 20);
  runLockStep(b, 20);
  for (auto& g : a.gossips) g->poll(std::chrono::milliseconds(0));  // the last step's deltas
  size_t total = 0;
  for (size_t s : kSizes) total += s;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(bitwiseEqual(a.x[i], b.x[i])) << "node " << i;
    const auto sa = a.gossips[i]->stats();
    const auto sb = b.gossips[i]->stats();
    EXPECT_EQ(sa.digestKeyframesSent, 2 * kSizes.size());  // one per tensor per neighbour
    EXPECT_EQ(sb.digestKeyframesSent, 0u);
    EXPECT_EQ(sa.keyframesSent, sb.keyframesSent);
    EXPECT_EQ(sa.digestMismatches, 0u);
    EXPECT_EQ(sa.keyframeRequestsSent, 0u);
    EXPECT_EQ(sb.valuesSent - sa.valuesSent, 2 * total);  // the start-up model, per neighbour
    for (NodeId j : adj[i]) {
      EXPECT_TRUE(bitwiseEqual(a.gossips[i]->replica(j), a.gossips[j]->lastSent()));
    }
  }
}

TEST(Gossip, RefusedDigestIsFollowedByTheFullKeyframe) {
  ManualClock clock;
  Cluster c(FakeNetwork::ring(2), kSizes, parseMethod("dpsgd"), clock, &clock, false);
  std::vector<int> kinds(3, 0);  // digest keyframes, full keyframes, requests seen 0 <-> 1
  c.net.setHook([&](NodeId, NodeId, Message& m) {
    if (auto* u = std::get_if<TensorUpdate>(&m); u && u->kind == UpdateKind::kKeyframe) {
      ++kinds[u->values.empty() ? 0 : 1];
      EXPECT_EQ(u->values.empty(), u->digest != 0);
    }
    if (std::holds_alternative<KeyframeRequest>(m)) ++kinds[2];
    return false;
  });
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& g : c.gossips) g->poll(std::chrono::milliseconds(0));
  }
  const auto nt = static_cast<int>(kSizes.size());
  EXPECT_EQ(kinds[0], 2 * nt);  // both start from a digest ...
  EXPECT_GE(kinds[2], 2);       // ... both refuse the other's (different starting points) ...
  EXPECT_EQ(kinds[1], 2 * nt);  // ... and both then send every tensor in full
  for (NodeId i = 0; i < 2; ++i) {
    const auto s = c.gossips[i]->stats();
    EXPECT_EQ(s.digestMismatches, kSizes.size());
    for (uint32_t t = 0; t < kSizes.size(); ++t) EXPECT_TRUE(c.gossips[i]->replicaValid(1 - i, t));
    EXPECT_TRUE(bitwiseEqual(c.gossips[i]->replica(1 - i), c.x[1 - i]));
  }
}

TEST(Gossip, KeyframeAfterTheFirstSendIsAlwaysFull) {
  // A digest stands for the initial tensor only: once x~ has moved, a (re)connect gets values.
  ManualClock clock;
  Cluster c(FakeNetwork::ring(3), kSizes, parseMethod("dpsgd"), clock, &clock, true, 1, true);
  runLockStep(c, 3);
  c.net.setAlive(1, false);
  c.gossips[0]->beforeUpdate(3);
  c.net.setAlive(1, true);
  const auto before = c.gossips[0]->stats();
  int digests = 0;
  c.net.setHook([&](NodeId from, NodeId, Message& m) {
    auto* u = std::get_if<TensorUpdate>(&m);
    if (from == 0 && u && u->kind == UpdateKind::kKeyframe && u->digest != 0) ++digests;
    return false;
  });
  runLockStep(c, 2, 8);
  c.gossips[1]->poll(std::chrono::milliseconds(0));
  EXPECT_EQ(digests, 0);
  EXPECT_GT(c.gossips[0]->stats().keyframesSent, before.keyframesSent);
  EXPECT_EQ(c.gossips[0]->stats().digestKeyframesSent, before.digestKeyframesSent);
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
}

TEST(Gossip, TensorsBelowDenseBelowGoDenseWithoutVotes) {
  ManualClock clock;
  MethodConfig m = parseMethod("eventgrad-vote");
  m.eventgrad.warmup = 1000;  // every step sends
  m.maskEvery = 2;
  m.topKFraction = 0.3;
  m.denseBelow = 8;      // kSizes {6, 10, 3}: tensors 0 and 2 go dense, tensor 1 is masked
  m.maskFlushEvery = 0;  // no dense flushes: every dense frame below is dense_below's
  // One starting point: digest keyframes match, so no keyframe resends a decision.
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock, false, 1, /*sharedInit=*/true);
  std::map<uint32_t, std::map<std::string, int>> seen;  // tensor -> what node 0 sent
  c.net.setHook([&](NodeId from, NodeId, Message& msg) {
    if (from != 0) return false;
    if (auto* v = std::get_if<MaskVote>(&msg)) ++seen[v->tensor]["vote"];
    if (auto* d = std::get_if<MaskDecision>(&msg)) ++seen[d->tensor]["decision"];
    if (auto* u = std::get_if<TensorUpdate>(&msg)) {
      if (u->kind == UpdateKind::kDense) ++seen[u->tensor]["dense"];
      if (u->kind == UpdateKind::kMasked) ++seen[u->tensor]["masked"];
      if (u->kind == UpdateKind::kSparse) ++seen[u->tensor]["sparse"];
    }
    return false;
  });
  runLockStep(c, 10);
  c.gossips[1]->poll(std::chrono::milliseconds(0));
  for (uint32_t t : {0u, 2u}) {
    EXPECT_EQ(seen[t]["vote"], 0) << t;
    EXPECT_EQ(seen[t]["decision"], 0) << t;
    EXPECT_EQ(seen[t]["masked"] + seen[t]["sparse"], 0) << t;
    EXPECT_EQ(seen[t]["dense"], 10) << t;
  }
  EXPECT_EQ(seen[1]["vote"], 5);
  EXPECT_EQ(seen[1]["decision"], 5);
  EXPECT_EQ(seen[1]["masked"], 10);
  EXPECT_EQ(seen[1]["dense"], 0);
  // Node 1 votes second in lock-step: node 0's vote for tensor 1 is in, and it must not wait
  // for votes on tensors 0 and 2 that are never sent (node 0, voting first, always waits).
  EXPECT_EQ(c.gossips[1]->stats().voteTimeouts, 0u);
  EXPECT_EQ(c.gossips[1]->stats().maskEpochs, 5u);
  // Dense or masked, what node 1 holds is node 0's x~ bit for bit.
  EXPECT_TRUE(bitwiseEqual(c.gossips[1]->replica(0), c.gossips[0]->lastSent()));
}

TEST(Gossip, MixingEveryStepKeepsTheAverage) {
  const auto adj = FakeNetwork::ring(4);
  Cluster c(adj, {5, 8}, parseMethod("dpsgd"), SteadyClock::instance());
  const size_t total = c.layout.total;
  auto mean = [&](size_t i) {
    double s = 0;
    for (const auto& v : c.x) s += v[i];
    return s / 4;
  };
  auto spread = [&] {
    double s = 0;
    for (const auto& v : c.x)
      for (size_t i = 0; i < total; ++i) s += (v[i] - mean(i)) * (v[i] - mean(i));
    return s;
  };
  std::vector<double> m0(total);
  for (size_t i = 0; i < total; ++i) m0[i] = mean(i);
  const double s0 = spread();
  for (auto& g : c.gossips) g->afterUpdate(0);  // keyframes everywhere first
  for (uint64_t k = 1; k < 15; ++k) {
    for (auto& g : c.gossips) g->beforeUpdate(k);
    for (auto& g : c.gossips) g->afterUpdate(k);
  }
  for (size_t i = 0; i < total; ++i) EXPECT_NEAR(mean(i), m0[i], 1e-5);
  EXPECT_LT(spread(), s0 * 1e-4);
}

// Public-copy mixing while nobody sends: the correction sum_j W_ij (x^_j - x~) stays the same,
// so mixing every silent step adds it again and again. publicMixFresh mixes once per change.
TEST(Gossip, PublicMixFreshAppliesAnUnchangedCorrectionOnce) {
  for (bool fresh : {false, true}) {
    MethodConfig m = parseMethod("eventgrad");
    m.eventgrad.adaptive = false;
    m.eventgrad.staticThreshold = 1e9;  // silent after the warm-up step...
    m.eventgrad.warmup = 1;
    m.eventgrad.maxSilence = 4;  // ...until the maximum silence fires every tensor
    m.mixPublicCopies = true;
    m.publicMixStep = 0.5;
    m.publicMixFresh = fresh;
    m.maxStepLag = 0;
    m.digestKeyframes = false;  // distinct starting points: full keyframes at once
    Cluster c(FakeNetwork::ring(3), kSizes, m, SteadyClock::instance());
    for (auto& g : c.gossips) g->afterUpdate(0);  // keyframes, then step 0 sends everything
    std::vector<std::vector<float>> moved;        // node 0 after each beforeUpdate
    for (uint64_t k = 1; k <= 6; ++k) {
      for (auto& g : c.gossips) g->beforeUpdate(k);
      moved.push_back(c.x[0]);
      for (auto& g : c.gossips) g->afterUpdate(k);
    }
    // Step 1 mixes what step 0 sent. Steps 2-4 see no new public copy; the maximum silence
    // fires at step 4 (4 silent steps after step 0), so step 5 has something new to mix.
    EXPECT_FALSE(bitwiseEqual(moved[0], c.x[1]));
    for (size_t k = 1; k <= 3; ++k) {
      EXPECT_EQ(bitwiseEqual(moved[k], moved[k - 1]), fresh) << "step " << k + 1;
    }
    EXPECT_FALSE(bitwiseEqual(moved[4], moved[3])) << "fresh " << fresh;
    if (fresh) {
      EXPECT_EQ(c.gossips[0]->stats().staleMixesSkipped, 4u * kSizes.size());  // steps 2-4, 6
    }
  }
}

TEST(Gossip, FinishClosesAnUnfinishedRoundAndMixes) {
  // Local SGD with rounds of 5 steps, stopped after 7: the last 2 steps are averaged by finish()
  // (both nodes at once, on threads), not left unmixed.
  MethodConfig m = parseMethod("local-sgd");
  m.period = 5;
  m.maxRoundLead = 1;  // lock-step from one thread: node 0 ends a round before node 1 does
  Cluster c(FakeNetwork::ring(2), kSizes, m, SteadyClock::instance());
  runLockStep(c, 7);
  EXPECT_EQ(c.gossips[0]->stats().mixes, 1u);
  const std::vector<float> x0 = c.x[0];
  const std::vector<float> x1 = c.x[1];
  std::thread other([&] { c.gossips[1]->finish(); });
  c.gossips[0]->finish();
  other.join();
  for (size_t i = 0; i < 2; ++i) {
    const auto s = c.gossips[i]->stats();
    EXPECT_EQ(s.mixes, 2u) << "node " << i;
    EXPECT_EQ(s.rounds, 2u) << "node " << i;
    EXPECT_EQ(s.roundWaitTimeouts, 0u) << "node " << i;
  }
  // Two nodes, W = 1/2 each: the final mix leaves both at the average of their states.
  for (size_t p = 0; p < c.layout.total; ++p) {
    const float avg = 0.5f * (x0[p] + x1[p]);
    EXPECT_NEAR(c.x[0][p], avg, 1e-5) << p;
    EXPECT_NEAR(c.x[1][p], avg, 1e-5) << p;
  }
}

TEST(Gossip, FinishOnARoundBoundaryAndEveryStepMethodsSendNothingMore) {
  MethodConfig m = parseMethod("local-sgd");
  m.period = 5;
  m.maxRoundLead = 2;
  Cluster c(FakeNetwork::ring(2), kSizes, m, SteadyClock::instance());
  runLockStep(c, 10);  // ends exactly at the end of round 2
  const auto before = c.gossips[0]->stats();
  c.gossips[0]->finish();
  EXPECT_EQ(c.gossips[0]->stats().updateFramesSent, before.updateFramesSent);
  EXPECT_EQ(c.gossips[0]->stats().mixes, before.mixes);

  Cluster e(FakeNetwork::ring(2), kSizes, parseMethod("eventgrad"), SteadyClock::instance());
  runLockStep(e, 40);
  const auto sent = e.gossips[0]->stats().updateFramesSent;
  e.gossips[0]->finish();
  EXPECT_EQ(e.gossips[0]->stats().updateFramesSent, sent);
}

TEST(Gossip, ADivergedModelStopsWithTrainingDivergedNotAnEncoderError) {
  // Found in an experiment: a node whose parameters turned NaN quantised them to int8 and the
  // encoder failed its grid check (an InternalError). It must read as divergence, for every
  // compression, and before anything reaches the wire.
  for (const char* preset : {"dpsgd", "eventgrad-topk", "eventgrad-vote"}) {
    for (bool int8 : {false, true}) {
      MethodConfig m = parseMethod(preset);
      m.int8 = int8;
      m.eventgrad.warmup = 100;  // every tensor fires: the send path runs at once
      m.roundDeadline = m.voteDeadline = std::chrono::milliseconds(100);
      Cluster c(FakeNetwork::ring(2), kSizes, m, SteadyClock::instance());
      runLockStep(c, 3);
      const auto sent = c.gossips[0]->stats().updateFramesSent;
      c.gossips[0]->beforeUpdate(3);
      c.x[0][2] = std::numeric_limits<float>::quiet_NaN();
      try {
        c.gossips[0]->afterUpdate(3);
        ADD_FAILURE() << preset << " int8 " << int8 << ": no error";
      } catch (const InternalError& e) {
        ADD_FAILURE() << preset << " int8 " << int8 << ": " << e.what();
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("training diverged: tensor 0 (t0)"), std::string::npos)
            << e.what();
      }
      EXPECT_EQ(c.gossips[0]->stats().updateFramesSent, sent) << preset;
    }
  }
}

TEST(Gossip, FinalDenseExchangeLeavesEveryNodeAtOneFullAveragingStep) {
  // Compressed, public-copy mixing with a small step leaves the three nodes apart; finish() with
  // finalDense sends what each still holds back and takes one exact W step.
  for (const char* preset : {"eventgrad-topk", "local-sgd"}) {
    MethodConfig m = parseMethod(preset);
    m.compression = Compression::kTopK;
    m.topKFraction = 0.2;
    m.mixPublicCopies = true;
    m.publicMixStep = 0.2;
    m.period = 3;
    m.maxRoundLead = 10;  // lock-step from one thread
    m.finalDense = true;
    const auto adj = FakeNetwork::ring(3);
    Cluster c(adj, kSizes, m, SteadyClock::instance(), nullptr, true, 4, /*sharedInit=*/true);
    runLockStep(c, 9);
    const auto before = c.x;
    std::vector<uint64_t> framesBefore;
    for (auto& g : c.gossips) framesBefore.push_back(g->stats().updateFramesSent);
    std::vector<std::thread> others;
    for (size_t i = 1; i < 3; ++i) others.emplace_back([&, i] { c.gossips[i]->finish(); });
    c.gossips[0]->finish();
    for (auto& t : others) t.join();
    for (size_t i = 0; i < 3; ++i) {
      const auto s = c.gossips[i]->stats();
      EXPECT_EQ(s.finalExchangeTimeouts, 0u) << preset << " node " << i;
      // One dense frame per tensor per neighbour.
      EXPECT_EQ(s.updateFramesSent - framesBefore[i], 2 * kSizes.size()) << preset;
      const auto w = testing::metropolis(adj, static_cast<NodeId>(i));
      for (size_t p = 0; p < c.layout.total; ++p) {
        double want = w.self * before[i][p];
        for (const auto& [j, wj] : w.neighbours) want += wj * before[j][p];
        ASSERT_NEAR(c.x[i][p], want, 1e-5) << preset << " node " << i << " coordinate " << p;
      }
    }
  }
}

TEST(Gossip, StepLagBoundWaitsForASilentNeighbourUntilTheDeadline) {
  ManualClock clock;
  MethodConfig m = parseMethod("dpsgd");
  m.maxStepLag = 3;
  m.roundDeadline = std::chrono::milliseconds(500);
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock);
  // Node 1 is up but never steps, so node 0 never hears a step from it.
  const int64_t t0 = clock.nowNs();
  for (uint64_t k = 0; k < 4; ++k) {
    c.gossips[0]->beforeUpdate(k);
    c.gossips[0]->afterUpdate(k);
  }
  EXPECT_EQ(c.gossips[0]->stats().lagWaits, 0u);  // k <= 3: within the bound from the start
  EXPECT_EQ(clock.nowNs(), t0);
  c.gossips[0]->beforeUpdate(4);
  c.gossips[0]->afterUpdate(4);
  c.gossips[0]->beforeUpdate(5);
  auto s = c.gossips[0]->stats();
  EXPECT_EQ(s.lagWaits, 2u);
  EXPECT_EQ(s.lagWaitTimeouts, 2u);
  EXPECT_GE(clock.nowNs() - t0, 1'000'000'000);
  EXPECT_LT(clock.nowNs() - t0, 1'100'000'000);
  EXPECT_EQ(s.mixes, 6u);  // it waited, then went on
  // Down neighbours are not waited for.
  c.net.setAlive(1, false);
  const int64_t t1 = clock.nowNs();
  c.gossips[0]->afterUpdate(5);
  c.gossips[0]->beforeUpdate(6);
  EXPECT_EQ(c.gossips[0]->stats().lagWaits, 2u);
  EXPECT_EQ(clock.nowNs(), t1);
}

TEST(Gossip, StepLagBoundDoesNotWaitOnAQuietEventGradNeighbour) {
  // EventGraD with a high threshold is silent on most steps; the heartbeats it sends when silent
  // keep its neighbours' lag bound satisfied in lock-step, with no wait.
  ManualClock clock;
  MethodConfig m = parseMethod("eventgrad");
  m.eventgrad.warmup = 0;
  m.eventgrad.scale = 8.0;
  m.maxStepLag = 2;
  Cluster c(FakeNetwork::ring(3), kSizes, m, clock, &clock);
  runLockStep(c, 60);
  for (size_t i = 0; i < 3; ++i) {
    const auto s = c.gossips[i]->stats();
    EXPECT_EQ(s.lagWaits, 0u) << "node " << i;
    EXPECT_LT(s.events, 60u * kSizes.size() / 2) << "node " << i;  // mostly silent
  }
}

TEST(Gossip, NeighbourDistanceIsTheMeanSquaredDistanceToCompleteReplicas) {
  MethodConfig m = parseMethod("local-sgd");
  m.period = 1000;  // nothing but the start-up keyframes moves
  m.maxRoundLead = 1000;
  Cluster c(FakeNetwork::ring(3), kSizes, m, SteadyClock::instance());
  EXPECT_TRUE(std::isnan(c.gossips[0]->neighbourDistance()));  // no replica yet
  for (auto& g : c.gossips) g->afterUpdate(0);                 // keyframes
  // The nodes start apart: digests are refused, asked for, and the full keyframes follow.
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& g : c.gossips) g->poll(std::chrono::milliseconds(0));
  }
  auto sq = [&](size_t a, size_t b) {
    double s = 0;
    for (size_t p = 0; p < c.layout.total; ++p)
      s += (c.x[a][p] - c.x[b][p]) * (c.x[a][p] - c.x[b][p]);
    return s;
  };
  EXPECT_NEAR(c.gossips[0]->neighbourDistance(), (sq(0, 1) + sq(0, 2)) / 2, 1e-4);
  c.net.setAlive(2, false);  // a down neighbour no longer counts
  c.gossips[0]->poll(std::chrono::milliseconds(0));
  EXPECT_NEAR(c.gossips[0]->neighbourDistance(), sq(0, 1), 1e-4);
}

TEST(Gossip, AetRoundLeadWaitsForASlowNeighbourUntilTheDeadline) {
  ManualClock clock;
  MethodConfig m = parseMethod("aet-sgd");
  m.aet.a = 1.0;  // rounds of 1, 2, 3, ... steps: T_5 = 15, T_6 = 21
  m.roundDeadline = std::chrono::milliseconds(1000);
  Cluster c(FakeNetwork::ring(2), kSizes, m, clock, &clock);
  // Node 1 is up but never steps.
  const int64_t t0 = clock.nowNs();
  for (uint64_t k = 0; k < 20; ++k) {
    c.gossips[0]->beforeUpdate(k);
    c.gossips[0]->afterUpdate(k);
  }
  EXPECT_EQ(c.gossips[0]->round(), 5u);
  EXPECT_EQ(c.gossips[0]->stats().roundWaits, 0u);  // 5 rounds ahead is allowed
  EXPECT_EQ(clock.nowNs(), t0);
  c.gossips[0]->beforeUpdate(20);
  c.gossips[0]->afterUpdate(20);  // round 6 ends: 6 ahead of 0
  const auto s = c.gossips[0]->stats();
  EXPECT_EQ(s.round, 6u);
  EXPECT_EQ(s.roundWaits, 1u);
  EXPECT_EQ(s.roundWaitTimeouts, 1u);
  EXPECT_GE(clock.nowNs() - t0, 1'000'000'000);
  EXPECT_LT(clock.nowNs() - t0, 1'100'000'000);
  EXPECT_EQ(s.rounds, 6u);
  EXPECT_EQ(s.events, 6u * kSizes.size());
  // A neighbour reported down is not waited for: round 7 (T_7 = 28) ends without a wait.
  c.net.setAlive(1, false);
  const int64_t t1 = clock.nowNs();
  for (uint64_t k = 21; k < 28; ++k) {
    c.gossips[0]->beforeUpdate(k);
    c.gossips[0]->afterUpdate(k);
  }
  EXPECT_EQ(c.gossips[0]->round(), 7u);
  EXPECT_EQ(c.gossips[0]->stats().roundWaits, 1u);
  EXPECT_EQ(clock.nowNs(), t1);
  // The round learning rate: lr_r = lr0 / (1 + 0.01 sqrt(T_{r-1})).
  EXPECT_DOUBLE_EQ(c.gossips[0]->lrScale(16), 1.0 / (1.0 + 0.01 * std::sqrt(15.0)));
  EXPECT_DOUBLE_EQ(Gossip(parseMethod("dpsgd"), c.layout, c.x[1], *c.transports[1],
                          testing::metropolis(c.adjacency, 1), clock)
                       .lrScale(16),
                   1.0);
}

TEST(Gossip, RejectsABadBufferOrWeights) {
  ManualClock clock;
  const auto adj = FakeNetwork::ring(2);
  FakeNetwork net(adj);
  auto tr = net.endpoint(0);
  const auto layout = testing::makeLayout(kSizes);
  std::vector<float> small(3), x(layout.total);
  auto wrongSize = [&] {
    Gossip g(parseMethod("dpsgd"), layout, small, *tr, testing::metropolis(adj, 0), clock);
  };
  auto wrongWeights = [&] {
    Gossip g(parseMethod("dpsgd"), layout, x, *tr, MixingWeights{0.5, {{7, 0.5}}}, clock);
  };
  EXPECT_THROW(wrongSize(), InputError);
  EXPECT_THROW(wrongWeights(), InputError);
}

}  // namespace
}  // namespace murmur::algo
