#pragma once
// The messages nodes exchange, as plain value types. algo/ builds and reads these; net/ is the
// only place that turns them into bytes (Cap'n Proto, net/schema/murmur.capnp). Adding a field
// here means appending one to the schema, never renumbering.

#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace murmur {

using NodeId = uint32_t;

inline constexpr uint32_t kProtocolVersion = 1;
// Tensor index meaning "the whole flat parameter vector" (masks voted over all parameters).
inline constexpr uint32_t kAllTensors = 0xFFFFFFFFu;

enum class UpdateKind : uint8_t {
  kDense = 0,     // values.size() == numel(tensor); a delta the receiver adds to its replica
  kMasked = 1,    // values on the agreed mask of maskEpoch, in index order; a delta to add
  kSparse = 2,    // values[i] is added at indices[i]; indices strictly increasing
  kKeyframe = 3,  // values.size() == numel(tensor); the sender's full tensor, replaces the replica
};

struct TensorUpdate {
  uint32_t tensor = 0;  // index into the model's tensor list (identical on every node)
  uint64_t seq = 0;     // last sequence number folded into this update, per (sender, tensor, edge)
  uint32_t merged = 1;  // how many consecutive updates this one carries: seq-merged+1 .. seq
  uint64_t step = 0;    // sender's training step when it was produced
  UpdateKind kind = UpdateKind::kDense;
  uint32_t maskEpoch = 0;  // kMasked: which agreed mask the values sit on
  bool fp16 = false;       // carry values as IEEE binary16 on the wire (lossy)
  // Nonzero: values travel as int8 q with value == float(q) * int8Scale, |q| <= 127; the sender
  // has put every value on that grid already (algo's quantizeInt8). Exclusive with fp16.
  // Must pass validInt8Scale.
  float int8Scale = 0.0f;
  // Nonzero: values travel as one sign bit each, every value being +signScale or -signScale;
  // the sender has put them there (algo's quantizeSign). Exclusive with fp16 and int8. Must
  // pass validSignScale.
  float signScale = 0.0f;
  std::vector<float> values;
  std::vector<uint32_t> indices;  // kSparse only
  // kKeyframe only, 0 otherwise. Nonzero with no values: "my copy of this tensor hashes to
  // `digest`" (tensorDigest); a receiver holding a tensor with that hash uses its own, any other
  // asks for the full keyframe. Saves the start-up keyframes when every node starts from the
  // same seed.
  uint64_t digest = 0;
};

// The int8 scales both ends can use: a normal float (a denormal scale has no finite inverse
// and its grid values lose bits, so encode(decode(x)) would differ from x) with 127 * scale
// still finite.
inline bool validInt8Scale(float scale) {
  return std::isnormal(scale) && scale > 0.0f && std::isfinite(127.0f * scale);
}

// The sign scales both ends can use: a normal, finite, positive float.
inline bool validSignScale(float scale) { return std::isnormal(scale) && scale > 0.0f; }

// A node's votes (or decision) for the top-K mask of one tensor (or kAllTensors) for one epoch.
// indices are strictly increasing and < universe; the codec picks bitmap or delta-varint.
struct MaskVote {
  uint32_t tensor = 0;
  uint32_t epoch = 0;
  uint32_t universe = 0;
  std::vector<uint32_t> indices;
};
struct MaskDecision {
  uint32_t tensor = 0;
  uint32_t epoch = 0;
  uint32_t universe = 0;
  std::vector<uint32_t> indices;
  // indices is the symmetric difference between the decided mask and the sender's own vote for
  // (tensor, epoch), which the receiver got just before: a node's decision mostly repeats its
  // vote, so the difference is a fraction of the mask.
  bool againstVote = false;
};

struct Heartbeat {
  uint64_t step = 0;
  uint32_t round = 0;  // AET-SGD round (0 for other methods)
  int64_t sentNs = 0;  // sender's clock, for round-trip estimates only
  // Sent by algo after the last frame of its step k: k + 1, "every frame of steps < k + 1 is
  // ahead of this one on the edge" (lock-step gossip waits on it). 0: not stated (transport
  // keep-alives, whose step is only the trainer's progress).
  uint64_t stepsDone = 0;
};

struct Goodbye {
  std::string reason;
};

// Receiver saw a gap, a rejected update, or lost its replica: asks for a keyframe of `tensor`
// (kAllTensors: every tensor).
struct KeyframeRequest {
  uint32_t tensor = kAllTensors;
  std::string reason;
};

using Message =
    std::variant<TensorUpdate, MaskVote, MaskDecision, Heartbeat, Goodbye, KeyframeRequest>;

// For counters: one slot per message kind on the wire, handshake/auth frames included.
enum class MessageKind : uint8_t {
  kHandshake = 0,
  kTensorUpdate,
  kMaskVote,
  kMaskDecision,
  kHeartbeat,
  kGoodbye,
  kKeyframeRequest,
  kCount
};

inline MessageKind kindOf(const Message& m) {
  return static_cast<MessageKind>(static_cast<uint8_t>(m.index()) + 1);
}
const char* toString(MessageKind kind);

}  // namespace murmur
