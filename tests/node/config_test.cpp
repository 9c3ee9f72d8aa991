#include "node/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "common/error.hpp"
#include "node/method_params.hpp"
#include "tests/support/mutate_text.hpp"

namespace murmur::node {
namespace {

using ::testing::HasSubstr;

std::string loadError(const std::string& text) {
  Config cfg;
  try {
    loadConfigString(text, "test.toml", cfg);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ReadsEverySection) {
  Config cfg;
  loadConfigString(R"(
[train]
model = "mnist-cnn"
epochs = 2.5
batch = 32
seed = 7
eval_every = 100
[data]
name = "mnist"
dir = "/tmp/mnist"
train_limit = 1000
augment = "off"
[optim]
lr = 0.1
momentum = 0
nesterov = false
weight_decay = 5e-4
schedule = "cosine"
[gossip]
method = "eventgrad-topk"
threshold = 0.25
warmup = 10
fp16 = true
[net]
base_port = 9000
faults = "/tmp/links.faults"
secret_file = "/tmp/cluster.secret"
[run]
nodes = 8
graph = "torus"
)",
                   "test.toml", cfg);
  EXPECT_EQ(cfg.train.model, "mnist-cnn");
  EXPECT_DOUBLE_EQ(cfg.train.epochs, 2.5);
  EXPECT_EQ(cfg.train.batch, 32);
  EXPECT_EQ(cfg.train.seed, 7u);
  EXPECT_EQ(cfg.train.evalEvery, 100);
  EXPECT_EQ(cfg.data.name, "mnist");
  EXPECT_EQ(cfg.data.dir, "/tmp/mnist");
  EXPECT_EQ(cfg.data.trainLimit, 1000);
  EXPECT_EQ(cfg.data.augment, "off");
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 0.1);
  EXPECT_DOUBLE_EQ(cfg.optim.momentum, 0.0);  // an integer is accepted for a float key
  EXPECT_DOUBLE_EQ(cfg.optim.weightDecay, 5e-4);
  EXPECT_EQ(cfg.optim.schedule, "cosine");
  EXPECT_EQ(cfg.gossip.method, "eventgrad-topk");
  EXPECT_EQ(cfg.gossip.params.at("threshold"), "0.25");
  EXPECT_EQ(cfg.gossip.params.at("warmup"), "10");
  EXPECT_EQ(cfg.gossip.params.at("fp16"), "true");
  EXPECT_EQ(cfg.net.basePort, 9000);
  EXPECT_EQ(cfg.net.faults, "/tmp/links.faults");
  EXPECT_EQ(cfg.net.secretFile, "/tmp/cluster.secret");
  EXPECT_EQ(cfg.run.nodes, 8);
  EXPECT_EQ(cfg.run.graph, "torus");
  // Untouched keys keep their defaults.
  EXPECT_EQ(cfg.train.threads, Config{}.train.threads);
  EXPECT_EQ(cfg.net.host, Config{}.net.host);
  EXPECT_NO_THROW(validate(cfg));
}

TEST(Config, UnknownKeyNamesKeySectionAndLine) {
  const auto msg = loadError("[train]\nepochs = 1\nbatchsize = 3\n");
  EXPECT_THAT(msg, HasSubstr("test.toml:3"));
  EXPECT_THAT(msg, HasSubstr("batchsize"));
  EXPECT_THAT(msg, HasSubstr("[train]"));
}

TEST(Config, UnknownSectionIsRejected) {
  EXPECT_THAT(loadError("[trian]\nepochs = 1\n"), HasSubstr("trian"));
  EXPECT_THAT(loadError("model = \"lenet5\"\n"), HasSubstr("model"));
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  auto msg = loadError("[optim]\nlr = \"fast\"\n");
  EXPECT_THAT(msg, HasSubstr("test.toml:2"));
  EXPECT_THAT(msg, HasSubstr("optim.lr"));
  EXPECT_THAT(msg, HasSubstr("number"));
  EXPECT_THAT(loadError("[train]\nbatch = 1.5\n"), HasSubstr("train.batch must be an integer"));
  EXPECT_THAT(loadError("[optim]\nnesterov = 1\n"), HasSubstr("optim.nesterov"));
  EXPECT_THAT(loadError("[train]\nseed = -3\n"), HasSubstr("train.seed"));
  EXPECT_THAT(loadError("[gossip]\nthreshold = [1, 2]\n"), HasSubstr("gossip.threshold"));
}

TEST(Config, SyntaxErrorNamesFileLineAndColumn) {
  const auto msg = loadError("[train]\nepochs = = 3\n");
  EXPECT_THAT(msg, HasSubstr("test.toml:2:"));
}

TEST(Config, MissingFileIsAnInputErrorNamingThePath) {
  Config cfg;
  try {
    loadConfigFile("/nonexistent/murmur.toml", cfg);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/murmur.toml"));
  }
}

TEST(Config, ValidateNamesTheBadField) {
  auto check = [](auto mutate, const char* needle) {
    Config cfg;
    mutate(cfg);
    try {
      validate(cfg);
      ADD_FAILURE() << "expected InputError mentioning " << needle;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(needle));
    }
  };
  check([](Config& c) { c.optim.lr = -1; }, "optim.lr");
  check([](Config& c) { c.train.batch = 0; }, "train.batch");
  check([](Config& c) { c.optim.momentum = 1.0; }, "optim.momentum");
  check([](Config& c) { c.data.name = "imagenet"; }, "data.name");
  check([](Config& c) { c.data.augment = "maybe"; }, "data.augment");
  check([](Config& c) { c.train.epochs = 0; }, "train.epochs");
  check([](Config& c) { c.net.basePort = 70000; }, "net.base_port");
  check(
      [](Config& c) {
        c.optim.momentum = 0;
        c.optim.nesterov = true;
      },
      "nesterov");
  Config ok;
  EXPECT_NO_THROW(validate(ok));
}

TEST(Config, TomlRoundTripsEveryField) {
  Config cfg;
  cfg.train.model = "resnet20";
  cfg.train.epochs = 0.3;
  cfg.train.steps = 17;
  cfg.train.seed = 123456789;
  cfg.train.out = "dir with \"quotes\" and \\ backslash";
  cfg.data.name = "cifar10";
  cfg.data.dirichletAlpha = 0.1;
  cfg.optim.lr = 0.1 + 0.2;  // not exactly representable in short decimal
  cfg.optim.nesterov = true;
  cfg.optim.schedule = "step:100:0.5,warmup:10";
  cfg.gossip.params["threshold"] = "0.5";
  cfg.gossip.params["metric"] = "norm-of-difference";
  cfg.run.deadlineSeconds = 60;
  cfg.net.faults = "scenarios/cap 10mbit.faults";
  cfg.net.secretFile = "/etc/murmur/secret";
  Config back;
  loadConfigString(toToml(cfg), "roundtrip", back);
  EXPECT_EQ(back, cfg);
}

// Hostile input: random edits of a full configuration either load, validate and build their
// method, or fail with an InputError; a syntax, key or type error names the file. Nothing
// else may escape (toml++'s own errors, std::out_of_range, a crash).
TEST(ConfigHostile, MutatedConfigsLoadOrFailWithAnInputError) {
  Config full;
  full.gossip.method = "eventgrad-vote";
  full.gossip.params = {{"topk", "0.2"}, {"period", "10"}, {"int8", "true"}};
  const std::string base = toToml(full);
  std::mt19937 rng(2026);
  size_t accepted = 0;
  size_t rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = testsupport::mutateText(base, rng);
    Config cfg;
    try {
      loadConfigString(text, "mut.toml", cfg);
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr("mut.toml")) << "input:\n" << text;
      ++rejected;
      continue;
    }
    try {
      validate(cfg);
      buildMethod(cfg.gossip.method, cfg.gossip.params);
      ++accepted;
    } catch (const InputError&) {
      ++rejected;  // a value out of range or an unknown method parameter: named, not a file error
    }
  }
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(rejected, 1000u);
}

}  // namespace
}  // namespace murmur::node
