#include "node/method_params.hpp"

#include <charconv>
#include <cmath>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"

namespace murmur::node {
namespace {

double toDouble(const std::string& key, const std::string& v) {
  double out = 0;
  const auto* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, out);
  MURMUR_ENFORCE(ec == std::errc() && p == end && std::isfinite(out), InputError,
                 "method parameter {}: '{}' is not a number", key, v);
  return out;
}

uint64_t toU64(const std::string& key, const std::string& v) {
  uint64_t out = 0;
  const auto* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, out);
  MURMUR_ENFORCE(ec == std::errc() && p == end, InputError,
                 "method parameter {}: '{}' is not a non-negative integer", key, v);
  return out;
}

bool toBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "off" || v == "no") return false;
  throw InputError(fmt::format("method parameter {}: '{}' is not true or false", key, v));
}

using Setter = std::function<void(algo::MethodConfig&, const std::string&, const std::string&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> kSetters = {
      {"trigger",
       [](algo::MethodConfig& c, const std::string& k, const std::string& v) {
         if (v == "always")
           c.trigger = algo::TriggerKind::kAlways;
         else if (v == "periodic")
           c.trigger = algo::TriggerKind::kPeriodic;
         else if (v == "eventgrad")
           c.trigger = algo::TriggerKind::kEventGrad;
         else if (v == "aet-rounds" || v == "aet")
           c.trigger = algo::TriggerKind::kAetRounds;
         else
           throw InputError(fmt::format(
               "method parameter {}: '{}' is not always, periodic, eventgrad or aet-rounds", k, v));
       }},
      {"compression",
       [](algo::MethodConfig& c, const std::string& k, const std::string& v) {
         if (v == "dense")
           c.compression = algo::Compression::kDense;
         else if (v == "topk")
           c.compression = algo::Compression::kTopK;
         else if (v == "voted-mask" || v == "vote")
           c.compression = algo::Compression::kVotedMask;
         else
           throw InputError(
               fmt::format("method parameter {}: '{}' is not dense, topk or voted-mask", k, v));
       }},
      {"mix",
       [](algo::MethodConfig& c, const std::string& k, const std::string& v) {
         if (v == "every-step")
           c.mixing = algo::MixCadence::kEveryStep;
         else if (v == "at-round")
           c.mixing = algo::MixCadence::kAtRound;
         else
           throw InputError(
               fmt::format("method parameter {}: '{}' is not every-step or at-round", k, v));
       }},
      {"period", [](auto& c, const auto& k, const auto& v) { c.period = toU64(k, v); }},
      {"threshold",
       [](auto& c, const auto& k, const auto& v) {
         c.eventgrad.adaptive = false;
         c.eventgrad.staticThreshold = toDouble(k, v);
       }},
      {"adaptive",
       [](auto& c, const auto& k, const auto& v) { c.eventgrad.adaptive = toBool(k, v); }},
      {"horizon",
       [](auto& c, const auto& k, const auto& v) { c.eventgrad.horizon = toDouble(k, v); }},
      {"scale", [](auto& c, const auto& k, const auto& v) { c.eventgrad.scale = toDouble(k, v); }},
      {"history", [](auto& c, const auto& k,
                     const auto& v) { c.eventgrad.history = static_cast<uint32_t>(toU64(k, v)); }},
      {"warmup", [](auto& c, const auto& k, const auto& v) { c.eventgrad.warmup = toU64(k, v); }},
      {"metric",
       [](algo::MethodConfig& c, const std::string& k, const std::string& v) {
         if (v == "norm-of-difference")
           c.eventgrad.metric = algo::DeltaMetric::kNormOfDifference;
         else if (v == "difference-of-norms")
           c.eventgrad.metric = algo::DeltaMetric::kDifferenceOfNorms;
         else
           throw InputError(fmt::format(
               "method parameter {}: '{}' is not norm-of-difference or difference-of-norms", k, v));
       }},
      {"max_silence",
       [](auto& c, const auto& k, const auto& v) { c.eventgrad.maxSilence = toU64(k, v); }},
      {"aet_a", [](auto& c, const auto& k, const auto& v) { c.aet.a = toDouble(k, v); }},
      {"aet_m", [](auto& c, const auto& k, const auto& v) { c.aet.m = toDouble(k, v); }},
      {"aet_p", [](auto& c, const auto& k, const auto& v) { c.aet.p = toDouble(k, v); }},
      {"round_lr",
       [](auto& c, const auto& k, const auto& v) { c.aet.roundLearningRate = toBool(k, v); }},
      {"topk", [](auto& c, const auto& k, const auto& v) { c.topKFraction = toDouble(k, v); }},
      {"mask_every", [](auto& c, const auto& k, const auto& v) { c.maskEvery = toU64(k, v); }},
      {"mask_flush_every",
       [](auto& c, const auto& k, const auto& v) { c.maskFlushEvery = toU64(k, v); }},
      {"mask_own",
       [](auto& c, const auto& k, const auto& v) { c.maskOwnFraction = toDouble(k, v); }},
      {"public_mix",
       [](auto& c, const auto& k, const auto& v) { c.mixPublicCopies = toBool(k, v); }},
      {"public_mix_step",
       [](auto& c, const auto& k, const auto& v) { c.publicMixStep = toDouble(k, v); }},
      {"public_mix_fresh",
       [](auto& c, const auto& k, const auto& v) { c.publicMixFresh = toBool(k, v); }},
      {"fp16", [](auto& c, const auto& k, const auto& v) { c.fp16 = toBool(k, v); }},
      {"dense_below", [](auto& c, const auto& k,
                         const auto& v) { c.denseBelow = static_cast<size_t>(toU64(k, v)); }},
      {"int8", [](auto& c, const auto& k, const auto& v) { c.int8 = toBool(k, v); }},
      {"sign", [](auto& c, const auto& k, const auto& v) { c.sign = toBool(k, v); }},
      {"final_dense", [](auto& c, const auto& k, const auto& v) { c.finalDense = toBool(k, v); }},
      {"digest_keyframes",
       [](auto& c, const auto& k, const auto& v) { c.digestKeyframes = toBool(k, v); }},
      {"max_round_lead",
       [](auto& c, const auto& k, const auto& v) {
         c.maxRoundLead = static_cast<uint32_t>(toU64(k, v));
       }},
      {"max_step_lag", [](auto& c, const auto& k, const auto& v) { c.maxStepLag = toU64(k, v); }},
      {"lockstep", [](auto& c, const auto& k, const auto& v) { c.lockstep = toBool(k, v); }},
      {"lockstep_sweep",
       [](auto& c, const auto& k, const auto& v) { c.lockstepSweep = toBool(k, v); }},
      {"round_deadline_ms",
       [](auto& c, const auto& k,
          const auto& v) { c.roundDeadline = std::chrono::milliseconds(toU64(k, v)); }},
      {"vote_deadline_ms",
       [](auto& c, const auto& k,
          const auto& v) { c.voteDeadline = std::chrono::milliseconds(toU64(k, v)); }},
      {"keyframe_retry_ms",
       [](auto& c, const auto& k,
          const auto& v) { c.keyframeRetry = std::chrono::milliseconds(toU64(k, v)); }},
      {"redundancy", [](auto&, const auto& k, const auto& v) { (void)toDouble(k, v); }},
  };
  return kSetters;
}

}  // namespace

const std::vector<std::string>& methodParamNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> n;
    for (const auto& [k, s] : setters()) n.push_back(k);
    return n;
  }();
  return kNames;
}

algo::MethodConfig buildMethod(const std::string& method,
                               const std::map<std::string, std::string>& params) {
  algo::MethodConfig c = algo::parseMethod(method);
  for (const auto& [k, v] : params) {
    const auto it = setters().find(k);
    MURMUR_ENFORCE(it != setters().end(), InputError, "unknown method parameter '{}' (known: {})",
                   k, fmt::join(methodParamNames(), ", "));
    it->second(c, k, v);
  }
  algo::validate(c);
  return c;
}

double redundancyOf(const std::string& method, const std::map<std::string, std::string>& params) {
  const auto it = params.find("redundancy");
  if (it != params.end()) {
    const double mu = toDouble("redundancy", it->second);
    MURMUR_ENFORCE(mu >= 0 && mu < 1, InputError,
                   "method parameter redundancy must be in [0, 1), got {}", mu);
    return mu;
  }
  return method == "ri-sgd" ? 0.25 : 0.0;
}

}  // namespace murmur::node
