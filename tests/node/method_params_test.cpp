#include "node/method_params.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"

namespace murmur::node {
namespace {

TEST(MethodParams, PresetThenParametersOverride) {
  const auto base = buildMethod("eventgrad-vote", {});
  EXPECT_TRUE(base.mixPublicCopies);
  const auto c = buildMethod("eventgrad-vote", {{"topk", "0.05"},
                                                {"mask_every", "40"},
                                                {"mask_own", "0.5"},
                                                {"mask_flush_every", "0"},
                                                {"public_mix", "false"},
                                                {"public_mix_step", "0.2"},
                                                {"fp16", "true"}});
  EXPECT_DOUBLE_EQ(c.topKFraction, 0.05);
  EXPECT_EQ(c.maskEvery, 40u);
  EXPECT_DOUBLE_EQ(c.maskOwnFraction, 0.5);
  EXPECT_EQ(c.maskFlushEvery, 0u);
  EXPECT_FALSE(c.mixPublicCopies);
  EXPECT_DOUBLE_EQ(c.publicMixStep, 0.2);
  EXPECT_TRUE(c.fp16);
}

TEST(MethodParams, UnknownKeyAndBadValueNameTheKey) {
  try {
    buildMethod("eventgrad", {{"treshold", "0.1"}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("treshold"), std::string::npos) << e.what();
  }
  try {
    buildMethod("eventgrad-vote", {{"mask_own", "lots"}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mask_own"), std::string::npos) << e.what();
  }
  EXPECT_THROW(buildMethod("gossip-everything", {}), InputError);
}

TEST(MethodParams, RedundancyIsRiSgdsByDefault) {
  EXPECT_DOUBLE_EQ(redundancyOf("ri-sgd", {}), 0.25);
  EXPECT_DOUBLE_EQ(redundancyOf("dpsgd", {}), 0.0);
  EXPECT_DOUBLE_EQ(redundancyOf("ri-sgd", {{"redundancy", "0.5"}}), 0.5);
}

}  // namespace
}  // namespace murmur::node
