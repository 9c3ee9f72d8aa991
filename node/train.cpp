// `murmur train`: one process, one model, no network.

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/error.hpp"
#include "nn/checkpoint.hpp"
#include "nn/runtime.hpp"
#include "node/commands.hpp"
#include "node/metrics.hpp"
#include "node/progress.hpp"
#include "node/trainer.hpp"
#include "node/util.hpp"

namespace murmur::node {

int resolveThreads(const Config& cfg, int fallback) {
  if (cfg.train.threads > 0) return cfg.train.threads;
  return nn::threadsFromEnv(fallback);
}

int trainCommand(const Config& cfg) {
  installStopHandlers();
  const TrainData data = loadTrainData(cfg);
  Trainer trainer(cfg, data);
  // Alone on the machine, `train` may use every core unless told otherwise.
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  nn::setNumThreads(resolveThreads(cfg, hw));

  if (!cfg.train.resume.empty()) {
    trainer.restore(nn::loadCheckpoint(cfg.train.resume), cfg.train.resume);
    fmt::print(stderr, "resumed from {} at step {}\n", cfg.train.resume, trainer.step());
  }

  std::unique_ptr<MetricsWriter> metrics;
  std::filesystem::path outDir;
  if (!cfg.train.out.empty()) {
    outDir = cfg.train.out;
    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    MURMUR_ENFORCE(!ec, IoError, "{}: cannot create output directory: {}", outDir.string(),
                   ec.message());
    writeFileAtomic(outDir / "config.toml", toToml(cfg));
    metrics = std::make_unique<MetricsWriter>((outDir / "metrics.jsonl").string());
  }
  auto saveCheckpoint = [&] {
    if (!outDir.empty()) nn::saveCheckpoint(outDir / "checkpoint.bin", trainer.checkpoint());
  };

  fmt::print(stderr,
             "train {} on {} ({} train / {} test images), {} params, {} steps of {} ({} per "
             "epoch), {} threads\n",
             cfg.train.model, cfg.data.name, data.train.n, data.test.n, trainer.model().numParams(),
             trainer.totalSteps(), cfg.train.batch, trainer.stepsPerEpoch(), nn::numThreads());

  ProgressBar progress;
  const double start = monotonicSeconds();
  const int64_t firstStep = trainer.step();
  const int64_t trainEvery = std::max<int64_t>(1, trainer.stepsPerEpoch() / 20);
  double lossEma = 0.0;
  bool emaInit = false;
  double windowLoss = 0.0;
  int64_t windowCorrect = 0, windowSamples = 0, windowSteps = 0;
  double lastTest = std::nan("");

  while (!trainer.done()) {
    if (stopRequested()) {
      progress.finish();
      saveCheckpoint();
      fmt::print(stderr, "stopped by signal {} at step {}{}\n", stopSignal(), trainer.step(),
                 outDir.empty() ? "" : "; checkpoint saved");
      return 128 + stopSignal();
    }
    const StepResult r = trainer.computeGradients();
    const float lr = trainer.learningRate();
    MURMUR_ENFORCE(std::isfinite(r.loss), Error,
                   "training diverged: loss is {} at step {} (try a lower --lr, now {})", r.loss,
                   trainer.step(), cfg.optim.lr);
    trainer.applyUpdate(lr);
    lossEma = emaInit ? 0.98 * lossEma + 0.02 * r.loss : r.loss;
    emaInit = true;
    windowLoss += r.loss;
    windowCorrect += r.correct;
    windowSamples += r.batch;
    ++windowSteps;

    const double elapsed = monotonicSeconds() - start;
    ProgressState ps;
    ps.step = trainer.step();
    ps.totalSteps = trainer.totalSteps();
    ps.epoch = static_cast<int>(trainer.epoch());
    ps.loss = lossEma;
    ps.elapsedSeconds = elapsed;
    ps.imagesPerSec = elapsed > 0 ? static_cast<double>(trainer.step() - firstStep) *
                                        static_cast<double>(cfg.train.batch) / elapsed
                                  : 0.0;
    progress.update(ps);

    if (metrics && trainer.step() % trainEvery == 0) {
      metrics->write(JsonObject{}
                         .add("event", "train")
                         .add("step", trainer.step())
                         .add("time", elapsed)
                         .add("lr", static_cast<double>(lr))
                         .add("loss", r.loss)
                         .add("loss_ema", lossEma));
    }

    const bool evalPoint = (cfg.train.evalEvery > 0 && trainer.step() % cfg.train.evalEvery == 0) ||
                           (cfg.train.evalEvery == 0 && trainer.epochEnded()) || trainer.done();
    if (evalPoint) {
      const auto test = trainer.evaluateTest();
      lastTest = test.accuracy;
      const double trainLoss = windowLoss / static_cast<double>(std::max<int64_t>(1, windowSteps));
      const double trainAcc = static_cast<double>(windowCorrect) /
                              static_cast<double>(std::max<int64_t>(1, windowSamples));
      progress.message(fmt::format(
          "step {:>6} epoch {:.2f}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f}",
          trainer.step(),
          static_cast<double>(trainer.step()) / static_cast<double>(trainer.stepsPerEpoch()),
          trainLoss, trainAcc, test.loss, test.accuracy));
      if (metrics) {
        metrics->write(JsonObject{}
                           .add("event", "eval")
                           .add("step", trainer.step())
                           .add("epoch", static_cast<double>(trainer.step()) /
                                             static_cast<double>(trainer.stepsPerEpoch()))
                           .add("time", monotonicSeconds() - start)
                           .add("lr", static_cast<double>(lr))
                           .add("train_loss", trainLoss)
                           .add("train_accuracy", trainAcc)
                           .add("test_loss", test.loss)
                           .add("test_accuracy", test.accuracy));
      }
      windowLoss = 0;
      windowCorrect = windowSamples = windowSteps = 0;
      if (trainer.epochEnded() && !trainer.done()) saveCheckpoint();
    }
  }
  progress.finish();
  if (std::isnan(lastTest)) lastTest = trainer.evaluateTest().accuracy;  // resumed at the end
  saveCheckpoint();
  fmt::print("final test accuracy {:.4f} after {} steps ({:.1f} s){}\n", lastTest, trainer.step(),
             monotonicSeconds() - start,
             outDir.empty() ? "" : fmt::format("; wrote {}", outDir.string()));
  return kExitOk;
}

}  // namespace murmur::node
