#include "net/rice_coding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "common/error.hpp"
#include "tests/net/random_indices.hpp"

namespace murmur::net {
namespace {

using testing::randomSortedIndices;

constexpr uint64_t kFullUniverse = uint64_t{1} << 32;

Bytes encodeWith(std::span<const uint32_t> indices, unsigned b) {
  Bytes out(riceSize(indices, b));
  writeRice(indices, b, out);
  return out;
}

uint32_t countOf(std::span<const uint32_t> indices) {
  return static_cast<uint32_t>(indices.size());
}

// Every b whose encoding stays small (b = 0 for a gap of 2^32 would be 512 MiB of ones).
void expectRoundTripsAtEveryParameter(const std::vector<uint32_t>& indices, uint64_t universe) {
  for (unsigned b = 0; b <= kMaxRiceParameter; ++b) {
    size_t size = riceSize(indices, b);
    if (size > (size_t{1} << 20)) continue;
    Bytes bytes = encodeWith(indices, b);
    ASSERT_EQ(bytes.size(), size) << "b " << b;
    EXPECT_EQ(bytes[0], b);
    EXPECT_EQ(decodeRice(bytes, countOf(indices), universe), indices)
        << "b " << b << ", " << indices.size() << " indices";
  }
  Bytes best = encodeRice(indices, universe);
  EXPECT_EQ(best.size(), riceEncodedSize(indices));
  EXPECT_EQ(best[0], bestRiceParameter(indices));
  EXPECT_EQ(decodeRice(best, countOf(indices), universe), indices);
}

void expectRejected(std::span<const uint8_t> data, uint32_t count, uint64_t universe,
                    const std::string& fragment) {
  try {
    decodeRice(data, count, universe);
    ADD_FAILURE() << "decoded, expected a ProtocolError mentioning '" << fragment << "'";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(RiceCoding, KnownBytesPinTheFormat) {
  // b = 1, gaps 0, 2, 0, 7: 0|0  10|0  0|0  1110|1, MSB first, zero-padded to two bytes.
  std::vector<uint32_t> indices = {0, 3, 4, 12};
  Bytes bytes = encodeWith(indices, 1);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()),
            (std::vector<uint8_t>{0x01, 0x21, 0xD0}));
  EXPECT_EQ(decodeRice(bytes, 4, 13), indices);
  // The count is what ends the gaps: the 4 padding bits read as two more gaps of 0 at b = 1.
  EXPECT_EQ(decodeRice(bytes, 6, 100), (std::vector<uint32_t>{0, 3, 4, 12, 13, 14}));
  expectRejected(bytes, 7, 100, "truncated at index 6 of 7");
  // b = 0 is unary: a bitmap of the gaps, cut after the last index.
  std::vector<uint32_t> run = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(riceSize(run, 0), 2u);
  EXPECT_EQ(bestRiceParameter(run), 0u);
  Bytes unary = encodeRice(run, 8);
  EXPECT_EQ(std::vector<uint8_t>(unary.begin(), unary.end()), (std::vector<uint8_t>{0, 0}));
}

TEST(RiceCoding, EmptySetIsTheParameterByteAlone) {
  EXPECT_EQ(bestRiceParameter({}), 0u);
  for (unsigned b = 0; b <= kMaxRiceParameter; ++b) EXPECT_EQ(riceSize({}, b), 1u);
  Bytes bytes = encodeRice({}, 10);
  ASSERT_EQ(bytes.size(), 1u);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_TRUE(decodeRice(bytes, 0, 10).empty());
  const uint8_t anyParameter[] = {31};
  EXPECT_TRUE(decodeRice(anyParameter, 0, 0).empty());
}

TEST(RiceCoding, EdgeSetsRoundTripAtEveryParameter) {
  constexpr uint32_t kUniverse = 48000;
  std::vector<uint32_t> dense(1000);
  for (uint32_t i = 0; i < dense.size(); ++i) dense[i] = i;
  for (const auto& indices : {std::vector<uint32_t>{0}, std::vector<uint32_t>{kUniverse - 1},
                              std::vector<uint32_t>{0, kUniverse - 1}, dense,
                              std::vector<uint32_t>{1, 2, 1000, 1001, 47000}}) {
    expectRoundTripsAtEveryParameter(indices, kUniverse);
  }
  // The whole 32-bit range: the largest gap and the last representable index.
  expectRoundTripsAtEveryParameter({0xFFFFFFFFu}, kFullUniverse);
  expectRoundTripsAtEveryParameter({0, 0xFFFFFFFEu, 0xFFFFFFFFu}, kFullUniverse);
  expectRoundTripsAtEveryParameter({0x7FFFFFFFu, 0x80000000u}, kFullUniverse);
}

TEST(RiceCoding, RandomSetsRoundTripAtEveryParameter) {
  uint32_t seed = 100;
  for (uint32_t universe : {48000u, 5003u}) {
    for (double density : {0.01, 0.05, 0.10, 0.50}) {
      expectRoundTripsAtEveryParameter(randomSortedIndices(universe, density, ++seed), universe);
    }
  }
}

TEST(RiceCoding, BestParameterIsTheSmallestSize) {
  std::mt19937 rng(7);
  std::vector<std::vector<uint32_t>> sets;
  for (double density : {0.0005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9}) {
    sets.push_back(randomSortedIndices(48000, density, static_cast<uint32_t>(rng())));
  }
  // Far from geometric: dense runs separated by huge gaps put the mean gap far from the best b.
  std::vector<uint32_t> clustered;
  for (uint32_t start : {0u, 1000000u, 50000000u, 3000000000u}) {
    for (uint32_t i = 0; i < 500; ++i) clustered.push_back(start + i);
  }
  sets.push_back(clustered);
  sets.push_back({0xFFFFFFFFu});
  sets.push_back({5});
  for (const auto& indices : sets) {
    size_t best = SIZE_MAX;
    for (unsigned b = 0; b <= kMaxRiceParameter; ++b) best = std::min(best, riceSize(indices, b));
    EXPECT_EQ(riceSize(indices, bestRiceParameter(indices)), best) << indices.size();
    EXPECT_EQ(riceEncodedSize(indices), best);
  }
}

TEST(RiceCoding, BeatsDeltaVarintAndBitmapOnTopKSets) {
  // A random 10% (and 5%) of 48,000 coordinates: mean gap 10 (20), one varint byte per index.
  constexpr uint32_t kUniverse = 48000;
  for (double density : {0.10, 0.05}) {
    auto indices = randomSortedIndices(kUniverse, density, 48);
    size_t rice = riceEncodedSize(indices);
    size_t varint = deltaVarintSize(indices);
    EXPECT_EQ(chooseIndexEncoding(indices, kUniverse), IndexEncoding::kGolombRice) << density;
    EXPECT_EQ(chooseSparseIndexEncoding(indices), IndexEncoding::kGolombRice) << density;
    EXPECT_LT(rice * 4, varint * 3) << density;  // under 0.75 bytes per index
    EXPECT_LT(rice * 2, bitmapSize(kUniverse)) << density;
    EXPECT_EQ(encodeRice(indices, kUniverse).size(), rice);
  }
  // Half the coordinates: b = 0 is the bitmap cut at the last index plus a byte; bitmap wins.
  auto half = randomSortedIndices(kUniverse, 0.5, 49);
  EXPECT_GE(riceEncodedSize(half), bitmapSize(kUniverse));
  EXPECT_EQ(chooseIndexEncoding(half, kUniverse), IndexEncoding::kBitmap);
}

TEST(RiceCoding, EncoderRejectsBrokenInvariantsAsInternalError) {
  EXPECT_THROW(encodeRice(std::vector<uint32_t>{4, 2}, 10), InternalError);
  EXPECT_THROW(encodeRice(std::vector<uint32_t>{3, 3}, 10), InternalError);
  EXPECT_THROW(encodeRice(std::vector<uint32_t>{10}, 10), InternalError);
  EXPECT_THROW(riceSize({}, 32), InternalError);
  std::vector<uint32_t> indices = {1, 2, 3};
  Bytes wrongSize(riceSize(indices, 2) + 1);
  EXPECT_THROW(writeRice(indices, 2, wrongSize), InternalError);
}

// --- hostile input ----------------------------------------------------------------------------

TEST(RiceCodingHostile, MissingOrBadParameterByte) {
  expectRejected({}, 0, 10, "empty data");
  const uint8_t badB[] = {32};
  expectRejected(badB, 0, 10, "parameter b = 32 exceeds 31");
  const uint8_t worseB[] = {0xFF, 0x00};
  expectRejected(worseB, 1, 10, "parameter b = 255 exceeds 31");
}

TEST(RiceCodingHostile, CountBombsAreRefusedBeforeAllocating) {
  const uint8_t data[] = {0x05, 0x00};  // room for one index of 6 bits
  EXPECT_EQ(decodeRice(data, 1, 100), std::vector<uint32_t>{0});
  expectRejected(data, 2, 100, "2 indices with b = 5 cannot fit in 2 bytes");
  expectRejected(data, 1000000000, kFullUniverse, "cannot fit");
  expectRejected(data, UINT32_MAX, kFullUniverse, "cannot fit");
  const uint8_t wide[] = {31, 0, 0, 0, 0, 0, 0, 0, 0};  // 64 bits: two indices at b = 31
  EXPECT_EQ(decodeRice(wide, 2, kFullUniverse), (std::vector<uint32_t>{0, 1}));
  expectRejected(wide, 3, kFullUniverse, "cannot fit");
}

TEST(RiceCodingHostile, TruncatedInTheUnaryRunOrTheLowBits) {
  // b = 0, index 10: ten ones and a zero over two bytes; the last byte dropped.
  Bytes ten = encodeWith(std::vector<uint32_t>{10}, 0);
  ASSERT_EQ(std::vector<uint8_t>(ten.begin(), ten.end()), (std::vector<uint8_t>{0x00, 0xFF, 0xC0}));
  expectRejected({ten.data(), 2}, 1, 100, "truncated at index 0 of 1");
  // b = 2: 1111 0 01 (gap 17), then the second index's stop bit and no low bits.
  const uint8_t lowCut[] = {0x02, 0xF2};
  expectRejected(lowCut, 2, 1000, "truncated at index 1 of 2");
  // Every shorter prefix of a real encoding is rejected.
  auto indices = randomSortedIndices(5000, 0.1, 3);
  Bytes bytes = encodeRice(indices, 5000);
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_THROW(decodeRice({bytes.data(), len}, countOf(indices), 5000), ProtocolError) << len;
  }
}

TEST(RiceCodingHostile, TrailingBytesAndNonzeroPadding) {
  const std::vector<uint32_t> indices = {0, 3, 4, 12};
  Bytes bytes = encodeWith(indices, 1);  // 01 21 D0: 12 bits, 4 bits of padding
  Bytes trailing = bytes;
  trailing.push_back(0x00);
  expectRejected(trailing, 4, 13, "1 trailing bytes after 4 indices");
  Bytes padding = bytes;
  padding[2] = 0xD1;
  expectRejected(padding, 4, 13, "nonzero padding bits after 4 indices");
  expectRejected(bytes, 3, 13, "1 trailing bytes after 3 indices");  // 9 bits left over
  // Fewer indices than the data holds, with whole zero bytes left over.
  const uint8_t zeros[] = {0x00, 0x00, 0x00};
  EXPECT_EQ(decodeRice(zeros, 16, 16).size(), 16u);
  expectRejected(zeros, 8, 16, "1 trailing bytes after 8 indices");
}

TEST(RiceCodingHostile, IndicesPastTheUniverse) {
  Bytes bytes = encodeWith(std::vector<uint32_t>{0, 3, 4, 12}, 1);
  EXPECT_EQ(decodeRice(bytes, 4, 13).back(), 12u);
  // Quotient 3 still fits in a universe of 12, the low bit takes the index to 12.
  expectRejected(bytes, 4, 12, "index 12 at position 3 is >= universe 12");
  // In a universe of 11 the quotient alone is too large.
  expectRejected(bytes, 4, 11, "unary run of 3 or more ones at index 3 of 4");
  expectRejected(bytes, 4, 11, "puts the index past universe 11");
  // The universe is full before the count is.
  const uint8_t zeros[] = {0x00, 0x00};
  expectRejected(zeros, 4, 3, "no room for index 3 of 4 in universe 3");
}

TEST(RiceCodingHostile, UnaryRunsThatOverflowTheGapStopEarly) {
  // b = 31, quotient 2: the gap would be 2^32.
  const uint8_t overflow[] = {31, 0xC0, 0x00, 0x00, 0x00};
  expectRejected(overflow, 1, kFullUniverse, "overflows a 32-bit gap");
  const uint8_t fits[] = {31, 0xBF, 0xFF, 0xFF, 0xFF, 0x80};  // quotient 1, 31 low ones
  EXPECT_EQ(decodeRice(fits, 1, kFullUniverse), std::vector<uint32_t>{0xFFFFFFFFu});
  // A megabyte of ones at b = 0 fails as soon as the run passes the universe, not at its end.
  Bytes ones(1 << 20, 0xFF);
  ones[0] = 0;
  expectRejected(ones, 1, 48000, "puts the index past universe 48000");
  expectRejected(ones, 1, kFullUniverse, "truncated at index 0 of 1");
}

TEST(RiceCodingHostile, RandomBytesOnlyThrowProtocolErrorAndWhatDecodesIsCanonical) {
  std::mt19937 rng(11);
  size_t decoded = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes junk(rng() % 12);
    for (auto& byte : junk) byte = static_cast<uint8_t>(rng() % 4 == 0 ? 0 : rng());
    if (!junk.empty()) junk[0] = static_cast<uint8_t>(rng() % 34);
    uint32_t count = rng() % 20;
    uint64_t universe = iter % 2 == 0 ? kFullUniverse : 1 + rng() % 5000;
    try {
      auto indices = decodeRice(junk, count, universe);
      ++decoded;
      ASSERT_EQ(indices.size(), count);
      for (size_t i = 0; i < indices.size(); ++i) {
        ASSERT_LT(indices[i], universe);
        ASSERT_TRUE(i == 0 || indices[i] > indices[i - 1]);
      }
      // One encoding per (set, b): re-encoding gives the same bytes back.
      Bytes again = encodeWith(indices, junk[0]);
      ASSERT_EQ(std::vector<uint8_t>(again.begin(), again.end()),
                std::vector<uint8_t>(junk.begin(), junk.end()));
    } catch (const ProtocolError&) {
    }
  }
  EXPECT_GT(decoded, 100u);
}

}  // namespace
}  // namespace murmur::net
