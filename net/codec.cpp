// The codec: the only translation unit besides framing that sees the generated Cap'n Proto
// code. kj::Exception is caught once, in withEnvelope(), and rethrown as ProtocolError.

#include "net/codec.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <optional>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define MURMUR_HAVE_X86 1
#endif

#include "common/error.hpp"
#include "net/rice_coding.hpp"
#include "net/schema/murmur.capnp.h"

namespace murmur::net {

static_assert(std::endian::native == std::endian::little,
              "the wire carries little-endian floats and the codec memcpy's them");

namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);
// Envelope + body struct + pointers + segment table: generous, the builder spills into a second
// segment (then copied once more) only if this is wrong.
constexpr size_t kOverheadWords = 48;

// Cap'n Proto list element counts are 29 bits.
constexpr size_t kMaxBlobBytes = (size_t{1} << 29) - 1;

size_t wordsFor(size_t bytes) { return (bytes + kWordBytes - 1) / kWordBytes; }

// Builds the message straight into the output vector: segment table word, then one segment
// sized from an estimate, so encoding a bulk update writes each value byte once.
// Cap'n Proto requires segments to be zeroed. In bulk mode only the first kOverheadWords are
// zeroed up front (where the envelope and body structs land); the caller reports the values
// blob with valuesWritten() right after filling it, and everything else is zeroed then, before
// anything else is allocated.
class VectorMessageBuilder final : public capnp::MessageBuilder {
 public:
  enum class Zero { kAll, kBulkValues };

  explicit VectorMessageBuilder(size_t estimateWords, Zero zero = Zero::kAll)
      : out_(kWordBytes * (1 + estimateWords)) {
    size_t zeroBytes =
        zero == Zero::kAll ? out_.size() : std::min(out_.size(), kWordBytes * (1 + kOverheadWords));
    std::memset(out_.data(), 0, zeroBytes);
    zeroedEnd_ = out_.data() + zeroBytes;
  }

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimumSize) override {
    if (!firstTaken_) {
      firstTaken_ = true;
      size_t words = out_.size() / kWordBytes - 1;
      if (words >= minimumSize) {
        return kj::arrayPtr(firstSegment(), words);
      }
    }
    size_t words = std::max<size_t>(minimumSize, 1024);
    auto& seg = spill_.emplace_back(std::make_unique<capnp::word[]>(words));  // zeroed
    return kj::arrayPtr(seg.get(), words);
  }

  // The bulk values blob [p, p + n) has been fully written: zero the rest of the segment.
  void valuesWritten(const uint8_t* p, size_t n) {
    uint8_t* begin = out_.data();
    uint8_t* end = begin + out_.size();
    if (p >= begin && p + n <= end) {
      uint8_t* blobStart = begin + (p - begin);
      if (blobStart > zeroedEnd_) {
        std::memset(zeroedEnd_, 0, static_cast<size_t>(blobStart - zeroedEnd_));
      }
      uint8_t* after = std::max(blobStart + n, zeroedEnd_);
      std::memset(after, 0, static_cast<size_t>(end - after));
    } else if (zeroedEnd_ < end) {
      std::memset(zeroedEnd_, 0, static_cast<size_t>(end - zeroedEnd_));
    }
    zeroedEnd_ = end;
  }

  Bytes finish() {
    MURMUR_CHECK(zeroedEnd_ == out_.data() + out_.size(),
                 "bulk-mode message finished without valuesWritten()");
    auto segments = getSegmentsForOutput();
    if (segments.size() == 1 && segments[0].begin() == firstSegment()) {
      uint32_t table[2] = {0, static_cast<uint32_t>(segments[0].size())};
      std::memcpy(out_.data(), table, sizeof table);
      out_.resize(kWordBytes * (1 + segments[0].size()));
      return std::move(out_);
    }
    auto flat = capnp::messageToFlatArray(segments);
    auto bytes = flat.asBytes();
    Bytes out(bytes.size());
    std::memcpy(out.data(), bytes.begin(), bytes.size());
    return out;
  }

 private:
  capnp::word* firstSegment() { return reinterpret_cast<capnp::word*>(out_.data() + kWordBytes); }

  Bytes out_;
  uint8_t* zeroedEnd_ = nullptr;
  bool firstTaken_ = false;
  std::vector<std::unique_ptr<capnp::word[]>> spill_;
};

void checkStrictlyIncreasing(std::span<const uint32_t> indices, uint64_t universe,
                             const char* what) {
  for (size_t i = 0; i < indices.size(); ++i) {
    MURMUR_CHECK(indices[i] < universe, "{}: index {} at position {} is >= universe {}", what,
                 indices[i], i, universe);
    MURMUR_CHECK(i == 0 || indices[i] > indices[i - 1],
                 "{}: indices not strictly increasing at position {} ({} after {})", what, i,
                 indices[i], indices[i - 1]);
  }
}

size_t varintLength(uint32_t v) {
  return 1 + (v >= (1u << 7)) + (v >= (1u << 14)) + (v >= (1u << 21)) + (v >= (1u << 28));
}

uint8_t* writeDeltaVarint(std::span<const uint32_t> indices, uint8_t* out) {
  uint32_t prev = 0;
  for (uint32_t index : indices) {
    uint32_t gap = index - prev;
    prev = index;
    while (gap >= 0x80) {
      *out++ = static_cast<uint8_t>(gap | 0x80);
      gap >>= 7;
    }
    *out++ = static_cast<uint8_t>(gap);
  }
  return out;
}

std::span<const uint8_t> asSpan(capnp::Data::Reader data) { return {data.begin(), data.size()}; }

static_assert(static_cast<uint16_t>(wire::IndexEncoding::DELTA_VARINT) ==
                  static_cast<uint16_t>(IndexEncoding::kDeltaVarint) &&
              static_cast<uint16_t>(wire::IndexEncoding::BITMAP) ==
                  static_cast<uint16_t>(IndexEncoding::kBitmap) &&
              static_cast<uint16_t>(wire::IndexEncoding::GOLOMB_RICE) ==
                  static_cast<uint16_t>(IndexEncoding::kGolombRice));

// An index list's encoding, decided once: the builder is sized from `bytes` before writing.
struct IndexPlan {
  IndexEncoding encoding = IndexEncoding::kDeltaVarint;
  size_t bytes = 0;
  unsigned riceParameter = 0;
};

// The smallest encoding; no universe means no bitmap (sparse updates). Ties keep the older
// encodings, so sets where Rice gains nothing look as they did before it existed.
// `indices` must already be known to be strictly increasing.
IndexPlan planIndices(std::span<const uint32_t> indices, std::optional<uint32_t> universe) {
  IndexPlan plan{IndexEncoding::kDeltaVarint, deltaVarintSize(indices), 0};
  if (universe && bitmapSize(*universe) < plan.bytes) {
    plan = {IndexEncoding::kBitmap, bitmapSize(*universe), 0};
  }
  unsigned b = bestRiceParameter(indices);
  size_t rice = riceSize(indices, b);
  if (rice < plan.bytes) plan = {IndexEncoding::kGolombRice, rice, b};
  return plan;
}

// Writes plan.bytes bytes; the bitmap case needs `out` zeroed (the builder's blobs are).
void writeIndices(const IndexPlan& plan, std::span<const uint32_t> indices,
                  std::span<uint8_t> out) {
  switch (plan.encoding) {
    case IndexEncoding::kDeltaVarint:
      writeDeltaVarint(indices, out.data());
      return;
    case IndexEncoding::kBitmap:
      for (uint32_t i : indices) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      return;
    case IndexEncoding::kGolombRice:
      writeRice(indices, plan.riceParameter, out);
      return;
  }
}

// --- fp16 ------------------------------------------------------------------------------

#ifdef MURMUR_HAVE_X86
__attribute__((target("avx,f16c"))) void floatToHalfF16c(const float* src, uint16_t* dst,
                                                         size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  if (i < n) {
    float tail[8] = {};
    uint16_t out[8];
    std::memcpy(tail, src + i, (n - i) * sizeof(float));
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(tail), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), h);
    std::memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
  }
}

__attribute__((target("avx,f16c"))) void halfToFloatF16c(const uint16_t* src, float* dst,
                                                         size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  if (i < n) {
    uint16_t tail[8] = {};
    float out[8];
    std::memcpy(tail, src + i, (n - i) * sizeof(uint16_t));
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail))));
    std::memcpy(dst + i, out, (n - i) * sizeof(float));
  }
}
#endif

// --- decode helpers ----------------------------------------------------------------------

uint64_t universeOf(const DecodeLimits& limits, uint32_t tensor) {
  if (limits.tensorSizes.empty() || tensor == kAllTensors) return uint64_t{1} << 32;
  return limits.tensorSizes[tensor];
}

void checkTensorId(const DecodeLimits& limits, uint32_t tensor, bool allowAll, const char* what) {
  if (limits.tensorSizes.empty()) return;
  if (allowAll && tensor == kAllTensors) return;
  MURMUR_ENFORCE(tensor < limits.tensorSizes.size(), ProtocolError,
                 "{}: tensor id {} out of range (model has {} tensors)", what, tensor,
                 limits.tensorSizes.size());
}

std::string readText(capnp::Text::Reader text, const DecodeLimits& limits, const char* what) {
  MURMUR_ENFORCE(text.size() <= limits.maxTextBytes, ProtocolError,
                 "{}: text of {} bytes exceeds the limit of {}", what, text.size(),
                 limits.maxTextBytes);
  return std::string(text.cStr(), text.size());
}

// A sparse update's indices, in the encoding its indexEncoding field names.
std::vector<uint32_t> readSparseIndices(wire::TensorUpdate::Reader r, uint32_t tensor,
                                        uint32_t count, uint64_t universe) {
  auto data = asSpan(r.getIndices());
  auto encRaw = static_cast<uint16_t>(r.getIndexEncoding());
  if (encRaw == static_cast<uint16_t>(IndexEncoding::kDeltaVarint)) {
    return decodeDeltaVarint(data, count, universe);
  }
  if (encRaw == static_cast<uint16_t>(IndexEncoding::kGolombRice)) {
    return decodeRice(data, count, universe);
  }
  MURMUR_ENFORCE(encRaw != static_cast<uint16_t>(IndexEncoding::kBitmap), ProtocolError,
                 "sparse update for tensor {}: bitmap index encoding (sparse indices are "
                 "delta-varint or golomb-rice)",
                 tensor);
  throw ProtocolError(
      fmt::format("sparse update for tensor {}: unknown index encoding {}", tensor, encRaw));
}

TensorUpdate readTensorUpdate(wire::TensorUpdate::Reader r, const DecodeLimits& limits) {
  TensorUpdate u;
  u.tensor = r.getTensor();
  u.seq = r.getSeq();
  u.merged = r.getMerged();
  u.step = r.getStep();
  u.maskEpoch = r.getMaskEpoch();
  u.digest = r.getDigest();
  auto kindRaw = static_cast<uint16_t>(r.getKind());
  MURMUR_ENFORCE(kindRaw <= static_cast<uint16_t>(UpdateKind::kKeyframe), ProtocolError,
                 "tensor update: unknown update kind {}", kindRaw);
  u.kind = static_cast<UpdateKind>(kindRaw);
  auto encRaw = static_cast<uint16_t>(r.getValueEncoding());
  MURMUR_ENFORCE(encRaw <= 3, ProtocolError, "tensor update: unknown value encoding {}", encRaw);
  u.fp16 = encRaw == 1;
  const bool int8 = encRaw == 2;
  const bool sign = encRaw == 3;
  const float scale = r.getValueScale();
  if (int8) {
    MURMUR_ENFORCE(validInt8Scale(scale), ProtocolError,
                   "tensor update for tensor {}: int8 values with scale {} (want a normal "
                   "float with 127 * scale finite)",
                   u.tensor, scale);
    u.int8Scale = scale;
  } else if (sign) {
    MURMUR_ENFORCE(validSignScale(scale), ProtocolError,
                   "tensor update for tensor {}: sign values with scale {} (want a normal "
                   "positive float)",
                   u.tensor, scale);
    u.signScale = scale;
  } else {
    MURMUR_ENFORCE(scale == 0.0f, ProtocolError,
                   "tensor update for tensor {}: a value scale without int8 or sign values",
                   u.tensor);
  }
  const unsigned pad = r.getSignPadBits();
  MURMUR_ENFORCE(sign || pad == 0, ProtocolError,
                 "tensor update for tensor {}: sign padding bits without sign values", u.tensor);
  checkTensorId(limits, u.tensor, false, "tensor update");

  auto values = r.getValues();
  size_t count = 0;
  if (sign) {
    MURMUR_ENFORCE(pad <= 7 && (pad == 0 || values.size() > 0), ProtocolError,
                   "tensor update for tensor {}: {} sign padding bits on {} value bytes (want "
                   "0-7, and 0 with no bytes)",
                   u.tensor, pad, values.size());
    count = values.size() * 8 - pad;
    MURMUR_ENFORCE(u.kind != UpdateKind::kKeyframe, ProtocolError,
                   "tensor update for tensor {}: a keyframe with sign values (keyframes carry "
                   "the tensor itself)",
                   u.tensor);
    if (count % 8 != 0) {
      const auto spare = static_cast<uint8_t>(0xFFu << (count % 8));
      MURMUR_ENFORCE((values[values.size() - 1] & spare) == 0, ProtocolError,
                     "tensor update for tensor {}: spare sign bits set after value {}", u.tensor,
                     count);
    }
  } else {
    const size_t elem = int8 ? 1 : u.fp16 ? sizeof(uint16_t) : sizeof(float);
    MURMUR_ENFORCE(values.size() % elem == 0, ProtocolError,
                   "tensor update for tensor {}: {} value bytes is not a multiple of {}", u.tensor,
                   values.size(), elem);
    count = values.size() / elem;
  }
  MURMUR_ENFORCE(u.digest == 0 || u.kind == UpdateKind::kKeyframe, ProtocolError,
                 "tensor update for tensor {}: a digest on an update that is not a keyframe",
                 u.tensor);
  // A digest keyframe carries no values: "my copy hashes to this" (see TensorUpdate::digest).
  const bool digestOnly = u.kind == UpdateKind::kKeyframe && u.digest != 0 && count == 0;
  if (!limits.tensorSizes.empty() && !digestOnly &&
      (u.kind == UpdateKind::kDense || u.kind == UpdateKind::kKeyframe)) {
    MURMUR_ENFORCE(count == limits.tensorSizes[u.tensor], ProtocolError,
                   "tensor update for tensor {}: {} values, the tensor has {}", u.tensor, count,
                   limits.tensorSizes[u.tensor]);
  }
  if (u.kind == UpdateKind::kSparse) {
    MURMUR_ENFORCE(limits.tensorSizes.empty() || count <= limits.tensorSizes[u.tensor],
                   ProtocolError, "sparse update for tensor {}: {} values exceed the tensor size",
                   u.tensor, count);
    u.indices =
        readSparseIndices(r, u.tensor, static_cast<uint32_t>(std::min<size_t>(count, UINT32_MAX)),
                          universeOf(limits, u.tensor));
    MURMUR_ENFORCE(u.indices.size() == count, ProtocolError,
                   "sparse update for tensor {}: {} values but {} indices", u.tensor, count,
                   u.indices.size());
  } else {
    MURMUR_ENFORCE(!r.hasIndices() || r.getIndices().size() == 0, ProtocolError,
                   "tensor update for tensor {}: indices present on a non-sparse update", u.tensor);
    auto indexEncRaw = static_cast<uint16_t>(r.getIndexEncoding());
    MURMUR_ENFORCE(indexEncRaw <= static_cast<uint16_t>(IndexEncoding::kGolombRice), ProtocolError,
                   "tensor update for tensor {}: unknown index encoding {}", u.tensor, indexEncRaw);
  }
  if (sign) {
    u.values.resize(count);
    const uint8_t* __restrict bits = values.begin();
    float* __restrict dst = u.values.data();
    const float both[2] = {scale, -scale};
    for (size_t i = 0; i < count; ++i) dst[i] = both[(bits[i >> 3] >> (i & 7)) & 1u];
  } else if (int8) {
    u.values.resize(count);
    const auto* q = reinterpret_cast<const int8_t*>(values.begin());
    // Branch-free, on restrict-qualified locals, so it vectorises; an error is located after.
    const int8_t* __restrict src = q;
    float* __restrict dst = u.values.data();
    int sawMin = 0;
    for (size_t i = 0; i < count; ++i) {
      sawMin |= src[i] == INT8_MIN;
      dst[i] = static_cast<float>(src[i]) * scale;
    }
    if (sawMin != 0) {
      const auto at = std::find(q, q + count, INT8_MIN) - q;
      MURMUR_ENFORCE(false, ProtocolError,
                     "tensor update for tensor {}: int8 value -128 at position {} (range is "
                     "-127..127)",
                     u.tensor, at);
    }
  } else if (u.fp16) {
    u.values.resize(count);
    const auto* halves = reinterpret_cast<const uint16_t*>(values.begin());
    halfToFloat({halves, count}, u.values);
  } else {
    // One memcpy: Data blobs start word-aligned, so the bytes are a valid float array.
    const auto* floats = reinterpret_cast<const float*>(values.begin());
    u.values.assign(floats, floats + count);
  }
  return u;
}

template <typename Out>
Out readMask(uint32_t tensor, uint32_t epoch, bool hasIndices, wire::IndexSet::Reader set,
             const DecodeLimits& limits, const char* what) {
  Out out;
  out.tensor = tensor;
  out.epoch = epoch;
  checkTensorId(limits, tensor, true, what);
  MURMUR_ENFORCE(hasIndices, ProtocolError, "{} for tensor {}: index set missing", what, tensor);
  out.universe = set.getUniverse();
  if (!limits.tensorSizes.empty() && tensor != kAllTensors) {
    MURMUR_ENFORCE(out.universe == limits.tensorSizes[tensor], ProtocolError,
                   "{} for tensor {}: universe {} but the tensor has {}", what, tensor,
                   out.universe, limits.tensorSizes[tensor]);
  }
  uint32_t count = set.getCount();
  MURMUR_ENFORCE(count <= out.universe, ProtocolError,
                 "{} for tensor {}: {} indices in a universe of {}", what, tensor, count,
                 out.universe);
  auto data = asSpan(set.getData());
  auto encRaw = static_cast<uint16_t>(set.getEncoding());
  if (encRaw == static_cast<uint16_t>(IndexEncoding::kDeltaVarint)) {
    out.indices = decodeDeltaVarint(data, count, out.universe);
  } else if (encRaw == static_cast<uint16_t>(IndexEncoding::kGolombRice)) {
    out.indices = decodeRice(data, count, out.universe);
  } else if (encRaw == static_cast<uint16_t>(IndexEncoding::kBitmap)) {
    MURMUR_ENFORCE(data.size() == bitmapSize(out.universe), ProtocolError,
                   "{} for tensor {}: bitmap of {} bytes for a universe of {} (want {})", what,
                   tensor, data.size(), out.universe, bitmapSize(out.universe));
    size_t set_bits = 0;
    for (uint8_t b : data) set_bits += static_cast<size_t>(std::popcount(b));
    MURMUR_ENFORCE(set_bits == count, ProtocolError,
                   "{} for tensor {}: bitmap has {} bits set, count says {}", what, tensor,
                   set_bits, count);
    if (out.universe % 8 != 0) {
      uint8_t spare = static_cast<uint8_t>(0xFFu << (out.universe % 8));
      MURMUR_ENFORCE((data.back() & spare) == 0, ProtocolError,
                     "{} for tensor {}: bitmap has bits set beyond universe {}", what, tensor,
                     out.universe);
    }
    out.indices.reserve(count);
    for (size_t byte = 0; byte < data.size(); ++byte) {
      uint32_t bits = data[byte];
      while (bits != 0) {
        int bit = std::countr_zero(bits);
        out.indices.push_back(static_cast<uint32_t>(byte * 8 + static_cast<size_t>(bit)));
        bits &= bits - 1;
      }
    }
  } else {
    throw ProtocolError(
        fmt::format("{} for tensor {}: unknown index encoding {}", what, tensor, encRaw));
  }
  return out;
}

Hello readHello(wire::Hello::Reader r, const DecodeLimits& limits) {
  Hello h;
  h.protocolVersion = r.getProtocolVersion();
  h.clusterId = readText(r.getClusterId(), limits, "hello cluster id");
  h.node = r.getNodeId();
  h.modelFingerprint = r.getModelFingerprint();
  auto nonce = r.getNonce();
  MURMUR_ENFORCE(nonce.size() == h.nonce.size(), ProtocolError,
                 "hello from node {}: nonce of {} bytes, want {}", h.node, nonce.size(),
                 h.nonce.size());
  std::memcpy(h.nonce.data(), nonce.begin(), h.nonce.size());
  h.authenticated = r.getAuthenticated();
  return h;
}

HelloProof readHelloProof(wire::HelloProof::Reader r) {
  HelloProof p;
  auto mac = r.getMac();
  MURMUR_ENFORCE(mac.size() == p.mac.size(), ProtocolError, "hello proof: MAC of {} bytes, want {}",
                 mac.size(), p.mac.size());
  std::memcpy(p.mac.data(), mac.begin(), p.mac.size());
  return p;
}

// Opens `payload` as an Envelope under `limits` and hands it to `fn`. The one place where
// kj::Exception enters murmur.
template <typename Fn>
auto withEnvelope(std::span<const uint8_t> payload, const DecodeLimits& limits, Fn&& fn) {
  MURMUR_ENFORCE(!payload.empty(), ProtocolError, "empty payload");
  MURMUR_ENFORCE(payload.size() <= limits.maxPayloadBytes, ProtocolError,
                 "payload of {} bytes exceeds the limit of {}", payload.size(),
                 limits.maxPayloadBytes);
  MURMUR_ENFORCE(payload.size() % kWordBytes == 0, ProtocolError,
                 "payload of {} bytes is not a whole number of 8-byte words", payload.size());
  std::unique_ptr<capnp::word[]> aligned;
  const auto* words = reinterpret_cast<const capnp::word*>(payload.data());
  size_t wordCount = payload.size() / kWordBytes;
  if (reinterpret_cast<uintptr_t>(payload.data()) % alignof(capnp::word) != 0) {
    aligned = std::make_unique_for_overwrite<capnp::word[]>(wordCount);
    std::memcpy(aligned.get(), payload.data(), payload.size());
    words = aligned.get();
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      limits.traversalLimitWords != 0 ? limits.traversalLimitWords : 2 * wordCount + 64;
  options.nestingLimit = limits.nestingLimit;
  try {
    kj::ArrayPtr<const capnp::word> array(words, wordCount);
    capnp::FlatArrayMessageReader reader(array, options);
    MURMUR_ENFORCE(reader.getEnd() == array.end(), ProtocolError,
                   "payload has {} trailing words after the message",
                   array.end() - reader.getEnd());
    return fn(reader.getRoot<wire::Envelope>());
  } catch (const kj::Exception& e) {
    throw ProtocolError(
        fmt::format("malformed payload ({} bytes): {}", payload.size(), e.getDescription().cStr()));
  }
}

WirePayload readEnvelope(wire::Envelope::Reader env, const DecodeLimits& limits) {
  switch (env.which()) {
    case wire::Envelope::HELLO:
      MURMUR_ENFORCE(env.hasHello(), ProtocolError, "hello: body missing");
      return readHello(env.getHello(), limits);
    case wire::Envelope::HELLO_PROOF:
      MURMUR_ENFORCE(env.hasHelloProof(), ProtocolError, "hello proof: body missing");
      return readHelloProof(env.getHelloProof());
    case wire::Envelope::TENSOR_UPDATE:
      MURMUR_ENFORCE(env.hasTensorUpdate(), ProtocolError, "tensor update: body missing");
      return Message(readTensorUpdate(env.getTensorUpdate(), limits));
    case wire::Envelope::MASK_VOTE: {
      MURMUR_ENFORCE(env.hasMaskVote(), ProtocolError, "mask vote: body missing");
      auto r = env.getMaskVote();
      return Message(readMask<MaskVote>(r.getTensor(), r.getEpoch(), r.hasIndices(), r.getIndices(),
                                        limits, "mask vote"));
    }
    case wire::Envelope::MASK_DECISION: {
      MURMUR_ENFORCE(env.hasMaskDecision(), ProtocolError, "mask decision: body missing");
      auto r = env.getMaskDecision();
      auto decision = readMask<MaskDecision>(r.getTensor(), r.getEpoch(), r.hasIndices(),
                                             r.getIndices(), limits, "mask decision");
      decision.againstVote = r.getAgainstVote();
      return Message(std::move(decision));
    }
    case wire::Envelope::HEARTBEAT: {
      MURMUR_ENFORCE(env.hasHeartbeat(), ProtocolError, "heartbeat: body missing");
      auto r = env.getHeartbeat();
      return Message(Heartbeat{r.getStep(), r.getRound(), r.getSentNs(), r.getStepsDone()});
    }
    case wire::Envelope::GOODBYE:
      MURMUR_ENFORCE(env.hasGoodbye(), ProtocolError, "goodbye: body missing");
      return Message(Goodbye{readText(env.getGoodbye().getReason(), limits, "goodbye reason")});
    case wire::Envelope::KEYFRAME_REQUEST: {
      MURMUR_ENFORCE(env.hasKeyframeRequest(), ProtocolError, "keyframe request: body missing");
      auto r = env.getKeyframeRequest();
      checkTensorId(limits, r.getTensor(), true, "keyframe request");
      return Message(KeyframeRequest{r.getTensor(),
                                     readText(r.getReason(), limits, "keyframe request reason")});
    }
  }
  throw ProtocolError(fmt::format("unknown message kind {} (a newer protocol?)",
                                  static_cast<unsigned>(env.which())));
}

// --- encode helpers ----------------------------------------------------------------------

// Checks a mask's indices before anything is sized from them.
IndexPlan planIndexSet(uint32_t universe, std::span<const uint32_t> indices, const char* what) {
  checkStrictlyIncreasing(indices, universe, what);
  IndexPlan plan = planIndices(indices, universe);
  MURMUR_CHECK(plan.bytes <= kMaxBlobBytes, "{}: index set too large to encode (universe {})", what,
               universe);
  return plan;
}

template <typename Builder>
void writeIndexSet(Builder body, uint32_t universe, std::span<const uint32_t> indices,
                   const IndexPlan& plan) {
  auto set = body.initIndices();
  set.setUniverse(universe);
  set.setCount(static_cast<uint32_t>(indices.size()));
  set.setEncoding(static_cast<wire::IndexEncoding>(static_cast<uint16_t>(plan.encoding)));
  auto data = set.initData(static_cast<unsigned>(plan.bytes));
  writeIndices(plan, indices, {data.begin(), data.size()});
}

struct Encoder {
  Bytes operator()(const TensorUpdate& u) const {
    if (u.kind == UpdateKind::kSparse) {
      MURMUR_CHECK(u.indices.size() == u.values.size(),
                   "sparse update for tensor {}: {} values but {} indices", u.tensor,
                   u.values.size(), u.indices.size());
      checkStrictlyIncreasing(u.indices, uint64_t{1} << 32, "sparse update");
    } else {
      MURMUR_CHECK(u.indices.empty(), "tensor update for tensor {}: indices on a non-sparse update",
                   u.tensor);
    }
    const bool int8 = u.int8Scale != 0.0f;
    const bool sign = u.signScale != 0.0f;
    MURMUR_CHECK(!int8 || (!u.fp16 && !sign && validInt8Scale(u.int8Scale)),
                 "tensor update for tensor {}: int8 scale {} (fp16 {}, sign scale {})", u.tensor,
                 u.int8Scale, u.fp16, u.signScale);
    MURMUR_CHECK(
        !sign || (!u.fp16 && validSignScale(u.signScale) && u.kind != UpdateKind::kKeyframe),
        "tensor update for tensor {}: sign scale {} (fp16 {}, kind {})", u.tensor, u.signScale,
        u.fp16, static_cast<int>(u.kind));
    size_t valueBytes = sign ? (u.values.size() + 7) / 8
                             : u.values.size() * (int8     ? 1
                                                  : u.fp16 ? sizeof(uint16_t)
                                                           : sizeof(float));
    IndexPlan indexPlan =
        u.kind == UpdateKind::kSparse ? planIndices(u.indices, std::nullopt) : IndexPlan{};
    size_t indexBytes = indexPlan.bytes;
    MURMUR_CHECK(valueBytes <= kMaxBlobBytes && indexBytes <= kMaxBlobBytes,
                 "tensor update for tensor {} too large to encode ({} values)", u.tensor,
                 u.values.size());
    VectorMessageBuilder builder(kOverheadWords + wordsFor(valueBytes) + wordsFor(indexBytes),
                                 VectorMessageBuilder::Zero::kBulkValues);
    auto body = builder.initRoot<wire::Envelope>().initTensorUpdate();
    body.setTensor(u.tensor);
    body.setSeq(u.seq);
    body.setMerged(u.merged);
    body.setStep(u.step);
    body.setKind(static_cast<wire::UpdateKind>(static_cast<uint16_t>(u.kind)));
    body.setMaskEpoch(u.maskEpoch);
    MURMUR_CHECK(u.digest == 0 || u.kind == UpdateKind::kKeyframe,
                 "tensor update for tensor {}: a digest on an update that is not a keyframe",
                 u.tensor);
    body.setDigest(u.digest);
    body.setValueEncoding(sign     ? wire::ValueEncoding::SIGN1
                          : int8   ? wire::ValueEncoding::INT8
                          : u.fp16 ? wire::ValueEncoding::BINARY16
                                   : wire::ValueEncoding::FLOAT32);
    auto values = body.initValues(static_cast<unsigned>(valueBytes));
    if (sign) {
      body.setValueScale(u.signScale);
      body.setSignPadBits(static_cast<uint8_t>(valueBytes * 8 - u.values.size()));
      // Eight values a byte, branch-free; the +-scale check is an OR-reduction, located after.
      uint8_t* __restrict bits = values.begin();
      const float* __restrict src = u.values.data();
      const float s = u.signScale;
      const size_t n = u.values.size();
      int off = 0;
      for (size_t b = 0; b < valueBytes; ++b) {
        const size_t first = b * 8;
        const size_t count = std::min<size_t>(8, n - first);
        unsigned byte = 0;  // the spare bits of the last byte stay 0
        for (size_t j = 0; j < count; ++j) {
          const float v = src[first + j];
          off |= static_cast<int>(v != s) & static_cast<int>(v != -s);
          byte |= static_cast<unsigned>(v < 0.0f) << j;
        }
        bits[b] = static_cast<uint8_t>(byte);
      }
      if (off != 0) {
        for (size_t i = 0; i < n; ++i) {
          MURMUR_CHECK(src[i] == s || src[i] == -s,
                       "tensor update for tensor {}: value {} at {} is not +-{} (sign values)",
                       u.tensor, src[i], i, s);
        }
      }
    } else if (int8) {
      body.setValueScale(u.int8Scale);
      auto* q = reinterpret_cast<int8_t*>(values.begin());
      // v * (1 / scale) is within a few ulp of the integer q for a value the sender put on the
      // grid; adding and subtracting 1.5 * 2^23 rounds it to nearest (no libm call), and the
      // clamp keeps every input castable. Branch-free so it vectorises; checked after the loop.
      // Locals and __restrict: a store through int8_t* may alias anything, which would make
      // the compiler reload the vector's pointer and size every value and not vectorise.
      const float scale = u.int8Scale;
      const float inv = 1.0f / scale;
      constexpr float kRound = 12582912.0f;
      const float* __restrict src = u.values.data();
      int8_t* __restrict dst = q;
      const size_t n = u.values.size();
      int offGrid = 0;  // an int, not a bool: GCC 12 vectorises an int OR-reduction
      for (size_t i = 0; i < n; ++i) {
        const float v = src[i];
        float qf = (v * inv + kRound) - kRound;
        qf = qf < 127.0f ? qf : 127.0f;  // NaN fails both tests and becomes 127
        qf = qf > -127.0f ? qf : -127.0f;
        offGrid |= qf * scale != v;
        dst[i] = static_cast<int8_t>(static_cast<int32_t>(qf));
      }
      if (offGrid != 0) {
        for (size_t i = 0; i < u.values.size(); ++i) {
          MURMUR_CHECK(static_cast<float>(q[i]) * u.int8Scale == u.values[i],
                       "tensor update for tensor {}: value {} at {} is not on the int8 grid of "
                       "scale {}",
                       u.tensor, u.values[i], i, u.int8Scale);
        }
      }
    } else if (u.fp16) {
      floatToHalf(u.values, {reinterpret_cast<uint16_t*>(values.begin()), u.values.size()});
    } else if (valueBytes != 0) {
      std::memcpy(values.begin(), u.values.data(), valueBytes);
    }
    builder.valuesWritten(values.begin(), valueBytes);
    if (u.kind == UpdateKind::kSparse) {
      body.setIndexEncoding(
          static_cast<wire::IndexEncoding>(static_cast<uint16_t>(indexPlan.encoding)));
      auto indices = body.initIndices(static_cast<unsigned>(indexBytes));
      writeIndices(indexPlan, u.indices, {indices.begin(), indices.size()});
    }
    return builder.finish();
  }

  Bytes operator()(const MaskVote& v) const {
    IndexPlan plan = planIndexSet(v.universe, v.indices, "mask vote");
    VectorMessageBuilder builder(kOverheadWords + wordsFor(plan.bytes));
    auto body = builder.initRoot<wire::Envelope>().initMaskVote();
    body.setTensor(v.tensor);
    body.setEpoch(v.epoch);
    writeIndexSet(body, v.universe, v.indices, plan);
    return builder.finish();
  }

  Bytes operator()(const MaskDecision& d) const {
    IndexPlan plan = planIndexSet(d.universe, d.indices, "mask decision");
    VectorMessageBuilder builder(kOverheadWords + wordsFor(plan.bytes));
    auto body = builder.initRoot<wire::Envelope>().initMaskDecision();
    body.setTensor(d.tensor);
    body.setEpoch(d.epoch);
    body.setAgainstVote(d.againstVote);
    writeIndexSet(body, d.universe, d.indices, plan);
    return builder.finish();
  }

  Bytes operator()(const Heartbeat& h) const {
    VectorMessageBuilder builder(kOverheadWords);
    auto body = builder.initRoot<wire::Envelope>().initHeartbeat();
    body.setStep(h.step);
    body.setRound(h.round);
    body.setSentNs(h.sentNs);
    body.setStepsDone(h.stepsDone);
    return builder.finish();
  }

  Bytes operator()(const Goodbye& g) const {
    VectorMessageBuilder builder(kOverheadWords + wordsFor(g.reason.size() + 1));
    builder.initRoot<wire::Envelope>().initGoodbye().setReason(
        capnp::Text::Reader(g.reason.data(), g.reason.size()));
    return builder.finish();
  }

  Bytes operator()(const KeyframeRequest& k) const {
    VectorMessageBuilder builder(kOverheadWords + wordsFor(k.reason.size() + 1));
    auto body = builder.initRoot<wire::Envelope>().initKeyframeRequest();
    body.setTensor(k.tensor);
    body.setReason(capnp::Text::Reader(k.reason.data(), k.reason.size()));
    return builder.finish();
  }
};

}  // namespace

// --- public API ------------------------------------------------------------------------------

// Encoding our own values can only fail in Cap'n Proto on a bug (sizes are checked first);
// should it happen, it surfaces as InternalError like the other broken invariants.
template <typename Fn>
Bytes guardEncode(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const kj::Exception& e) {
    throw InternalError(
        fmt::format("encoding {} failed in Cap'n Proto: {}", what, e.getDescription().cStr()));
  }
}

Bytes encodePayload(const Message& message) {
  return guardEncode(toString(kindOf(message)), [&] { return std::visit(Encoder{}, message); });
}

Bytes encodeHello(const Hello& hello) {
  return guardEncode("hello", [&] {
    VectorMessageBuilder builder(kOverheadWords + wordsFor(hello.clusterId.size() + 1) + 4);
    auto body = builder.initRoot<wire::Envelope>().initHello();
    body.setProtocolVersion(hello.protocolVersion);
    body.setClusterId(capnp::Text::Reader(hello.clusterId.data(), hello.clusterId.size()));
    body.setNodeId(hello.node);
    body.setModelFingerprint(hello.modelFingerprint);
    body.setNonce(capnp::Data::Reader(hello.nonce.data(), hello.nonce.size()));
    body.setAuthenticated(hello.authenticated);
    return builder.finish();
  });
}

Bytes encodeHelloProof(const HelloProof& proof) {
  return guardEncode("hello proof", [&] {
    VectorMessageBuilder builder(kOverheadWords);
    builder.initRoot<wire::Envelope>().initHelloProof().setMac(
        capnp::Data::Reader(proof.mac.data(), proof.mac.size()));
    return builder.finish();
  });
}

WirePayload decodeAny(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  return withEnvelope(payload, limits,
                      [&](wire::Envelope::Reader env) { return readEnvelope(env, limits); });
}

Message decodePayload(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  auto any = decodeAny(payload, limits);
  auto* message = std::get_if<Message>(&any);
  MURMUR_ENFORCE(message != nullptr, ProtocolError,
                 "expected a message, got a handshake frame after the handshake");
  return std::move(*message);
}

Hello decodeHello(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  auto any = decodeAny(payload, limits);
  auto* hello = std::get_if<Hello>(&any);
  MURMUR_ENFORCE(hello != nullptr, ProtocolError, "expected a hello as the first frame");
  return std::move(*hello);
}

HelloProof decodeHelloProof(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  auto any = decodeAny(payload, limits);
  auto* proof = std::get_if<HelloProof>(&any);
  MURMUR_ENFORCE(proof != nullptr, ProtocolError, "expected a hello proof as the second frame");
  return *proof;
}

MessageKind payloadKind(std::span<const uint8_t> payload, const DecodeLimits& limits) {
  return withEnvelope(payload, limits, [](wire::Envelope::Reader env) {
    switch (env.which()) {
      case wire::Envelope::HELLO:
      case wire::Envelope::HELLO_PROOF:
        return MessageKind::kHandshake;
      case wire::Envelope::TENSOR_UPDATE:
        return MessageKind::kTensorUpdate;
      case wire::Envelope::MASK_VOTE:
        return MessageKind::kMaskVote;
      case wire::Envelope::MASK_DECISION:
        return MessageKind::kMaskDecision;
      case wire::Envelope::HEARTBEAT:
        return MessageKind::kHeartbeat;
      case wire::Envelope::GOODBYE:
        return MessageKind::kGoodbye;
      case wire::Envelope::KEYFRAME_REQUEST:
        return MessageKind::kKeyframeRequest;
    }
    throw ProtocolError(fmt::format("unknown message kind {} (a newer protocol?)",
                                    static_cast<unsigned>(env.which())));
  });
}

Bytes encodeDeltaVarint(std::span<const uint32_t> indices) {
  checkStrictlyIncreasing(indices, uint64_t{1} << 32, "delta-varint");
  Bytes out(deltaVarintSize(indices));
  writeDeltaVarint(indices, out.data());
  return out;
}

size_t deltaVarintSize(std::span<const uint32_t> indices) {
  size_t size = 0;
  uint32_t prev = 0;
  for (uint32_t index : indices) {
    size += varintLength(index - prev);
    prev = index;
  }
  return size;
}

std::vector<uint32_t> decodeDeltaVarint(std::span<const uint8_t> data, uint32_t count,
                                        uint64_t universe) {
  // Every index takes at least one byte: refuse a count the data cannot hold before
  // allocating for it.
  MURMUR_ENFORCE(count <= data.size(), ProtocolError,
                 "delta-varint: {} indices cannot fit in {} bytes", count, data.size());
  std::vector<uint32_t> out;
  out.reserve(count);
  size_t pos = 0;
  uint64_t prev = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t gap = 0;
    for (int shift = 0;; shift += 7) {
      MURMUR_ENFORCE(pos < data.size(), ProtocolError, "delta-varint: truncated at index {} of {}",
                     i, count);
      uint8_t byte = data[pos++];
      MURMUR_ENFORCE(shift < 28 || (byte & 0xF0) == 0, ProtocolError,
                     "delta-varint: varint overflow at index {}", i);
      gap |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) break;
    }
    MURMUR_ENFORCE(i == 0 || gap > 0, ProtocolError,
                   "delta-varint: indices not strictly increasing at position {}", i);
    uint64_t index = prev + gap;
    MURMUR_ENFORCE(index < universe, ProtocolError,
                   "delta-varint: index {} at position {} is >= universe {}", index, i, universe);
    out.push_back(static_cast<uint32_t>(index));
    prev = index;
  }
  MURMUR_ENFORCE(pos == data.size(), ProtocolError,
                 "delta-varint: {} trailing bytes after {} indices", data.size() - pos, count);
  return out;
}

IndexEncoding chooseIndexEncoding(std::span<const uint32_t> indices, uint32_t universe) {
  return planIndices(indices, universe).encoding;
}

IndexEncoding chooseSparseIndexEncoding(std::span<const uint32_t> indices) {
  return planIndices(indices, std::nullopt).encoding;
}

bool cpuHasF16c() {
#ifdef MURMUR_HAVE_X86
  // CPUID leaf 1: ECX bit 29 F16C, bit 28 AVX, bit 27 OSXSAVE; and the OS must save YMM state
  // (XCR0 bits 1 and 2). Read directly: clang's __builtin_cpu_supports has no "f16c".
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    const unsigned need = (1u << 29) | (1u << 28) | (1u << 27);
    if ((ecx & need) != need) return false;
    unsigned xcr0Low = 0, xcr0High = 0;
    __asm__("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    return (xcr0Low & 6u) == 6u;
  }();
  return has;
#else
  return false;
#endif
}

void floatToHalf(std::span<const float> src, std::span<uint16_t> dst) {
  MURMUR_CHECK(src.size() == dst.size(), "floatToHalf: {} floats into {} halves", src.size(),
               dst.size());
#ifdef MURMUR_HAVE_X86
  if (cpuHasF16c()) {
    floatToHalfF16c(src.data(), dst.data(), src.size());
    return;
  }
#endif
  for (size_t i = 0; i < src.size(); ++i) dst[i] = floatToHalfPortable(src[i]);
}

void halfToFloat(std::span<const uint16_t> src, std::span<float> dst) {
  MURMUR_CHECK(src.size() == dst.size(), "halfToFloat: {} halves into {} floats", src.size(),
               dst.size());
#ifdef MURMUR_HAVE_X86
  if (cpuHasF16c()) {
    halfToFloatF16c(src.data(), dst.data(), src.size());
    return;
  }
#endif
  for (size_t i = 0; i < src.size(); ++i) dst[i] = halfToFloatPortable(src[i]);
}

uint16_t floatToHalfPortable(float value) {
  uint32_t x = std::bit_cast<uint32_t>(value);
  auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // Inf, or NaN: quieted, top mantissa bits kept (as F16C does)
    if (abs == 0x7F800000u) return sign | 0x7C00u;
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to Inf
  if (abs >= 0x38800000u) {                       // a normal half
    uint32_t h = ((abs >> 23) - 112u) << 10 | ((abs >> 13) & 0x3FFu);
    uint32_t rest = abs & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent
    return static_cast<uint16_t>(sign | h);
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal: zero
  uint32_t exponent = abs >> 23;       // 102..112
  uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  uint32_t shift = 126u - exponent;  // 14..24
  uint32_t h = mantissa >> shift;
  uint32_t rest = mantissa & ((1u << shift) - 1u);
  uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float halfToFloatPortable(uint16_t half) {
  uint32_t sign = uint32_t{half & 0x8000u} << 16;
  uint32_t exponent = (half >> 10) & 0x1Fu;
  uint32_t mantissa = half & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1Fu) {
    bits = sign | 0x7F800000u | (mantissa != 0 ? 0x400000u | (mantissa << 13) : 0u);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    uint32_t shifts = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shifts;
    }
    bits = sign | ((113u - shifts) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace murmur::net
