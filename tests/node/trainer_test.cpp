// Short end-to-end training on a real Fashion-MNIST subset (always installed, see DEVELOPING.md).

#include "node/trainer.hpp"

#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/runtime.hpp"

namespace murmur::node {
namespace {

Config smallConfig() {
  Config cfg;
  cfg.train.model = "lenet5";
  cfg.data.name = "fashion-mnist";
  cfg.data.trainLimit = 2000;
  cfg.data.testLimit = 1000;
  cfg.train.batch = 64;
  cfg.train.epochs = 3;
  cfg.train.seed = 3;
  return cfg;
}

TEST(Trainer, LenetLearnsFashionMnistSubset) {
  const Config cfg = smallConfig();
  const TrainData data = loadTrainData(cfg);
  ASSERT_EQ(data.train.n, 2000);
  ASSERT_EQ(data.test.n, 1000);
  Trainer t(cfg, data);
  nn::setNumThreads(1);
  EXPECT_EQ(t.stepsPerEpoch(), 2000 / 64);
  EXPECT_EQ(t.totalSteps(), 3 * (2000 / 64));
  const double before = t.evaluateTest().accuracy;
  std::vector<double> losses;
  while (!t.done()) {
    const auto r = t.computeGradients();
    EXPECT_EQ(r.batch, 64);
    losses.push_back(r.loss);
    t.applyUpdate(t.learningRate());
  }
  ASSERT_GE(losses.size(), 20u);
  const double first = std::accumulate(losses.begin(), losses.begin() + 10, 0.0) / 10;
  const double last = std::accumulate(losses.end() - 10, losses.end(), 0.0) / 10;
  EXPECT_LT(last, 0.6 * first) << "loss did not fall: " << first << " -> " << last;
  const auto after = t.evaluateTest();
  EXPECT_LT(before, 0.3);  // an untrained 10-class model is near chance
  EXPECT_GT(after.accuracy, 0.70) << "test loss " << after.loss;
}

TEST(Trainer, ResumeFromCheckpointContinuesTheSameRun) {
  Config cfg = smallConfig();
  cfg.data.trainLimit = 640;
  cfg.data.testLimit = 100;
  cfg.train.steps = 14;  // crosses the 10-step epoch boundary
  const TrainData data = loadTrainData(cfg);
  nn::setNumThreads(1);

  Trainer straight(cfg, data);
  while (!straight.done()) {
    straight.computeGradients();
    straight.applyUpdate(straight.learningRate());
  }

  Trainer first(cfg, data);
  for (int i = 0; i < 7; ++i) {
    first.computeGradients();
    first.applyUpdate(first.learningRate());
  }
  const nn::Checkpoint ckpt = first.checkpoint();
  EXPECT_EQ(ckpt.step, 7);
  EXPECT_EQ(ckpt.model, "lenet5");

  Trainer resumed(cfg, data);
  resumed.restore(ckpt, "in-memory");
  EXPECT_EQ(resumed.step(), 7);
  while (!resumed.done()) {
    resumed.computeGradients();
    resumed.applyUpdate(resumed.learningRate());
  }
  const auto a = straight.model().params();
  const auto b = resumed.model().params();
  ASSERT_EQ(a.size(), b.size());
  float maxDiff = 0;
  for (size_t i = 0; i < a.size(); ++i) maxDiff = std::max(maxDiff, std::abs(a[i] - b[i]));
  EXPECT_LT(maxDiff, 1e-4f) << "a resumed run drew other batches or lost the momentum";
}

TEST(Trainer, RejectsACheckpointOfAnotherModel) {
  Config cfg = smallConfig();
  cfg.data.trainLimit = 128;
  cfg.data.testLimit = 10;
  const TrainData data = loadTrainData(cfg);
  Trainer t(cfg, data);
  nn::Checkpoint other = t.checkpoint();
  other.model = "resnet20";
  EXPECT_THROW(t.restore(other, "other.bin"), InputError);
}

TEST(Trainer, MissingDataDirectoryIsAnInputErrorNamingIt) {
  Config cfg = smallConfig();
  cfg.data.dir = "/nonexistent/fmnist";
  try {
    loadTrainData(cfg);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fmnist"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace murmur::node
