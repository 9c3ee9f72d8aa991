#include "net/auth.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"

namespace murmur::net {
namespace {

std::vector<uint8_t> fromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(AuthPrimitives, HmacSha256MatchesRfc4231Case2) {
  MacBytes mac = hmacSha256(bytes("Jefe"), bytes("what do ya want for nothing?"));
  auto want = fromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(std::vector<uint8_t>(mac.begin(), mac.end()), want);
}

TEST(AuthPrimitives, HkdfSha256MatchesRfc5869Case1) {
  std::vector<uint8_t> ikm(22, 0x0b);
  auto salt = fromHex("000102030405060708090a0b0c");
  auto info = fromHex("f0f1f2f3f4f5f6f7f8f9");
  std::vector<uint8_t> okm(42);
  hkdfSha256(ikm, salt, info, okm);
  EXPECT_EQ(okm, fromHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208"
                         "d5b887185865"));
}

TEST(AuthPrimitives, NoncesDiffer) { EXPECT_NE(randomNonce(), randomNonce()); }

Hello helloFor(NodeId node) {
  Hello h;
  h.clusterId = "test-cluster";
  h.node = node;
  h.modelFingerprint = 0xABCDEF;
  h.nonce = randomNonce();
  return h;
}

// Runs the handshake between a (node 1) and b (node 2); throws what the failing side throws.
void runHandshake(Handshake& a, Handshake& b) {
  // Hellos cross the wire through the codec, as the transport does.
  Hello aSeen = decodeHello(encodeHello(a.hello()));
  Hello bSeen = decodeHello(encodeHello(b.hello()));
  HelloProof fromA = a.onPeerHello(bSeen, NodeId{2});
  HelloProof fromB = b.onPeerHello(aSeen, NodeId{1});
  b.onPeerProof(decodeHelloProof(encodeHelloProof(fromA)));
  a.onPeerProof(decodeHelloProof(encodeHelloProof(fromB)));
}

const ClusterSecret kSecret(std::string("correct horse battery staple"));
const ClusterSecret kOtherSecret(std::string("correct horse battery stapler"));

TEST(Handshake, SameSecretAuthenticatesAndFrameMacsVerifyAcross) {
  Handshake a(&kSecret, helloFor(1));
  Handshake b(&kSecret, helloFor(2));
  ASSERT_NO_THROW(runHandshake(a, b));
  EXPECT_TRUE(a.complete() && b.complete());
  EXPECT_TRUE(a.authenticated());
  EXPECT_EQ(a.peer(), 2u);
  EXPECT_EQ(b.peer(), 1u);

  Bytes payload = encodePayload(Message(Heartbeat{1, 2, 3}));
  auto aSend = a.sendAuthenticator();
  auto bRecv = b.receiveAuthenticator();
  MacBytes mac = aSend.sign(payload, 7);
  EXPECT_TRUE(bRecv.verify(payload, 7, mac));

  auto bSend = b.sendAuthenticator();
  auto aRecv = a.receiveAuthenticator();
  EXPECT_TRUE(aRecv.verify(payload, 7, bSend.sign(payload, 7)));
}

TEST(Handshake, WrongSecretFailsOnBothEnds) {
  Handshake a(&kSecret, helloFor(1));
  Handshake b(&kOtherSecret, helloFor(2));
  Hello aHello = a.hello();
  Hello bHello = b.hello();
  HelloProof fromA = a.onPeerHello(bHello);
  HelloProof fromB = b.onPeerHello(aHello);
  EXPECT_THROW(b.onPeerProof(fromA), ProtocolError);
  EXPECT_THROW(a.onPeerProof(fromB), ProtocolError);
  EXPECT_FALSE(a.complete());
  EXPECT_THROW(a.sendAuthenticator(), InternalError);
}

TEST(Handshake, ProofIsBoundToTheTranscript) {
  // A proof recorded on one connection is useless on the next (fresh nonces).
  Handshake a1(&kSecret, helloFor(1));
  Handshake b1(&kSecret, helloFor(2));
  runHandshake(a1, b1);
  Handshake b2(&kSecret, helloFor(2));
  Handshake a1again(&kSecret, a1.hello());
  HelloProof replayed = a1again.onPeerHello(b1.hello());  // same as a1's original proof
  b2.onPeerHello(a1.hello());
  EXPECT_THROW(b2.onPeerProof(replayed), ProtocolError);
  // Reflection: b's own proof sent back to b is not a's proof.
  Handshake a3(&kSecret, helloFor(1));
  Handshake b3(&kSecret, helloFor(2));
  HelloProof bProof = b3.onPeerHello(a3.hello());
  EXPECT_THROW(b3.onPeerProof(bProof), ProtocolError);
}

TEST(FrameAuthenticator, RejectsTamperingWrongSequenceAndTheOtherDirection) {
  Handshake a(&kSecret, helloFor(1));
  Handshake b(&kSecret, helloFor(2));
  runHandshake(a, b);
  auto aSend = a.sendAuthenticator();
  auto aRecv = a.receiveAuthenticator();
  auto bRecv = b.receiveAuthenticator();
  Bytes payload = encodePayload(Message(Goodbye{"done"}));
  MacBytes mac = aSend.sign(payload, 41);
  ASSERT_TRUE(bRecv.verify(payload, 41, mac));

  Bytes tampered = payload;
  tampered[tampered.size() - 3] ^= 0x01;
  EXPECT_FALSE(bRecv.verify(tampered, 41, mac));
  EXPECT_FALSE(bRecv.verify(payload, 40, mac));  // replay / reorder
  EXPECT_FALSE(bRecv.verify(payload, 42, mac));
  MacBytes flipped = mac;
  flipped[31] ^= 0x80;
  EXPECT_FALSE(bRecv.verify(payload, 41, flipped));
  EXPECT_FALSE(bRecv.verify(payload, 41, std::span<const uint8_t>(mac.data(), 31)));
  // Reflected back to its sender: a's receive key is b->a, not a->b.
  EXPECT_FALSE(aRecv.verify(payload, 41, mac));

  // A different connection between the same nodes derives different keys.
  Handshake a2(&kSecret, helloFor(1));
  Handshake b2(&kSecret, helloFor(2));
  runHandshake(a2, b2);
  EXPECT_FALSE(b2.receiveAuthenticator().verify(payload, 41, mac));
}

TEST(Handshake, IncompatibleHellosAreRejectedWithTheReason) {
  auto expectReject = [](Hello theirs, const char* fragment,
                         std::optional<NodeId> expected = std::nullopt) {
    Handshake a(&kSecret, helloFor(1));
    theirs.authenticated = true;
    try {
      a.onPeerHello(theirs, expected);
      ADD_FAILURE() << "accepted: " << fragment;
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  Hello h = helloFor(2);
  h.protocolVersion = kProtocolVersion + 1;
  expectReject(h, "protocol version");
  h = helloFor(2);
  h.clusterId = "other";
  expectReject(h, "cluster 'other'");
  h = helloFor(2);
  h.modelFingerprint = 1;
  expectReject(h, "different model");
  expectReject(helloFor(1), "own id");
  expectReject(helloFor(3), "expected node 2", NodeId{2});

  Handshake open(nullptr, helloFor(1));
  Hello secretHolder = helloFor(2);
  secretHolder.authenticated = true;
  EXPECT_THROW(open.onPeerHello(secretHolder), ProtocolError);
}

TEST(Handshake, OpenClusterCompletesWithoutFrameKeys) {
  Handshake a(nullptr, helloFor(1));
  Handshake b(nullptr, helloFor(2));
  EXPECT_FALSE(a.hello().authenticated);
  ASSERT_NO_THROW(runHandshake(a, b));
  EXPECT_TRUE(a.complete());
  EXPECT_FALSE(a.authenticated());
  EXPECT_THROW(a.sendAuthenticator(), InternalError);
  std::string warning = openClusterWarning("lab");
  EXPECT_NE(warning.find("cluster 'lab' is OPEN"), std::string::npos);
  EXPECT_NE(warning.find(kSecretEnvVar), std::string::npos);
}

class SecretLoading : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv(kSecretEnvVar);
    if (old != nullptr) saved_ = old;
    ::unsetenv(kSecretEnvVar);
    dir_ =
        std::filesystem::temp_directory_path() / ("murmur_auth_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (saved_) {
      ::setenv(kSecretEnvVar, saved_->c_str(), 1);
    } else {
      ::unsetenv(kSecretEnvVar);
    }
    std::filesystem::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& content) {
    auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  std::optional<std::string> saved_;
  std::filesystem::path dir_;
};

TEST_F(SecretLoading, FileWinsAndTrailingNewlineIsTrimmed) {
  ::setenv(kSecretEnvVar, "from-the-environment-variable", 1);
  auto secret = loadClusterSecret(write("s", "0123456789abcdef-file\n"));
  ASSERT_TRUE(secret.has_value());
  std::string got(secret->bytes().begin(), secret->bytes().end());
  EXPECT_EQ(got, "0123456789abcdef-file");
}

TEST_F(SecretLoading, EnvironmentVariableOrOpen) {
  EXPECT_FALSE(loadClusterSecret().has_value());
  ::setenv(kSecretEnvVar, "", 1);
  EXPECT_FALSE(loadClusterSecret().has_value());
  ::setenv(kSecretEnvVar, "an environment secret", 1);
  auto secret = loadClusterSecret();
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ(std::string(secret->bytes().begin(), secret->bytes().end()), "an environment secret");
  ::setenv(kSecretEnvVar, "short", 1);
  EXPECT_THROW(loadClusterSecret(), InputError);
}

TEST_F(SecretLoading, BadFilesAreInputErrors) {
  EXPECT_THROW(loadClusterSecret((dir_ / "missing").string()), InputError);
  EXPECT_THROW(loadClusterSecret(write("short", "tooshort\n")), InputError);
  EXPECT_THROW(ClusterSecret(std::string("x")), InputError);
}

}  // namespace
}  // namespace murmur::net
