#pragma once
// A communication method as plain configuration: when a tensor is sent (trigger), what of it is
// sent (compression), and when replicas are mixed in (cadence). Presets name the published
// methods; every knob can be changed afterwards, so any trigger composes with any compression.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace murmur::algo {

enum class TriggerKind : uint8_t {
  kAlways,     // every tensor every step (D-PSGD)
  kPeriodic,   // every tensor every `period` steps (local SGD, RI-SGD)
  kEventGrad,  // per tensor, when its change since the last send passes a threshold
  kAetRounds,  // every tensor at the end of each AET-SGD round s_r = ceil(a (r+m)^p)
};

enum class Compression : uint8_t {
  kDense,      // the whole delta
  kTopK,       // the K largest |x - x~| entries, values + indices (UpdateKind::kSparse)
  kVotedMask,  // values on a mask agreed by majority vote among neighbours (UpdateKind::kMasked)
};

enum class MixCadence : uint8_t {
  kEveryStep,  // mix before every optimizer step (D-PSGD, EventGraD)
  kAtRound,    // mix only right after a round's exchange (local SGD, AET-SGD, RI-SGD)
};

enum class DeltaMetric : uint8_t {
  kNormOfDifference,   // ||x_p - x~_p||   (sees rotations that keep the norm)
  kDifferenceOfNorms,  // | ||x_p|| - ||x~_p|| |   (the EventGraD reference code)
};

struct EventGradConfig {
  bool adaptive = true;           // false: the static variant, threshold = staticThreshold
  double staticThreshold = 0.0;   // used when !adaptive; 0 gives D-PSGD exactly
  double horizon = 1.0;           // thr <- thr * horizon every step; 0 gives D-PSGD exactly
  uint32_t history = 2;           // H: slopes averaged into the adaptive threshold
  uint64_t warmup = 30;           // steps k < warmup always send
  DeltaMetric metric = DeltaMetric::kNormOfDifference;
  uint64_t maxSilence = 100;      // S_max: fire after this many silent steps (0: no bound)
};

struct AetConfig {
  double a = 10.0;  // s_r = ceil(a * (r + m)^p), r = 1, 2, ...
  double m = 0.0;
  double p = 1.0;
  bool roundLearningRate = true;  // lr_r = lr0 / (1 + 0.01 sqrt(T_{r-1}))
};

struct MethodConfig {
  std::string name = "dpsgd";
  TriggerKind trigger = TriggerKind::kAlways;
  Compression compression = Compression::kDense;
  MixCadence mixing = MixCadence::kEveryStep;

  uint64_t period = 1;  // tau for kPeriodic
  EventGradConfig eventgrad;
  AetConfig aet;

  double topKFraction = 0.1;  // rho: K = max(1, ceil(rho * numel)) per tensor (top-K and masks)
  uint64_t maskEvery = 20;    // R: steps per mask epoch (kVotedMask)
  bool fp16 = false;          // values travel as binary16; the sender rounds, so x~ stays exact

  // Rounds (kPeriodic / kAetRounds): a node may be at most this many rounds ahead of its slowest
  // live neighbour before it waits (0: lock-step local SGD / RI-SGD; 5: AET-SGD's d).
  uint32_t maxRoundLead = 0;
  std::chrono::milliseconds roundDeadline{5000};  // longest wait for a slow neighbour's round
  std::chrono::milliseconds voteDeadline{2000};   // longest wait for neighbours' mask votes
  std::chrono::milliseconds keyframeRetry{1000};  // re-ask for a keyframe not yet received
};

// The preset names parseMethod accepts, in a stable order.
const std::vector<std::string>& methodNames();

// A preset by name (case-sensitive). Throws InputError listing the valid names.
MethodConfig parseMethod(std::string_view name);

const char* toString(TriggerKind kind);
const char* toString(Compression kind);
const char* toString(MixCadence kind);
const char* toString(DeltaMetric kind);

// Throws InputError naming the knob when a configuration cannot run (period 0, rho out of
// (0, 1], ...).
void validate(const MethodConfig& config);

}  // namespace murmur::algo
