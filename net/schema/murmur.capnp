@0xf3fee043935bf8aa;
# murmur's wire format: one Envelope per frame payload (net/framing.hpp).
#
# FIELDS ARE ONLY EVER APPENDED. Never renumber, remove, rename-with-new-meaning or retype a
# field or enumerant; a new field gets the next ordinal, a new message kind the next union slot.
# Bump kProtocolVersion (common/messages.hpp) only when old nodes must be refused.
#
# Values that algo/ sends in bulk are Data blobs rather than List(Float32) so the codec can
# write and read them with one memcpy: values little-endian float32 or binary16, indices
# delta-varint (LEB128 of the gaps, the first index absolute) or a bitmap (LSB first).

$import "/capnp/c++.capnp".namespace("murmur::net::wire");

enum UpdateKind {
  dense @0;
  masked @1;
  sparse @2;
  keyframe @3;
}

enum ValueEncoding {
  float32 @0;   # 4 bytes per value, little-endian IEEE binary32
  binary16 @1;  # 2 bytes per value, little-endian IEEE binary16 (lossy)
  int8 @2;      # 1 byte per value, two's complement q in [-127, 127]; value = q * valueScale
  sign1 @3;     # 1 bit per value, LSB first: set = -valueScale, clear = +valueScale; the
                # last byte's top signPadBits bits are spare and 0
}

enum IndexEncoding {
  deltaVarint @0;  # count LEB128 gaps, first gap from 0; gaps after the first are >= 1
  bitmap @1;       # ceil(universe/8) bytes, bit i set iff index i is present
  golombRice @2;   # one byte b (0..31), then the gaps (first from 0, later minus 1) Rice-coded
                   # with parameter b: quotient in unary (ones, then a zero), b low bits, MSB
                   # first; the last byte zero-padded
}

struct TensorUpdate {
  tensor @0 :UInt32;
  seq @1 :UInt64;
  merged @2 :UInt32;
  step @3 :UInt64;
  kind @4 :UpdateKind;
  maskEpoch @5 :UInt32;
  valueEncoding @6 :ValueEncoding;
  values @7 :Data;
  indices @8 :Data;  # sparse only: as many as there are values, in indexEncoding
  digest @9 :UInt64;  # keyframe only: with no values, "the tensor hashes to this" (algo/)
  indexEncoding @10 :IndexEncoding;  # sparse only: deltaVarint or golombRice (never bitmap)
  valueScale @11 :Float32;  # int8 and sign1 values only: finite, > 0 (int8: value = float(q) *
                            # valueScale; sign1: value = +-valueScale)
  signPadBits @12 :UInt8;   # sign1 only: spare bits in the last values byte, 0-7 (0 otherwise);
                            # values = 8 * bytes - signPadBits. A UInt8 fits the data section's
                            # free bytes, so no update grows by a word
}

struct IndexSet {
  universe @0 :UInt32;
  count @1 :UInt32;
  encoding @2 :IndexEncoding;
  data @3 :Data;
}

struct MaskVote {
  tensor @0 :UInt32;
  epoch @1 :UInt32;
  indices @2 :IndexSet;
}

struct MaskDecision {
  tensor @0 :UInt32;
  epoch @1 :UInt32;
  indices @2 :IndexSet;
  againstVote @3 :Bool;  # indices: the symmetric difference from the sender's own MaskVote of
                         # the same tensor and epoch (sent before it on the same edge)
}

struct Heartbeat {
  step @0 :UInt64;
  round @1 :UInt32;
  sentNs @2 :Int64;
  stepsDone @3 :UInt64;  # steps the sender's gossip has finished sending for (k + 1 after step
                         # k's frames); 0: not stated (the transport's own idle heartbeats)
}

struct Goodbye {
  reason @0 :Text;
}

struct KeyframeRequest {
  tensor @0 :UInt32;
  reason @1 :Text;
}

struct Hello {
  protocolVersion @0 :UInt32;
  clusterId @1 :Text;
  nodeId @2 :UInt32;
  modelFingerprint @3 :UInt64;
  nonce @4 :Data;  # 32 bytes
  authenticated @5 :Bool;
}

struct HelloProof {
  mac @0 :Data;  # 32 bytes, HMAC-SHA256 (net/auth.hpp)
}

struct Envelope {
  union {
    hello @0 :Hello;
    helloProof @1 :HelloProof;
    tensorUpdate @2 :TensorUpdate;
    maskVote @3 :MaskVote;
    maskDecision @4 :MaskDecision;
    heartbeat @5 :Heartbeat;
    goodbye @6 :Goodbye;
    keyframeRequest @7 :KeyframeRequest;
  }
}
