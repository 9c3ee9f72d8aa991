// `murmur node`: one process of a cluster. Trains on its partition of the data, gossips through
// TcpTransport with the algo/ policy, evaluates periodically, writes RUN/node-<id>/.
// SIGINT/SIGTERM only set a flag; the loop notices it, says goodbye and saves.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "algo/gossip.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "net/auth.hpp"
#include "net/fault.hpp"
#include "net/tcp_transport.hpp"
#include "nn/data/partition.hpp"
#include "nn/data/sampler.hpp"
#include "nn/runtime.hpp"
#include "node/commands.hpp"
#include "node/method_params.hpp"
#include "node/metrics.hpp"
#include "node/trainer.hpp"
#include "node/util.hpp"
#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::node {
namespace {

std::string listenHostFor(const std::string& host) {
  // A name (docker service, DNS) is bound as the wildcard; an IP literal is bound as given.
  const bool ipLiteral = !host.empty() && (std::isdigit(static_cast<unsigned char>(host[0])) ||
                                           host.find(':') != std::string::npos);
  return ipLiteral ? host : "0.0.0.0";
}

JsonObject countersJson(const LinkCounters& c) {
  JsonObject o;
  o.add("bytes", c.bytes).add("frames", c.frames);
  o.add("update_frames", c.framesByKind[static_cast<size_t>(MessageKind::kTensorUpdate)]);
  o.add("update_bytes", c.bytesByKind[static_cast<size_t>(MessageKind::kTensorUpdate)]);
  return o;
}

template <class T>
std::string jsonArray(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ',';
    s += fmt::format("{}", v[i]);
  }
  return s + "]";
}

double l2norm(std::span<const float> x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

}  // namespace

int nodeCommand(const Config& cfg, const NodeArgs& args) {
  installStopHandlers();
  const auto topo = topologies::loadTopology(args.topology);
  MURMUR_ENFORCE(args.id >= 0 && static_cast<size_t>(args.id) < topo.size(), InputError,
                 "--id {} is not a node of {} (ids 0..{})", args.id, args.topology,
                 topo.size() - 1);
  const auto id = static_cast<uint32_t>(args.id);
  const auto numNodes = static_cast<uint32_t>(topo.size());
  const algo::MethodConfig method = buildMethod(cfg.gossip.method, cfg.gossip.params);
  const double mu = redundancyOf(cfg.gossip.method, cfg.gossip.params);
  const auto rule = mixingRuleFor(cfg.gossip.mixing, topo);

  const std::filesystem::path dir =
      std::filesystem::path(args.runDir.empty() ? "." : args.runDir) / fmt::format("node-{}", id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  MURMUR_ENFORCE(!ec, IoError, "{}: cannot create node directory: {}", dir.string(), ec.message());

  // Everything net/ and this loop log goes to log.txt and stderr.
  auto fileSink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((dir / "log.txt").string());
  auto errSink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(fmt::format("node-{}", id),
                                                 spdlog::sinks_init_list{fileSink, errSink});
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);

  try {
    const TrainData data = loadTrainData(cfg);
    const auto partCfg = nn::data::parsePartition(
        cfg.data.partition == "dirichlet" ? fmt::format("dirichlet:{}", cfg.data.dirichletAlpha)
                                          : cfg.data.partition,
        cfg.train.seed);
    const auto shards =
        nn::data::partition(data.train.labels, data.train.classes, numNodes, partCfg);
    auto parts = nn::data::nodeParts(shards, id, static_cast<size_t>(cfg.train.batch), mu);
    Trainer trainer(cfg, data, std::move(parts));
    nn::setNumThreads(resolveThreads(cfg, 1));
    if (!cfg.train.resume.empty()) {
      trainer.restore(nn::loadCheckpoint(cfg.train.resume), cfg.train.resume);
    }
    const auto& layout = trainer.model().layout();

    net::TcpTransportConfig tc;
    tc.self = id;
    const auto& me = topo.node(id);
    tc.listenHost = listenHostFor(me.host);
    tc.listenPort = me.port;
    for (uint32_t j : topo.neighbours(id)) {
      const auto& n = topo.node(j);
      tc.neighbours.push_back(net::PeerAddress{j, n.host, n.port});
    }
    tc.clusterId = topo.clusterId.empty() ? "murmur" : topo.clusterId;
    tc.modelFingerprint = layout.fingerprint();
    if (auto secret = net::loadClusterSecret(cfg.net.secretFile)) {
      const auto bytes = secret->bytes();
      tc.secret = std::string(bytes.begin(), bytes.end());
    } else {
      spdlog::warn("{}", net::openClusterWarning(tc.clusterId));
    }
    if (!cfg.net.faults.empty()) {
      tc.faults = net::FaultScenario::load(cfg.net.faults);
      tc.faultSeed = static_cast<uint64_t>(cfg.train.seed);
      spdlog::info("fault scenario {} applies to this node's outgoing links", cfg.net.faults);
    }
    net::TcpTransport transport(tc);

    const auto row = topologies::mixingRow(topo, id, rule);
    algo::MixingWeights weights;
    weights.self = row.self;
    for (const auto& [j, w] : row.neighbours) weights.neighbours.emplace_back(j, w);
    const Clock& clock = SteadyClock::instance();
    algo::Gossip gossip(method, layout, trainer.model().params(), transport, weights, clock,
                        static_cast<uint64_t>(trainer.step()));

    spdlog::info(
        "node {}/{} {} listening on {}:{}, neighbours {}, method {}, {} shard images "
        "({} per epoch), {} steps",
        id, numNodes, cfg.train.model, tc.listenHost, transport.port(),
        jsonArray(topo.neighbours(id)), cfg.gossip.method, trainer.shardSize(),
        trainer.stepsPerEpoch(), trainer.totalSteps());

    // Give the neighbours a bounded time to come up and exchange start-up keyframes, so the
    // first mix is not one-sided. Short slices keep SIGINT/SIGTERM responsive.
    const double connectDeadline =
        monotonicSeconds() + static_cast<double>(cfg.net.connectTimeoutMs) / 1000.0;
    while (monotonicSeconds() < connectDeadline && !stopRequested()) {
      if (gossip.awaitNeighbours(std::chrono::milliseconds(100))) break;
    }
    for (const auto& p : tc.neighbours) {
      if (!transport.isUp(p.id)) spdlog::warn("neighbour {} not up yet; training anyway", p.id);
    }

    MetricsWriter metrics((dir / "metrics.jsonl").string());
    const double start = monotonicSeconds();
    const int64_t evalEvery = cfg.train.evalEvery > 0
                                  ? cfg.train.evalEvery
                                  : std::max<int64_t>(1, trainer.stepsPerEpoch() / 4);
    const int64_t trainEvery = std::max<int64_t>(1, std::min<int64_t>(evalEvery / 5, 20));
    double windowLoss = 0;
    int64_t windowCorrect = 0, windowSamples = 0, windowSteps = 0;
    double lastLoss = std::nan("");
    float lr = trainer.learningRate();

    auto commonFields = [&](JsonObject& o, const char* event) {
      const auto st = gossip.stats();
      uint64_t bs = 0, br = 0, fs = 0, fr = 0;
      std::string edges = "[";
      bool first = true;
      for (const auto& e : transport.traffic()) {
        bs += e.sent.bytes;
        br += e.received.bytes;
        fs += e.sent.frames;
        fr += e.received.frames;
        if (!first) edges += ',';
        first = false;
        edges += JsonObject{}
                     .add("peer", static_cast<uint64_t>(e.peer))
                     .add("up", transport.isUp(e.peer))
                     .add("sent", countersJson(e.sent))
                     .add("received", countersJson(e.received))
                     .str();
      }
      edges += "]";
      o.add("event", event)
          .add("node", static_cast<uint64_t>(id))
          .add("step", trainer.step())
          .add("epoch",
               static_cast<double>(trainer.step()) / static_cast<double>(trainer.stepsPerEpoch()))
          .add("total_steps", trainer.totalSteps())
          .add("time", monotonicSeconds() - start)
          .add("lr", static_cast<double>(lr))
          .add("loss", lastLoss)
          .add("bytes_sent", bs)
          .add("bytes_received", br)
          .add("frames_sent", fs)
          .add("frames_received", fr)
          .add("update_frames_sent", st.updateFramesSent)
          .add("keyframes_sent", st.keyframesSent)
          .add("digest_keyframes_sent", st.digestKeyframesSent)
          .add("digest_mismatches", st.digestMismatches)
          .add("values_sent", st.valuesSent)
          .add("events", st.events)
          .add("trigger_rate", st.triggerRate)
          .add("mean_staleness", st.meanStaleness)
          .add("max_staleness", st.maxStaleness)
          .add("neighbour_distance", gossip.neighbourDistance())
          .add("rounds", st.rounds)
          .add("mixes", st.mixes)
          .add("final_exchange_timeouts", st.finalExchangeTimeouts)
          .add("held_updates", st.heldUpdates)
          .add("held_overflows", st.heldOverflows)
          .add("lockstep_waits", st.lockstepWaits)
          .add("lockstep_timeouts", st.lockstepTimeouts)
          .add("updates_received", st.updatesReceived)
          .add("updates_rejected", st.updatesRejected)
          .add("gaps", st.gapsDetected)
          .addRaw("events_per_tensor", jsonArray(st.eventsPerTensor))
          .addRaw("edges", edges);
    };

    auto evaluate = [&](const char* event) {
      const auto test = trainer.evaluateTest();
      JsonObject o;
      commonFields(o, event);
      const double trainLoss =
          windowSteps > 0 ? windowLoss / static_cast<double>(windowSteps) : std::nan("");
      const double trainAcc = windowSamples > 0 ? static_cast<double>(windowCorrect) /
                                                      static_cast<double>(windowSamples)
                                                : std::nan("");
      o.add("train_loss", trainLoss)
          .add("train_accuracy", trainAcc)
          .add("test_loss", test.loss)
          .add("test_accuracy", test.accuracy)
          .add("param_norm", l2norm(std::as_const(trainer.model()).params()))
          .add("num_params", static_cast<uint64_t>(trainer.model().numParams()))
          .add("degree", static_cast<uint64_t>(tc.neighbours.size()));
      metrics.write(o);
      spdlog::info(
          "step {} epoch {:.2f}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} "
          "| trigger rate {:.3f}",
          trainer.step(),
          static_cast<double>(trainer.step()) / static_cast<double>(trainer.stepsPerEpoch()),
          trainLoss, trainAcc, test.loss, test.accuracy, gossip.stats().triggerRate);
      windowLoss = 0;
      windowCorrect = windowSamples = windowSteps = 0;
    };

    bool stopped = false;
    while (!trainer.done()) {
      if (stopRequested()) {
        stopped = true;
        break;
      }
      const auto k = static_cast<uint64_t>(trainer.step());
      const StepResult r = trainer.computeGradients();
      MURMUR_ENFORCE(std::isfinite(r.loss), Error,
                     "training diverged: loss is {} at step {} (try a lower --lr, now {})", r.loss,
                     k, cfg.optim.lr);
      gossip.beforeUpdate(k);
      lr = static_cast<float>(trainer.learningRate() * gossip.lrScale(k));
      trainer.applyUpdate(lr);
      gossip.afterUpdate(k);
      transport.reportStep(static_cast<uint64_t>(trainer.step()));
      lastLoss = r.loss;
      windowLoss += r.loss;
      windowCorrect += r.correct;
      windowSamples += r.batch;
      ++windowSteps;
      if (trainer.step() % evalEvery == 0 && !trainer.done()) {
        evaluate("eval");
      } else if (trainer.step() % trainEvery == 0) {
        JsonObject o;
        commonFields(o, "train");
        metrics.write(o);
      }
    }

    const std::string reason =
        stopped ? fmt::format("stopped by signal {}", stopSignal()) : std::string("finished");
    if (!stopped) gossip.finish();
    transport.close(reason, std::chrono::milliseconds(cfg.net.closeTimeoutMs));
    evaluate(stopped ? "stopped" : "final");
    auto ckpt = trainer.checkpoint();
    ckpt.meta["node"] = std::to_string(id);
    ckpt.meta["method"] = cfg.gossip.method;
    nn::saveCheckpoint(dir / "checkpoint.bin", ckpt);
    spdlog::info("node {} {} at step {}; wrote {}", id, reason, trainer.step(), dir.string());
    logger->flush();
    return stopped ? 128 + stopSignal() : kExitOk;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    logger->flush();
    throw;
  }
}

}  // namespace murmur::node
