#include "nn/schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

#include "common/error.hpp"

namespace murmur::nn {

void validate(const ScheduleConfig& c) {
  MURMUR_ENFORCE(c.baseLr >= 0 && std::isfinite(c.baseLr), InputError,
                 "learning rate must be finite and >= 0, got {}", c.baseLr);
  MURMUR_ENFORCE(c.warmupSteps >= 0, InputError, "warm-up steps must be >= 0, got {}",
                 c.warmupSteps);
  MURMUR_ENFORCE(c.warmupStartFactor >= 0 && c.warmupStartFactor <= 1, InputError,
                 "warm-up start factor must be in [0, 1], got {}", c.warmupStartFactor);
  switch (c.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep:
      MURMUR_ENFORCE(c.stepSize > 0, InputError, "step schedule needs a step size > 0, got {}",
                     c.stepSize);
      MURMUR_ENFORCE(c.gamma > 0 && c.gamma <= 1, InputError,
                     "step schedule gamma must be in (0, 1], got {}", c.gamma);
      break;
    case ScheduleKind::kCosine:
      MURMUR_ENFORCE(c.totalSteps > c.warmupSteps, InputError,
                     "cosine schedule needs total steps ({}) > warm-up steps ({})", c.totalSteps,
                     c.warmupSteps);
      MURMUR_ENFORCE(c.minLr >= 0 && c.minLr <= c.baseLr, InputError,
                     "cosine floor must be in [0, base lr {}], got {}", c.baseLr, c.minLr);
      break;
  }
}

namespace {

double scheduled(const ScheduleConfig& c, int64_t step) {
  switch (c.kind) {
    case ScheduleKind::kConstant:
      return c.baseLr;
    case ScheduleKind::kStep:
      return c.baseLr *
             std::pow(static_cast<double>(c.gamma), static_cast<double>(step / c.stepSize));
    case ScheduleKind::kCosine: {
      // The cosine spans the steps after warm-up, so warm-up ends at the peak.
      const double span = static_cast<double>(c.totalSteps - c.warmupSteps);
      const double t = std::clamp(static_cast<double>(step - c.warmupSteps) / span, 0.0, 1.0);
      return c.minLr + 0.5 * (c.baseLr - c.minLr) * (1.0 + std::cos(std::numbers::pi * t));
    }
  }
  return c.baseLr;
}

}  // namespace

float learningRate(const ScheduleConfig& c, int64_t step) {
  if (step < 0) step = 0;
  const double lr = scheduled(c, step);
  if (step < c.warmupSteps) {
    const double frac = static_cast<double>(step) / static_cast<double>(c.warmupSteps);
    const double factor = c.warmupStartFactor + (1.0 - c.warmupStartFactor) * frac;
    return static_cast<float>(lr * factor);
  }
  return static_cast<float>(lr);
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

int64_t parseInt(std::string_view text, std::string_view what, std::string_view spec) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MURMUR_ENFORCE(ec == std::errc() && ptr == text.data() + text.size(), InputError,
                 "schedule '{}': {} '{}' is not an integer", spec, what, text);
  return v;
}

float parseFloat(std::string_view text, std::string_view what, std::string_view spec) {
  // std::from_chars for float is in GCC 12's libstdc++; strtof would depend on the locale.
  float v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MURMUR_ENFORCE(ec == std::errc() && ptr == text.data() + text.size(), InputError,
                 "schedule '{}': {} '{}' is not a number", spec, what, text);
  return v;
}

}  // namespace

ScheduleConfig parseSchedule(std::string_view spec, float baseLr, int64_t defaultTotalSteps) {
  ScheduleConfig c;
  c.baseLr = baseLr;
  const auto parts = split(spec, ',');
  const auto main = split(parts[0], ':');
  const std::string_view kind = main[0];
  if (kind == "constant") {
    MURMUR_ENFORCE(main.size() == 1, InputError, "schedule '{}': 'constant' takes no arguments",
                   spec);
    c.kind = ScheduleKind::kConstant;
  } else if (kind == "step") {
    MURMUR_ENFORCE(main.size() == 3, InputError,
                   "schedule '{}': expected step:STEPSIZE:GAMMA, e.g. step:30000:0.1", spec);
    c.kind = ScheduleKind::kStep;
    c.stepSize = parseInt(main[1], "step size", spec);
    c.gamma = parseFloat(main[2], "gamma", spec);
  } else if (kind == "cosine") {
    MURMUR_ENFORCE(main.size() <= 3, InputError, "schedule '{}': expected cosine[:TOTAL[:MINLR]]",
                   spec);
    c.kind = ScheduleKind::kCosine;
    c.totalSteps = main.size() >= 2 ? parseInt(main[1], "total steps", spec) : defaultTotalSteps;
    if (main.size() == 3) c.minLr = parseFloat(main[2], "floor", spec);
  } else {
    MURMUR_ENFORCE(false, InputError,
                   "schedule '{}': unknown kind '{}' (expected constant, step or cosine)", spec,
                   kind);
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto opt = split(parts[i], ':');
    MURMUR_ENFORCE(opt[0] == "warmup" && (opt.size() == 2 || opt.size() == 3), InputError,
                   "schedule '{}': unknown option '{}' (expected warmup:STEPS[:STARTFACTOR])", spec,
                   parts[i]);
    c.warmupSteps = parseInt(opt[1], "warm-up steps", spec);
    if (opt.size() == 3) c.warmupStartFactor = parseFloat(opt[2], "warm-up start factor", spec);
  }
  validate(c);
  return c;
}

std::string toString(const ScheduleConfig& c) {
  std::string s;
  switch (c.kind) {
    case ScheduleKind::kConstant:
      s = "constant";
      break;
    case ScheduleKind::kStep:
      s = fmt::format("step:{}:{}", c.stepSize, c.gamma);
      break;
    case ScheduleKind::kCosine:
      s = fmt::format("cosine:{}:{}", c.totalSteps, c.minLr);
      break;
  }
  if (c.warmupSteps > 0) s += fmt::format(",warmup:{}:{}", c.warmupSteps, c.warmupStartFactor);
  return s;
}

}  // namespace murmur::nn
