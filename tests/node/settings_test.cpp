// The measured settings shipped in docs/settings/ (docs/RESULTS.md's labels as --config files)
// load, validate and build the method RESULTS.md describes.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "node/config.hpp"
#include "node/method_params.hpp"

namespace murmur::node {
namespace {

std::filesystem::path settingsDir() {
  const char* root = std::getenv("MURMUR_SOURCE_DIR");
  return std::filesystem::path(root ? root : ".") / "docs" / "settings";
}

struct Setting {
  Config config;
  algo::MethodConfig method;
};

// Every file: loads over the defaults, validates and builds its method.
std::map<std::string, Setting> loadAll() {
  std::map<std::string, Setting> out;
  for (const auto& entry : std::filesystem::directory_iterator(settingsDir())) {
    if (entry.path().extension() != ".toml") continue;
    Config cfg;
    loadConfigFile(entry.path().string(), cfg);
    validate(cfg);
    auto method = buildMethod(cfg.gossip.method, cfg.gossip.params);
    out[entry.path().stem().string()] = {std::move(cfg), std::move(method)};
  }
  return out;
}

TEST(Settings, EveryShippedFileBuildsItsMethod) {
  ASSERT_TRUE(std::filesystem::exists(settingsDir())) << settingsDir();
  const auto all = loadAll();
  ASSERT_EQ(all.size(), 5u);
  const double defaultLr = Config{}.optim.lr;
  for (const auto& [name, s] : all) {
    if (name.find("-lr08") == std::string::npos) {
      EXPECT_DOUBLE_EQ(s.config.optim.lr, defaultLr) << name;
    }
  }

  const auto& eg = all.at("eventgrad-s3-w30-g03").method;
  EXPECT_EQ(eg.trigger, algo::TriggerKind::kEventGrad);
  EXPECT_DOUBLE_EQ(eg.eventgrad.scale, 3.0);
  EXPECT_EQ(eg.eventgrad.warmup, 30u);
  EXPECT_TRUE(eg.mixPublicCopies);
  EXPECT_DOUBLE_EQ(eg.publicMixStep, 0.3);
  EXPECT_TRUE(eg.lockstep);

  const auto& vote = all.at("eventgrad-vote-p4k20-sign").method;
  EXPECT_EQ(vote.trigger, algo::TriggerKind::kPeriodic);
  EXPECT_EQ(vote.period, 4u);
  EXPECT_EQ(vote.compression, algo::Compression::kVotedMask);
  EXPECT_EQ(vote.mixing, algo::MixCadence::kAtRound);
  EXPECT_DOUBLE_EQ(vote.topKFraction, 0.2);
  EXPECT_EQ(vote.maskEvery, 20u);
  EXPECT_TRUE(vote.sign);
  EXPECT_FALSE(vote.int8);
  EXPECT_EQ(vote.denseBelow, 256u);
  EXPECT_EQ(vote.maskFlushEvery, 0u);
  EXPECT_TRUE(vote.lockstep);

  const auto& aet = all.at("aet-sgd-a04-i8").method;
  EXPECT_EQ(aet.trigger, algo::TriggerKind::kAetRounds);
  EXPECT_DOUBLE_EQ(aet.aet.a, 0.4);
  EXPECT_EQ(aet.maxRoundLead, 0u);
  EXPECT_TRUE(aet.int8);
  EXPECT_TRUE(aet.lockstep);

  const auto& masks = all.at("aet-sgd-a002-masks-sign").method;
  EXPECT_EQ(masks.trigger, algo::TriggerKind::kAetRounds);
  EXPECT_DOUBLE_EQ(masks.aet.a, 0.02);
  EXPECT_EQ(masks.compression, algo::Compression::kVotedMask);
  EXPECT_EQ(masks.mixing, algo::MixCadence::kAtRound);
  EXPECT_TRUE(masks.sign);
  EXPECT_TRUE(masks.mixPublicCopies);
  EXPECT_TRUE(masks.lockstep);

  // The free-running EventGraD setting of round 6: the same gossip, its own learning rate and no
  // lock-step.
  const auto& free = all.at("eventgrad-s3-w30-g03-free-lr08");
  EXPECT_DOUBLE_EQ(free.config.optim.lr, 0.08);
  EXPECT_EQ(free.method.trigger, algo::TriggerKind::kEventGrad);
  EXPECT_DOUBLE_EQ(free.method.eventgrad.scale, eg.eventgrad.scale);
  EXPECT_EQ(free.method.eventgrad.warmup, eg.eventgrad.warmup);
  EXPECT_TRUE(free.method.mixPublicCopies);
  EXPECT_DOUBLE_EQ(free.method.publicMixStep, eg.publicMixStep);
  EXPECT_FALSE(free.method.lockstep);
  EXPECT_GT(free.method.maxStepLag, 0u);
}

}  // namespace
}  // namespace murmur::node
