// Per-model training defaults of `murmur train`: chosen by the model, overridden by the config
// file and by flags (defaults < model defaults < file < flags).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "node/config.hpp"

namespace murmur::node {
namespace {

namespace fs = std::filesystem;

TEST(ModelDefaults, MnistCnnAndResnet20HaveTunedDefaultsLenet5KeepsTheBase) {
  const Config base;
  Config c = base;
  applyModelDefaults("mnist-cnn", c);
  EXPECT_EQ(c.train.batch, 16);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.8);
  EXPECT_EQ(c.optim.schedule, "cosine");

  c = base;
  applyModelDefaults("resnet20", c);
  EXPECT_EQ(c.train.batch, 128);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.1);
  EXPECT_DOUBLE_EQ(c.optim.weightDecay, 5e-4);

  c = base;
  applyModelDefaults("lenet5", c);
  EXPECT_EQ(c, base);
  applyModelDefaults("no-such-model", c);
  EXPECT_EQ(c, base);
}

TEST(ModelDefaults, ResolveAppliesTheModelsDefaultsUnderTheOverrides) {
  const Config base;
  // The model chosen by an override (a flag) selects the defaults.
  Config c = resolveWithModelDefaults(base, [](Config& x) { x.train.model = "mnist-cnn"; });
  EXPECT_EQ(c.train.model, "mnist-cnn");
  EXPECT_EQ(c.train.batch, 16);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);

  // Overrides win over the model's defaults, field by field.
  c = resolveWithModelDefaults(base, [](Config& x) {
    x.train.model = "mnist-cnn";
    x.train.batch = 32;
  });
  EXPECT_EQ(c.train.batch, 32);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);

  // A config file is an override too: its values win, its model selects the defaults.
  c = resolveWithModelDefaults(base, [](Config& x) {
    loadConfigString("[train]\nmodel = \"resnet20\"\n[optim]\nlr = 0.05\n", "f.toml", x);
  });
  EXPECT_EQ(c.train.batch, 128);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.05);
  EXPECT_DOUBLE_EQ(c.optim.weightDecay, 5e-4);

  // Without a tuned model nothing changes.
  c = resolveWithModelDefaults(base, [](Config&) {});
  EXPECT_EQ(c, base);

  // Errors from the overrides propagate.
  EXPECT_THROW(resolveWithModelDefaults(
                   base, [](Config& x) { loadConfigString("[train]\nbach = 1\n", "f.toml", x); }),
               InputError);
}

fs::path scratch(const std::string& name) {
  auto p =
      fs::temp_directory_path() / ("murmur_defaults_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}

// Runs `murmur train ARGS --out DIR` for two steps and returns the config it wrote.
Config trainedWith(const std::string& args, const std::string& name) {
  const auto out = scratch(name);
  const std::string cmd = std::string(MURMUR_BINARY) + " train " + args +
                          " --steps 2 --train-limit 64 --test-limit 16 --threads 1 --out " +
                          out.string() + " > " + out.string() + ".log 2>&1";
  const int st = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd;
  Config written;
  loadConfigFile((out / "config.toml").string(), written);
  return written;
}

TEST(ModelDefaults, TrainCommandUsesThemAndFlagsAndFilesOverride) {
  // mnist-cnn takes 28x28x1 images: Fashion-MNIST (the default data set) will do.
  Config c = trainedWith("--model mnist-cnn", "plain");
  EXPECT_EQ(c.train.model, "mnist-cnn");
  EXPECT_EQ(c.train.batch, 16);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);

  c = trainedWith("--model mnist-cnn --lr 0.03 --batch 8", "flags");
  EXPECT_EQ(c.train.batch, 8);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.03);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.8);  // not overridden: still the model's

  const auto file = scratch("cnn.toml");
  std::ofstream(file) << "[train]\nmodel = \"mnist-cnn\"\nbatch = 24\n";
  c = trainedWith("--config " + file.string(), "file");
  EXPECT_EQ(c.train.batch, 24);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);

  // lenet5 keeps the documented base defaults.
  c = trainedWith("--model lenet5", "lenet5");
  EXPECT_EQ(c.train.batch, Config{}.train.batch);
  EXPECT_DOUBLE_EQ(c.optim.lr, Config{}.optim.lr);
}

}  // namespace
}  // namespace murmur::node
