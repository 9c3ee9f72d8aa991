#include "nn/schedule.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::nn {
namespace {

TEST(Schedule, ConstantIsFlat) {
  ScheduleConfig c;
  c.baseLr = 0.05f;
  EXPECT_FLOAT_EQ(learningRate(c, 0), 0.05f);
  EXPECT_FLOAT_EQ(learningRate(c, 123456), 0.05f);
}

TEST(Schedule, StepDecaysEveryStepSize) {
  const auto c = parseSchedule("step:100:0.1", 1.0f);
  EXPECT_FLOAT_EQ(learningRate(c, 0), 1.0f);
  EXPECT_FLOAT_EQ(learningRate(c, 99), 1.0f);
  EXPECT_FLOAT_EQ(learningRate(c, 100), 0.1f);
  EXPECT_FLOAT_EQ(learningRate(c, 199), 0.1f);
  EXPECT_NEAR(learningRate(c, 200), 0.01f, 1e-8);
  EXPECT_NEAR(learningRate(c, 350), 0.001f, 1e-9);
}

TEST(Schedule, CosineGoesFromBaseToFloor) {
  const auto c = parseSchedule("cosine:1000:0.01", 0.1f);
  EXPECT_FLOAT_EQ(learningRate(c, 0), 0.1f);
  EXPECT_NEAR(learningRate(c, 500), 0.055f, 1e-7);  // halfway: mean of base and floor
  EXPECT_NEAR(learningRate(c, 250), 0.01f + 0.045f * (1.0f + std::cos(M_PI / 4)), 1e-7);
  EXPECT_FLOAT_EQ(learningRate(c, 1000), 0.01f);
  EXPECT_FLOAT_EQ(learningRate(c, 5000), 0.01f);
  // Monotone non-increasing.
  for (int s = 1; s <= 1000; ++s) ASSERT_LE(learningRate(c, s), learningRate(c, s - 1));
}

TEST(Schedule, CosineUsesDefaultTotal) {
  const auto c = parseSchedule("cosine", 0.2f, 400);
  EXPECT_EQ(c.totalSteps, 400);
  EXPECT_FLOAT_EQ(learningRate(c, 400), 0.0f);
  EXPECT_NEAR(learningRate(c, 200), 0.1f, 1e-7);
}

TEST(Schedule, LinearWarmupThenSchedule) {
  const auto c = parseSchedule("cosine:1100:0,warmup:100", 1.0f);
  EXPECT_FLOAT_EQ(learningRate(c, 0), 0.0f);
  EXPECT_FLOAT_EQ(learningRate(c, 50), 0.5f);
  EXPECT_FLOAT_EQ(learningRate(c, 99), 0.99f);
  EXPECT_FLOAT_EQ(learningRate(c, 100), 1.0f);  // cosine starts at its peak after warm-up
  EXPECT_NEAR(learningRate(c, 600), 0.5f, 1e-6);
  EXPECT_FLOAT_EQ(learningRate(c, 1100), 0.0f);

  const auto s = parseSchedule("step:1000:0.5,warmup:10:0.1", 2.0f);
  EXPECT_FLOAT_EQ(learningRate(s, 0), 0.2f);
  EXPECT_FLOAT_EQ(learningRate(s, 5), 2.0f * (0.1f + 0.9f * 0.5f));
  EXPECT_FLOAT_EQ(learningRate(s, 10), 2.0f);
  EXPECT_FLOAT_EQ(learningRate(s, 1000), 1.0f);
}

TEST(Schedule, ParseRejectsBadSpecs) {
  for (const char* bad : {"", "linear", "step", "step:0:0.1", "step:10:abc", "step:10:2", "cosine",
                          "cosine:10:1", "constant:3", "constant,foo:1", "cosine:100,warmup:100",
                          "constant,warmup:-1", "cosine:x"}) {
    EXPECT_THROW(parseSchedule(bad, 0.1f), InputError) << bad;
  }
  try {
    parseSchedule("stepp:1:1", 0.1f);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("stepp"), std::string::npos) << e.what();
  }
}

TEST(Schedule, ToStringRoundTrips) {
  const auto c = parseSchedule("step:300:0.5,warmup:20:0.25", 0.3f);
  const auto again = parseSchedule(toString(c), 0.3f);
  for (int s : {0, 7, 20, 299, 300, 901}) {
    EXPECT_FLOAT_EQ(learningRate(c, s), learningRate(again, s));
  }
}

}  // namespace
}  // namespace murmur::nn
