#include "algo/gossip.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <type_traits>
#include <variant>

#include <Eigen/Core>

#include "algo/compress.hpp"
#include "common/error.hpp"

namespace murmur::algo {

namespace {

bool allFinite(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

bool strictlyIncreasingBelow(const std::vector<uint32_t>& idx, size_t n) {
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] >= n) return false;
    if (i > 0 && idx[i] <= idx[i - 1]) return false;
  }
  return true;
}

// How many recent mask epochs of a neighbour are kept: updates of the previous epoch may still
// be in flight when the next decision arrives.
constexpr size_t kMasksKept = 3;

// lockstep: early updates held per neighbour, per tensor of the model, before the neighbour is
// treated as out of step (a lock-step neighbour is at most a step or two ahead: a few per tensor).
constexpr size_t kHeldPerTensor = 16;

// Both sorted and duplicate-free; so is the result.
std::vector<uint32_t> symmetricDifference(const std::vector<uint32_t>& a,
                                          const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

uint64_t tensorDigest(std::span<const float> values) {
  uint64_t h = 14695981039346656037ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  for (size_t i = 0; i < values.size_bytes(); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;  // 0 means "no digest" on the wire
}

Gossip::Gossip(MethodConfig config, const nn::TensorLayout& layout, std::span<float> params,
               Transport& transport, MixingWeights weights, const Clock& clock, uint64_t firstStep)
    : config_(std::move(config)),
      layout_(layout),
      params_(params),
      transport_(transport),
      clock_(clock),
      aet_(config_.aet),
      currentStep_(firstStep),
      foldBelow_(firstStep) {
  validate(config_);
  MURMUR_ENFORCE(params.size() == layout.total, InputError,
                 "gossip: parameter buffer has {} floats but the layout needs {}", params.size(),
                 layout.total);
  MURMUR_ENFORCE(!layout.tensors.empty(), InputError, "gossip: the layout has no tensors");
  for (size_t t = 0; t < layout.tensors.size(); ++t) {
    const auto& info = layout.tensors[t];
    MURMUR_ENFORCE(info.offset + info.numel <= layout.total, InputError,
                   "gossip: tensor '{}' [{}, +{}) lies outside the {}-float buffer", info.name,
                   info.offset, info.numel, layout.total);
  }
  validate(weights, transport.neighbours());
  selfWeight_ = weights.self;

  const size_t nt = layout.tensors.size();
  const int64_t now = clock_.nowNs();
  for (NodeId id : transport.neighbours()) {
    Peer p;
    p.id = id;
    for (const auto& [wid, w] : weights.neighbours) {
      if (wid == id) p.weight = w;
    }
    p.replica.assign(layout.total, 0.0f);
    p.valid.assign(nt, 0);
    p.lastSeq.assign(nt, 0);
    p.requestNow.assign(nt, 0);
    p.lastRequestNs.assign(nt, now);
    p.owedKeyframe.assign(nt, 1);  // keyframes start every run
    p.digestRefused.assign(nt, 0);
    p.unbroken.assign(nt, 1);
    p.masks.resize(nt);
    p.lastVote.assign(nt, {0, {}});
    p.deltaStep.assign(nt, 0);
    p.updateStep.assign(nt, 0);
    p.lead = config_.lockstepSweep && id < transport.self() ? 1 : 0;
    peers_.push_back(std::move(p));
  }
  // Weight of a transport neighbour missing from `weights` is 0; the row already sums to 1.
  lastSent_.assign(params.begin(), params.end());
  if (config_.digestKeyframes || config_.lockstep) initial_ = lastSent_;
  if (config_.digestKeyframes) {
    initialDigest_.resize(nt);
    for (uint32_t t = 0; t < nt; ++t) {
      initialDigest_[t] = tensorDigest(tensorOf(std::span<const float>(initial_), t));
    }
  }
  seq_.assign(nt, 0);
  triggers_.reserve(nt);
  for (size_t t = 0; t < nt; ++t) triggers_.emplace_back(config_.eventgrad, firstStep);
  ownMask_.resize(nt);
  mixStale_.assign(nt, 0);
  stats_.eventsPerTensor.assign(nt, 0);
}

std::span<float> Gossip::tensorOf(std::span<float> flat, uint32_t t) const {
  const auto& info = layout_.tensors[t];
  return flat.subspan(info.offset, info.numel);
}
std::span<const float> Gossip::tensorOf(std::span<const float> flat, uint32_t t) const {
  const auto& info = layout_.tensors[t];
  return flat.subspan(info.offset, info.numel);
}

Gossip::Peer* Gossip::findPeer(NodeId id) {
  for (auto& p : peers_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}
const Gossip::Peer* Gossip::findPeer(NodeId id) const {
  for (const auto& p : peers_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::vector<NodeId> Gossip::livePeers() const {
  std::vector<NodeId> ids;
  for (const auto& p : peers_) {
    if (transport_.isUp(p.id)) ids.push_back(p.id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Receiving

void Gossip::drain(std::chrono::milliseconds timeout) {
  inbox_.clear();
  events_.clear();
  transport_.poll(inbox_, events_, timeout);
  for (const auto& ev : events_) handleEvent(ev);
  for (auto& env : inbox_) handleMessage(env);
  inbox_.clear();
  events_.clear();
  serviceKeyframes();
}

void Gossip::handleEvent(const PeerEvent& event) {
  Peer* peer = findPeer(event.peer);
  if (peer == nullptr) return;
  // Down or (re)connected: the peer's stream restarts with a keyframe in both directions. Its
  // replica stops counting in the mix until then (its weight moves to self).
  for (uint32_t t = 0; t < peer->valid.size(); ++t) {
    invalidate(*peer, t, false);
    peer->owedKeyframe[t] = 1;
  }
  peer->held.clear();  // the keyframes that follow carry what they held
  if (event.kind == PeerEvent::Kind::kDown) {
    // A restarted peer may resume from an earlier step: its rounds and mask epochs restart.
    peer->round = 0;
    peer->stepsDone = 0;
    std::fill(peer->unbroken.begin(), peer->unbroken.end(), 0);
    std::fill(peer->deltaStep.begin(), peer->deltaStep.end(), 0);
    std::fill(peer->updateStep.begin(), peer->updateStep.end(), 0);
    for (auto& m : peer->masks) m.clear();
    for (auto& v : peer->lastVote) v = {0, {}};
  }
}

void Gossip::invalidate(Peer& peer, uint32_t t, bool requestNow) {
  peer.valid[t] = 0;
  mixStale_[t] = 0;  // its weight moves to self: the mix changes
  if (requestNow) {
    peer.requestNow[t] = 1;
  } else {
    peer.requestNow[t] = 0;
    peer.lastRequestNs[t] = clock_.nowNs();
  }
}

void Gossip::handleMessage(Envelope& env) {
  Peer* peer = findPeer(env.from);
  if (peer == nullptr) return;  // not a neighbour: the transport should not deliver it
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, TensorUpdate>) {
          handleUpdate(*peer, m);
        } else if constexpr (std::is_same_v<T, MaskVote>) {
          if (m.tensor >= layout_.tensors.size() || m.universe != layout_.tensors[m.tensor].numel ||
              !strictlyIncreasingBelow(m.indices, m.universe)) {
            ++stats_.updatesRejected;
            return;
          }
          // Epochs count from 0, so lastVote stores epoch + 1 (0: none).
          peer->lastVote[m.tensor] = {m.epoch + 1, m.indices};
          if (haveMask_ && m.epoch <= maskEpoch_) return;  // already decided without it
          votes_[{m.epoch, m.tensor}][peer->id] = std::move(m.indices);
        } else if constexpr (std::is_same_v<T, MaskDecision>) {
          if (m.tensor >= layout_.tensors.size() || m.universe != layout_.tensors[m.tensor].numel ||
              !strictlyIncreasingBelow(m.indices, m.universe)) {
            ++stats_.updatesRejected;
            return;
          }
          if (m.againstVote) {
            const auto& [voteEpoch, vote] = peer->lastVote[m.tensor];
            if (voteEpoch != m.epoch + 1) {
              // Its vote never reached us (lost, or we came up in between): the masked update
              // that needs this decision is rejected and the keyframe it asks for brings the
              // decision in full.
              ++stats_.updatesRejected;
              return;
            }
            m.indices = symmetricDifference(vote, m.indices);
          }
          auto& masks = peer->masks[m.tensor];
          masks[m.epoch] = std::move(m.indices);
          while (masks.size() > kMasksKept) masks.erase(masks.begin());
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          peer->round = std::max(peer->round, m.round);
          peer->stepsDone = std::max(peer->stepsDone, m.stepsDone);
          if (!peer->heard || m.step > peer->lastStep) peer->lastStep = m.step;
          peer->heard = true;
        } else if constexpr (std::is_same_v<T, KeyframeRequest>) {
          ++stats_.keyframeRequestsReceived;
          // Asked for: it has no usable replica, so a digest would not do (it may not match).
          if (m.tensor == kAllTensors) {
            std::fill(peer->owedKeyframe.begin(), peer->owedKeyframe.end(), 1);
            std::fill(peer->digestRefused.begin(), peer->digestRefused.end(), 1);
          } else if (m.tensor < layout_.tensors.size()) {
            peer->owedKeyframe[m.tensor] = 1;
            peer->digestRefused[m.tensor] = 1;
          }
        } else {
          static_assert(std::is_same_v<T, Goodbye>);
          // The transport reports the edge down with a PeerEvent; nothing to do here.
        }
      },
      env.message);
}

void Gossip::handleUpdate(Peer& peer, TensorUpdate& u) {
  if (u.tensor >= layout_.tensors.size()) {
    ++stats_.updatesRejected;
    return;
  }
  if (!peer.heard || u.step > peer.lastStep) peer.lastStep = u.step;
  peer.heard = true;
  const uint32_t t = u.tensor;
  peer.updateStep[t] = std::max(peer.updateStep[t], u.step + 1);
  if (u.kind != UpdateKind::kKeyframe && config_.trigger != TriggerKind::kAlways &&
      config_.trigger != TriggerKind::kEventGrad) {
    // Every tensor fires at a round's end, after step s is done: once each tensor's delta of
    // that step is in (FIFO), the round is complete on our side. Round heartbeats alone are not
    // enough: a transport may fold a queued round marker into its keep-alive (round 0).
    peer.deltaStep[t] = std::max(peer.deltaStep[t], u.step + 1);
    uint64_t oldest = std::numeric_limits<uint64_t>::max();
    for (uint64_t s : peer.deltaStep) oldest = std::min(oldest, s);
    if (oldest > 0) peer.round = std::max(peer.round, roundsCompletedBy(oldest - 1));
  }
  if (config_.lockstep && u.kind != UpdateKind::kKeyframe && u.step >= foldBelow_ + peer.lead) {
    // Early: the neighbour is ahead of the mix that should see this. Folding it in now would
    // make what this node mixes depend on who ran faster.
    if (peer.held.size() >= kHeldPerTensor * layout_.tensors.size()) {
      // A lock-step neighbour is at most a step or two ahead; this many early updates means a
      // peer that is not (a bug, or stamps from far in the future). Memory stays bounded: drop
      // what is held and resynchronise its tensors with keyframes, as after a gap.
      ++stats_.heldOverflows;
      peer.held.clear();
      for (uint32_t tt = 0; tt < peer.valid.size(); ++tt) invalidate(peer, tt, true);
      return;
    }
    peer.held.push_back(std::move(u));
    ++stats_.heldUpdates;
    return;
  }
  foldUpdate(peer, u);
}

void Gossip::foldBelow(uint64_t below) {
  foldBelow_ = std::max(foldBelow_, below);
  for (auto& peer : peers_) {
    while (!peer.held.empty() && peer.held.front().step < foldBelow_ + peer.lead) {
      TensorUpdate u = std::move(peer.held.front());
      peer.held.pop_front();
      foldUpdate(peer, u);
    }
  }
}

void Gossip::foldUpdate(Peer& peer, TensorUpdate& u) {
  const uint32_t t = u.tensor;
  const size_t n = layout_.tensors[t].numel;

  if (u.kind == UpdateKind::kKeyframe && u.values.empty() && u.digest != 0) {
    if (peer.valid[t] && u.seq < peer.lastSeq[t]) {
      ++stats_.staleIgnored;
      return;
    }
    if (initialDigest_.empty() || u.digest != initialDigest_[t]) {
      ++stats_.digestMismatches;  // a different seed, model or checkpoint: ask for the tensor
      invalidate(peer, t, true);
      return;
    }
    const auto own = tensorOf(std::span<const float>(initial_), t);
    auto rep = tensorOf(std::span<float>(peer.replica), t);
    std::copy(own.begin(), own.end(), rep.begin());
    peer.valid[t] = 1;
    peer.requestNow[t] = 0;
    peer.lastSeq[t] = u.seq;
    ++stats_.updatesReceived;
    mixStale_[t] = 0;
    return;
  }
  if (u.kind == UpdateKind::kKeyframe) {
    if (u.values.size() != n || !allFinite(u.values)) {
      ++stats_.updatesRejected;
      invalidate(peer, t, true);
      return;
    }
    if (peer.valid[t] && u.seq < peer.lastSeq[t]) {
      ++stats_.staleIgnored;  // an old keyframe (duplicated or reordered)
      return;
    }
    auto rep = tensorOf(std::span<float>(peer.replica), t);
    std::copy(u.values.begin(), u.values.end(), rep.begin());
    peer.valid[t] = 1;
    peer.requestNow[t] = 0;
    peer.lastSeq[t] = u.seq;
    ++stats_.updatesReceived;
    mixStale_[t] = 0;
    return;
  }

  if (!peer.valid[t]) {
    ++stats_.staleIgnored;  // awaiting a keyframe; it will carry this change
    return;
  }
  if (u.seq <= peer.lastSeq[t]) {
    ++stats_.staleIgnored;  // duplicate
    return;
  }
  const uint64_t first = u.seq - (u.merged == 0 ? 1 : u.merged) + 1;
  if (u.merged == 0 || first != peer.lastSeq[t] + 1) {
    ++stats_.gapsDetected;
    invalidate(peer, t, true);
    return;
  }
  if (!applyUpdate(peer, u)) {
    ++stats_.updatesRejected;
    invalidate(peer, t, true);
    return;
  }
  peer.lastSeq[t] = u.seq;
  ++stats_.updatesReceived;
  mixStale_[t] = 0;
}

bool Gossip::applyUpdate(Peer& peer, const TensorUpdate& u) {
  const uint32_t t = u.tensor;
  const size_t n = layout_.tensors[t].numel;
  if (!allFinite(u.values)) return false;
  auto rep = tensorOf(std::span<float>(peer.replica), t);
  switch (u.kind) {
    case UpdateKind::kDense: {
      if (u.values.size() != n) return false;
      for (size_t i = 0; i < n; ++i) rep[i] += u.values[i];
      return true;
    }
    case UpdateKind::kSparse: {
      if (u.indices.size() != u.values.size() || !strictlyIncreasingBelow(u.indices, n)) {
        return false;
      }
      for (size_t i = 0; i < u.indices.size(); ++i) rep[u.indices[i]] += u.values[i];
      return true;
    }
    case UpdateKind::kMasked: {
      const auto& masks = peer.masks[t];
      auto it = masks.find(u.maskEpoch);
      if (it == masks.end() || it->second.size() != u.values.size()) return false;
      const auto& idx = it->second;
      for (size_t i = 0; i < idx.size(); ++i) rep[idx[i]] += u.values[i];
      return true;
    }
    case UpdateKind::kKeyframe:
      break;
  }
  return false;
}

void Gossip::serviceKeyframes() {
  const int64_t now = clock_.nowNs();
  const int64_t retryNs =
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.keyframeRetry).count();
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());
  for (auto& peer : peers_) {
    if (!transport_.isUp(peer.id)) continue;
    for (uint32_t t = 0; t < nt; ++t) {
      if (peer.owedKeyframe[t]) sendKeyframe(peer, t);
    }
    std::vector<uint32_t> ask;
    for (uint32_t t = 0; t < nt; ++t) {
      if (peer.valid[t]) continue;
      if (peer.requestNow[t] || now - peer.lastRequestNs[t] >= retryNs) ask.push_back(t);
    }
    if (ask.empty()) continue;
    const NodeId to[1] = {peer.id};
    if (ask.size() == nt && nt > 1) {
      transport_.send(to, Message(KeyframeRequest{kAllTensors, "replica missing or stale"}));
      ++stats_.keyframeRequestsSent;
    } else {
      for (uint32_t t : ask) {
        transport_.send(to, Message(KeyframeRequest{t, "sequence gap or rejected update"}));
        ++stats_.keyframeRequestsSent;
      }
    }
    for (uint32_t t : ask) {
      peer.requestNow[t] = 0;
      peer.lastRequestNs[t] = now;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

void Gossip::sendKeyframe(Peer& peer, uint32_t t) {
  // The keyframe carries x~ (what every other neighbour holds), not x: then one x~ serves every
  // edge, and the unsent change x - x~ still goes out with the next delta.
  TensorUpdate u;
  u.tensor = t;
  u.seq = seq_[t];
  u.merged = 1;
  u.step = currentStep_;
  u.kind = UpdateKind::kKeyframe;
  // lockstep: a neighbour that asks before it has finished a step still needs the tensor this
  // node started from for its first mix, whatever this node has sent since (at most a step or
  // two: it waits for that neighbour). Sending x~ would fold those later deltas in early, and
  // then what that first mix sees depends on how late the request came. Its stream already
  // holds every delta since the start (unbroken), held until their mixes: the start-up tensor
  // with seq 0 is exact.
  const bool startUp = config_.lockstep && seq_[t] > 0 && peer.unbroken[t] && peer.stepsDone == 0;
  if (startUp) {
    u.seq = 0;
    ++stats_.startUpKeyframesSent;
  }
  // seq 0: x~ at the start, this node's initial tensor.
  if (config_.digestKeyframes && u.seq == 0 && !peer.digestRefused[t]) {
    u.digest = initialDigest_[t];
    ++stats_.digestKeyframesSent;
  } else {
    auto xs = tensorOf(std::span<const float>(startUp ? initial_ : lastSent_), t);
    u.values.assign(xs.begin(), xs.end());
    stats_.valuesSent += u.values.size();
  }
  const NodeId to[1] = {peer.id};
  transport_.send(to, Message(std::move(u)));
  if (haveMask_ && compressible(t)) {
    // A repaired edge may have missed this epoch's decision (lost, or forgotten by a peer that
    // went down): resend it so the masked updates that follow decode.
    transport_.send(
        to, Message(MaskDecision{t, maskEpoch_, static_cast<uint32_t>(layout_.tensors[t].numel),
                                 ownMask_[t], false}));
  }
  peer.owedKeyframe[t] = 0;
  ++stats_.keyframesSent;
  ++stats_.updateFramesSent;
}

size_t Gossip::ownShare(uint32_t t) const {
  const size_t k = topKCount(config_.topKFraction, layout_.tensors[t].numel);
  if (config_.maskOwnFraction <= 0.0) return 0;
  const double own = std::ceil(config_.maskOwnFraction * static_cast<double>(k));
  return std::min(k, static_cast<size_t>(own));
}

size_t Gossip::votedShare(uint32_t t) const {
  return topKCount(config_.topKFraction, layout_.tensors[t].numel) - ownShare(t);
}

bool Gossip::compressible(uint32_t t) const {
  return layout_.tensors[t].numel >= config_.denseBelow;
}

void Gossip::sendUpdate(uint32_t t, uint64_t k, Compression compression, bool fp16) {
  if (!compressible(t)) compression = Compression::kDense;
  if (compression == Compression::kVotedMask) {
    // Values on the agreed mask, then the node's own largest remaining residuals with indices.
    if (!ownMask_[t].empty()) sendOne(t, k, Compression::kVotedMask, fp16);
    if (ownShare(t) > 0) sendOne(t, k, Compression::kTopK, fp16, ownShare(t));
    return;
  }
  sendOne(t, k, compression, fp16, topKCount(config_.topKFraction, layout_.tensors[t].numel));
}

void Gossip::sendOne(uint32_t t, uint64_t k, Compression compression, bool fp16, size_t topK) {
  auto x = tensorOf(params_, t);
  auto xs = tensorOf(std::span<float>(lastSent_), t);
  const size_t n = x.size();
  // A diverged model stops here, with the trainer's own words for it: neighbours would refuse
  // the values anyway, top-K cannot order NaNs, and int8 has no grid for them.
  MURMUR_ENFORCE(allFinite(std::span<const float>(x)), Error,
                 "training diverged: tensor {} ({}) holds non-finite values at step {}", t,
                 layout_.tensors[t].name, k);
  TensorUpdate u;
  u.tensor = t;
  u.seq = ++seq_[t];
  u.merged = 1;
  u.step = k;
  u.fp16 = fp16;
  switch (compression) {
    case Compression::kDense:
      u.kind = UpdateKind::kDense;
      u.values.assign(n, 0.0f);
      for (size_t i = 0; i < n; ++i) u.values[i] = x[i] - xs[i];
      if (fp16) roundToHalf(u.values);
      if (config_.int8) u.int8Scale = quantizeInt8(u.values);
      if (config_.sign) u.signScale = quantizeSign(u.values);
      // x~ follows the receiver's arithmetic exactly (x^ += d), so replica == x~ bit for bit.
      for (size_t i = 0; i < n; ++i) xs[i] += u.values[i];
      break;
    case Compression::kTopK:
    case Compression::kVotedMask: {
      if (compression == Compression::kTopK) {
        u.kind = UpdateKind::kSparse;
        u.indices = topKIndices(x, xs, topK);
      } else {
        u.kind = UpdateKind::kMasked;
        u.maskEpoch = maskEpoch_;
      }
      const auto& idx = compression == Compression::kTopK ? u.indices : ownMask_[t];
      u.values.assign(idx.size(), 0.0f);
      for (size_t i = 0; i < idx.size(); ++i) u.values[i] = x[idx[i]] - xs[idx[i]];
      if (fp16) roundToHalf(u.values);
      if (config_.int8) u.int8Scale = quantizeInt8(u.values);
      if (config_.sign) u.signScale = quantizeSign(u.values);
      for (size_t i = 0; i < idx.size(); ++i) xs[idx[i]] += u.values[i];
      break;
    }
  }
  std::vector<NodeId> to;
  for (auto& peer : peers_) {
    if (!peer.owedKeyframe[t] && transport_.isUp(peer.id)) {
      to.push_back(peer.id);
    } else {
      peer.unbroken[t] = 0;  // its keyframe will carry this delta
    }
  }
  mixStale_[t] = 0;
  if (to.empty()) return;  // x~ still moved: a peer that comes back gets it in its keyframe
  stats_.updateFramesSent += to.size();
  stats_.valuesSent += u.values.size() * to.size();
  stats_.indicesSent += u.indices.size() * to.size();
  transport_.send(to, Message(std::move(u)));
}

void Gossip::sendHeartbeat(uint64_t k) {
  stepsAnnounced_ = std::max(stepsAnnounced_, k + 1);
  const auto to = livePeers();
  if (to.empty()) return;
  transport_.send(to, Message(Heartbeat{k, completedRound_, clock_.nowNs(), k + 1}));
}

void Gossip::runMaskEpoch(uint32_t epoch) {
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());
  std::vector<std::vector<uint32_t>> own(nt);
  {
    const auto to = livePeers();
    for (uint32_t t = 0; t < nt; ++t) {
      if (!compressible(t)) continue;
      const size_t n = layout_.tensors[t].numel;
      own[t] = topKIndices(tensorOf(std::span<const float>(params_), t),
                           tensorOf(std::span<const float>(lastSent_), t),
                           topKCount(config_.topKFraction, n));
      if (!to.empty()) {
        transport_.send(to, Message(MaskVote{t, epoch, static_cast<uint32_t>(n), own[t]}));
      }
    }
  }
  auto complete = [&] {
    for (NodeId id : livePeers()) {
      for (uint32_t t = 0; t < nt; ++t) {
        if (!compressible(t)) continue;
        auto it = votes_.find({epoch, t});
        if (it == votes_.end() || !it->second.contains(id)) return false;
      }
    }
    return true;
  };
  if (!drainUntil(complete, config_.voteDeadline)) ++stats_.voteTimeouts;
  const auto to = livePeers();
  for (uint32_t t = 0; t < nt; ++t) {
    if (!compressible(t)) continue;
    std::vector<std::span<const uint32_t>> ballots{own[t]};
    auto it = votes_.find({epoch, t});
    if (it != votes_.end()) {
      for (const auto& [id, v] : it->second) ballots.emplace_back(v);
    }
    const size_t n = layout_.tensors[t].numel;
    ownMask_[t] = decideMask(ballots, tensorOf(std::span<const float>(params_), t),
                             tensorOf(std::span<const float>(lastSent_), t), votedShare(t));
    if (!to.empty()) {
      // The neighbours that were up for the vote hold own[t]: the difference is usually much
      // smaller than the mask (most of it is the node's own top-K).
      MaskDecision d{t, epoch, static_cast<uint32_t>(n), ownMask_[t], false};
      auto diff = symmetricDifference(own[t], ownMask_[t]);
      if (diff.size() < d.indices.size()) {
        d.indices = std::move(diff);
        d.againstVote = true;
        ++stats_.decisionsAgainstVote;
      }
      transport_.send(to, Message(std::move(d)));
    }
  }
  haveMask_ = true;
  maskEpoch_ = epoch;
  votes_.erase(votes_.begin(), votes_.lower_bound({epoch + 1, 0}));
  ++stats_.maskEpochs;
}

// ---------------------------------------------------------------------------------------------
// Mixing and the step hooks

void Gossip::mix(double gamma, bool force) {
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());
  std::vector<uint8_t> up(peers_.size());
  for (size_t j = 0; j < peers_.size(); ++j) up[j] = transport_.isUp(peers_[j].id) ? 1 : 0;
  std::vector<MixTerm> terms;
  for (uint32_t t = 0; t < nt; ++t) {
    double self = selfWeight_;
    terms.clear();
    for (size_t j = 0; j < peers_.size(); ++j) {
      const Peer& p = peers_[j];
      if (p.weight == 0.0) continue;
      if (up[j] && p.valid[t]) {
        terms.push_back({p.weight, tensorOf(std::span<const float>(p.replica), t)});
      } else {
        self += p.weight;  // a down or unsynchronised neighbour's weight moves to self
      }
    }
    auto x = tensorOf(params_, t);
    if (!config_.mixPublicCopies || self >= 1.0) {
      mixInto(x, self, terms);
      continue;
    }
    if (config_.publicMixFresh && mixStale_[t] && !force) {
      ++stats_.staleMixesSkipped;
      continue;
    }
    mixStale_[t] = 1;  // until a public copy of t changes
    // x <- x + gamma sum_j W_ij (x^_j - x~): the neighbours' public copies are mixed against this
    // node's public copy x~, so the part of x not yet sent (x - x~) is kept, not pulled back
    // toward the neighbours' stale coordinates; and since x^_j == x~_j, the sum of the x_i is
    // conserved exactly however much each node still holds back.
    const auto xs = tensorOf(std::span<const float>(lastSent_), t);
    const auto n = static_cast<Eigen::Index>(x.size());
    Eigen::Map<Eigen::VectorXf> xv(x.data(), n);
    Eigen::Map<const Eigen::VectorXf> sv(xs.data(), n);
    mixScratch_.resize(x.size());
    Eigen::Map<Eigen::VectorXf> rv(mixScratch_.data(), n);
    rv = xv - sv;
    const auto g = static_cast<float>(gamma);
    mixInto(x, self, terms);
    // Now x = mixed + (1 - self) r = x~ + r + sum_j W_ij (x^_j - x~); keep gamma of the step.
    xv += static_cast<float>(1.0 - self) * rv;
    xv = g * xv + (1.0f - g) * (sv + rv);
  }
  ++stats_.mixes;
}

void Gossip::beforeUpdate(uint64_t k) {
  currentStep_ = k;
  drain(std::chrono::milliseconds(0));
  if (config_.mixing == MixCadence::kEveryStep) {
    if (config_.lockstep) {
      // The neighbours' models after step k - 1, no more and no less (with lockstepSweep, the
      // lower ids' after step k).
      awaitStepsDone(k, /*sweep=*/true);
    } else if (config_.maxStepLag > 0) {
      awaitStepLag(k);
    }
    mix();
  }
}

bool Gossip::awaitStepsDone(uint64_t steps, bool sweep) {
  auto ready = [&] {
    for (const auto& p : peers_) {
      if (transport_.isUp(p.id) && p.stepsDone < steps + (sweep ? p.lead : 0)) return false;
    }
    return true;
  };
  bool ok = true;
  if (!ready()) {
    ++stats_.lockstepWaits;
    ok = drainUntil(ready, config_.roundDeadline);
    if (!ok) ++stats_.lockstepTimeouts;
  }
  foldBelow(steps);
  return ok;
}

void Gossip::awaitStepLag(uint64_t k) {
  if (k <= config_.maxStepLag) return;
  const uint64_t need = k - config_.maxStepLag;
  auto behind = [&] {
    for (const auto& p : peers_) {
      if (!transport_.isUp(p.id)) continue;
      if (!p.heard || p.lastStep < need) return true;
    }
    return false;
  };
  if (!behind()) return;
  ++stats_.lagWaits;
  if (!drainUntil([&] { return !behind(); }, config_.roundDeadline)) ++stats_.lagWaitTimeouts;
}

double Gossip::lrScale(uint64_t k) const {
  if (config_.trigger != TriggerKind::kAetRounds) return 1.0;
  return aet_.lrScale(k);
}

void Gossip::afterUpdate(uint64_t k) {
  currentStep_ = k;
  serviceKeyframes();
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());

  if (config_.compression == Compression::kVotedMask) {
    const auto epoch = static_cast<uint32_t>(k / config_.maskEvery);
    if (!haveMask_ || (k % config_.maskEvery == 0 && epoch != maskEpoch_)) {
      runMaskEpoch(epoch);
      if (config_.maskFlushEvery > 0 && (epoch + 1) % config_.maskFlushEvery == 0) {
        // After the decision, so the vote still saw the residual the flush clears.
        for (uint32_t t = 0; t < nt; ++t) {
          const auto x = tensorOf(std::span<const float>(params_), t);
          const auto xs = tensorOf(std::span<const float>(lastSent_), t);
          if (std::equal(x.begin(), x.end(), xs.begin())) continue;
          sendUpdate(t, k, Compression::kDense, config_.fp16);
          ++stats_.maskFlushes;
        }
      }
    }
  }

  bool boundary = false;
  switch (config_.trigger) {
    case TriggerKind::kAlways:
      break;
    case TriggerKind::kPeriodic:
      if ((k + 1) % config_.period == 0) {
        boundary = true;
        completedRound_ = static_cast<uint32_t>((k + 1) / config_.period);
      }
      break;
    case TriggerKind::kAetRounds: {
      const auto pos = aet_.at(k);
      if (k + 1 == pos.end) {
        boundary = true;
        completedRound_ = pos.round;
      }
      break;
    }
    case TriggerKind::kEventGrad:
      break;
  }

  for (uint32_t t = 0; t < nt; ++t) {
    bool fire = false;
    switch (config_.trigger) {
      case TriggerKind::kAlways:
        fire = true;
        break;
      case TriggerKind::kPeriodic:
      case TriggerKind::kAetRounds:
        fire = boundary;
        break;
      case TriggerKind::kEventGrad: {
        const auto x = tensorOf(std::span<const float>(params_), t);
        const auto xs = tensorOf(std::span<const float>(lastSent_), t);
        const auto n = static_cast<Eigen::Index>(x.size());
        Eigen::Map<const Eigen::VectorXf> xv(x.data(), n);
        Eigen::Map<const Eigen::VectorXf> sv(xs.data(), n);
        double delta;
        if (config_.eventgrad.metric == DeltaMetric::kNormOfDifference) {
          delta = static_cast<double>((xv - sv).norm());
        } else {
          delta = std::fabs(static_cast<double>(xv.norm()) - static_cast<double>(sv.norm()));
        }
        fire = triggers_[t].decide(k, delta);
        break;
      }
    }
    if (!fire) continue;
    ++stats_.eventsPerTensor[t];
    ++stats_.events;
    sendUpdate(t, k, config_.compression, config_.fp16);
    lastAnnounced_ = k;
  }
  if (config_.mixing == MixCadence::kEveryStep && !boundary &&
      (config_.lockstep || (config_.maxStepLag > 0 &&
                            k >= lastAnnounced_ + std::max<uint64_t>(1, config_.maxStepLag / 2)))) {
    // lockstep: the end-of-step marker every neighbour's next mix waits for. Otherwise only
    // when silent for a while (EventGraD), so the neighbours' lag bound does not wait on a node
    // that simply has nothing to send. A heartbeat is a few dozen bytes.
    sendHeartbeat(k);
    lastAnnounced_ = k;
  }

  if (boundary) {
    lastRoundEnd_ = k + 1;
    ++stats_.rounds;
    sendHeartbeat(k);
    if (config_.mixing == MixCadence::kAtRound) {
      if (config_.lockstep) {
        awaitStepsDone(k + 1);  // the neighbours' deltas of this same boundary
      } else {
        awaitRoundLead(config_.roundDeadline);
      }
      mix();
    }
  }
  ++stats_.steps;
}

uint32_t Gossip::roundsCompletedBy(uint64_t k) const {
  switch (config_.trigger) {
    case TriggerKind::kPeriodic:
      return static_cast<uint32_t>((k + 1) / config_.period);
    case TriggerKind::kAetRounds: {
      const auto pos = aet_.at(k);
      return k + 1 == pos.end ? pos.round : pos.round - 1;
    }
    case TriggerKind::kAlways:
    case TriggerKind::kEventGrad:
      break;
  }
  return 0;
}

bool Gossip::awaitRoundLead(std::chrono::milliseconds deadline) {
  auto within = [&] {
    uint32_t slowest = std::numeric_limits<uint32_t>::max();
    for (const auto& p : peers_) {
      if (transport_.isUp(p.id)) slowest = std::min(slowest, p.round);
    }
    return slowest == std::numeric_limits<uint32_t>::max() ||
           completedRound_ <= static_cast<uint64_t>(slowest) + config_.maxRoundLead;
  };
  if (within()) return true;
  ++stats_.roundWaits;
  if (drainUntil(within, deadline)) return true;
  ++stats_.roundWaitTimeouts;
  return false;
}

bool Gossip::awaitNeighbours(std::chrono::milliseconds deadline) {
  auto ready = [&] {
    for (const auto& p : peers_) {
      if (!transport_.isUp(p.id)) return false;
      for (uint8_t v : p.valid) {
        if (!v) return false;
      }
    }
    return true;
  };
  drain(std::chrono::milliseconds(0));
  return drainUntil(ready, deadline);
}

void Gossip::finish() {
  drain(std::chrono::milliseconds(0));
  if (config_.finalDense && stats_.steps > 0) {
    finalDenseExchange();
  } else if (config_.mixing == MixCadence::kAtRound && currentStep_ + 1 > lastRoundEnd_ &&
             stats_.steps > 0) {
    closeFinalRound();
  }
  if (!config_.lockstep) {
    if (!config_.finalDense || stats_.steps == 0) sendHeartbeat(currentStep_);
    return;
  }
  // The closing barrier: a node that closed its transport now would be seen down by a
  // neighbour still before its last mix, which would then leave it out (and invalidate its
  // replica): the one mix of the run that timing would decide. So each node says it is past
  // its last mix and waits, bounded, until its live neighbours are too. Every node ran the same
  // steps and the same finish, so the marker is the same number everywhere.
  const uint64_t closing = stepsAnnounced_ + 1;
  sendHeartbeat(closing - 1);
  awaitStepsDone(closing);
}

void Gossip::finalDenseExchange() {
  // Stamped one step past the last: every node runs the same steps, so "every tensor of a
  // neighbour has an update stamped k + 1" means "its final deltas are in". It also closes an
  // unfinished round, so no separate closeFinalRound.
  const uint64_t marker = currentStep_ + 1;
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());
  for (uint32_t t = 0; t < nt; ++t) sendOne(t, marker, Compression::kDense, config_.fp16);
  sendHeartbeat(marker);
  if (config_.lockstep) {
    if (!awaitStepsDone(marker + 1)) ++stats_.finalExchangeTimeouts;
    mix(1.0, /*force=*/true);
    return;
  }
  auto complete = [&] {
    for (const auto& p : peers_) {
      if (!transport_.isUp(p.id)) continue;
      for (uint32_t t = 0; t < nt; ++t) {
        if (p.updateStep[t] <= marker) return false;
      }
    }
    return true;
  };
  if (!drainUntil(complete, config_.roundDeadline)) ++stats_.finalExchangeTimeouts;
  // Replicas now hold the neighbours' x (to fp16 rounding) and x~ == x here: gamma 1 is one
  // exact averaging step, where the training-time gamma < 1 would leave most of the gap.
  mix(1.0, /*force=*/true);
}

void Gossip::closeFinalRound() {
  // The end of training is the last round's event: every tensor goes out as at a boundary
  // (even an unchanged one, so neighbours know the round is complete), then this node waits for
  // its live neighbours' final deltas and mixes once more. Without it the steps since the last
  // boundary would never be averaged, and a round method would end with each node holding its
  // own unmixed model.
  const auto nt = static_cast<uint32_t>(layout_.tensors.size());
  for (uint32_t t = 0; t < nt; ++t) sendUpdate(t, currentStep_, config_.compression, config_.fp16);
  ++stats_.rounds;
  const uint64_t want = currentStep_ + 1;
  if (config_.lockstep) {
    sendHeartbeat(currentStep_);
    if (!awaitStepsDone(want)) ++stats_.roundWaitTimeouts;
    mix();
    return;
  }
  auto complete = [&] {
    for (const auto& p : peers_) {
      if (!transport_.isUp(p.id)) continue;
      for (uint32_t t = 0; t < nt; ++t) {
        if (p.deltaStep[t] < want) return false;
      }
    }
    return true;
  };
  if (!drainUntil(complete, config_.roundDeadline)) ++stats_.roundWaitTimeouts;
  mix();
}

bool Gossip::drainUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const int64_t end =
      clock_.nowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  while (!done()) {
    const int64_t left = end - clock_.nowNs();
    if (left <= 0) return false;
    // Short slices: whatever arrives is applied at once, and the predicate is checked again.
    drain(std::chrono::milliseconds(std::clamp<int64_t>(left / 1000000, 1, 10)));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Inspection

GossipStats Gossip::stats() const {
  GossipStats s = stats_;
  s.round = completedRound_;
  const double denom = static_cast<double>(s.steps) * static_cast<double>(layout_.tensors.size());
  s.triggerRate = denom > 0 ? static_cast<double>(s.events) / denom : 0.0;
  double sum = 0;
  size_t count = 0;
  s.maxStaleness = 0;
  for (const auto& p : peers_) {
    if (!p.heard || !transport_.isUp(p.id)) continue;
    const uint64_t st = currentStep_ > p.lastStep ? currentStep_ - p.lastStep : 0;
    sum += static_cast<double>(st);
    s.maxStaleness = std::max(s.maxStaleness, st);
    ++count;
  }
  s.meanStaleness = count > 0 ? sum / static_cast<double>(count) : 0.0;
  return s;
}

double Gossip::neighbourDistance() const {
  const auto n = static_cast<Eigen::Index>(params_.size());
  Eigen::Map<const Eigen::VectorXf> x(params_.data(), n);
  double sum = 0;
  size_t count = 0;
  for (const auto& p : peers_) {
    if (!transport_.isUp(p.id)) continue;
    if (std::find(p.valid.begin(), p.valid.end(), uint8_t{0}) != p.valid.end()) continue;
    Eigen::Map<const Eigen::VectorXf> r(p.replica.data(), n);
    sum += static_cast<double>((x - r).squaredNorm());
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : std::nan("");
}

std::span<const float> Gossip::replica(NodeId peer) const {
  const Peer* p = findPeer(peer);
  MURMUR_ENFORCE(p != nullptr, InputError, "gossip: node {} is not a neighbour", peer);
  return p->replica;
}

bool Gossip::replicaValid(NodeId peer, uint32_t tensor) const {
  const Peer* p = findPeer(peer);
  MURMUR_ENFORCE(p != nullptr, InputError, "gossip: node {} is not a neighbour", peer);
  MURMUR_ENFORCE(tensor < p->valid.size(), InputError, "gossip: no tensor {}", tensor);
  return p->valid[tensor] != 0;
}

double Gossip::threshold(uint32_t tensor) const {
  MURMUR_ENFORCE(tensor < triggers_.size(), InputError, "gossip: no tensor {}", tensor);
  return triggers_[tensor].threshold();
}

const std::vector<uint32_t>& Gossip::ownMask(uint32_t tensor) const {
  MURMUR_ENFORCE(tensor < ownMask_.size(), InputError, "gossip: no tensor {}", tensor);
  return ownMask_[tensor];
}

const std::vector<uint32_t>* Gossip::peerMask(NodeId peer, uint32_t tensor, uint32_t epoch) const {
  const Peer* p = findPeer(peer);
  if (p == nullptr || tensor >= p->masks.size()) return nullptr;
  auto it = p->masks[tensor].find(epoch);
  return it == p->masks[tensor].end() ? nullptr : &it->second;
}

}  // namespace murmur::algo
