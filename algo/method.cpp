#include "algo/method.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"

namespace murmur::algo {

const std::vector<std::string>& methodNames() {
  static const std::vector<std::string> names = {
      "dpsgd", "local-sgd", "eventgrad", "eventgrad-topk", "eventgrad-vote", "aet-sgd", "ri-sgd"};
  return names;
}

MethodConfig parseMethod(std::string_view name) {
  MethodConfig c;
  c.name = std::string(name);
  // Every-step methods wait for a neighbour more than 2 steps behind (bounded by the round
  // deadline): on 10 Mbit/s links D-PSGD without it ended at 35% instead of 82%
  // (docs/RESULTS.md); on loopback it costs nothing measurable.
  c.maxStepLag = 2;
  if (name == "dpsgd") {
    return c;
  }
  if (name == "local-sgd") {
    c.trigger = TriggerKind::kPeriodic;
    c.period = 10;
    c.mixing = MixCadence::kAtRound;
    c.maxRoundLead = 0;
    return c;
  }
  if (name == "eventgrad" || name == "eventgrad-topk" || name == "eventgrad-vote") {
    c.trigger = TriggerKind::kEventGrad;
    if (name == "eventgrad-topk") c.compression = Compression::kTopK;
    if (name == "eventgrad-vote") {
      c.compression = Compression::kVotedMask;
      c.mixPublicCopies = true;
    }
    return c;
  }
  if (name == "aet-sgd") {
    c.trigger = TriggerKind::kAetRounds;
    c.mixing = MixCadence::kAtRound;
    c.maxRoundLead = 5;
    return c;
  }
  if (name == "ri-sgd") {
    c.trigger = TriggerKind::kPeriodic;
    c.period = 50;
    c.mixing = MixCadence::kAtRound;
    c.maxRoundLead = 0;
    return c;
  }
  throw InputError(
      fmt::format("unknown method '{}'; valid methods: {}", name, fmt::join(methodNames(), ", ")));
}

const char* toString(TriggerKind kind) {
  switch (kind) {
    case TriggerKind::kAlways:
      return "always";
    case TriggerKind::kPeriodic:
      return "periodic";
    case TriggerKind::kEventGrad:
      return "eventgrad";
    case TriggerKind::kAetRounds:
      return "aet-rounds";
  }
  return "?";
}
const char* toString(Compression kind) {
  switch (kind) {
    case Compression::kDense:
      return "dense";
    case Compression::kTopK:
      return "topk";
    case Compression::kVotedMask:
      return "voted-mask";
  }
  return "?";
}
const char* toString(MixCadence kind) {
  switch (kind) {
    case MixCadence::kEveryStep:
      return "every-step";
    case MixCadence::kAtRound:
      return "at-round";
  }
  return "?";
}
const char* toString(DeltaMetric kind) {
  switch (kind) {
    case DeltaMetric::kNormOfDifference:
      return "norm-of-difference";
    case DeltaMetric::kDifferenceOfNorms:
      return "difference-of-norms";
  }
  return "?";
}

void validate(const MethodConfig& c) {
  MURMUR_ENFORCE(c.period >= 1, InputError, "method '{}': period must be >= 1, got {}", c.name,
                 c.period);
  MURMUR_ENFORCE(c.topKFraction > 0.0 && c.topKFraction <= 1.0, InputError,
                 "method '{}': top-K fraction must be in (0, 1], got {}", c.name, c.topKFraction);
  MURMUR_ENFORCE(c.maskEvery >= 1, InputError, "method '{}': mask epoch length must be >= 1",
                 c.name);
  MURMUR_ENFORCE(
      static_cast<int>(c.fp16) + static_cast<int>(c.int8) + static_cast<int>(c.sign) <= 1,
      InputError, "method '{}': fp16, int8 and sign values are exclusive; pick one", c.name);
  MURMUR_ENFORCE(c.maskOwnFraction >= 0.0 && c.maskOwnFraction <= 1.0, InputError,
                 "method '{}': mask own fraction must be in [0, 1], got {}", c.name,
                 c.maskOwnFraction);
  MURMUR_ENFORCE(c.publicMixStep > 0.0 && c.publicMixStep <= 1.0, InputError,
                 "method '{}': public-copy mixing step must be in (0, 1], got {}", c.name,
                 c.publicMixStep);
  MURMUR_ENFORCE(c.eventgrad.history >= 1, InputError,
                 "method '{}': EventGraD slope history must be >= 1", c.name);
  MURMUR_ENFORCE(c.eventgrad.horizon >= 0.0 && std::isfinite(c.eventgrad.horizon), InputError,
                 "method '{}': EventGraD horizon must be a finite value >= 0, got {}", c.name,
                 c.eventgrad.horizon);
  MURMUR_ENFORCE(c.eventgrad.scale > 0.0 && std::isfinite(c.eventgrad.scale), InputError,
                 "method '{}': EventGraD threshold scale must be a finite value > 0, got {}",
                 c.name, c.eventgrad.scale);
  MURMUR_ENFORCE(c.eventgrad.staticThreshold >= 0.0 && std::isfinite(c.eventgrad.staticThreshold),
                 InputError, "method '{}': static threshold must be a finite value >= 0, got {}",
                 c.name, c.eventgrad.staticThreshold);
  MURMUR_ENFORCE(c.aet.a > 0.0 && c.aet.m >= 0.0 && c.aet.p >= 0.0, InputError,
                 "method '{}': AET-SGD needs a > 0, m >= 0, p >= 0 (got a={}, m={}, p={})", c.name,
                 c.aet.a, c.aet.m, c.aet.p);
  MURMUR_ENFORCE(c.mixing != MixCadence::kAtRound || c.trigger == TriggerKind::kPeriodic ||
                     c.trigger == TriggerKind::kAetRounds,
                 InputError,
                 "method '{}': mixing 'at-round' needs a round-based trigger (periodic or "
                 "aet-rounds), not '{}'; use 'every-step'",
                 c.name, toString(c.trigger));
  MURMUR_ENFORCE(!c.lockstep || c.maxRoundLead == 0 ||
                     (c.trigger != TriggerKind::kPeriodic && c.trigger != TriggerKind::kAetRounds),
                 InputError,
                 "method '{}': lockstep rounds cannot also run {} rounds ahead; set "
                 "max_round_lead=0 with lockstep",
                 c.name, c.maxRoundLead);
  MURMUR_ENFORCE(!c.lockstepSweep || (c.lockstep && c.mixing == MixCadence::kEveryStep &&
                                      c.compression != Compression::kVotedMask && !c.finalDense),
                 InputError,
                 "method '{}': lockstep_sweep needs lockstep=true and every-step mixing, and "
                 "works with neither voted masks nor final_dense",
                 c.name);
  MURMUR_ENFORCE(
      c.roundDeadline.count() >= 0 && c.voteDeadline.count() >= 0 && c.keyframeRetry.count() > 0,
      InputError, "method '{}': deadlines must be >= 0 ms and keyframe retry > 0 ms", c.name);
}

}  // namespace murmur::algo
