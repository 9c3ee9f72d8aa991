#pragma once
// One peer's outbound queue of encoded frames, with bounded memory. Payloads are shared between
// the peers a message was sent to (encoded once). When a peer falls behind (appending would pass
// the byte bound), a new message is MERGED into what is still queued instead of being dropped:
//   - dense/keyframe + dense delta, masked + masked (same mask epoch), sparse + sparse, and
//     dense/keyframe + sparse are summed into the last queued update of that tensor;
//     sparse + dense becomes dense (a delta, summed);
//   - a keyframe supersedes every queued update of its tensor;
//   - a heartbeat supersedes a queued heartbeat (keeping the larger step and round).
// seq becomes the newest seq, merged the sum of the merged counts, step the newest step, so the
// receiver's gap detection (seq - merged + 1 follows the previous seq) keeps working.
// Not thread-safe: the transport guards it with its per-peer mutex (the only hand-off between
// the trainer thread and the I/O thread).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "common/messages.hpp"
#include "net/codec.hpp"

namespace murmur::net {

struct OutFrame {
  std::shared_ptr<const Bytes> payload;
  MessageKind kind = MessageKind::kTensorUpdate;
  // What merging needs to know without decoding (TensorUpdates only).
  bool isUpdate = false;
  uint32_t tensor = 0;
  UpdateKind updateKind = UpdateKind::kDense;
  uint32_t merged = 1;

  static OutFrame of(const Message& message, std::shared_ptr<const Bytes> payload);
};

class WriteQueue {
 public:
  // frameOverhead: bytes each frame adds on the wire besides its payload (header, MAC).
  WriteQueue(size_t maxBytes, size_t frameOverhead)
      : maxBytes_(maxBytes), overhead_(frameOverhead) {}

  bool fits(size_t payloadBytes) const { return bytes_ + payloadBytes + overhead_ <= maxBytes_; }
  void append(OutFrame frame);
  // Folds `message` (whose encoding is `payload`) into what is queued; true if it was absorbed
  // (the caller must then not append it). Throws ProtocolError only if a queued payload no
  // longer decodes, which would be a bug.
  bool tryMerge(const Message& message, const std::shared_ptr<const Bytes>& payload);

  std::optional<OutFrame> pop();
  void clear();

  bool empty() const { return frames_.empty(); }
  size_t frames() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }  // wire bytes queued (payload + overhead)
  size_t maxBytes() const { return maxBytes_; }
  uint64_t merges() const { return merges_; }

 private:
  size_t wire(const OutFrame& f) const { return f.payload->size() + overhead_; }
  void replace(size_t index, OutFrame frame);

  size_t maxBytes_;
  size_t overhead_;
  std::deque<OutFrame> frames_;
  size_t bytes_ = 0;
  uint64_t merges_ = 0;
};

// Sums update `next` into `into` (same tensor) if the kinds combine (see above); false leaves
// `into` unchanged. Public for tests.
bool mergeUpdates(TensorUpdate& into, const TensorUpdate& next);

}  // namespace murmur::net
