#include "net/framing.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "common/error.hpp"

namespace murmur::net {
namespace {

Bytes payloadOf(size_t words, uint8_t tag) {
  Bytes p(words * 8);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(tag + i * 31);
  return p;
}

MacBytes macOf(uint8_t tag) {
  MacBytes m{};
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<uint8_t>(tag ^ i);
  return m;
}

// `frames` frames back to back, the first `plainFrames` without a MAC and the rest with one
// (as after a handshake); every `bigEvery`-th payload has up to `bigWords` words, the others up
// to `smallWords`. Frame i is tagged `tag0 + i` (payload bytes and MAC).
struct FrameStream {
  std::vector<Bytes> payloads;
  Bytes stream;
};
FrameStream frameStream(std::mt19937& rng, size_t frames, size_t plainFrames, size_t bigEvery,
                        size_t bigWords, size_t smallWords, uint8_t tag0) {
  FrameStream fs;
  for (size_t i = 0; i < frames; ++i) {
    const size_t words = 1 + rng() % (i % bigEvery == 0 ? bigWords : smallWords);
    const auto tag = static_cast<uint8_t>(tag0 + i);
    fs.payloads.push_back(payloadOf(words, tag));
    MacBytes mac = macOf(tag);
    Bytes f = buildFrame(fs.payloads.back(), i >= plainFrames ? &mac : nullptr);
    fs.stream.insert(fs.stream.end(), f.begin(), f.end());
  }
  return fs;
}

TEST(Framing, HeaderIsLittleEndianLength) {
  auto h = frameHeader(0x01020308);
  EXPECT_EQ(h[0], 0x08);
  EXPECT_EQ(h[1], 0x03);
  EXPECT_EQ(h[2], 0x02);
  EXPECT_EQ(h[3], 0x01);
  Bytes p = payloadOf(2, 1);
  MacBytes m = macOf(9);
  Bytes f = buildFrame(p, &m);
  ASSERT_EQ(f.size(), 4 + 16 + 32);
  EXPECT_EQ(f[0], 16);
  EXPECT_EQ(std::memcmp(f.data() + 4, p.data(), 16), 0);
  EXPECT_EQ(std::memcmp(f.data() + 20, m.data(), 32), 0);
}

TEST(Framing, RefusesToFrameWhatItWouldReject) {
  EXPECT_THROW(frameHeader(0), InternalError);
  EXPECT_THROW(frameHeader(12), InternalError);
  EXPECT_THROW(frameHeader(1024, 512), InternalError);
  EXPECT_NO_THROW(frameHeader(512, 512));
}

// A stream of frames, some with MACs (switched on at a frame boundary, as after a handshake),
// cut into random chunks including 1-byte ones, comes out frame by frame, word-aligned.
TEST(Framing, ArbitraryChunkSplitsYieldTheSameFrames) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t plainFrames = 3;
    const auto [payloads, stream] = frameStream(rng, 12, plainFrames, 4, 3000, 20, 0);
    FrameReader reader;
    size_t got = 0;
    size_t pos = 0;
    size_t maxChunk = trial % 3 == 0 ? 2 : (trial % 3 == 1 ? 64 : 40000);
    while (pos < stream.size()) {
      size_t n = std::min<size_t>(stream.size() - pos, 1 + rng() % maxChunk);
      reader.feed({stream.data() + pos, n});
      pos += n;
      while (auto frame = reader.next()) {
        ASSERT_LT(got, payloads.size());
        EXPECT_EQ(frame->payload, payloads[got]);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(frame->payload.data()) % 8, 0u);
        EXPECT_EQ(frame->wireBytes, 4 + payloads[got].size() + (got >= plainFrames ? 32 : 0));
        if (got >= plainFrames) {
          ASSERT_TRUE(frame->mac.has_value());
          EXPECT_EQ(*frame->mac, macOf(static_cast<uint8_t>(got)));
        } else {
          EXPECT_FALSE(frame->mac.has_value());
        }
        ++got;
        if (got == plainFrames) reader.setMacEnabled(true);
      }
    }
    EXPECT_EQ(got, payloads.size());
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

// The transport's read loop: whenever payloadWindow() is non-empty it reads the socket into
// the window (commitPayload), otherwise it feeds a staging chunk. Any mix of the two over
// MAC'd and plain frames yields the same frames, and the window never covers bytes that
// belong to anything but the current payload.
TEST(Framing, DirectPayloadWindowMixedWithFeedYieldsTheSameFrames) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 30; ++trial) {
    const size_t plainFrames = 2;
    const auto [payloads, stream] = frameStream(rng, 10, plainFrames, 3, 20000, 30, 40);
    FrameReader reader;
    size_t got = 0;
    size_t pos = 0;
    size_t directBytes = 0;
    while (pos < stream.size()) {
      size_t n = std::min<size_t>(stream.size() - pos, 1 + rng() % (trial % 2 ? 100 : 70000));
      std::span<uint8_t> window = reader.payloadWindow();
      if (!window.empty() && rng() % 4 != 0) {
        n = std::min(n, window.size());  // a read_some into the window returns at most that
        std::memcpy(window.data(), stream.data() + pos, n);
        reader.commitPayload(n);
        directBytes += n;
      } else {
        reader.feed({stream.data() + pos, n});
      }
      pos += n;
      while (auto frame = reader.next()) {
        ASSERT_LT(got, payloads.size());
        EXPECT_EQ(frame->payload, payloads[got]);
        EXPECT_EQ(frame->mac.has_value(), got >= plainFrames);
        if (frame->mac) {
          EXPECT_EQ(*frame->mac, macOf(static_cast<uint8_t>(got + 40)));
        }
        ++got;
        if (got == plainFrames) reader.setMacEnabled(true);
      }
    }
    EXPECT_EQ(got, payloads.size());
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_TRUE(reader.payloadWindow().empty());
    EXPECT_GT(directBytes, 0u);
  }
}

TEST(Framing, PayloadWindowOnlyInsideAKnownPayload) {
  Bytes p = payloadOf(100, 5);
  MacBytes mac = macOf(5);
  Bytes f = buildFrame(p, &mac);
  FrameReader reader(kDefaultMaxPayloadBytes, true);
  EXPECT_TRUE(reader.payloadWindow().empty());  // no header yet
  reader.feed({f.data(), 10});                  // header + 6 payload bytes
  EXPECT_TRUE(reader.payloadWindow().empty());  // header not parsed until next()
  EXPECT_FALSE(reader.next().has_value());
  ASSERT_EQ(reader.payloadWindow().size(), p.size() - 6);
  EXPECT_THROW(reader.commitPayload(p.size()), InternalError);
  std::memcpy(reader.payloadWindow().data(), p.data() + 6, p.size() - 6);
  reader.commitPayload(p.size() - 6);
  EXPECT_TRUE(reader.payloadWindow().empty());  // only the MAC is missing: not a payload byte
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_EQ(reader.buffered(), 4 + p.size());
  reader.feed({f.data() + 4 + p.size(), 32});
  auto frame = reader.next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->payload, p);
  EXPECT_EQ(*frame->mac, mac);
  // Bytes staged behind a payload (a feed that overran into the next frame) close the window:
  // socket bytes must not jump ahead of them.
  Bytes two = buildFrame(p, &mac);
  Bytes next = buildFrame(payloadOf(3, 9), &mac);
  two.insert(two.end(), next.begin(), next.end());
  reader.feed(two);
  frame = reader.next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_TRUE(reader.payloadWindow().empty());
  EXPECT_TRUE(reader.next().has_value());
}

TEST(Framing, BufferedCountsBytesNotYetReturned) {
  Bytes f = buildFrame(payloadOf(4, 3));
  FrameReader reader;
  reader.feed({f.data(), 3});
  EXPECT_EQ(reader.buffered(), 3u);
  EXPECT_FALSE(reader.next().has_value());
  reader.feed({f.data() + 3, 10});
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_EQ(reader.buffered(), 13u);
  reader.feed({f.data() + 13, f.size() - 13});
  reader.feed(f);  // and a second frame in the same call sequence
  EXPECT_EQ(reader.buffered(), 2 * f.size());
  EXPECT_TRUE(reader.next().has_value());
  EXPECT_EQ(reader.buffered(), f.size());
  EXPECT_TRUE(reader.next().has_value());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(Framing, BadHeadersAreProtocolErrors) {
  auto expectRejected = [](std::vector<uint8_t> bytes, size_t limit, const char* fragment) {
    FrameReader reader(limit);
    reader.feed(bytes);
    try {
      reader.next();
      ADD_FAILURE() << "accepted a bad header";
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expectRejected({0, 0, 0, 0}, 1024, "empty");
  expectRejected({12, 0, 0, 0}, 1024, "8-byte words");
  expectRejected({0, 8, 0, 0}, 1024, "exceeds the limit");  // 2048 > 1024
  expectRejected({0xF8, 0xFF, 0xFF, 0xFF}, kDefaultMaxPayloadBytes, "exceeds the limit");
  // The header is judged before any payload byte arrives: no 4 GiB allocation happens.
  FrameReader reader;
  reader.feed(std::vector<uint8_t>{0xF8, 0xFF, 0xFF, 0xFF});
  EXPECT_THROW(reader.next(), ProtocolError);
}

TEST(Framing, TruncatedStreamYieldsNothing) {
  Bytes f = buildFrame(payloadOf(10, 4));
  for (size_t cut = 0; cut < f.size(); ++cut) {
    FrameReader reader;
    reader.feed({f.data(), cut});
    EXPECT_FALSE(reader.next().has_value()) << cut;
    EXPECT_EQ(reader.buffered(), cut);
  }
}

TEST(Framing, DecodesWhatTheCodecEncoded) {
  TensorUpdate u;
  u.tensor = 2;
  u.values = {1.0f, 2.0f, 3.0f};
  Bytes stream = buildFrame(encodePayload(Message(u)));
  Bytes hb = buildFrame(encodePayload(Message(Heartbeat{5, 6, 7})));
  stream.insert(stream.end(), hb.begin(), hb.end());
  FrameReader reader;
  for (uint8_t b : stream) reader.feed({&b, 1});
  auto f1 = reader.next();
  auto f2 = reader.next();
  ASSERT_TRUE(f1 && f2);
  EXPECT_EQ(std::get<TensorUpdate>(decodePayload(f1->payload)).values, u.values);
  EXPECT_EQ(std::get<Heartbeat>(decodePayload(f2->payload)).round, 6u);
}

}  // namespace
}  // namespace murmur::net
