#pragma once
// Cluster authentication. Every node of a cluster shares one secret (a file, or the
// MURMUR_SECRET environment variable). On each connection both ends send a Hello with a fresh
// nonce, then a HelloProof = HMAC-SHA256 over the transcript (both Hellos in node-id order:
// protocol version, cluster id, node ids, model fingerprints, nonces), keyed by a key derived
// from the secret and bound to the prover's node id. Afterwards every frame carries a MAC
// under a per-connection, per-direction key (HKDF-SHA256 of the secret and the transcript)
// over (sender, receiver, frame sequence number, payload), so replays, reorders, reflection to
// the other direction and tampering are caught.
//
// No secret: the cluster is OPEN; Hellos are still exchanged and checked for compatibility,
// proofs use an empty key (so an open node and a secret-holding node never agree), and frames
// carry no MAC. The node prints openClusterWarning().

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/messages.hpp"
#include "net/codec.hpp"

namespace murmur::net {

using Key = std::array<uint8_t, 32>;

inline constexpr const char* kSecretEnvVar = "MURMUR_SECRET";
inline constexpr size_t kMinSecretBytes = 16;

class ClusterSecret {
 public:
  // Throws InputError if shorter than kMinSecretBytes.
  explicit ClusterSecret(std::string bytes);
  std::span<const uint8_t> bytes() const;

 private:
  std::string bytes_;
};

// The cluster secret: read from `path` if non-empty (trailing whitespace/newlines trimmed;
// unreadable or too short: InputError), else from $MURMUR_SECRET if set and non-empty, else
// nullopt (open cluster).
std::optional<ClusterSecret> loadClusterSecret(const std::string& path = {});

// The loud text a node logs at start when it runs without a secret.
std::string openClusterWarning(const std::string& clusterId);

// Cryptographically random nonce (OpenSSL RAND_bytes); BackendError if the RNG fails.
Nonce randomNonce();

// Throws ProtocolError naming the mismatch (protocol version, cluster id, model fingerprint,
// authenticated vs open, same node id, or not the node we expected when expectedPeer is set).
void checkHelloCompatible(const Hello& mine, const Hello& theirs,
                          std::optional<NodeId> expectedPeer = std::nullopt);

// MACs frames in one direction of one connection. Cheap to copy; sign/verify are const and
// thread-safe.
class FrameAuthenticator {
 public:
  FrameAuthenticator(const Key& key, NodeId from, NodeId to);
  MacBytes sign(std::span<const uint8_t> payload, uint64_t seq) const;
  // Constant-time comparison.
  bool verify(std::span<const uint8_t> payload, uint64_t seq, std::span<const uint8_t> mac) const;
  NodeId from() const { return from_; }
  NodeId to() const { return to_; }

 private:
  Key key_;
  NodeId from_;
  NodeId to_;
};

// One connection's handshake, from one end. Usage:
//   Handshake hs(secret, myHello);            // myHello.nonce: randomNonce()
//   send(encodeHello(hs.hello()));
//   HelloProof p = hs.onPeerHello(theirHello, expectedPeer);  // throws ProtocolError
//   send(encodeHelloProof(p));
//   hs.onPeerProof(theirProof);                // throws ProtocolError on a wrong secret
//   if (hs.authenticated()) { hs.sendAuthenticator(); hs.receiveAuthenticator(); }
class Handshake {
 public:
  // secret == nullptr: open cluster. The Hello's `authenticated` flag is set from it.
  Handshake(const ClusterSecret* secret, Hello mine);

  const Hello& hello() const { return mine_; }
  HelloProof onPeerHello(const Hello& theirs, std::optional<NodeId> expectedPeer = std::nullopt);
  void onPeerProof(const HelloProof& proof);

  bool complete() const { return verified_; }
  bool authenticated() const { return secret_.has_value(); }
  NodeId peer() const;
  // Only after complete() and only when authenticated(); InternalError otherwise.
  FrameAuthenticator sendAuthenticator() const;
  FrameAuthenticator receiveAuthenticator() const;

 private:
  std::optional<std::vector<uint8_t>> secret_;
  Hello mine_;
  std::optional<Hello> theirs_;
  std::vector<uint8_t> transcript_;
  bool verified_ = false;
};

// Building blocks, public for tests.
MacBytes hmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
// RFC 5869 HKDF-SHA256; out.size() <= 255*32.
void hkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                std::span<const uint8_t> info, std::span<uint8_t> out);
// The canonical transcript bytes of a Hello pair (order-independent).
std::vector<uint8_t> handshakeTranscript(const Hello& a, const Hello& b);

}  // namespace murmur::net
