// End to end: a 4-node ring trains lenet5 on a small real Fashion-MNIST subset with every method
// preset, over the in-memory transport and over TCP on loopback. Each node is a thread with its
// own model (same seed, so the same initial weights), its IID shard, SGD with momentum and a
// cosine learning rate, wired like node_cmd.cpp: gradients -> beforeUpdate -> optimizer step with
// lr * lrScale -> afterUpdate; awaitNeighbours at start-up and finish() at the end.
// Asserted per (method, transport): mean test accuracy well above chance, the consensus distance
// at the end is below the one at mid-training and small against ||mean x||^2, after finish()
// every node's replica of each neighbour is that neighbour's exact state, bytes went over the
// transport, and every method other than D-PSGD sent fewer update values than D-PSGD would.

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <ostream>

#include "algo/gossip.hpp"
#include "algo/method.hpp"
#include "common/clock.hpp"
#include "net/inmemory_transport.hpp"
#include "net/tcp_transport.hpp"
#include "nn/data/partition.hpp"
#include "nn/data/registry.hpp"
#include "nn/data/sampler.hpp"
#include "nn/model.hpp"
#include "nn/optimizer.hpp"
#include "nn/runtime.hpp"
#include "nn/schedule.hpp"
#include "tests/support/loopback_cluster.hpp"
#include "topologies/generators.hpp"
#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::node {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kNodes = 4;
constexpr int kTrainImages = 4000;
constexpr int kTestImages = 1000;
constexpr int kBatch = 32;
constexpr uint64_t kSteps = 180;
// Mid-training snapshot, placed inside a round for every round-based preset (local SGD mixes
// every 10 steps, RI-SGD every 50, AET-SGD after steps 10, 30, 60, 100, 150), so it is not a
// freshly mixed state.
constexpr uint64_t kMidStep = 75;
constexpr uint64_t kSeed = 7;

// The subset, loaded once for the whole suite: the first kTrainImages training images as bytes
// (normalised per sample by the source) and the first kTestImages test images as floats.
struct SubsetData {
  nn::data::ByteDataset train;
  std::unique_ptr<nn::data::ByteDatasetSource> source;
  std::vector<float> testImages;
  std::vector<int32_t> testLabels;
};

const SubsetData& subset() {
  static const SubsetData data = [] {
    SubsetData d;
    const auto& spec = nn::data::datasetSpec("fashion-mnist");
    d.train = nn::data::loadDatasetBytes("fashion-mnist", nn::data::Split::kTrain);
    d.train.n = std::min(d.train.n, kTrainImages);
    d.train.pixels.resize(static_cast<size_t>(d.train.n) * d.train.sampleSize());
    d.train.labels.resize(static_cast<size_t>(d.train.n));
    d.source = std::make_unique<nn::data::ByteDatasetSource>(d.train, spec.norm);

    const auto test = nn::data::loadDatasetBytes("fashion-mnist", nn::data::Split::kTest);
    const nn::data::ByteDatasetSource testSource(test, spec.norm);
    const size_t n = std::min<size_t>(static_cast<size_t>(test.n), kTestImages);
    const size_t sample = testSource.sampleSize();
    d.testImages.resize(n * sample);
    d.testLabels.resize(n);
    for (size_t i = 0; i < n; ++i) {
      testSource.copySample(i, std::span<float>(d.testImages).subspan(i * sample, sample));
      d.testLabels[i] = testSource.label(i);
    }
    return d;
  }();
  return data;
}

enum class Wire { kInMemory, kTcp };

struct Param {
  std::string method;
  Wire wire;
};

// Readable parameters in test listings (ctest prints GetParam() with every test name).
void PrintTo(const Param& p, std::ostream* os) {
  *os << p.method << (p.wire == Wire::kTcp ? " over TCP" : " in memory");
}

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  std::string s = info.param.method + (info.param.wire == Wire::kTcp ? "_tcp" : "_inmemory");
  for (auto& ch : s) {
    if (ch == '-') ch = '_';
  }
  return s;
}

std::vector<std::unique_ptr<Transport>> tcpTransports(const topologies::Topology& topo,
                                                      uint64_t fingerprint) {
  std::vector<std::vector<NodeId>> adjacency(topo.size());
  for (uint32_t i = 0; i < topo.size(); ++i) {
    for (uint32_t n : topo.neighbours(i)) adjacency[i].push_back(n);
  }
  return testsupport::loopbackCluster(adjacency, {.clusterId = "ring-training-test",
                                                  .modelFingerprint = fingerprint,
                                                  .secret = "ring training test cluster secret",
                                                  .heartbeatInterval = 50ms,
                                                  .peerTimeout = 5000ms});
}

struct NodeResult {
  std::vector<float> midParams;
  std::vector<float> finalParams;
  std::vector<float> finalLastSent;  // x~ after finish(): what the neighbours must hold
  double accuracy = 0;
  bool neighboursUp = false;
  double replicaError = -1;  // max |replica_j - x~_j| over neighbours after finish()
  algo::GossipStats stats;
  uint64_t bytesSent = 0;
  uint64_t bytesReceived = 0;
  uint64_t updateBytesSent = 0;
};

// (1/N) sum_i ||x_i - mean x||^2 and ||mean x||^2.
std::pair<double, double> consensus(const std::vector<const std::vector<float>*>& xs) {
  const size_t d = xs.front()->size();
  double spread = 0, meanNorm = 0;
  for (size_t p = 0; p < d; ++p) {
    double mean = 0;
    for (const auto* x : xs) mean += (*x)[p];
    mean /= static_cast<double>(xs.size());
    meanNorm += mean * mean;
    for (const auto* x : xs) spread += ((*x)[p] - mean) * ((*x)[p] - mean);
  }
  return {spread / static_cast<double>(xs.size()), meanNorm};
}

class RingTraining : public ::testing::TestWithParam<Param> {};

TEST_P(RingTraining, FourNodeRingTrainsAndAgrees) {
  const Param param = GetParam();
  const SubsetData& data = subset();

  topologies::GenOptions gen;
  gen.kind = "ring";
  gen.n = kNodes;
  const auto topo = topologies::generate(gen);
  const auto layout = nn::Model::create("lenet5", kSeed)->layout();

  std::vector<std::unique_ptr<Transport>> transports;
  std::unique_ptr<net::InMemoryNetwork> network;
  if (param.wire == Wire::kTcp) {
    transports = tcpTransports(topo, layout.fingerprint());
  } else {
    std::vector<std::vector<NodeId>> adj;
    for (uint32_t i = 0; i < kNodes; ++i) adj.push_back(topo.neighbours(i));
    network = std::make_unique<net::InMemoryNetwork>(kNodes, adj);
    for (uint32_t i = 0; i < kNodes; ++i) transports.push_back(network->endpoint(i));
  }

  const algo::MethodConfig method = algo::parseMethod(param.method);
  const auto shards = nn::data::iidShards(static_cast<size_t>(data.train.n), kNodes, kSeed);
  nn::ScheduleConfig schedule;
  schedule.kind = nn::ScheduleKind::kCosine;
  // Modest rate with a short warm-up: over TCP the replicas a node mixes in are a little stale
  // and the thread timing varies run to run; 0.05 without warm-up sometimes stalled a run there.
  schedule.baseLr = 0.02f;
  schedule.warmupSteps = 20;
  schedule.warmupStartFactor = 0.1f;
  schedule.totalSteps = static_cast<int64_t>(kSteps);

  std::vector<NodeResult> results(kNodes);
  std::vector<std::unique_ptr<nn::Model>> models(kNodes);
  for (uint32_t i = 0; i < kNodes; ++i) models[i] = nn::Model::create("lenet5", kSeed);
  std::barrier finished(kNodes);
  std::barrier drained(kNodes);
  std::vector<std::string> errors(kNodes);

  auto runNode = [&](uint32_t id) {
    NodeResult& out = results[id];
    nn::Model& model = *models[id];
    Transport& transport = *transports[id];
    int barriersPassed = 0;
    try {
      nn::setNumThreads(1);
      nn::data::SamplerConfig sc;
      sc.batchSize = kBatch;
      sc.seed = kSeed + id;
      // RI-SGD draws its batches across its own shard and mu = 0.25 of the others', as
      // `murmur node` does (redundancyOf); every other method reads its own shard only.
      const double mu = param.method == "ri-sgd" ? 0.25 : 0.0;
      nn::data::BatchSampler sampler(
          *data.source, nn::data::nodeParts(shards, id, static_cast<size_t>(kBatch), mu), sc);
      nn::Sgd sgd(nn::SgdConfig{.momentum = 0.9f}, model.numParams());

      const auto row = topologies::mixingRow(topo, id, topologies::MixingRule::kMetropolisHastings);
      algo::MixingWeights weights;
      weights.self = row.self;
      for (const auto& [j, w] : row.neighbours) weights.neighbours.emplace_back(j, w);
      algo::Gossip gossip(method, model.layout(), model.params(), transport, weights,
                          SteadyClock::instance());
      out.neighboursUp = gossip.awaitNeighbours(10s);

      nn::data::Batch batch;
      for (uint64_t k = 0; k < kSteps; ++k) {
        sampler.nextWrapping(batch);
        model.trainStep(batch.images.data(), batch.labels.data(), batch.n);
        gossip.beforeUpdate(k);
        const double lr = nn::learningRate(schedule, static_cast<int64_t>(k)) * gossip.lrScale(k);
        sgd.step(model.params(), model.grads(), static_cast<float>(lr));
        gossip.afterUpdate(k);
        if (k + 1 == kMidStep) {
          out.midParams.assign(model.params().begin(), model.params().end());
        }
      }
      gossip.finish();
      out.finalParams.assign(model.params().begin(), model.params().end());
      out.finalLastSent.assign(gossip.lastSent().begin(), gossip.lastSent().end());
      barriersPassed = 1;
      finished.arrive_and_wait();

      // Every node has finished: nothing more is sent, so each replica must reach exactly what
      // its neighbour last sent (x~; a round method's x too after its final mix is not sent
      // again). Bounded by a deadline.
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      const std::vector<NodeId> peers = transport.neighbours();
      auto replicaError = [&] {
        double worst = 0;
        for (NodeId j : peers) {
          const auto replica = gossip.replica(j);
          const auto& truth = results[j].finalLastSent;
          if (replica.size() != truth.size()) return 1e30;
          for (size_t p = 0; p < truth.size(); ++p) {
            worst = std::max(worst, std::abs(static_cast<double>(replica[p]) - truth[p]));
          }
        }
        return worst;
      };
      out.replicaError = replicaError();
      while (out.replicaError > 1e-6 && std::chrono::steady_clock::now() < deadline) {
        gossip.poll(50ms);
        out.replicaError = replicaError();
      }
      out.stats = gossip.stats();
      barriersPassed = 2;
      drained.arrive_and_wait();

      const auto eval =
          model.evaluate(data.testImages.data(), data.testLabels.data(), data.testLabels.size());
      out.accuracy = eval.accuracy;
      for (const auto& e : transport.traffic()) {
        out.bytesSent += e.sent.bytes;
        out.bytesReceived += e.received.bytes;
        out.updateBytesSent += e.sent.bytesByKind[static_cast<size_t>(MessageKind::kTensorUpdate)];
      }
    } catch (const std::exception& e) {
      errors[id] = e.what();
      // Keep the other threads from waiting at a barrier for this one forever.
      if (barriersPassed < 1) finished.arrive_and_drop();
      if (barriersPassed < 2) drained.arrive_and_drop();
    }
  };

  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < kNodes; ++i) threads.emplace_back(runNode, i);
  for (auto& t : threads) t.join();
  for (auto& t : transports) t->close("test over", 1000ms);
  for (uint32_t i = 0; i < kNodes; ++i) ASSERT_EQ(errors[i], "") << "node " << i;

  // (a) accuracy well above chance (10 classes).
  double meanAccuracy = 0;
  for (const auto& r : results) meanAccuracy += r.accuracy / kNodes;

  // (b) consensus: at the end (after finish) below mid-training, and small against the mean.
  std::vector<const std::vector<float>*> mid, fin;
  for (const auto& r : results) {
    mid.push_back(&r.midParams);
    fin.push_back(&r.finalParams);
  }
  const auto [midSpread, midNorm] = consensus(mid);
  const auto [finalSpread, finalNorm] = consensus(fin);

  // (c) traffic, and update values against what D-PSGD sends: every tensor densely to each of
  // the 2 ring neighbours every step.
  uint64_t values = 0, bytes = 0;
  for (const auto& r : results) {
    values += r.stats.valuesSent;
    bytes += r.bytesSent;
  }
  const double dpsgdValues =
      static_cast<double>(kNodes) * kSteps * 2.0 * static_cast<double>(layout.total);

  std::printf(
      "%-15s %-8s acc %.3f | consensus mid %.4g end %.4g (|mean|^2 %.4g) | values "
      "%.3f of D-PSGD | %.2f MB sent\n",
      param.method.c_str(), param.wire == Wire::kTcp ? "tcp" : "inmemory", meanAccuracy, midSpread,
      finalSpread, finalNorm, static_cast<double>(values) / dpsgdValues,
      static_cast<double>(bytes) / 1e6);

  // Chance is 0.10. Measured over three suite runs on a loaded 2-core machine: 0.67-0.80 in
  // memory, 0.59-0.80 over TCP (thread timing makes the TCP runs vary); bounds keep a margin.
  EXPECT_GE(meanAccuracy, 0.50);
  for (uint32_t i = 0; i < kNodes; ++i) {
    const auto& r = results[i];
    EXPECT_TRUE(r.neighboursUp) << "node " << i;
    EXPECT_GE(r.accuracy, 0.45) << "node " << i;
    // Replicas are rebuilt by adding float deltas, so they match to rounding, not bit for bit.
    EXPECT_LE(r.replicaError, 1e-5) << "node " << i << ": a replica differs from its node";
    EXPECT_GT(r.bytesSent, 0u) << "node " << i;
    EXPECT_GT(r.bytesReceived, 0u) << "node " << i;
    EXPECT_GT(r.updateBytesSent, 0u) << "node " << i;
    EXPECT_GT(r.stats.updatesReceived, 0u) << "node " << i;
    EXPECT_EQ(r.stats.updatesRejected, 0u) << "node " << i;
    // One seed for every model: the start-up keyframes are digests (through the real codec over
    // TCP in the _tcp cases), one per tensor for each of the two ring neighbours, all accepted.
    EXPECT_GE(r.stats.digestKeyframesSent, 2 * r.stats.eventsPerTensor.size()) << "node " << i;
    EXPECT_EQ(r.stats.digestMismatches, 0u) << "node " << i;
    EXPECT_EQ(r.stats.roundWaitTimeouts, 0u) << "node " << i;
    EXPECT_EQ(r.stats.voteTimeouts, 0u) << "node " << i;
    EXPECT_GT(r.stats.mixes, 0u) << "node " << i;
  }
  EXPECT_GT(midSpread, 0.0);  // IID shards still differ: the nodes did drift apart
  EXPECT_LT(finalSpread, midSpread);
  EXPECT_LT(finalSpread, 0.02 * finalNorm);
  if (method.trigger == algo::TriggerKind::kAlways) {
    EXPECT_GE(static_cast<double>(values), dpsgdValues);
  } else {
    EXPECT_LT(static_cast<double>(values), 0.9 * dpsgdValues);
  }
}

std::vector<Param> allParams() {
  std::vector<Param> out;
  for (const auto& name : algo::methodNames()) {
    out.push_back({name, Wire::kInMemory});
    out.push_back({name, Wire::kTcp});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, RingTraining, ::testing::ValuesIn(allParams()), paramName);

}  // namespace
}  // namespace murmur::node
