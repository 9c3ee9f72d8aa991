#include "net/codec.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/error.hpp"
#include "net/rice_coding.hpp"
#include "tests/net/random_indices.hpp"

namespace murmur::net {
namespace {

using testing::randomSortedIndices;

std::vector<float> randomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

template <typename T>
T roundTrip(const T& in, const DecodeLimits& limits = {}) {
  Bytes payload = encodePayload(Message(in));
  EXPECT_EQ(payload.size() % 8, 0u);
  EXPECT_EQ(payloadKind(payload), kindOf(Message(in)));
  Message out = decodePayload(payload, limits);
  EXPECT_TRUE(std::holds_alternative<T>(out));
  return std::get<T>(out);
}

void expectSameBits(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TensorUpdate makeUpdate(UpdateKind kind, std::vector<float> values,
                        std::vector<uint32_t> indices = {}) {
  TensorUpdate u;
  u.tensor = 3;
  u.seq = 0x1234567890ull;
  u.merged = 4;
  u.step = 987654321ull;
  u.kind = kind;
  u.maskEpoch = 17;
  u.values = std::move(values);
  u.indices = std::move(indices);
  return u;
}

void expectHeaderEq(const TensorUpdate& a, const TensorUpdate& b) {
  EXPECT_EQ(a.tensor, b.tensor);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.merged, b.merged);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.maskEpoch, b.maskEpoch);
  EXPECT_EQ(a.fp16, b.fp16);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.digest, b.digest);
}

TEST(Codec, DenseUpdateRoundTripsBitExactIncludingNanAndInf) {
  auto values = randomFloats(1001, 1);
  values[5] = std::numeric_limits<float>::quiet_NaN();
  values[6] = -std::numeric_limits<float>::infinity();
  values[7] = -0.0f;
  values[8] = std::numeric_limits<float>::denorm_min();
  auto in = makeUpdate(UpdateKind::kDense, values);
  auto out = roundTrip(in);
  expectHeaderEq(in, out);
  expectSameBits(in.values, out.values);
}

TEST(Codec, KeyframeAndMaskedUpdatesRoundTrip) {
  for (auto kind : {UpdateKind::kKeyframe, UpdateKind::kMasked}) {
    auto in = makeUpdate(kind, randomFloats(77, 2));
    auto out = roundTrip(in);
    expectHeaderEq(in, out);
    expectSameBits(in.values, out.values);
  }
}

// Bulk encodes skip zero-filling the values blob; every other byte (struct fields, blob
// padding, the unused tail) must still be zero, or heap garbage would go on the wire.
TEST(Codec, EncodingIsDeterministicWhateverTheHeapHeld) {
  for (size_t n : {1u, 3u, 5u, 1000u, 1001u}) {
    for (bool fp16 : {false, true}) {
      auto in = makeUpdate(UpdateKind::kDense, randomFloats(n, static_cast<uint32_t>(n)));
      in.fp16 = fp16;
      Bytes first = encodePayload(Message(in));
      for (int round = 0; round < 4; ++round) {
        {  // leave recognisable garbage in freed blocks of about the payload's size
          std::vector<Bytes> junk;
          for (int k = 0; k < 8; ++k) junk.emplace_back(first.size() + 64 * k, uint8_t{0xA5});
        }
        EXPECT_EQ(encodePayload(Message(in)), first) << n << (fp16 ? " fp16" : " f32");
      }
    }
  }
}

TEST(Codec, DenseUpdateCostsFourBytesPerValuePlusASmallHeader) {
  auto in = makeUpdate(UpdateKind::kDense, randomFloats(100000, 14));
  size_t size = encodePayload(Message(in)).size();
  EXPECT_GE(size, 400000u);
  EXPECT_LE(size, 400000u + 96);
}

TEST(Codec, EmptyDenseUpdateRoundTrips) {
  auto in = makeUpdate(UpdateKind::kDense, {});
  auto out = roundTrip(in);
  expectHeaderEq(in, out);
  EXPECT_TRUE(out.values.empty());
}

TEST(Codec, SparseUpdateRoundTripsWithLargeGaps) {
  std::vector<uint32_t> indices = {
      0, 1, 127, 128, 16383, 16384, (1u << 21) + 5, (1u << 28) + 9, 0xFFFFFFFEu, 0xFFFFFFFFu};
  auto in = makeUpdate(UpdateKind::kSparse, randomFloats(indices.size(), 3), indices);
  auto out = roundTrip(in);
  expectHeaderEq(in, out);
  expectSameBits(in.values, out.values);
}

TEST(Codec, SparseUpdateIsSmallerThanDense) {
  auto indices = randomSortedIndices(100000, 0.01, 4);
  auto sparse = makeUpdate(UpdateKind::kSparse, randomFloats(indices.size(), 4), indices);
  Bytes payload = encodePayload(Message(sparse));
  // 4 bytes per value plus about one byte per index (Golomb-Rice, mean gap 100).
  EXPECT_LT(payload.size(), indices.size() * 6 + 256);
  EXPECT_GT(payload.size(), indices.size() * 5);
  auto out = std::get<TensorUpdate>(decodePayload(payload));
  EXPECT_EQ(out.indices, indices);
}

TEST(Codec, Fp16UpdateRoundTripsExactlyRepresentableValues) {
  std::vector<float> values = {
      0.0f,           -0.0f,          1.0f,
      -2.5f,          65504.0f,       0.099975586f,
      6.1035156e-05f, 5.9604645e-08f, std::numeric_limits<float>::infinity()};
  auto in = makeUpdate(UpdateKind::kDense, values);
  in.fp16 = true;
  Bytes payload = encodePayload(Message(in));
  auto out = std::get<TensorUpdate>(decodePayload(payload));
  expectHeaderEq(in, out);
  expectSameBits(in.values, out.values);
}

TEST(Codec, Fp16HalvesTheValueBytesAndStaysWithinHalfPrecision) {
  auto values = randomFloats(4096, 5);
  auto f32 = makeUpdate(UpdateKind::kMasked, values);
  auto f16 = f32;
  f16.fp16 = true;
  size_t size32 = encodePayload(Message(f32)).size();
  size_t size16 = encodePayload(Message(f16)).size();
  EXPECT_EQ(size32 - size16, values.size() * 2);
  auto out = roundTrip(f16);
  ASSERT_EQ(out.values.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(out.values[i], values[i], std::abs(values[i]) * (1.0f / 2048) + 6e-8f) << i;
  }
}

TEST(Codec, Fp16PortableConversionKnownValues) {
  EXPECT_EQ(floatToHalfPortable(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalfPortable(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalfPortable(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalfPortable(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToHalfPortable(65520.0f), 0x7C00);
  EXPECT_EQ(floatToHalfPortable(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalfPortable(std::ldexp(1.0f, -25)), 0x0000);  // tie to even
  EXPECT_EQ(floatToHalfPortable(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(floatToHalfPortable(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(floatToHalfPortable(0.1f), 0x2E66);
  EXPECT_EQ(floatToHalfPortable(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(floatToHalfPortable(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(floatToHalfPortable(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(floatToHalfPortable(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
  EXPECT_EQ(halfToFloatPortable(0x3C00), 1.0f);
  EXPECT_EQ(halfToFloatPortable(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloatPortable(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloatPortable(0xFBFF), -65504.0f);
  EXPECT_TRUE(std::isnan(halfToFloatPortable(0x7C01)));
}

TEST(Codec, Fp16EveryHalfSurvivesHalfToFloatToHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    auto half = static_cast<uint16_t>(h);
    float f = halfToFloatPortable(half);
    uint16_t back = floatToHalfPortable(f);
    bool isNan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    if (isNan) {
      EXPECT_EQ(back, half | 0x0200) << h;  // quieted
    } else {
      EXPECT_EQ(back, half) << h;
    }
  }
}

TEST(Codec, Fp16VectorPathMatchesPortableBitForBit) {
  if (!cpuHasF16c()) GTEST_SKIP() << "CPU has no F16C: the vector path is the portable one";
  // Every half pattern, and a stride through all float bit patterns (odd lengths hit the tails).
  std::vector<uint16_t> halves(0x10000 + 3);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i * 0x10001u);
  std::vector<float> floats(halves.size());
  halfToFloat(halves, floats);
  for (size_t i = 0; i < halves.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(floats[i]),
              std::bit_cast<uint32_t>(halfToFloatPortable(halves[i])))
        << std::hex << halves[i];
  }
  std::vector<float> sweep;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 4099) {
    sweep.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  }
  std::vector<uint16_t> out(sweep.size());
  floatToHalf(sweep, out);
  for (size_t i = 0; i < sweep.size(); ++i) {
    ASSERT_EQ(out[i], floatToHalfPortable(sweep[i]))
        << std::hex << std::bit_cast<uint32_t>(sweep[i]);
  }
}

TEST(Codec, MaskVoteWithIrregularGapsUsesDeltaVarint) {
  // Gaps from 1 to 48,000: no one Rice parameter suits them (10 varint bytes, 11 Rice).
  MaskVote v{2, 9, 100000, {17, 4000, 4001, 52000, 99998}};
  ASSERT_EQ(chooseIndexEncoding(v.indices, v.universe), IndexEncoding::kDeltaVarint);
  EXPECT_LT(deltaVarintSize(v.indices), riceEncodedSize(v.indices));
  Bytes payload = encodePayload(Message(v));
  EXPECT_LT(payload.size(), bitmapSize(v.universe));
  EXPECT_LE(payload.size(), deltaVarintSize(v.indices) + 128);
  auto out = roundTrip(v);
  EXPECT_EQ(out.tensor, v.tensor);
  EXPECT_EQ(out.epoch, v.epoch);
  EXPECT_EQ(out.universe, v.universe);
  EXPECT_EQ(out.indices, v.indices);
}

TEST(Codec, MaskDecisionDenseSetUsesBitmap) {
  // From ~40% density on, Rice's best is b = 0, a bitmap cut at the last index plus a byte.
  MaskDecision d{kAllTensors, 3, 100003, randomSortedIndices(100003, 0.5, 7)};
  ASSERT_EQ(chooseIndexEncoding(d.indices, d.universe), IndexEncoding::kBitmap);
  Bytes payload = encodePayload(Message(d));
  EXPECT_LT(payload.size(), deltaVarintSize(d.indices));
  EXPECT_LT(payload.size(), riceEncodedSize(d.indices) + 128);
  EXPECT_LE(payload.size(), bitmapSize(d.universe) + 128);
  auto out = roundTrip(d);
  EXPECT_EQ(out.tensor, d.tensor);
  EXPECT_EQ(out.epoch, d.epoch);
  EXPECT_EQ(out.universe, d.universe);
  EXPECT_EQ(out.indices, d.indices);
}

TEST(Codec, IndexEncodingChoiceFollowsSize) {
  // {0, 15} of 16: varint 2 bytes, bitmap 2, Rice 3. Ties go to varint.
  std::vector<uint32_t> ends = {0, 15};
  ASSERT_EQ(deltaVarintSize(ends), 2u);
  ASSERT_EQ(riceEncodedSize(ends), 3u);
  EXPECT_EQ(chooseIndexEncoding(ends, 16), IndexEncoding::kDeltaVarint);
  // {0, 5, 10, 15} of 16: bitmap 2 bytes, Rice 3, varint 4.
  std::vector<uint32_t> spread = {0, 5, 10, 15};
  ASSERT_EQ(riceEncodedSize(spread), 3u);
  EXPECT_EQ(chooseIndexEncoding(spread, 16), IndexEncoding::kBitmap);
  // 0..15 of 24: bitmap 3 bytes, Rice (b = 0) 3, varint 16. Ties go to the bitmap.
  std::vector<uint32_t> run(16);
  for (uint32_t i = 0; i < run.size(); ++i) run[i] = i;
  ASSERT_EQ(riceEncodedSize(run), 3u);
  EXPECT_EQ(chooseIndexEncoding(run, 24), IndexEncoding::kBitmap);
  // The same run of 64: Rice 3 bytes beats the bitmap's 8.
  EXPECT_EQ(chooseIndexEncoding(run, 64), IndexEncoding::kGolombRice);
  // {0, 1} of 1000: varint 2 bytes, Rice 2.
  std::vector<uint32_t> pair = {0, 1};
  ASSERT_EQ(riceEncodedSize(pair), 2u);
  EXPECT_EQ(chooseIndexEncoding(pair, 1000), IndexEncoding::kDeltaVarint);
  EXPECT_EQ(chooseIndexEncoding({}, 64), IndexEncoding::kDeltaVarint);
  // Sparse updates never use the bitmap.
  EXPECT_EQ(chooseSparseIndexEncoding(spread), IndexEncoding::kGolombRice);
  EXPECT_EQ(chooseSparseIndexEncoding(ends), IndexEncoding::kDeltaVarint);
  EXPECT_EQ(chooseSparseIndexEncoding({}), IndexEncoding::kDeltaVarint);
  // Full and empty sets, and universes that are not a multiple of 8, round-trip both ways.
  for (uint32_t universe : {1u, 7u, 8u, 9u, 63u, 1000u}) {
    std::vector<uint32_t> all(universe);
    for (uint32_t i = 0; i < universe; ++i) all[i] = i;
    for (const auto& set : {all, std::vector<uint32_t>{}, std::vector<uint32_t>{universe - 1}}) {
      auto out = roundTrip(MaskVote{0, 1, universe, set});
      EXPECT_EQ(out.indices, set) << universe;
    }
  }
}

TEST(Codec, TopKMasksUseGolombRice) {
  // 10% and 5% of a 48,000-element tensor, the mask votes of a typical top-K.
  constexpr uint32_t kUniverse = 48000;
  MaskVote v{2, 9, kUniverse, randomSortedIndices(kUniverse, 0.10, 20)};
  MaskDecision d{kAllTensors, 4, kUniverse, randomSortedIndices(kUniverse, 0.05, 21)};
  ASSERT_EQ(chooseIndexEncoding(v.indices, v.universe), IndexEncoding::kGolombRice);
  ASSERT_EQ(chooseIndexEncoding(d.indices, d.universe), IndexEncoding::kGolombRice);
  for (const auto& [message, indices] :
       {std::pair{Message(v), v.indices}, std::pair{Message(d), d.indices}}) {
    Bytes payload = encodePayload(message);
    EXPECT_LT(riceEncodedSize(indices) * 4, deltaVarintSize(indices) * 3);
    EXPECT_LT(payload.size(), deltaVarintSize(indices));
    EXPECT_LE(payload.size(), riceEncodedSize(indices) + 128);
  }
  auto vote = roundTrip(v);
  EXPECT_EQ(vote.tensor, v.tensor);
  EXPECT_EQ(vote.epoch, v.epoch);
  EXPECT_EQ(vote.universe, v.universe);
  EXPECT_EQ(vote.indices, v.indices);
  DecodeLimits model;
  model.tensorSizes = {1, 1, kUniverse};
  EXPECT_EQ(roundTrip(v, model).indices, v.indices);
  auto decision = roundTrip(d);
  EXPECT_EQ(decision.tensor, d.tensor);
  EXPECT_EQ(decision.universe, d.universe);
  EXPECT_EQ(decision.indices, d.indices);
  // Edge sets where Rice wins: a dense prefix, and index 0 / universe - 1 alongside it.
  std::vector<uint32_t> prefix(3000);
  for (uint32_t i = 0; i < prefix.size(); ++i) prefix[i] = i;
  ASSERT_EQ(chooseIndexEncoding(prefix, kUniverse), IndexEncoding::kGolombRice);
  EXPECT_EQ(roundTrip(MaskVote{0, 1, kUniverse, prefix}).indices, prefix);
  prefix.push_back(kUniverse - 1);
  EXPECT_EQ(roundTrip(MaskDecision{0, 1, kUniverse, prefix}).indices, prefix);
}

TEST(Codec, SparseUpdateWithGolombRiceIndicesRoundTrips) {
  auto indices = randomSortedIndices(48000, 0.10, 22);
  ASSERT_EQ(chooseSparseIndexEncoding(indices), IndexEncoding::kGolombRice);
  auto in = makeUpdate(UpdateKind::kSparse, randomFloats(indices.size(), 22), indices);
  Bytes payload = encodePayload(Message(in));
  EXPECT_LE(payload.size(), 4 * indices.size() + riceEncodedSize(indices) + 256);
  EXPECT_LT(payload.size(), 4 * indices.size() + deltaVarintSize(indices));
  auto out = roundTrip(in);
  expectHeaderEq(in, out);
  expectSameBits(in.values, out.values);
  in.fp16 = true;
  expectHeaderEq(in, roundTrip(in));
  DecodeLimits model;
  model.tensorSizes = {1, 1, 1, 48000};
  EXPECT_EQ(roundTrip(in, model).indices, indices);
  model.tensorSizes = {1, 1, 1, indices.back()};
  EXPECT_THROW(decodePayload(encodePayload(Message(in)), model), ProtocolError);
}

TEST(Codec, SmallMessagesRoundTrip) {
  auto hb = roundTrip(Heartbeat{123456789012ull, 42, -77, 9876543210ull});
  EXPECT_EQ(hb.step, 123456789012ull);
  EXPECT_EQ(hb.round, 42u);
  EXPECT_EQ(hb.sentNs, -77);
  EXPECT_EQ(hb.stepsDone, 9876543210ull);
  EXPECT_EQ(roundTrip(Heartbeat{1, 2, 3, 0}).stepsDone, 0u);  // the transport's keep-alive
  EXPECT_EQ(roundTrip(Goodbye{"training finished"}).reason, "training finished");
  EXPECT_EQ(roundTrip(Goodbye{""}).reason, "");
  auto kr = roundTrip(KeyframeRequest{kAllTensors, "gap in seq 5..9"});
  EXPECT_EQ(kr.tensor, kAllTensors);
  EXPECT_EQ(kr.reason, "gap in seq 5..9");
}

TEST(Codec, HelloAndProofRoundTrip) {
  Hello h;
  h.protocolVersion = kProtocolVersion;
  h.clusterId = "lab-cluster";
  h.node = 12;
  h.modelFingerprint = 0xDEADBEEFCAFEF00Dull;
  for (size_t i = 0; i < h.nonce.size(); ++i) h.nonce[i] = static_cast<uint8_t>(i * 7 + 1);
  h.authenticated = true;
  Bytes payload = encodeHello(h);
  EXPECT_EQ(payloadKind(payload), MessageKind::kHandshake);
  Hello out = decodeHello(payload);
  EXPECT_EQ(out.protocolVersion, h.protocolVersion);
  EXPECT_EQ(out.clusterId, h.clusterId);
  EXPECT_EQ(out.node, h.node);
  EXPECT_EQ(out.modelFingerprint, h.modelFingerprint);
  EXPECT_EQ(out.nonce, h.nonce);
  EXPECT_TRUE(out.authenticated);
  EXPECT_THROW(decodePayload(payload), ProtocolError);  // a hello is not a Message
  EXPECT_THROW(decodeHelloProof(payload), ProtocolError);

  HelloProof p;
  for (size_t i = 0; i < p.mac.size(); ++i) p.mac[i] = static_cast<uint8_t>(255 - i);
  Bytes proofPayload = encodeHelloProof(p);
  EXPECT_EQ(decodeHelloProof(proofPayload).mac, p.mac);
  EXPECT_TRUE(std::holds_alternative<HelloProof>(decodeAny(proofPayload)));
  EXPECT_THROW(decodeHello(proofPayload), ProtocolError);
}

TEST(Codec, UnalignedPayloadIsDecoded) {
  auto in = makeUpdate(UpdateKind::kDense, randomFloats(33, 8));
  Bytes payload = encodePayload(Message(in));
  std::vector<uint8_t> shifted(payload.size() + 1);
  std::memcpy(shifted.data() + 1, payload.data(), payload.size());
  auto out = std::get<TensorUpdate>(decodePayload({shifted.data() + 1, payload.size()}));
  expectSameBits(in.values, out.values);
}

TEST(Codec, EncodeRejectsBrokenInvariantsAsInternalError) {
  EXPECT_THROW(encodePayload(Message(MaskVote{0, 0, 10, {3, 3}})), InternalError);
  EXPECT_THROW(encodePayload(Message(MaskVote{0, 0, 10, {4, 2}})), InternalError);
  EXPECT_THROW(encodePayload(Message(MaskDecision{0, 0, 10, {10}})), InternalError);
  EXPECT_THROW(encodePayload(Message(makeUpdate(UpdateKind::kSparse, {1.0f}, {1, 2}))),
               InternalError);
  EXPECT_THROW(encodePayload(Message(makeUpdate(UpdateKind::kDense, {1.0f}, {1}))), InternalError);
}

// --- hostile input -----------------------------------------------------------------------------

// Finds `needle` in `hay` exactly once and returns its offset.
size_t findUnique(const Bytes& hay, std::span<const uint8_t> needle) {
  size_t found = hay.size();
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (std::memcmp(hay.data() + i, needle.data(), needle.size()) == 0) {
      EXPECT_EQ(found, hay.size()) << "needle is not unique";
      found = i;
    }
  }
  EXPECT_LT(found, hay.size()) << "needle not found";
  return found;
}

// An update encoded with its tensor and merged fields set to a byte pattern, and the offset of
// its data section, for tests that patch one field on the wire. TensorUpdate's data section:
// tensor u32 @0, merged u32 @4, seq u64 @8, step u64 @16, kind u16 @24, valueEncoding u16 @26,
// maskEpoch u32 @28, digest u64 @32, indexEncoding u16 @40, signPadBits u8 @42, valueScale f32
// @44.
struct LocatedUpdate {
  Bytes bytes;
  size_t data = 0;
};

LocatedUpdate encodeLocated(TensorUpdate in) {
  in.tensor = 0xA1A2A3A4u;
  in.merged = 0xB1B2B3B4u;
  LocatedUpdate out{encodePayload(Message(in))};
  const uint8_t pattern[] = {0xA4, 0xA3, 0xA2, 0xA1, 0xB4, 0xB3, 0xB2, 0xB1};
  out.data = findUnique(out.bytes, pattern);
  return out;
}

void expectProtocolError(std::span<const uint8_t> payload, const DecodeLimits& limits,
                         const std::string& fragment) {
  try {
    decodeAny(payload, limits);
    ADD_FAILURE() << "decoded, expected a ProtocolError mentioning '" << fragment << "'";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// `good` with the byte at `offset` set to `value` is refused with `fragment` in the message.
void expectPatchRejected(const Bytes& good, size_t offset, uint8_t value,
                         const std::string& fragment) {
  Bytes bad = good;
  bad[offset] = value;
  expectProtocolError(bad, {}, fragment);
}

TEST(CodecHostile, RandomBytesNeverCrashAndOnlyThrowProtocolError) {
  std::mt19937 rng(9);
  size_t rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    Bytes junk(8 * (1 + rng() % 40));
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (iter % 2 == 0) {  // a plausible segment table makes capnp look deeper
      uint32_t table[2] = {0, static_cast<uint32_t>(junk.size() / 8 - 1)};
      std::memcpy(junk.data(), table, sizeof table);
    }
    try {
      decodeAny(junk);
    } catch (const ProtocolError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 4900u);
}

TEST(CodecHostile, EveryTruncationIsRejected) {
  MaskVote v{1, 2, 5000, randomSortedIndices(5000, 0.5, 10)};
  MaskVote rice{1, 2, 5000, randomSortedIndices(5000, 0.1, 10)};
  auto riceIndices = randomSortedIndices(5000, 0.1, 11);
  auto riceUpdate =
      makeUpdate(UpdateKind::kSparse, randomFloats(riceIndices.size(), 11), riceIndices);
  for (const Bytes& payload :
       {encodePayload(Message(makeUpdate(UpdateKind::kSparse, {1, 2, 3}, {4, 500, 70000}))),
        encodePayload(Message(v)), encodePayload(Message(rice)), encodePayload(Message(riceUpdate)),
        encodePayload(Message(Goodbye{"bye"}))}) {
    for (size_t len = 0; len < payload.size(); ++len) {
      EXPECT_THROW(decodeAny({payload.data(), len}), ProtocolError) << len;
    }
  }
}

TEST(CodecHostile, SizeLimitsAndTrailingWords) {
  Bytes payload = encodePayload(Message(makeUpdate(UpdateKind::kDense, randomFloats(1000, 11))));
  DecodeLimits small;
  small.maxPayloadBytes = payload.size() - 8;
  expectProtocolError(payload, small, "exceeds the limit");
  Bytes padded = payload;
  padded.resize(payload.size() + 8);
  std::memset(padded.data() + payload.size(), 0, 8);
  expectProtocolError(padded, {}, "trailing");
  expectProtocolError({}, {}, "empty");
}

TEST(CodecHostile, TraversalAndNestingLimitsApply) {
  Bytes payload = encodePayload(Message(makeUpdate(UpdateKind::kDense, randomFloats(1000, 12))));
  DecodeLimits traversal;
  traversal.traversalLimitWords = 100;  // the values alone are 500 words
  expectProtocolError(payload, traversal, "malformed");
  DecodeLimits nesting;
  nesting.nestingLimit = 1;  // envelope -> update -> values needs 2
  expectProtocolError(payload, nesting, "malformed");
  EXPECT_NO_THROW(decodeAny(payload, DecodeLimits{}));
}

TEST(CodecHostile, BadVarintsAreRejected) {
  // Sparse indices {5, 7, 2^28 + 7, 2^28 + 8} encode as 05 | 02 | 80 80 80 80 01 | 01.
  auto in = makeUpdate(UpdateKind::kSparse, {1.0f, 2.0f, 3.0f, 4.0f},
                       {5, 7, (1u << 28) + 7, (1u << 28) + 8});
  const Bytes good = encodePayload(Message(in));
  const uint8_t pattern[] = {0x05, 0x02, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01};
  size_t at = findUnique(good, pattern);

  Bytes overflow = good;
  overflow[at + 6] = 0x7F;  // fifth byte carries bits above 2^32
  expectProtocolError(overflow, {}, "overflow");

  Bytes duplicate = good;
  duplicate[at + 1] = 0x00;  // gap 0: index 5 twice
  expectProtocolError(duplicate, {}, "strictly increasing");

  Bytes unterminated = good;
  unterminated[at + 7] = 0x81;  // continuation bit on the last byte of the blob
  expectProtocolError(unterminated, {}, "truncated");

  DecodeLimits model;
  model.tensorSizes = {10, 10, 10, 1u << 29};
  EXPECT_NO_THROW(decodeAny(good, model));
  Bytes outOfRange = good;
  outOfRange[at + 6] = 0x02;  // third gap 2^29: index 2^29 + 7 >= 2^29
  expectProtocolError(outOfRange, model, ">= universe");
  model.tensorSizes = {10, 10, 10, 10};
  expectProtocolError(good, model, ">= universe");
  model.tensorSizes = {10};
  expectProtocolError(good, model, "tensor id 3 out of range");
}

TEST(CodecHostile, WrongValueLengthIsRejected) {
  auto in = makeUpdate(UpdateKind::kDense, {1.0f, 2.0f, 3.0f});  // 12 value bytes
  Bytes bad = encodePayload(Message(in));
  // The Data pointer to the values: list pointer (low bits 01), byte elements (2), count 12.
  bool patched = false;
  for (size_t w = 8; w + 8 <= bad.size(); w += 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, bad.data() + w, 4);
    std::memcpy(&hi, bad.data() + w + 4, 4);
    if ((lo & 3u) == 1u && hi == ((12u << 3) | 2u)) {
      hi = (10u << 3) | 2u;
      std::memcpy(bad.data() + w + 4, &hi, 4);
      patched = true;
    }
  }
  ASSERT_TRUE(patched);
  expectProtocolError(bad, {}, "not a multiple of 4");

  DecodeLimits model;
  model.tensorSizes = {1, 1, 1, 4};
  expectProtocolError(encodePayload(Message(in)), model, "3 values, the tensor has 4");
}

TEST(CodecHostile, BadEnumsUnknownKindsAndMissingBodiesAreRejected) {
  const auto [good, at] = encodeLocated(makeUpdate(UpdateKind::kDense, {1.0f}));
  ASSERT_EQ(std::get<TensorUpdate>(decodePayload(good)).kind, UpdateKind::kDense);
  expectPatchRejected(good, at + 24, 9, "unknown update kind 9");
  expectPatchRejected(good, at + 26, 5, "unknown value encoding 5");

  // Envelope: word 0 segment table, word 1 root pointer, word 2 union tag, word 3 body pointer.
  Bytes heartbeat = encodePayload(Message(Heartbeat{1, 2, 3}));
  ASSERT_EQ(heartbeat[16], 5);  // heartbeat's union slot
  Bytes unknown = heartbeat;
  unknown[16] = 42;
  expectProtocolError(unknown, {}, "unknown message kind 42");
  EXPECT_THROW(payloadKind(unknown), ProtocolError);
  Bytes missing = heartbeat;
  std::memset(missing.data() + 24, 0, 8);
  expectProtocolError(missing, {}, "body missing");
}

TEST(CodecHostile, InconsistentIndexSetsAreRejected) {
  // IndexSet data section: universe u32 @0, count u32 @4, encoding u16 @8.
  constexpr uint32_t kUniverse = 0x00010203u;  // 66051: 66051 % 8 == 3 spare-bit check
  MaskVote dense{0, 1, kUniverse, randomSortedIndices(kUniverse, 0.5, 13)};
  const Bytes good = encodePayload(Message(dense));
  uint32_t count = static_cast<uint32_t>(dense.indices.size());
  uint8_t pattern[8] = {0x03, 0x02, 0x01, 0x00};
  std::memcpy(pattern + 4, &count, 4);
  size_t at = findUnique(good, pattern);
  ASSERT_EQ(good[at + 8], 1);  // bitmap

  Bytes wrongCount = good;
  uint32_t more = count + 1;
  std::memcpy(wrongCount.data() + at + 4, &more, 4);
  expectProtocolError(wrongCount, {}, "bits set, count says");

  // Set a bit beyond the universe in the last bitmap byte (and fix the count to match).
  Bytes spare = wrongCount;
  size_t lastByte = at + 16 + 8 + bitmapSize(kUniverse) - 1;  // data section, pointer, blob
  ASSERT_LT(lastByte, spare.size());
  ASSERT_EQ(spare[lastByte] & 0xF8, 0);
  spare[lastByte] |= 0x80;
  expectProtocolError(spare, {}, "beyond universe");

  Bytes hugeCount = good;
  uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(hugeCount.data() + at + 4, &huge, 4);
  expectProtocolError(hugeCount, {}, "in a universe of");

  Bytes badEncoding = good;
  badEncoding[at + 8] = 7;
  expectProtocolError(badEncoding, {}, "unknown index encoding 7");

  Bytes asVarint = good;  // a bitmap read as varints: count and bytes disagree
  asVarint[at + 8] = 0;
  EXPECT_THROW(decodeAny(asVarint), ProtocolError);

  DecodeLimits model;
  model.tensorSizes = {kUniverse - 1};
  expectProtocolError(good, model, "universe 66051 but the tensor has 66050");
}

TEST(CodecHostile, BadGolombRiceIndexSetsAreRejected) {
  constexpr uint32_t kUniverse = 48000;
  MaskVote vote{0, 1, kUniverse, randomSortedIndices(kUniverse, 0.10, 23)};
  const Bytes good = encodePayload(Message(vote));
  uint32_t count = static_cast<uint32_t>(vote.indices.size());
  uint8_t pattern[8];
  std::memcpy(pattern, &kUniverse, 4);
  std::memcpy(pattern + 4, &count, 4);
  size_t at = findUnique(good, pattern);
  ASSERT_EQ(good[at + 8], 2);  // golombRice
  size_t blob = at + 16 + 8;   // data section, data pointer, then the blob
  ASSERT_EQ(good[blob], bestRiceParameter(vote.indices));

  Bytes badParameter = good;
  badParameter[blob] = 32;
  expectProtocolError(badParameter, {}, "golomb-rice: parameter b = 32 exceeds 31");

  // The count decides where the gaps end (zero padding can read as one more gap of 0), so
  // these are off by 8: the codes of 8 indices take at least 8 bits.
  Bytes fewer = good;
  uint32_t less = count - 8;
  std::memcpy(fewer.data() + at + 4, &less, 4);
  expectProtocolError(fewer, {}, "trailing bytes after");

  Bytes more = good;
  uint32_t extra = count + 8;
  std::memcpy(more.data() + at + 4, &extra, 4);
  expectProtocolError(more, {}, "golomb-rice:");

  Bytes smaller = good;  // the last index no longer fits the universe
  uint32_t universe = vote.indices.back();
  std::memcpy(smaller.data() + at, &universe, 4);
  expectProtocolError(smaller, {}, "universe");

  Bytes asVarint = good;
  asVarint[at + 8] = 0;
  EXPECT_THROW(decodeAny(asVarint), ProtocolError);

  Bytes asBitmap = good;
  asBitmap[at + 8] = 1;
  expectProtocolError(asBitmap, {}, "bitmap of");

  // A bitmap read as Rice: the bytes do not hold `count` well-formed gaps.
  MaskVote dense{0, 1, kUniverse, randomSortedIndices(kUniverse, 0.5, 24)};
  Bytes bitmap = encodePayload(Message(dense));
  uint32_t denseCount = static_cast<uint32_t>(dense.indices.size());
  std::memcpy(pattern + 4, &denseCount, 4);
  size_t denseAt = findUnique(bitmap, pattern);
  ASSERT_EQ(bitmap[denseAt + 8], 1);
  bitmap[denseAt + 8] = 2;
  EXPECT_THROW(decodeAny(bitmap), ProtocolError);
}

TEST(CodecHostile, SparseIndexEncodingIsChecked) {
  // TensorUpdate data section: as above, plus digest u64 @32 and indexEncoding u16 @40.
  auto indices = randomSortedIndices(48000, 0.10, 25);
  const auto [good, at] =
      encodeLocated(makeUpdate(UpdateKind::kSparse, randomFloats(indices.size(), 25), indices));
  ASSERT_EQ(good[at + 40], 2);  // golombRice
  EXPECT_EQ(std::get<TensorUpdate>(decodePayload(good)).indices, indices);

  expectPatchRejected(good, at + 40, 1, "bitmap index encoding");
  expectPatchRejected(good, at + 40, 9, "unknown index encoding 9");
  Bytes asVarint = good;
  asVarint[at + 40] = 0;
  EXPECT_THROW(decodeAny(asVarint), ProtocolError);

  // The indices blob comes last: the Rice parameter byte opens the final words.
  size_t blob = good.size() - 8 * ((riceEncodedSize(indices) + 7) / 8);
  ASSERT_EQ(good[blob], bestRiceParameter(indices));
  Bytes badParameter = good;
  badParameter[blob] = 40;
  expectProtocolError(badParameter, {}, "golomb-rice: parameter b = 40 exceeds 31");

  // Older senders leave the field at its default: delta-varint.
  auto varint = makeUpdate(UpdateKind::kSparse, {1.0f, 2.0f}, {4, 500});
  const auto [old, oldAt] = encodeLocated(varint);
  ASSERT_EQ(old[oldAt + 40], 0);
  EXPECT_EQ(std::get<TensorUpdate>(decodePayload(old)).indices, varint.indices);

  // Non-sparse updates carry no indices, but an unknown value is still rejected.
  auto [denseBad, denseAt] = encodeLocated(makeUpdate(UpdateKind::kDense, {1.0f}));
  denseBad[denseAt + 40] = 9;
  expectProtocolError(denseBad, {}, "unknown index encoding 9");
}

TEST(CodecHostile, ModelAwareLimitsCheckTensorIdsEverywhere) {
  DecodeLimits model;
  model.tensorSizes = {6, 50};
  expectProtocolError(encodePayload(Message(KeyframeRequest{2, "x"})), model,
                      "tensor id 2 out of range");
  EXPECT_NO_THROW(decodeAny(encodePayload(Message(KeyframeRequest{kAllTensors, "x"})), model));
  expectProtocolError(encodePayload(Message(MaskVote{7, 0, 6, {1}})), model,
                      "tensor id 7 out of range");
  // Votes over all parameters have no per-tensor universe to check against.
  EXPECT_NO_THROW(decodeAny(encodePayload(Message(MaskVote{kAllTensors, 0, 56, {55}})), model));
  auto keyframe = makeUpdate(UpdateKind::kKeyframe, randomFloats(50, 15));
  keyframe.tensor = 1;
  EXPECT_NO_THROW(decodeAny(encodePayload(Message(keyframe)), model));
  keyframe.tensor = 0;
  expectProtocolError(encodePayload(Message(keyframe)), model, "50 values, the tensor has 6");
  auto masked = makeUpdate(UpdateKind::kMasked, randomFloats(3, 16));
  masked.tensor = 0;
  EXPECT_NO_THROW(decodeAny(encodePayload(Message(masked)), model));
}

TEST(CodecHostile, TextLimitsApply) {
  DecodeLimits limits;
  limits.maxTextBytes = 8;
  expectProtocolError(encodePayload(Message(Goodbye{"a much longer reason"})), limits,
                      "exceeds the limit");
  EXPECT_NO_THROW(decodeAny(encodePayload(Message(Goodbye{"short"})), limits));
}

TEST(DeltaVarint, RoundTripAndRejectsCountBombs) {
  std::vector<uint32_t> indices = {3, 200, 70000, 70001, 0xFFFFFFFFu};
  Bytes bytes = encodeDeltaVarint(indices);
  EXPECT_EQ(bytes.size(), deltaVarintSize(indices));
  EXPECT_EQ(decodeDeltaVarint(bytes, 5, uint64_t{1} << 32), indices);
  EXPECT_THROW(decodeDeltaVarint(bytes, 4, uint64_t{1} << 32), ProtocolError);  // trailing
  EXPECT_THROW(decodeDeltaVarint(bytes, 1000000000, uint64_t{1} << 32), ProtocolError);
  EXPECT_THROW(decodeDeltaVarint(bytes, 5, 0xFFFFFFFFu), ProtocolError);
}

TEST(Codec, DigestKeyframeCarriesNoValues) {
  auto in = makeUpdate(UpdateKind::kKeyframe, {});
  in.digest = 0x0123456789ABCDEFull;
  DecodeLimits model;
  model.tensorSizes = {1, 1, 1, 4000};
  auto out = roundTrip(in, model);
  expectHeaderEq(in, out);
  EXPECT_TRUE(out.values.empty());
  EXPECT_LT(encodePayload(Message(in)).size(), 100u);  // instead of 16,000 bytes of values
  // Without a digest an empty keyframe is just short.
  in.digest = 0;
  expectProtocolError(encodePayload(Message(in)), model, "0 values, the tensor has 4000");
  // A full keyframe may carry a digest too (it is ignored beside the values).
  auto full = makeUpdate(UpdateKind::kKeyframe, randomFloats(4000, 9));
  full.digest = 7;
  expectSameBits(roundTrip(full, model).values, full.values);
}

TEST(Codec, MaskDecisionAgainstVoteFlagRoundTrips) {
  MaskDecision d{2, 9, 1000, {1, 5, 999}, true};
  auto out = roundTrip(d);
  EXPECT_TRUE(out.againstVote);
  EXPECT_EQ(out.indices, d.indices);
  d.againstVote = false;
  EXPECT_FALSE(roundTrip(d).againstVote);
}

TEST(Codec, Int8ValuesRoundTripBitExactAtOneBytePerValue) {
  const float scale = 0.125f;
  std::vector<float> values;
  for (int q = -127; q <= 127; ++q) values.push_back(static_cast<float>(q) * scale);
  auto in = makeUpdate(UpdateKind::kMasked, values);
  in.int8Scale = scale;
  auto out = roundTrip(in);
  expectHeaderEq(in, out);
  EXPECT_EQ(out.int8Scale, scale);
  expectSameBits(out.values, in.values);
  auto f32 = in;
  f32.int8Scale = 0.0f;
  // 255 values: 4 bytes each as float32, 1 as int8 (word padding aside).
  EXPECT_GE(encodePayload(Message(f32)).size() - encodePayload(Message(in)).size(), 3 * 255u - 8);
  // A sender's broken invariants are internal errors, not wire garbage.
  auto off = in;
  off.values[3] += 0.01f;
  EXPECT_THROW(encodePayload(Message(off)), InternalError);
  auto both = in;
  both.fp16 = true;
  EXPECT_THROW(encodePayload(Message(both)), InternalError);
  // The extreme scales the sender may use still round-trip bit for bit.
  for (float edgeScale :
       {std::numeric_limits<float>::min(), std::numeric_limits<float>::max() / 128.0f}) {
    auto edge =
        makeUpdate(UpdateKind::kDense, {127.0f * edgeScale, -edgeScale, 0.0f, 5.0f * edgeScale});
    edge.int8Scale = edgeScale;
    auto back = std::get<TensorUpdate>(decodePayload(encodePayload(Message(edge)), {}));
    EXPECT_EQ(back.values, edge.values) << edgeScale;
  }
}

TEST(CodecHostile, BadInt8ScalesAndBytesAreRejected) {
  auto in = makeUpdate(UpdateKind::kDense, {0.5f, -0.5f, 0.0f});
  in.int8Scale = 0.5f;
  const auto [good, at] = encodeLocated(in);
  float onWire;
  std::memcpy(&onWire, good.data() + at + 44, 4);
  ASSERT_EQ(onWire, 0.5f);
  // Denormal scales were found by the fuzzer: 1 / scale overflows and q * scale loses bits, so
  // the decoded values would not re-encode. FLT_MAX / 127 rounds up: 127 * it overflows.
  for (float bad :
       {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(),
        std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
        2.2241e-41f, std::numeric_limits<float>::max() / 127.0f}) {
    Bytes b = good;
    std::memcpy(b.data() + at + 44, &bad, 4);
    expectProtocolError(b, {}, "int8 values with scale");
  }
  in.int8Scale = 0.0f;
  in.values = {1.0f};
  auto [plain, p] = encodeLocated(in);
  const float half = 0.5f;
  std::memcpy(plain.data() + p + 44, &half, 4);
  expectProtocolError(plain, {}, "a value scale without int8 or sign values");
  // q = -128 is outside the symmetric range the sender uses.
  Bytes minus128 = good;
  const size_t last = findUnique(minus128, std::vector<uint8_t>{0x01, 0xFF, 0x00});
  minus128[last + 1] = 0x80;
  expectProtocolError(minus128, {}, "int8 value -128 at position 1");
}

TEST(Codec, SignValuesRoundTripBitExactAtOneBitPerValue) {
  const float s = 0.0375f;
  for (UpdateKind kind : {UpdateKind::kDense, UpdateKind::kMasked, UpdateKind::kSparse}) {
    for (size_t n : {size_t{1}, size_t{8}, size_t{13}, size_t{1000}}) {
      std::vector<float> values(n);
      for (size_t i = 0; i < n; ++i) values[i] = (i * 7) % 3 == 0 ? -s : s;
      std::vector<uint32_t> indices;
      if (kind == UpdateKind::kSparse) {
        for (size_t i = 0; i < n; ++i) indices.push_back(static_cast<uint32_t>(3 * i + 1));
      }
      auto in = makeUpdate(kind, values, indices);
      in.signScale = s;
      auto out = roundTrip(in);
      expectHeaderEq(in, out);
      EXPECT_EQ(out.signScale, s);
      EXPECT_EQ(out.int8Scale, 0.0f);
      expectSameBits(out.values, in.values);
      EXPECT_EQ(out.indices, in.indices);
      if (n == 1000 && kind == UpdateKind::kDense) {
        auto f32 = in;
        f32.signScale = 0.0f;
        // 1000 values: 4000 bytes as float32, 125 as signs (word padding aside).
        EXPECT_GE(encodePayload(Message(f32)).size() - encodePayload(Message(in)).size(),
                  4000u - 125u - 8u);
      }
    }
  }
  // A sender's broken invariants are internal errors, not wire garbage.
  auto in = makeUpdate(UpdateKind::kDense, {s, -s, s});
  in.signScale = s;
  auto off = in;
  off.values[1] = -0.5f * s;
  EXPECT_THROW(encodePayload(Message(off)), InternalError);
  auto both = in;
  both.int8Scale = 1.0f / 127.0f;
  EXPECT_THROW(encodePayload(Message(both)), InternalError);
  auto key = in;
  key.kind = UpdateKind::kKeyframe;
  EXPECT_THROW(encodePayload(Message(key)), InternalError);
}

TEST(CodecHostile, BadSignScalesPaddingAndBitsAreRejected) {
  // valueScale f32 @44, signPadBits u8 @42 in the data section (see encodeLocated). 13 values
  // whose sign bits are the bytes A5 15 (set = negative), easy to find on the wire.
  std::vector<float> values(13, 0.5f);
  for (int i : {0, 2, 5, 7, 8, 10, 12}) values[static_cast<size_t>(i)] = -0.5f;
  auto in = makeUpdate(UpdateKind::kDense, values);
  in.signScale = 0.5f;
  const auto [good, at] = encodeLocated(in);
  float onWire;
  std::memcpy(&onWire, good.data() + at + 44, 4);
  ASSERT_EQ(onWire, 0.5f);
  ASSERT_EQ(good[at + 42], 3);  // 16 bits carry 13 values
  for (float bad :
       {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(),
        std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min()}) {
    Bytes b = good;
    std::memcpy(b.data() + at + 44, &bad, 4);
    expectProtocolError(b, {}, "sign values with scale");
  }
  expectPatchRejected(good, at + 42, 8, "8 sign padding bits on 2 value bytes");
  // Another padding is another count: 16 - 5 = 11 values, and then bit 12 is a spare bit set.
  expectPatchRejected(good, at + 42, 5, "spare sign bits set after value 11");
  // The spare bits after the last value must be 0: one encoding per update.
  const size_t bitsAt = findUnique(good, std::vector<uint8_t>{0xA5, 0x15});
  expectPatchRejected(good, bitsAt + 1, 0x35, "spare sign bits set after value 13");
  // Against the tensor size, as for every dense update (makeUpdate's tensor is 3).
  DecodeLimits model;
  model.tensorSizes = {1, 1, 1, 14};
  expectProtocolError(encodePayload(Message(in)), model, "13 values, the tensor has 14");
  // Padding bits on float32 values.
  auto [f32, p] = encodeLocated(makeUpdate(UpdateKind::kDense, {1.0f}));
  expectPatchRejected(f32, p + 42, 1, "sign padding bits without sign values");
}

TEST(CodecHostile, DigestOnlyOnKeyframes) {
  auto dense = makeUpdate(UpdateKind::kDense, {1.0f});
  dense.digest = 5;
  EXPECT_THROW(encodePayload(Message(dense)), InternalError);
  // A keyframe whose kind is patched to dense on the wire (data section: kind u16 @24).
  auto in = makeUpdate(UpdateKind::kKeyframe, {});
  in.digest = 5;
  auto [bad, at] = encodeLocated(in);
  ASSERT_EQ(bad[at + 24], 3);  // keyframe
  bad[at + 24] = 0;
  expectProtocolError(bad, {}, "a digest on an update that is not a keyframe");
}

}  // namespace
}  // namespace murmur::net
