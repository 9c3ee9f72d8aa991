#include "net/write_queue.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace murmur::net {

OutFrame OutFrame::of(const Message& message, std::shared_ptr<const Bytes> payload) {
  OutFrame f;
  f.payload = std::move(payload);
  f.kind = kindOf(message);
  if (const auto* u = std::get_if<TensorUpdate>(&message)) {
    f.isUpdate = true;
    f.tensor = u->tensor;
    f.updateKind = u->kind;
    f.merged = u->merged;
  }
  return f;
}

namespace {

void addSparse(std::vector<float>& dense, const TensorUpdate& sparse) {
  for (size_t i = 0; i < sparse.indices.size(); ++i) dense[sparse.indices[i]] += sparse.values[i];
}

bool sparseFits(const TensorUpdate& sparse, size_t n) {
  return sparse.indices.empty() || sparse.indices.back() < n;
}

// See mergeUpdates' comment on fp16: the same holds for every lossy value encoding.
void asFloat32(TensorUpdate& u) {
  u.fp16 = false;
  u.int8Scale = 0.0f;
  u.signScale = 0.0f;
}

}  // namespace

// fp16, int8 and sign: each queued update was rounded by its sender (to half precision, its
// int8 grid or +-scale), which mirrored exactly that rounding in its copy of what the receiver
// holds. A sum of two rounded updates is not on any such grid; rounding it again would make the
// receiver's replica drift from the sender's copy with nothing to repair it. So a merged update
// always travels as float32 (asFloat32).
bool mergeUpdates(TensorUpdate& into, const TensorUpdate& next) {
  if (into.tensor != next.tensor) return false;
  const uint32_t mergedCount = into.merged + next.merged;
  using K = UpdateKind;
  if (next.kind == K::kKeyframe) {
    into = next;  // the full tensor makes every earlier delta moot
  } else if ((into.kind == K::kDense || into.kind == K::kKeyframe) && next.kind == K::kDense) {
    if (into.values.size() != next.values.size()) return false;
    for (size_t i = 0; i < into.values.size(); ++i) into.values[i] += next.values[i];
    into.step = next.step;
    asFloat32(into);
  } else if (into.kind == K::kMasked && next.kind == K::kMasked) {
    if (into.maskEpoch != next.maskEpoch || into.values.size() != next.values.size()) return false;
    for (size_t i = 0; i < into.values.size(); ++i) into.values[i] += next.values[i];
    into.step = next.step;
    asFloat32(into);
  } else if ((into.kind == K::kDense || into.kind == K::kKeyframe) && next.kind == K::kSparse) {
    if (!sparseFits(next, into.values.size())) return false;
    addSparse(into.values, next);
    into.step = next.step;
    asFloat32(into);
  } else if (into.kind == K::kSparse && next.kind == K::kDense) {
    if (!sparseFits(into, next.values.size())) return false;
    TensorUpdate sum = next;
    addSparse(sum.values, into);
    asFloat32(sum);
    into = std::move(sum);
  } else if (into.kind == K::kSparse && next.kind == K::kSparse) {
    TensorUpdate sum = next;
    sum.indices.clear();
    sum.values.clear();
    sum.indices.reserve(into.indices.size() + next.indices.size());
    sum.values.reserve(into.indices.size() + next.indices.size());
    size_t a = 0;
    size_t b = 0;
    while (a < into.indices.size() || b < next.indices.size()) {
      if (b == next.indices.size() ||
          (a < into.indices.size() && into.indices[a] < next.indices[b])) {
        sum.indices.push_back(into.indices[a]);
        sum.values.push_back(into.values[a++]);
      } else if (a == into.indices.size() || next.indices[b] < into.indices[a]) {
        sum.indices.push_back(next.indices[b]);
        sum.values.push_back(next.values[b++]);
      } else {
        sum.indices.push_back(into.indices[a]);
        sum.values.push_back(into.values[a++] + next.values[b++]);
      }
    }
    asFloat32(sum);
    into = std::move(sum);
  } else {
    return false;
  }
  into.seq = next.seq;
  into.merged = mergedCount;
  return true;
}

void WriteQueue::append(OutFrame frame) {
  bytes_ += wire(frame);
  frames_.push_back(std::move(frame));
}

void WriteQueue::replace(size_t index, OutFrame frame) {
  bytes_ -= wire(frames_[index]);
  bytes_ += wire(frame);
  frames_[index] = std::move(frame);
}

bool WriteQueue::tryMerge(const Message& message, const std::shared_ptr<const Bytes>& payload) {
  if (const auto* hb = std::get_if<Heartbeat>(&message)) {
    for (size_t i = frames_.size(); i-- > 0;) {
      if (frames_[i].kind != MessageKind::kHeartbeat) continue;
      // The newer heartbeat wins, but never moves the step or round backwards (the
      // transport's own idle heartbeats carry round 0; algo's carry its AET-SGD round).
      const auto old = std::get<Heartbeat>(decodePayload(*frames_[i].payload));
      if (old.step <= hb->step && old.round <= hb->round && old.stepsDone <= hb->stepsDone) {
        replace(i, OutFrame::of(message, payload));
      } else {
        const Message m{Heartbeat{std::max(old.step, hb->step), std::max(old.round, hb->round),
                                  hb->sentNs, std::max(old.stepsDone, hb->stepsDone)}};
        replace(i, OutFrame::of(m, std::make_shared<const Bytes>(encodePayload(m))));
      }
      ++merges_;
      return true;
    }
    return false;
  }
  const auto* next = std::get_if<TensorUpdate>(&message);
  if (!next) return false;

  if (next->kind == UpdateKind::kKeyframe) {
    // Supersede every queued update of the tensor; the keyframe takes the place of the last one.
    std::optional<size_t> last;
    uint32_t mergedCount = next->merged;
    for (size_t i = 0; i < frames_.size(); ++i) {
      if (frames_[i].isUpdate && frames_[i].tensor == next->tensor) {
        last = i;
        mergedCount += frames_[i].merged;
      }
    }
    if (!last) return false;
    TensorUpdate key = *next;
    key.merged = mergedCount;
    const Message m{std::move(key)};
    replace(*last, OutFrame::of(m, std::make_shared<const Bytes>(encodePayload(m))));
    for (size_t i = *last; i-- > 0;) {
      if (frames_[i].isUpdate && frames_[i].tensor == next->tensor) {
        bytes_ -= wire(frames_[i]);
        frames_.erase(frames_.begin() + static_cast<std::ptrdiff_t>(i));
        ++merges_;
      }
    }
    ++merges_;
    return true;
  }

  for (size_t i = frames_.size(); i-- > 0;) {
    if (!frames_[i].isUpdate || frames_[i].tensor != next->tensor) continue;
    // Only the newest queued update of the tensor is a candidate: folding into an older one
    // would reorder it with the updates in between.
    Message queued = decodePayload(*frames_[i].payload);
    auto& into = std::get<TensorUpdate>(queued);
    if (!mergeUpdates(into, *next)) return false;
    replace(i, OutFrame::of(queued, std::make_shared<const Bytes>(encodePayload(queued))));
    ++merges_;
    return true;
  }
  return false;
}

std::optional<OutFrame> WriteQueue::pop() {
  if (frames_.empty()) return std::nullopt;
  OutFrame f = std::move(frames_.front());
  frames_.pop_front();
  bytes_ -= wire(f);
  return f;
}

void WriteQueue::clear() {
  frames_.clear();
  bytes_ = 0;
}

}  // namespace murmur::net
