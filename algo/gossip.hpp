#pragma once
// Gossip: one node's communication policy. It owns what the node's neighbours hold of it (x~,
// "last sent"), its replicas of the neighbours (x^_j), the per-tensor triggers, the voted masks
// and the sequence numbers; it reads and mixes the model's flat parameter buffer in place.
//
// The trainer calls, every step k (k increasing, from `firstStep`):
//     grads <- gradient at x
//     gossip.beforeUpdate(k)            // drain the transport; mix if the method mixes every step
//     optimizer.step(params, grads, lr * gossip.lrScale(k))
//     gossip.afterUpdate(k)             // triggers, compression, send; round exchange + mix
// and gossip.finish() once at the end. Single-threaded: only the trainer thread touches it; the
// Transport is the thread-safe boundary. Every wait is bounded by a deadline read from `clock`.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "algo/method.hpp"
#include "algo/mixing.hpp"
#include "algo/trigger.hpp"
#include "common/clock.hpp"
#include "common/transport.hpp"
#include "nn/tensor_layout.hpp"

namespace murmur::algo {

struct GossipStats {
  uint64_t steps = 0;                     // afterUpdate calls
  std::vector<uint64_t> eventsPerTensor;  // trigger firings per tensor
  uint64_t events = 0;                    // sum of eventsPerTensor
  double triggerRate = 0.0;               // events / (steps * tensors)
  uint64_t updateFramesSent = 0;          // tensor-update frames, one per recipient (keyframes too)
  uint64_t valuesSent = 0;                // floats in those frames, per recipient
  uint64_t indicesSent = 0;               // top-K indices in those frames, per recipient
  uint64_t keyframesSent = 0;             // keyframe frames, per recipient (digests too)
  uint64_t digestKeyframesSent = 0;       // ... of which digests (no values)
  uint64_t startUpKeyframesSent = 0;      // ... of which lockstep start-up tensors (seq 0)
  uint64_t digestMismatches = 0;          // digest keyframes received that did not match ours
  uint64_t keyframeRequestsSent = 0;
  uint64_t keyframeRequestsReceived = 0;
  uint64_t updatesReceived = 0;  // tensor updates applied to a replica
  uint64_t updatesRejected = 0;  // bad size / index / NaN / unknown mask
  uint64_t gapsDetected = 0;     // sequence gaps (each triggers a keyframe request)
  uint64_t staleIgnored = 0;     // duplicates, or deltas while awaiting a keyframe
  uint64_t maskEpochs = 0;
  uint64_t decisionsAgainstVote = 0;  // decisions sent as the difference from the own vote
  uint64_t maskFlushes = 0;           // dense residual flushes (maskFlushEvery), per tensor
  uint64_t voteTimeouts = 0;          // mask epochs decided without every live neighbour
  uint64_t rounds = 0;                // round exchanges (periodic / AET-SGD)
  uint64_t roundWaits = 0;            // round boundaries where the node had to wait
  uint64_t roundWaitTimeouts = 0;     // ... and gave up at the deadline
  uint64_t lagWaits = 0;              // steps where maxStepLag made the node wait
  uint64_t lagWaitTimeouts = 0;       // ... and gave up at the deadline
  uint64_t heldUpdates = 0;           // lockstep: updates that arrived before their mix
  uint64_t heldOverflows = 0;         // lockstep: a neighbour far ahead; held dropped, resynced
  uint64_t lockstepWaits = 0;         // lockstep: mixes that waited for a neighbour's step
  uint64_t lockstepTimeouts = 0;      // ... and gave up at the deadline (not reproducible)
  uint64_t mixes = 0;
  uint64_t staleMixesSkipped = 0;      // publicMixFresh: tensor mixes skipped, nothing new
  uint64_t finalExchangeTimeouts = 0;  // finalDense: neighbours' final deltas not all in time
  uint32_t round = 0;                  // last completed round
  double meanStaleness = 0.0;          // steps between now and the newest step heard, over
  uint64_t maxStaleness = 0;           // live neighbours that were heard from
};

// A 64-bit hash (FNV-1a) of a tensor's bytes, never 0: what a digest keyframe carries. Equal
// tensors, bit for bit, hash equal; not a MAC (frames have their own, net/auth.hpp).
uint64_t tensorDigest(std::span<const float> values);

class Gossip {
 public:
  // `params` is the model's flat buffer (layout.total floats), read and mixed in place; it must
  // outlive the Gossip. Throws InputError on an invalid config or weights.
  Gossip(MethodConfig config, const nn::TensorLayout& layout, std::span<float> params,
         Transport& transport, MixingWeights weights, const Clock& clock, uint64_t firstStep = 0);

  Gossip(const Gossip&) = delete;
  Gossip& operator=(const Gossip&) = delete;

  void beforeUpdate(uint64_t k);
  void afterUpdate(uint64_t k);

  // The factor for the learning rate of step k: AET-SGD's 1 / (1 + 0.01 sqrt(T_{r-1})), else 1.
  double lrScale(uint64_t k) const;

  // The end of training. A round method (local SGD, AET-SGD, RI-SGD) whose last round is
  // unfinished closes it: sends every tensor's change (its own compression), waits up to
  // config.roundDeadline for its live neighbours' final deltas and mixes once more. Every-step
  // methods send nothing more: a neighbour's replica equals this node's x~, not x (what the
  // trigger held back stays unsent; with no mix after it, sending it would change nothing). Then
  // a last heartbeat. Does not close the transport. With config.finalDense, any method instead
  // sends every tensor's whole residual densely, waits up to config.roundDeadline for its live
  // neighbours' and mixes once with the full step.
  void finish();

  // Waits (draining the transport) until this node is at most config.maxRoundLead rounds ahead
  // of its slowest live neighbour, or `deadline` passes. Returns whether the bound holds.
  bool awaitRoundLead(std::chrono::milliseconds deadline);

  // Drains the transport now (waiting up to `timeout` for the first item): applies what
  // arrived and answers keyframe requests. For a trainer that pauses (evaluation, checkpoint)
  // and wants to stay responsive; beforeUpdate does the same with no wait.
  void poll(std::chrono::milliseconds timeout) { drain(timeout); }

  // Start-up: exchanges keyframes and waits (draining the transport) until every neighbour is
  // up and this node holds a replica of each of its tensors, or `deadline` passes; so the first
  // mix is not one-sided. Returns whether every replica arrived. Optional: a node that skips it
  // mixes neighbours in as their keyframes arrive.
  bool awaitNeighbours(std::chrono::milliseconds deadline);

  GossipStats stats() const;

  // (1/d) sum_j ||x - x^_j||^2 over the live neighbours whose replica is complete: this node's
  // local view of the consensus distance, computable at any step without a global view (NaN
  // with no such neighbour). O(parameters x degree): for metrics records, not every step.
  double neighbourDistance() const;

  // Inspection, for tests and metrics.
  const MethodConfig& config() const { return config_; }
  std::span<const float> lastSent() const { return lastSent_; }
  std::span<const float> replica(NodeId peer) const;
  bool replicaValid(NodeId peer, uint32_t tensor) const;
  double threshold(uint32_t tensor) const;
  uint32_t maskEpoch() const { return maskEpoch_; }
  const std::vector<uint32_t>& ownMask(uint32_t tensor) const;
  // The mask `peer` decided for `tensor` in `epoch`, or nullptr if not (or no longer) known.
  const std::vector<uint32_t>* peerMask(NodeId peer, uint32_t tensor, uint32_t epoch) const;
  uint32_t round() const { return completedRound_; }

 private:
  struct Peer {
    NodeId id = 0;
    double weight = 0.0;
    std::vector<float> replica;          // x^_j, layout.total floats
    std::vector<uint8_t> valid;          // per tensor: replica usable
    std::vector<uint64_t> lastSeq;       // per tensor: last seq folded in
    std::vector<uint8_t> requestNow;     // per tensor: ask for a keyframe at once
    std::vector<int64_t> lastRequestNs;  // per tensor
    std::vector<uint8_t> owedKeyframe;   // per tensor: this peer needs our keyframe
    std::vector<uint8_t> digestRefused;  // per tensor: it asked for one; send it in full
    // Per tensor: every delta this node sent since it started went to this peer, over one
    // unbroken stream (cleared when a send skips it or the edge goes down). With lockstep, a
    // keyframe for a peer that has not finished a step yet may then carry the start-up tensor:
    // the deltas since are in its stream already, held for the mixes they belong to.
    std::vector<uint8_t> unbroken;
    std::vector<std::map<uint32_t, std::vector<uint32_t>>> masks;  // per tensor: epoch -> M_j
    // Per tensor: its newest vote (epoch, V_j), kept until its decision, which may come as the
    // difference from it (MaskDecision::againstVote).
    std::vector<std::pair<uint32_t, std::vector<uint32_t>>> lastVote;
    std::vector<uint64_t> deltaStep;  // per tensor: step of the newest delta (+1; 0: none)
    // Per tensor: step of the newest update of any kind (+1; 0: none), for finalDense. Not a
    // heartbeat: the transport may merge a queued heartbeat into an earlier one, ahead of the
    // updates it was sent after.
    std::vector<uint64_t> updateStep;
    uint64_t lastStep = 0;
    bool heard = false;
    uint32_t round = 0;
    uint64_t stepsDone = 0;  // newest Heartbeat::stepsDone (lockstep waits on it)
    // lockstep: updates stamped at or past foldBelow_, in arrival order, until their mix. Owned
    // here until folded in, dropped when the edge goes down or up (keyframes follow).
    std::deque<TensorUpdate> held;
    // lockstepSweep: 1 for a lower id, whose step k this node's mix at step k waits for (it
    // mixes first); else 0.
    uint64_t lead = 0;
  };

  std::span<float> tensorOf(std::span<float> flat, uint32_t t) const;
  std::span<const float> tensorOf(std::span<const float> flat, uint32_t t) const;
  Peer* findPeer(NodeId id);
  const Peer* findPeer(NodeId id) const;
  std::vector<NodeId> livePeers() const;

  void drain(std::chrono::milliseconds timeout);
  // Drains in short slices until done() holds (true) or `timeout` passes (false). Every wait of
  // this class goes through here, so every wait has a deadline.
  bool drainUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  void handleEvent(const PeerEvent& event);
  void handleMessage(Envelope& envelope);
  void handleUpdate(Peer& peer, TensorUpdate& update);
  // Folds one update into peer's replica: keyframes, sequence checks, deltas.
  void foldUpdate(Peer& peer, TensorUpdate& update);
  // lockstep: from now on updates stamped below `below` fold in; releases the held ones.
  void foldBelow(uint64_t below);
  // lockstep: waits (bounded) until every live neighbour has sent all its frames of the steps
  // below `steps` (Heartbeat::stepsDone; sweep: below steps + its lead), then folds them in.
  // False at the deadline.
  bool awaitStepsDone(uint64_t steps, bool sweep = false);
  bool applyUpdate(Peer& peer, const TensorUpdate& update);
  void invalidate(Peer& peer, uint32_t t, bool requestNow);
  void serviceKeyframes();

  void runMaskEpoch(uint32_t epoch);
  void sendUpdate(uint32_t t, uint64_t k, Compression compression, bool fp16);
  // One frame: dense, the `topK` largest residuals (kTopK), or values on ownMask_ (kVotedMask).
  void sendOne(uint32_t t, uint64_t k, Compression compression, bool fp16, size_t topK = 0);
  // kVotedMask: how much of tensor t's K is the node's own (sparse) and how much is voted.
  size_t ownShare(uint32_t t) const;
  size_t votedShare(uint32_t t) const;
  void sendKeyframe(Peer& peer, uint32_t t);
  // Whether tensor t is big enough for its method's compression (config.denseBelow).
  bool compressible(uint32_t t) const;
  // After every frame of step k: stepsDone = k + 1.
  void sendHeartbeat(uint64_t k);
  // gamma: the public-copy consensus step (config.publicMixStep unless overridden). force: mix
  // every tensor even where config.publicMixFresh would skip it (the final exchange).
  void mix(double gamma, bool force = false);
  void mix() { mix(config_.publicMixStep); }
  void closeFinalRound();
  // config.finalDense: every tensor's whole residual densely, a marker heartbeat, a bounded
  // wait for the neighbours' markers, then one full mixing step (gamma 1).
  void finalDenseExchange();
  // maxStepLag: waits (bounded) until every live neighbour is known to be at step >= k - lag.
  void awaitStepLag(uint64_t k);
  // Rounds completed by a node that has finished step k (round-based triggers; else 0).
  uint32_t roundsCompletedBy(uint64_t k) const;

  MethodConfig config_;
  nn::TensorLayout layout_;  // a copy: small, and no lifetime to track
  std::span<float> params_;
  Transport& transport_;
  const Clock& clock_;
  double selfWeight_ = 1.0;
  std::vector<Peer> peers_;
  std::vector<float> lastSent_;  // x~
  // The parameters this Gossip started from, and each tensor's tensorDigest of them: what a
  // neighbour's digest keyframe is checked against (config.digestKeyframes; else empty). The
  // parameters are kept with lockstep too, for start-up keyframes (Peer::unbroken).
  std::vector<float> initial_;
  std::vector<uint64_t> initialDigest_;
  std::vector<uint64_t> seq_;  // per tensor, last seq sent
  std::vector<EventTrigger> triggers_;
  AetSchedule aet_;
  uint64_t currentStep_ = 0;
  uint32_t completedRound_ = 0;
  uint64_t lastRoundEnd_ = 0;    // k + 1 of the last round boundary (round methods)
  uint64_t lastAnnounced_ = 0;   // newest step told to the neighbours (updates or heartbeat)
  uint64_t foldBelow_ = 0;       // lockstep: updates stamped below this fold in on arrival
  uint64_t stepsAnnounced_ = 0;  // newest Heartbeat::stepsDone sent

  bool haveMask_ = false;
  uint32_t maskEpoch_ = 0;
  std::vector<std::vector<uint32_t>> ownMask_;
  // (epoch, tensor) -> sender -> votes
  std::map<std::pair<uint32_t, uint32_t>, std::map<NodeId, std::vector<uint32_t>>> votes_;

  std::vector<float> mixScratch_;  // one tensor's x - x~ while it is mixed
  // Per tensor: 1 once it was mixed with public copies and none of them (ours, a replica, a
  // replica's validity) has changed since; config.publicMixFresh skips such a mix.
  std::vector<uint8_t> mixStale_;
  std::vector<Envelope> inbox_;
  std::vector<PeerEvent> events_;
  GossipStats stats_;
};

}  // namespace murmur::algo
