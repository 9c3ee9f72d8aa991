#pragma once
// The wire codec: murmur's message value types (common/messages.hpp) and the handshake to and
// from Cap'n Proto flat payloads (schema: net/schema/murmur.capnp). This header is capnp-free
// so the transport and tests can use it without the generated code.
//
// A payload is the single-segment Cap'n Proto serialization of one `Envelope`: a segment table
// word followed by the segment. Payload sizes are always a multiple of 8 bytes. The framing
// layer (net/framing.hpp) puts a length prefix and an optional MAC around it.
//
// Decoding validates everything structural (lengths, enum values, index order and range, varint
// overflow, element-count bombs) and throws ProtocolError naming what is wrong. It does NOT
// reject NaN/Inf values: whether those poison a replica is algo/'s decision.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/messages.hpp"

namespace murmur::net {

// Leaves new elements uninitialised on resize/construction, so a multi-megabyte payload
// buffer is written once (by the encoder or the socket) instead of being zeroed first.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// A payload or frame. Contiguous, at least 16-byte aligned storage; `Bytes b(n)` does NOT
// zero its n bytes.
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;
using Nonce = std::array<uint8_t, 32>;
using MacBytes = std::array<uint8_t, 32>;

inline constexpr size_t kDefaultMaxPayloadBytes = size_t{64} << 20;  // 64 MiB

struct DecodeLimits {
  // Payloads larger than this are rejected before Cap'n Proto sees them.
  size_t maxPayloadBytes = kDefaultMaxPayloadBytes;
  // Cap'n Proto traversal limit in words; 0 derives it from the payload (2x its words + 64),
  // which every honest message stays under and amplification attacks do not.
  uint64_t traversalLimitWords = 0;
  // Cap'n Proto pointer nesting limit; murmur's schema never nests deeper than 4.
  int nestingLimit = 16;
  // Goodbye / KeyframeRequest reasons and the cluster id are short human text.
  size_t maxTextBytes = 4096;
  // Optional: numel of each tensor of the model (index = tensor id). When set, decode also
  // checks tensor ids, dense/keyframe value counts and sparse/mask index ranges against it.
  // Empty: only the checks that need no model knowledge.
  std::vector<size_t> tensorSizes;
};

// Handshake, first frame each side sends (unauthenticated, never MAC'd).
struct Hello {
  uint32_t protocolVersion = kProtocolVersion;
  std::string clusterId;
  NodeId node = 0;
  uint64_t modelFingerprint = 0;
  Nonce nonce{};               // fresh random challenge per connection
  bool authenticated = false;  // sender has a cluster secret (frames will carry MACs)
};

// Handshake, second frame: HMAC over the transcript (see net/auth.hpp).
struct HelloProof {
  MacBytes mac{};
};

// Anything that may arrive in a payload.
using WirePayload = std::variant<Message, Hello, HelloProof>;

// Encoding. Inputs are murmur's own values: breaking an invariant of common/messages.hpp
// (unsorted indices, index >= universe, sparse values/indices length mismatch) is a bug in
// the caller and throws InternalError.
Bytes encodePayload(const Message& message);
Bytes encodeHello(const Hello& hello);
Bytes encodeHelloProof(const HelloProof& proof);

// Decoding; throws ProtocolError. Any alignment of `payload` is accepted (an unaligned one is
// copied once); FrameReader's buffers are word-aligned so they are read in place.
WirePayload decodeAny(std::span<const uint8_t> payload, const DecodeLimits& limits = {});
// Expects a Message; a handshake payload here is a ProtocolError.
Message decodePayload(std::span<const uint8_t> payload, const DecodeLimits& limits = {});
Hello decodeHello(std::span<const uint8_t> payload, const DecodeLimits& limits = {});
HelloProof decodeHelloProof(std::span<const uint8_t> payload, const DecodeLimits& limits = {});

// Which kind of message a payload carries (Hello and HelloProof are kHandshake), reading only
// the envelope's union tag. Throws ProtocolError if the payload is not a valid envelope.
MessageKind payloadKind(std::span<const uint8_t> payload, const DecodeLimits& limits = {});

// --- Building blocks, public for tests and benchmarks -------------------------------------

// Delta-varint (LEB128 of the gaps, first index absolute) of strictly increasing indices.
Bytes encodeDeltaVarint(std::span<const uint32_t> indices);
size_t deltaVarintSize(std::span<const uint32_t> indices);
// Decodes exactly `count` indices that must all be < universe and strictly increasing and use
// every byte of `data`; throws ProtocolError otherwise.
std::vector<uint32_t> decodeDeltaVarint(std::span<const uint8_t> data, uint32_t count,
                                        uint64_t universe);

// Bitmap of `universe` bits, LSB first, ceil(universe/8) bytes.
inline size_t bitmapSize(uint32_t universe) { return (size_t{universe} + 7) / 8; }

// Golomb-Rice (kGolombRice) lives in net/rice_coding.hpp.
enum class IndexEncoding : uint8_t { kDeltaVarint = 0, kBitmap = 1, kGolombRice = 2 };
// The cheapest of the three for a mask's index set; ties go to delta-varint, then bitmap.
IndexEncoding chooseIndexEncoding(std::span<const uint32_t> indices, uint32_t universe);
// The cheaper of delta-varint and Golomb-Rice for a sparse update's indices (ties: varint).
IndexEncoding chooseSparseIndexEncoding(std::span<const uint32_t> indices);

// IEEE binary16 conversion, round to nearest even, NaN stays NaN, overflow becomes Inf.
// Uses F16C when the CPU has it, portable code otherwise; both give identical bits.
void floatToHalf(std::span<const float> src, std::span<uint16_t> dst);
void halfToFloat(std::span<const uint16_t> src, std::span<float> dst);
uint16_t floatToHalfPortable(float value);
float halfToFloatPortable(uint16_t half);
bool cpuHasF16c();

}  // namespace murmur::net
