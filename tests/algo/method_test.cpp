#include "algo/method.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::algo {
namespace {

TEST(Method, EveryPresetParsesAndValidates) {
  for (const auto& name : methodNames()) {
    const MethodConfig c = parseMethod(name);
    EXPECT_EQ(c.name, name);
    EXPECT_NO_THROW(validate(c)) << name;
  }
  EXPECT_EQ(methodNames().size(), 7u);
}

TEST(Method, PresetsStateTriggerCompressionAndCadence) {
  auto d = parseMethod("dpsgd");
  EXPECT_EQ(d.trigger, TriggerKind::kAlways);
  EXPECT_EQ(d.compression, Compression::kDense);
  EXPECT_EQ(d.mixing, MixCadence::kEveryStep);
  auto l = parseMethod("local-sgd");
  EXPECT_EQ(l.trigger, TriggerKind::kPeriodic);
  EXPECT_EQ(l.mixing, MixCadence::kAtRound);
  EXPECT_GT(l.period, 1u);
  EXPECT_EQ(parseMethod("eventgrad").mixing, MixCadence::kEveryStep);
  EXPECT_EQ(parseMethod("eventgrad-topk").compression, Compression::kTopK);
  EXPECT_EQ(parseMethod("eventgrad-vote").compression, Compression::kVotedMask);
  auto a = parseMethod("aet-sgd");
  EXPECT_EQ(a.trigger, TriggerKind::kAetRounds);
  EXPECT_EQ(a.mixing, MixCadence::kAtRound);
  EXPECT_EQ(a.maxRoundLead, 5u);
  auto r = parseMethod("ri-sgd");
  EXPECT_EQ(r.trigger, TriggerKind::kPeriodic);
  EXPECT_EQ(r.mixing, MixCadence::kAtRound);
}

TEST(Method, UnknownNameListsTheValidOnes) {
  try {
    parseMethod("eventgard");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("eventgard"), std::string::npos);
    for (const auto& name : methodNames()) EXPECT_NE(what.find(name), std::string::npos) << name;
  }
}

TEST(Method, ValidateNamesTheBadKnob) {
  auto c = parseMethod("local-sgd");
  c.period = 0;
  EXPECT_THROW(validate(c), InputError);
  c = parseMethod("eventgrad-topk");
  c.topKFraction = 0.0;
  EXPECT_THROW(validate(c), InputError);
  c.topKFraction = 1.5;
  EXPECT_THROW(validate(c), InputError);
  c = parseMethod("eventgrad");
  c.eventgrad.horizon = -1;
  EXPECT_THROW(validate(c), InputError);
  // At-round mixing without rounds would never mix.
  c = parseMethod("eventgrad");
  c.mixing = MixCadence::kAtRound;
  EXPECT_THROW(validate(c), InputError);
  c = parseMethod("local-sgd");
  c.mixing = MixCadence::kEveryStep;  // allowed: mixes with replicas up to tau steps old
  EXPECT_NO_THROW(validate(c));
  c = parseMethod("eventgrad-vote");
  EXPECT_TRUE(c.mixPublicCopies);
  c.maskOwnFraction = 1.5;
  EXPECT_THROW(validate(c), InputError);
  c.maskOwnFraction = 1.0;  // allowed: plain top-K on votes' schedule
  EXPECT_NO_THROW(validate(c));
  c.fp16 = true;
  c.int8 = true;
  EXPECT_THROW(validate(c), InputError);  // two value encodings at once
  c.fp16 = false;
  EXPECT_NO_THROW(validate(c));
  c.publicMixStep = 0.0;
  EXPECT_THROW(validate(c), InputError);
  c.publicMixStep = 1.2;
  EXPECT_THROW(validate(c), InputError);
}

}  // namespace
}  // namespace murmur::algo
