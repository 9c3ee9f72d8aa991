#include "nn/model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "common/error.hpp"

namespace murmur::nn {
namespace {

struct Batch {
  std::vector<float> src;
  std::vector<int32_t> labels;
};

Batch randomBatch(const Model& m, int n, uint64_t seed) {
  const auto s = m.inputShape();
  const size_t sample = static_cast<size_t>(s[0]) * s[1] * s[2];
  const size_t classes = static_cast<size_t>(m.numClasses());
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> nd(0.f, 1.f);
  // A fixed random pattern per class on top of the noise, so the batch is learnable.
  std::mt19937 trng(99);
  std::vector<float> templates(sample * classes);
  for (auto& v : templates) v = nd(trng);
  Batch b{std::vector<float>(sample * static_cast<size_t>(n)),
          std::vector<int32_t>(static_cast<size_t>(n))};
  for (int i = 0; i < n; ++i) {
    const auto y = static_cast<int32_t>(rng() % classes);
    b.labels[static_cast<size_t>(i)] = y;
    for (size_t j = 0; j < sample; ++j) {
      b.src[static_cast<size_t>(i) * sample + j] =
          nd(rng) + 1.5f * templates[static_cast<size_t>(y) * sample + j];
    }
  }
  return b;
}

TEST(Model, NamesAndUnknownName) {
  auto names = Model::names();
  EXPECT_EQ(names, (std::vector<std::string>{"lenet5", "mnist-cnn", "resnet20"}));
  try {
    Model::create("vgg16", 1);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("vgg16"), std::string::npos);
    for (const auto& n : names) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
}

TEST(Model, Lenet5Shape) {
  auto m = Model::create("lenet5", 7);
  EXPECT_EQ(m->name(), "lenet5");
  EXPECT_EQ(m->layout().total, 61706u);
  EXPECT_EQ(m->params().size(), 61706u);
  EXPECT_EQ(m->grads().size(), 61706u);
  EXPECT_EQ(m->numParams(), 61706u);
  EXPECT_EQ(m->inputShape(), (std::array<int, 3>{1, 28, 28}));
  EXPECT_EQ(m->numClasses(), 10);
  EXPECT_TRUE(m->buffers().empty());
  std::vector<std::string> names;
  size_t offset = 0;
  for (const auto& t : m->layout().tensors) {
    names.push_back(t.name);
    EXPECT_EQ(t.offset, offset) << t.name;
    size_t numel = 1;
    for (auto d : t.shape) numel *= static_cast<size_t>(d);
    EXPECT_EQ(t.numel, numel) << t.name;
    offset += t.numel;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight",
                                             "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
                                             "fc2.bias", "fc3.weight", "fc3.bias"}));
  EXPECT_EQ(m->layout().tensors[4].shape, (std::vector<int64_t>{120, 400}));
}

TEST(Model, MnistCnnShape) {
  auto m = Model::create("mnist-cnn", 7);
  // conv1 10*9+10, conv2 20*90+20, fc1 500*50+50, fc2 50*10+10
  EXPECT_EQ(m->layout().total, 100u + 1820u + 25050u + 510u);
  EXPECT_EQ(m->inputShape(), (std::array<int, 3>{1, 28, 28}));
}

TEST(Model, Resnet20Shape) {
  auto m = Model::create("resnet20", 7);
  EXPECT_EQ(m->inputShape(), (std::array<int, 3>{3, 32, 32}));
  EXPECT_EQ(m->numClasses(), 10);
  EXPECT_GT(m->layout().total, 260000u);
  EXPECT_LT(m->layout().total, 280000u);
  const auto& tensors = m->layout().tensors;
  auto has = [&](const std::string& n) {
    return std::any_of(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == n; });
  };
  EXPECT_TRUE(has("conv1.weight"));
  EXPECT_TRUE(has("layer1.0.bn1.weight"));
  EXPECT_TRUE(has("layer2.0.shortcut.0.weight"));
  EXPECT_TRUE(has("layer3.2.conv2.weight"));
  EXPECT_TRUE(has("fc.bias"));
  // Two BN buffers (mean, var) per BN layer: 19 BN layers + 2 projection BNs.
  EXPECT_EQ(m->bufferLayout().tensors.size(), 2u * 21u);
  EXPECT_EQ(m->bufferLayout().tensors[0].name, "bn1.running_mean");
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(m->buffers()[i], 0.f);
    EXPECT_EQ(m->buffers()[16 + i], 1.f);
  }
}

TEST(Model, SameSeedSameWeightsDifferentSeedDifferent) {
  for (const auto& name : Model::names()) {
    auto a = Model::create(name, 42);
    auto b = Model::create(name, 42);
    auto c = Model::create(name, 43);
    EXPECT_TRUE(std::equal(a->params().begin(), a->params().end(), b->params().begin())) << name;
    EXPECT_FALSE(std::equal(a->params().begin(), a->params().end(), c->params().begin())) << name;
    EXPECT_EQ(a->layout().fingerprint(), c->layout().fingerprint());
  }
}

TEST(Model, InitWithinPytorchBounds) {
  auto m = Model::create("lenet5", 3);
  for (const auto& t : m->layout().tensors) {
    const double fanIn = t.name.rfind("conv1", 0) == 0   ? 25.0
                         : t.name.rfind("conv2", 0) == 0 ? 150.0
                         : t.name.rfind("fc1", 0) == 0   ? 400.0
                         : t.name.rfind("fc2", 0) == 0   ? 120.0
                                                         : 84.0;
    const double bound = 1.0 / std::sqrt(fanIn);
    double maxAbs = 0;
    for (size_t i = 0; i < t.numel; ++i)
      maxAbs = std::max(maxAbs, double(std::abs(m->params()[t.offset + i])));
    EXPECT_LE(maxAbs, bound + 1e-6) << t.name;
    EXPECT_GT(maxAbs, 0.5 * bound) << t.name;
  }
}

class ModelTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelTraining, LossDecreasesAndRunsRepeat) {
  const std::string name = GetParam();
  const int n = name == "resnet20" ? 8 : 32;
  const int steps = name == "resnet20" ? 8 : 25;
  const float lr = name == "resnet20" ? 0.02f : 0.05f;
  std::vector<float> losses[2];
  for (int run = 0; run < 2; ++run) {
    auto m = Model::create(name, 11);
    auto batch = randomBatch(*m, n, 5);
    std::vector<float> velocity(m->params().size(), 0.f);
    for (int s = 0; s < steps; ++s) {
      int correct = -1;
      float loss = m->trainStep(batch.src.data(), batch.labels.data(), n, &correct);
      EXPECT_TRUE(std::isfinite(loss));
      EXPECT_GE(correct, 0);
      EXPECT_LE(correct, n);
      losses[run].push_back(loss);
      // SGD with momentum 0.9.
      auto p = m->params();
      auto g = m->grads();
      for (size_t i = 0; i < p.size(); ++i) {
        velocity[i] = 0.9f * velocity[i] + g[i];
        p[i] -= lr * velocity[i];
      }
    }
  }
  EXPECT_EQ(losses[0], losses[1]) << "same seed, same data, one thread: runs must repeat";
  EXPECT_LT(losses[0].back(), 0.5f * losses[0].front()) << name;
}

INSTANTIATE_TEST_SUITE_P(All, ModelTraining, ::testing::Values("lenet5", "mnist-cnn", "resnet20"));

TEST(Model, GradsOverwrittenNotAccumulated) {
  auto m = Model::create("lenet5", 1);
  auto b = randomBatch(*m, 4, 2);
  m->trainStep(b.src.data(), b.labels.data(), 4);
  std::vector<float> g1(m->grads().begin(), m->grads().end());
  m->trainStep(b.src.data(), b.labels.data(), 4);
  std::vector<float> g2(m->grads().begin(), m->grads().end());
  EXPECT_EQ(g1, g2);
  // Every tensor receives a gradient.
  for (const auto& t : m->layout().tensors) {
    double s = 0;
    for (size_t i = 0; i < t.numel; ++i) s += std::abs(g1[t.offset + i]);
    EXPECT_GT(s, 0.0) << t.name;
  }
}

TEST(Model, BatchSizesCachedAndConsistent) {
  // The same 3 samples give the same logits whether inferred alone or inside a larger batch.
  auto m = Model::create("lenet5", 9);
  auto b = randomBatch(*m, 8, 3);
  std::vector<float> all(8 * 10), part(3 * 10);
  m->infer(b.src.data(), 8, all.data());
  m->infer(b.src.data(), 3, part.data());
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(all[i], part[i], 1e-5f);
  m->infer(b.src.data(), 8, all.data());
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(all[i], part[i], 1e-5f);
}

TEST(Model, EvaluateMatchesInfer) {
  auto m = Model::create("lenet5", 4);
  auto b = randomBatch(*m, 10, 8);
  std::vector<float> logits(100);
  m->infer(b.src.data(), 10, logits.data());
  double loss = 0;
  int hits = 0;
  for (int i = 0; i < 10; ++i) {
    const float* r = &logits[i * 10];
    double mx = *std::max_element(r, r + 10);
    double s = 0;
    for (int k = 0; k < 10; ++k) s += std::exp(r[k] - mx);
    loss += std::log(s) + mx - r[b.labels[i]];
    hits += (std::max_element(r, r + 10) - r) == b.labels[i];
  }
  auto res = m->evaluate(b.src.data(), b.labels.data(), 10, 4);  // chunks 4,4,2
  EXPECT_NEAR(res.loss, loss / 10, 1e-5);
  EXPECT_DOUBLE_EQ(res.accuracy, hits / 10.0);
}

TEST(Model, InferenceIsDeterministicWithDropout) {
  auto m = Model::create("mnist-cnn", 4);
  auto b = randomBatch(*m, 5, 8);
  std::vector<float> a(50), c(50);
  m->infer(b.src.data(), 5, a.data());
  m->infer(b.src.data(), 5, c.data());
  EXPECT_EQ(a, c);
}

TEST(Model, RejectsBadLabels) {
  auto m = Model::create("lenet5", 4);
  auto b = randomBatch(*m, 2, 8);
  b.labels[1] = 10;
  EXPECT_THROW(m->trainStep(b.src.data(), b.labels.data(), 2), InputError);
  EXPECT_THROW(m->trainStep(b.src.data(), b.labels.data(), 0), InputError);
}

}  // namespace
}  // namespace murmur::nn

namespace murmur::nn {
namespace {

// Mean cross-entropy of the model in inference mode (for lenet5 identical to training mode).
double lossOf(Model& m, const Batch& b, int n) {
  std::vector<float> logits(static_cast<size_t>(n) * m.numClasses());
  m.infer(b.src.data(), n, logits.data());
  double loss = 0;
  for (int i = 0; i < n; ++i) {
    const float* r = &logits[static_cast<size_t>(i) * m.numClasses()];
    double mx = *std::max_element(r, r + m.numClasses());
    double s = 0;
    for (int k = 0; k < m.numClasses(); ++k) s += std::exp(r[k] - mx);
    loss += std::log(s) + mx - r[b.labels[i]];
  }
  return loss / n;
}

TEST(Model, Lenet5GradientsMatchFiniteDifferences) {
  auto m = Model::create("lenet5", 21);
  const int n = 4;
  auto b = randomBatch(*m, n, 6);
  m->trainStep(b.src.data(), b.labels.data(), n);
  std::vector<float> g(m->grads().begin(), m->grads().end());
  std::mt19937 rng(1);
  for (const auto& t : m->layout().tensors) {
    // Largest-gradient entry of each tensor plus a few random ones.
    std::vector<size_t> idx;
    size_t best = t.offset;
    for (size_t i = t.offset; i < t.offset + t.numel; ++i) {
      if (std::abs(g[i]) > std::abs(g[best])) best = i;
    }
    idx.push_back(best);
    for (int k = 0; k < 3; ++k) idx.push_back(t.offset + rng() % t.numel);
    for (size_t i : idx) {
      const float orig = m->params()[i];
      const float h = 1e-2f;
      m->params()[i] = orig + h;
      const double lp = lossOf(*m, b, n);
      m->params()[i] = orig - h;
      const double lm = lossOf(*m, b, n);
      m->params()[i] = orig;
      const double fd = (lp - lm) / (2.0 * h);
      EXPECT_NEAR(g[i], fd, 2e-3 + 2e-2 * std::abs(fd)) << t.name << " [" << i - t.offset << "]";
    }
  }
}

}  // namespace
}  // namespace murmur::nn

#include <thread>

namespace murmur::nn {
namespace {

TEST(Model, TrainsOnAnotherThreadLikeOnTheCreatingThread) {
  // node/ creates the model on one thread and trains it on a trainer thread.
  const int n = 6;
  auto a = Model::create("resnet20", 3);
  auto b = Model::create("resnet20", 3);
  auto batch = randomBatch(*a, n, 4);
  float la = a->trainStep(batch.src.data(), batch.labels.data(), n);
  float lb = 0;
  std::thread t([&] { lb = b->trainStep(batch.src.data(), batch.labels.data(), n); });
  t.join();
  EXPECT_EQ(la, lb);
  EXPECT_TRUE(std::equal(a->grads().begin(), a->grads().end(), b->grads().begin()));
  EXPECT_TRUE(std::equal(a->buffers().begin(), a->buffers().end(), b->buffers().begin()));
}

}  // namespace
}  // namespace murmur::nn

#include <cstdlib>

#include "nn/runtime.hpp"

namespace murmur::nn {
namespace {

TEST(Model, TrainStepUpdatesBatchNormBuffersInferDoesNot) {
  auto m = Model::create("resnet20", 3);
  auto b = randomBatch(*m, 4, 1);
  std::vector<float> before(m->buffers().begin(), m->buffers().end());
  std::vector<float> logits(40);
  m->infer(b.src.data(), 4, logits.data());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), m->buffers().begin()));
  m->trainStep(b.src.data(), b.labels.data(), 4);
  const auto& t = m->bufferLayout().tensors[0];  // bn1.running_mean
  double moved = 0;
  for (size_t i = 0; i < t.numel; ++i)
    moved += std::abs(m->buffers()[t.offset + i] - before[t.offset + i]);
  EXPECT_GT(moved, 0.0);
  // Parameters are untouched by trainStep (the optimizer owns updates).
  auto fresh = Model::create("resnet20", 3);
  EXPECT_TRUE(std::equal(fresh->params().begin(), fresh->params().end(), m->params().begin()));
}

TEST(Runtime, ThreadsFromEnv) {
  ::unsetenv("MURMUR_THREADS");
  EXPECT_EQ(threadsFromEnv(1), 1);
  EXPECT_EQ(threadsFromEnv(3), 3);
  ::setenv("MURMUR_THREADS", "2", 1);
  EXPECT_EQ(threadsFromEnv(1), 2);
  ::setenv("MURMUR_THREADS", "two", 1);
  EXPECT_THROW(threadsFromEnv(1), InputError);
  ::setenv("MURMUR_THREADS", "0", 1);
  EXPECT_THROW(threadsFromEnv(1), InputError);
  ::unsetenv("MURMUR_THREADS");
  setNumThreads(1);
  EXPECT_EQ(numThreads(), 1);
  EXPECT_THROW(setNumThreads(0), InputError);
}

}  // namespace
}  // namespace murmur::nn

namespace murmur::nn {
namespace {

TEST(Model, InferenceAndTrainingForwardAgreeWithoutDropoutOrBatchNorm) {
  // lenet5 has neither, so infer() (ping-pong buffers) and trainStep() (kept activations) must
  // compute the same logits, hence the same loss and hits.
  auto m = Model::create("lenet5", 5);
  const int n = 7;
  auto b = randomBatch(*m, n, 2);
  std::vector<float> logits(size_t(n) * 10);
  m->infer(b.src.data(), n, logits.data());
  auto eval = m->evaluate(b.src.data(), b.labels.data(), n, n);
  int correct = 0;
  const float loss = m->trainStep(b.src.data(), b.labels.data(), n, &correct);
  EXPECT_NEAR(loss, eval.loss, 1e-5);
  EXPECT_DOUBLE_EQ(correct / double(n), eval.accuracy);
}

}  // namespace
}  // namespace murmur::nn
