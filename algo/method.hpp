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
  bool adaptive = true;          // false: the static variant, threshold = staticThreshold
  double staticThreshold = 0.0;  // used when !adaptive; 0 gives D-PSGD exactly
  double horizon = 1.0;          // thr <- thr * horizon every step; 0 gives D-PSGD exactly
  // c: thr <- c * mean(slopes) at an event (murmur's addition; 1 is the paper's rule). The
  // slope is the change per step at the last events, so c extrapolates it over c steps: a
  // tensor whose change grows steadily fires about every c steps, so the trigger rate falls
  // like 1/c. horizon > 1 instead grows the threshold exponentially between events, which
  // leaves tensors silent until S_max (measured in docs/RESULTS.md).
  double scale = 1.0;
  uint32_t history = 2;  // H: slopes averaged into the adaptive threshold
  uint64_t warmup = 30;  // steps k < warmup always send
  DeltaMetric metric = DeltaMetric::kNormOfDifference;
  uint64_t maxSilence = 100;  // S_max: fire after this many silent steps (0: no bound)
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
  // F (kVotedMask): at the start of every F-th mask epoch, right after the decision, every
  // tensor's whole residual x - x~ goes out densely (0: never). Majority votes alone can leave a
  // node's own large residual outside every mask for good, so its neighbours' replica of that
  // coordinate stays stale and the average drifts; the flush bounds any coordinate's silence to
  // F * R steps, like EventGraD's maximum silence (docs/ALGORITHMS.md).
  uint64_t maskFlushEvery = 5;
  // (kVotedMask) The share of K kept for the node's own largest residuals outside the agreed
  // mask: ceil(maskOwnFraction * K) of them travel with every event as values + indices (a
  // kSparse frame beside the kMasked one); the vote decides the other K minus that. Error
  // feedback then reaches every coordinate at top-K's pace, not only the majority's. 0: none.
  double maskOwnFraction = 0.25;
  // Mix public copies: x <- x + sum_j W_ij (x^_j - x~) instead of W_ii x + sum_j W_ij x^_j
  // (CHOCO-gossip's form). With compressed deltas most of x^_j lags x_j; the plain rule pulls
  // every node's unsent progress back toward those stale values each step and moves the
  // average; this one conserves the average exactly. On in eventgrad-vote.
  bool mixPublicCopies = false;
  // gamma, the consensus step of mixPublicCopies: x <- x + gamma sum_j W_ij (x^_j - x~). In
  // (0, 1]. CHOCO-gossip needs gamma < 1 under compression: 1 diverged on the consensus test,
  // 0.5 on lenet5 (docs/ALGORITHMS.md); 0.05-0.2 all trained well there.
  double publicMixStep = 0.1;
  // With mixPublicCopies and every-step mixing: mix a tensor only when one of the public copies
  // it mixes (its own x~, a neighbour's replica) changed since its last mix. The correction
  // gamma sum_j W_ij (x^_j - x~) does not change while nobody sends, so applying it every
  // silent step adds the same displacement again and again: s silent steps act like one mix of
  // step s * gamma, which past 2 / (1 - lambda_min(W)) amplifies the graph's oscillating mode
  // (an EventGraD run at scale 3, gamma 0.5 on the 2x4 torus, lambda_min -0.5, blew its
  // consensus distance from 0.05 to 25 in its last 60 steps; docs/RESULTS.md).
  bool publicMixFresh = false;
  bool fp16 = false;  // values travel as binary16; the sender rounds, so x~ stays exact
  // Values travel as int8 with one float scale per frame (max |v| / 127); the sender quantises,
  // so x~ stays exact and the rounding error waits in the residual. Exclusive with fp16;
  // keyframes stay float32.
  bool int8 = false;
  // Values travel as their signs, one bit each, with one float scale per frame (mean |v|): 32x
  // fewer value bytes than float32, 8x fewer than int8. The sender quantises (quantizeSign), so
  // x~ stays exact and what the signs got wrong waits in the residual, as with int8 (error
  // feedback; EF-SignSGD, and CHOCO-SGD's sign compressor). Exclusive with fp16 and int8.
  bool sign = false;
  // Tensors of fewer elements than this go dense whatever `compression` says (no votes, no
  // decision, no indices; fp16 still applies). A bias of 10 floats costs ~40 bytes dense but
  // three frames (vote, decision, values) of ~100 bytes of headers each when masked. 0: none.
  size_t denseBelow = 0;
  // At finish(): every tensor's whole residual goes out densely (fp16 if set), and after the
  // neighbours' arrive (bounded by roundDeadline) one mixing step with the full weights. Costs
  // one dense model per edge (half in fp16) and shrinks the gap between the nodes' models that
  // compression leaves, at the one point where each node's own model is what gets used.
  bool finalDense = false;
  // Start-up keyframes as digests: while a tensor's x~ is still the node's initial value, its
  // keyframe carries only a 64-bit hash; a neighbour whose own initial tensor hashes the same
  // (same seed, same model) uses its own copy, any other asks for the full keyframe. Saves one
  // dense model per edge at the start of every run; costs one model-sized copy per node.
  bool digestKeyframes = true;

  // Rounds (kPeriodic / kAetRounds): a node may be at most this many rounds ahead of its slowest
  // live neighbour before it waits (0: lock-step local SGD / RI-SGD; 5: AET-SGD's d).
  uint32_t maxRoundLead = 0;
  // Every-step methods (D-PSGD, EventGraD): before mixing at step k, wait while a live
  // neighbour's newest known step is below k - maxStepLag, at most roundDeadline (0: never
  // wait). Without it a node that outruns a slow link mixes replicas that fall further and
  // further behind and is pulled back toward them (docs/RESULTS.md: D-PSGD at 10 Mbit/s).
  uint64_t maxStepLag = 0;
  // Lock-step gossip: a node folds a neighbour's update into its replica only when the mix that
  // needs it comes (every-step methods: before step k, the neighbours' updates of steps < k;
  // round methods: at a boundary, those of steps up to it), holds what arrives early, and waits
  // (at most roundDeadline) for every live neighbour's end-of-step marker. Then what each node
  // mixes no longer depends on thread timing: with no fault, no dead peer, no missed deadline
  // and no frame merged by a full write queue, a run is reproducible bit for bit from its seed.
  // Supersedes maxStepLag (the wait is as if it were 1); round methods need maxRoundLead 0.
  // Every-step methods send one end-of-step heartbeat per step and edge (a few dozen bytes).
  bool lockstep = false;
  // With lockstep, every-step mixing: a Gauss-Seidel sweep in node-id order instead of Jacobi.
  // Before step k a node waits for, and mixes, its lower-id neighbours' models after step k
  // (they mixed first) and its higher-id neighbours' after step k - 1, so information crosses
  // more than one edge per step, as it does when free-running nodes happen to run ahead, but
  // deterministically. The chain of waits only covers the mix, the optimizer step and the send:
  // every node computes its gradient before it waits. Not with voted masks (their votes are
  // exchanged inside the step) or finalDense.
  bool lockstepSweep = false;
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
