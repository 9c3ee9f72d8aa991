// libFuzzer target: arbitrary bytes through the FrameReader (in fuzzer-chosen chunk sizes,
// with or without MACs) and every complete frame through the decoder. Oracles: nothing but
// ProtocolError may escape, ASan finds memory errors, and whatever decodes re-encodes to a
// payload that decodes to the same value. Built and run by scripts/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <variant>

#include "common/error.hpp"
#include "net/codec.hpp"
#include "net/framing.hpp"

namespace {

using namespace murmur;
using namespace murmur::net;

[[noreturn]] void fail(const char* what) {
  __builtin_trap();
  (void)what;
}

bool sameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool same(const Message& x, const Message& y) {
  if (x.index() != y.index()) return false;
  if (auto* a = std::get_if<TensorUpdate>(&x)) {
    auto& b = std::get<TensorUpdate>(y);
    return a->tensor == b.tensor && a->seq == b.seq && a->merged == b.merged && a->step == b.step &&
           a->kind == b.kind && a->maskEpoch == b.maskEpoch && a->fp16 == b.fp16 &&
           a->indices == b.indices && sameFloats(a->values, b.values);
  }
  if (auto* a = std::get_if<MaskVote>(&x)) {
    auto& b = std::get<MaskVote>(y);
    return a->tensor == b.tensor && a->epoch == b.epoch && a->universe == b.universe &&
           a->indices == b.indices;
  }
  if (auto* a = std::get_if<MaskDecision>(&x)) {
    auto& b = std::get<MaskDecision>(y);
    return a->tensor == b.tensor && a->epoch == b.epoch && a->universe == b.universe &&
           a->indices == b.indices;
  }
  if (auto* a = std::get_if<Heartbeat>(&x)) {
    auto& b = std::get<Heartbeat>(y);
    return a->step == b.step && a->round == b.round && a->sentNs == b.sentNs;
  }
  if (auto* a = std::get_if<Goodbye>(&x)) return a->reason == std::get<Goodbye>(y).reason;
  auto& a = std::get<KeyframeRequest>(x);
  auto& b = std::get<KeyframeRequest>(y);
  return a.tensor == b.tensor && a.reason == b.reason;
}

void checkPayload(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  WirePayload decoded;
  try {
    decoded = decodeAny(payload, limits);
  } catch (const ProtocolError&) {
    return;  // rejected with a reason: the expected outcome for almost every input
  }
  // Accepted: the kind is readable, and re-encoding is stable.
  MessageKind kind = payloadKind(payload, limits);
  if (auto* m = std::get_if<Message>(&decoded)) {
    if (kind != kindOf(*m)) fail("payloadKind disagrees with decodeAny");
    Bytes again = encodePayload(*m);
    if (!same(*m, decodePayload(again, limits))) fail("re-encoded message differs");
  } else if (auto* h = std::get_if<Hello>(&decoded)) {
    Hello back = decodeHello(encodeHello(*h), limits);
    if (back.clusterId != h->clusterId || back.nonce != h->nonce || back.node != h->node ||
        back.modelFingerprint != h->modelFingerprint ||
        back.protocolVersion != h->protocolVersion || back.authenticated != h->authenticated) {
      fail("re-encoded hello differs");
    }
  } else {
    auto& p = std::get<HelloProof>(decoded);
    if (decodeHelloProof(encodeHelloProof(p), limits).mac != p.mac) fail("proof differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Byte 0: bit 0 MACs on, bit 1 model-aware limits, bits 2..7 chunk size; byte 1: raw mode.
  const uint8_t control = data[0];
  const bool rawPayload = (data[1] & 1) != 0;
  std::span<const uint8_t> rest(data + 2, size - 2);

  DecodeLimits limits;
  limits.maxPayloadBytes = 1 << 20;
  if (control & 2) limits.tensorSizes = {1, 10, 1000, 65536};

  if (rawPayload) {
    checkPayload(rest, limits);
    return 0;
  }
  try {
    FrameReader reader(limits.maxPayloadBytes, (control & 1) != 0);
    size_t chunk = 1 + (control >> 2) * 7;
    for (size_t pos = 0; pos < rest.size(); pos += chunk) {
      reader.feed(rest.subspan(pos, std::min(chunk, rest.size() - pos)));
      while (auto frame = reader.next()) {
        if (frame->payload.size() % 8 != 0) fail("unaligned frame length");
        if (reinterpret_cast<uintptr_t>(frame->payload.data()) % 8 != 0) fail("unaligned frame");
        checkPayload(frame->payload, limits);
      }
    }
  } catch (const ProtocolError&) {
    // bad header: the connection would be dropped
  }
  return 0;
}
