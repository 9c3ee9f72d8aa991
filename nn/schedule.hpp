#pragma once
// Learning-rate schedules as pure functions of the step, so every node (and a resumed run)
// computes the same rate without carrying scheduler state.

#include <cstdint>
#include <string>
#include <string_view>

namespace murmur::nn {

enum class ScheduleKind { kConstant, kStep, kCosine };

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kConstant;
  float baseLr = 0.01f;
  // kStep: lr = baseLr * gamma^floor(step / stepSize), counted from step 0 (as torch StepLR).
  int64_t stepSize = 0;
  float gamma = 0.1f;
  // kCosine: from baseLr (at the end of warm-up) down to minLr at totalSteps, minLr after.
  int64_t totalSteps = 0;
  float minLr = 0.0f;
  // Linear warm-up over the first warmupSteps steps, from baseLr * warmupStartFactor up to the
  // schedule's own value; 0 disables it.
  int64_t warmupSteps = 0;
  float warmupStartFactor = 0.0f;
};

// Throws InputError when the config is inconsistent (e.g. a step schedule with stepSize <= 0).
void validate(const ScheduleConfig& config);

float learningRate(const ScheduleConfig& config, int64_t step);

// Parses "constant", "step:STEPSIZE:GAMMA", "cosine", "cosine:TOTAL", "cosine:TOTAL:MINLR",
// each optionally followed by ",warmup:STEPS" or ",warmup:STEPS:STARTFACTOR". A cosine schedule
// without TOTAL uses defaultTotalSteps. Throws InputError naming the bad part of spec.
ScheduleConfig parseSchedule(std::string_view spec, float baseLr, int64_t defaultTotalSteps = 0);

std::string toString(const ScheduleConfig& config);

}  // namespace murmur::nn
