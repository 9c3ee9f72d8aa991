#include "algo/trigger.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace murmur::algo {
namespace {

EventGradConfig adaptive(uint64_t warmup = 0, uint64_t maxSilence = 0) {
  EventGradConfig c;
  c.adaptive = true;
  c.history = 2;
  c.horizon = 1.0;
  c.warmup = warmup;
  c.maxSilence = maxSilence;
  return c;
}

TEST(EventTrigger, AdaptiveThresholdFollowsTheSlopeHistory) {
  EventTrigger trig(adaptive(), 0);
  // k=0: thr 0, delta 1 fires; gap 1 -> slope 1; thr = mean{1} = 1
  EXPECT_TRUE(trig.decide(0, 1.0));
  EXPECT_DOUBLE_EQ(trig.threshold(), 1.0);
  // k=1: 0.5 < 1: silent
  EXPECT_FALSE(trig.decide(1, 0.5));
  EXPECT_DOUBLE_EQ(trig.threshold(), 1.0);
  // k=2: 1.2 >= 1 fires; gap 2 -> slope 0.6; thr = (1 + 0.6) / 2 = 0.8
  EXPECT_TRUE(trig.decide(2, 1.2));
  EXPECT_DOUBLE_EQ(trig.threshold(), 0.8);
  EXPECT_EQ(trig.lastEvent(), 2);
  // k=3: 0.9 >= 0.8 fires; gap 1 -> slope 0.9; history keeps H=2: {0.6, 0.9}; thr 0.75
  EXPECT_TRUE(trig.decide(3, 0.9));
  EXPECT_DOUBLE_EQ(trig.threshold(), 0.75);
  ASSERT_EQ(trig.slopes().size(), 2u);
  EXPECT_DOUBLE_EQ(trig.slopes()[0], 0.6);
  // k=4,5: silent below 0.75; k=6: 3.0 fires, gap 3 -> slope 1; thr (0.9 + 1) / 2 = 0.95
  EXPECT_FALSE(trig.decide(4, 0.7));
  EXPECT_FALSE(trig.decide(5, 0.74));
  EXPECT_TRUE(trig.decide(6, 3.0));
  EXPECT_DOUBLE_EQ(trig.threshold(), 0.95);
}

TEST(EventTrigger, HorizonDecaysTheThresholdBetweenEvents) {
  auto c = adaptive();
  c.horizon = 0.5;
  EventTrigger trig(c, 0);
  EXPECT_TRUE(trig.decide(0, 4.0));   // thr 0*0.5 = 0; slope 4; thr 4
  EXPECT_FALSE(trig.decide(1, 1.9));  // thr 2
  EXPECT_DOUBLE_EQ(trig.threshold(), 2.0);
  EXPECT_TRUE(trig.decide(2, 1.0));  // thr 1; fires; slope 1.0/2; thr (4 + 0.5) / 2
  EXPECT_DOUBLE_EQ(trig.threshold(), 2.25);
}

TEST(EventTrigger, ScaleMultipliesTheSlopeMean) {
  auto c = adaptive();
  c.scale = 3.0;
  EventTrigger trig(c, 0);
  EXPECT_TRUE(trig.decide(0, 1.0));  // slope 1; thr 3 * 1
  EXPECT_DOUBLE_EQ(trig.threshold(), 3.0);
  EXPECT_FALSE(trig.decide(1, 2.0));
  EXPECT_TRUE(trig.decide(2, 3.0));  // gap 2 -> slope 1.5; thr 3 * (1 + 1.5) / 2
  EXPECT_DOUBLE_EQ(trig.threshold(), 3.75);
}

TEST(EventTrigger, ScaleSetsTheGapOfASteadyDrift) {
  // A tensor whose change since the last send grows by 1 per step fires every `scale` steps
  // once the history has settled, so the trigger rate is about 1/scale.
  for (double scale : {1.0, 2.0, 4.0}) {
    auto c = adaptive();
    c.scale = scale;
    EventTrigger trig(c, 0);
    int64_t last = -1;
    int fires = 0;
    for (uint64_t k = 0; k < 400; ++k) {
      const double delta = static_cast<double>(static_cast<int64_t>(k) - last);
      if (trig.decide(k, delta)) {
        last = static_cast<int64_t>(k);
        if (k >= 200) ++fires;
      }
    }
    EXPECT_NEAR(200.0 / fires, scale, 0.05) << "scale " << scale;
  }
}

TEST(EventTrigger, ZeroThresholdOrHorizonAlwaysFires) {
  EventGradConfig stat = adaptive();
  stat.adaptive = false;
  stat.staticThreshold = 0.0;
  EventGradConfig zeroHorizon = adaptive();
  zeroHorizon.horizon = 0.0;
  EventTrigger a(stat, 0), b(zeroHorizon, 0);
  for (uint64_t k = 0; k < 100; ++k) {
    const double delta = (k % 7 == 0) ? 0.0 : 1.0 / static_cast<double>(k + 1);
    EXPECT_TRUE(a.decide(k, delta)) << k;
    EXPECT_TRUE(b.decide(k, delta)) << k;
  }
}

TEST(EventTrigger, StaticThresholdIsFixed) {
  EventGradConfig c = adaptive();
  c.adaptive = false;
  c.staticThreshold = 0.5;
  EventTrigger trig(c, 0);
  EXPECT_FALSE(trig.decide(0, 0.49));
  EXPECT_TRUE(trig.decide(1, 0.5));
  EXPECT_DOUBLE_EQ(trig.threshold(), 0.5);
  EXPECT_TRUE(trig.decide(2, 10.0));
  EXPECT_DOUBLE_EQ(trig.threshold(), 0.5);
}

TEST(EventTrigger, WarmupAlwaysSends) {
  EventTrigger trig(adaptive(30), 0);
  EXPECT_TRUE(trig.decide(0, 10.0));
  // Below the threshold (1 after the first events) but inside the warm-up: still sends.
  for (uint64_t k = 1; k < 30; ++k) EXPECT_TRUE(trig.decide(k, k % 2 ? 0.1 : 1.9)) << k;
  EXPECT_LT(0.5, trig.threshold());
  EXPECT_FALSE(trig.decide(30, 0.5));
}

TEST(EventTrigger, MaximumSilenceBoundsTheGap) {
  EventGradConfig c = adaptive(0, 5);
  c.adaptive = false;
  c.staticThreshold = 1e30;
  EventTrigger trig(c, 0);
  std::vector<uint64_t> fired;
  for (uint64_t k = 0; k < 20; ++k) {
    if (trig.decide(k, 1.0)) fired.push_back(k);
  }
  // lastEvent starts at -1: the first silent run ends at gap 5, i.e. k = 4.
  EXPECT_EQ(fired, (std::vector<uint64_t>{4, 9, 14, 19}));
}

TEST(EventTrigger, ResumedStepCountsGapFromFirstStep) {
  EventTrigger trig(adaptive(), 1000);
  EXPECT_TRUE(trig.decide(1000, 2.0));
  EXPECT_DOUBLE_EQ(trig.threshold(), 2.0);  // gap 1, not 1001
}

TEST(AetSchedule, RoundsGrowLinearlyByDefault) {
  AetSchedule s(AetConfig{});
  EXPECT_EQ(s.roundLength(1), 10u);
  EXPECT_EQ(s.roundLength(2), 20u);
  EXPECT_EQ(s.roundLength(3), 30u);
  auto p = s.at(0);
  EXPECT_EQ(p.round, 1u);
  EXPECT_EQ(p.start, 0u);
  EXPECT_EQ(p.end, 10u);
  p = s.at(9);
  EXPECT_EQ(p.round, 1u);
  p = s.at(10);
  EXPECT_EQ(p.round, 2u);
  EXPECT_EQ(p.start, 10u);
  EXPECT_EQ(p.end, 30u);
  p = s.at(59);
  EXPECT_EQ(p.round, 3u);
  EXPECT_EQ(p.end, 60u);
}

TEST(AetSchedule, GeneralFormulaAndLearningRate) {
  AetConfig c;
  c.a = 2.5;
  c.m = 1.0;
  c.p = 1.5;
  AetSchedule s(c);
  for (uint32_t r = 1; r < 20; ++r) {
    const double v = 2.5 * std::pow(r + 1.0, 1.5);
    EXPECT_EQ(s.roundLength(r), static_cast<uint64_t>(std::ceil(v))) << r;
  }
  AetSchedule d(AetConfig{});
  EXPECT_DOUBLE_EQ(d.lrScale(5), 1.0);                                    // T_0 = 0
  EXPECT_DOUBLE_EQ(d.lrScale(10), 1.0 / (1.0 + 0.01 * std::sqrt(10.0)));  // T_1 = 10
  EXPECT_DOUBLE_EQ(d.lrScale(35), 1.0 / (1.0 + 0.01 * std::sqrt(30.0)));  // T_2 = 30
}

}  // namespace
}  // namespace murmur::algo
