// Cluster authentication with OpenSSL (libcrypto only): HMAC-SHA256 through EVP_MAC, HKDF
// built on it (RFC 5869), RAND_bytes for nonces and CRYPTO_memcmp for every comparison.

#include "net/auth.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/error.hpp"

namespace murmur::net {

namespace {

// Proofs in an open cluster are keyed with this public constant: they still bind the
// transcript (catching garbled handshakes) but prove nothing about identity.
constexpr std::string_view kOpenProofKey = "murmur open cluster: no secret";

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void putBytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  size_t at = out.size();
  out.resize(at + b.size());
  if (!b.empty()) std::memcpy(out.data() + at, b.data(), b.size());
}
void putU32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t le[4];
  for (int i = 0; i < 4; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
  putBytes(out, le);
}
void putU64(std::vector<uint8_t>& out, uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
  putBytes(out, le);
}

// Multi-part HMAC-SHA256, so a large payload is MAC'd without copying it next to its header.
class Hmac {
 public:
  explicit Hmac(std::span<const uint8_t> key) {
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    MURMUR_ENFORCE(mac != nullptr, BackendError, "OpenSSL: HMAC is not available");
    ctx_ = EVP_MAC_CTX_new(mac);
    MURMUR_ENFORCE(ctx_ != nullptr, BackendError, "OpenSSL: EVP_MAC_CTX_new failed");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx_, key.data(), key.size(), params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      throw BackendError("OpenSSL: HMAC-SHA256 init failed");
    }
  }
  ~Hmac() { EVP_MAC_CTX_free(ctx_); }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  Hmac& update(std::span<const uint8_t> data) {
    MURMUR_ENFORCE(EVP_MAC_update(ctx_, data.data(), data.size()) == 1, BackendError,
                   "OpenSSL: HMAC update failed");
    return *this;
  }
  MacBytes final() {
    MacBytes out{};
    size_t len = 0;
    MURMUR_ENFORCE(EVP_MAC_final(ctx_, out.data(), &len, out.size()) == 1 && len == out.size(),
                   BackendError, "OpenSSL: HMAC final failed");
    return out;
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

std::vector<uint8_t> withIds(std::string_view label, NodeId a, NodeId b) {
  std::vector<uint8_t> out;
  putBytes(out, bytesOf(label));
  putU32(out, a);
  putU32(out, b);
  return out;
}

}  // namespace

// --- secrets ---------------------------------------------------------------------------------

ClusterSecret::ClusterSecret(std::string bytes) : bytes_(std::move(bytes)) {
  MURMUR_ENFORCE(bytes_.size() >= kMinSecretBytes, InputError,
                 "cluster secret is {} bytes, at least {} are required", bytes_.size(),
                 kMinSecretBytes);
}

std::span<const uint8_t> ClusterSecret::bytes() const { return bytesOf(bytes_); }

namespace {
std::string trimTrailing(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}
}  // namespace

std::optional<ClusterSecret> loadClusterSecret(const std::string& path) {
  if (!path.empty()) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    MURMUR_ENFORCE(file != nullptr, InputError, "cannot read cluster secret file '{}': {}", path,
                   std::strerror(errno));
    std::string content;
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) content.append(buffer, n);
    bool failed = std::ferror(file) != 0;
    std::fclose(file);
    MURMUR_ENFORCE(!failed, InputError, "error reading cluster secret file '{}'", path);
    content = trimTrailing(std::move(content));
    MURMUR_ENFORCE(content.size() >= kMinSecretBytes, InputError,
                   "cluster secret file '{}' holds {} bytes, at least {} are required", path,
                   content.size(), kMinSecretBytes);
    return ClusterSecret(std::move(content));
  }
  const char* env = std::getenv(kSecretEnvVar);
  if (env == nullptr || *env == '\0') return std::nullopt;
  std::string value = trimTrailing(env);
  MURMUR_ENFORCE(value.size() >= kMinSecretBytes, InputError,
                 "${} holds {} bytes, at least {} are required", kSecretEnvVar, value.size(),
                 kMinSecretBytes);
  return ClusterSecret(std::move(value));
}

std::string openClusterWarning(const std::string& clusterId) {
  return fmt::format(
      "WARNING: cluster '{}' is OPEN: no secret configured (set ${} or a secret file). Peers "
      "are not authenticated and frames carry no MAC: anyone who can reach this node's port "
      "can join, read the model and inject updates. Use only on a trusted network.",
      clusterId, kSecretEnvVar);
}

Nonce randomNonce() {
  Nonce nonce{};
  MURMUR_ENFORCE(RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) == 1, BackendError,
                 "OpenSSL: RAND_bytes failed to produce a nonce");
  return nonce;
}

void checkHelloCompatible(const Hello& mine, const Hello& theirs,
                          std::optional<NodeId> expectedPeer) {
  MURMUR_ENFORCE(theirs.protocolVersion == mine.protocolVersion, ProtocolError,
                 "node {} speaks protocol version {}, this node {}", theirs.node,
                 theirs.protocolVersion, mine.protocolVersion);
  MURMUR_ENFORCE(theirs.clusterId == mine.clusterId, ProtocolError,
                 "node {} belongs to cluster '{}', this node to '{}'", theirs.node,
                 theirs.clusterId, mine.clusterId);
  MURMUR_ENFORCE(theirs.modelFingerprint == mine.modelFingerprint, ProtocolError,
                 "node {} trains a different model (fingerprint {:016x}, ours {:016x})",
                 theirs.node, theirs.modelFingerprint, mine.modelFingerprint);
  MURMUR_ENFORCE(theirs.authenticated == mine.authenticated, ProtocolError,
                 "node {} {} a cluster secret but this node {}", theirs.node,
                 theirs.authenticated ? "has" : "has no", mine.authenticated ? "has" : "has none");
  MURMUR_ENFORCE(theirs.node != mine.node, ProtocolError, "peer claims this node's own id {}",
                 mine.node);
  MURMUR_ENFORCE(!expectedPeer || theirs.node == *expectedPeer, ProtocolError,
                 "expected node {} on this connection, got node {}", expectedPeer.value_or(0),
                 theirs.node);
}

// --- primitives ------------------------------------------------------------------------------

MacBytes hmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return Hmac(key).update(data).final();
}

void hkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                std::span<const uint8_t> info, std::span<uint8_t> out) {
  MURMUR_CHECK(out.size() <= 255 * 32, "HKDF output of {} bytes is too long", out.size());
  MacBytes zeroSalt{};
  MacBytes prk = hmacSha256(salt.empty() ? std::span<const uint8_t>(zeroSalt) : salt, ikm);
  MacBytes block{};
  size_t done = 0;
  for (uint8_t counter = 1; done < out.size(); ++counter) {
    Hmac h(prk);
    if (counter > 1) h.update(block);
    h.update(info);
    h.update(std::span<const uint8_t>(&counter, 1));
    block = h.final();
    size_t take = std::min(block.size(), out.size() - done);
    std::memcpy(out.data() + done, block.data(), take);
    done += take;
  }
  OPENSSL_cleanse(prk.data(), prk.size());
  OPENSSL_cleanse(block.data(), block.size());
}

std::vector<uint8_t> handshakeTranscript(const Hello& a, const Hello& b) {
  // Canonical order (by node id, then nonce) so both ends build identical bytes.
  const Hello* first = &a;
  const Hello* second = &b;
  if (b.node < a.node || (b.node == a.node && b.nonce < a.nonce)) std::swap(first, second);
  std::vector<uint8_t> out;
  putBytes(out, bytesOf("murmur handshake transcript v1"));
  for (const Hello* h : {first, second}) {
    putU32(out, h->protocolVersion);
    putU32(out, static_cast<uint32_t>(h->clusterId.size()));
    putBytes(out, bytesOf(h->clusterId));
    putU32(out, h->node);
    putU64(out, h->modelFingerprint);
    out.push_back(h->authenticated ? 1 : 0);
    putBytes(out, h->nonce);
  }
  return out;
}

// --- frames ----------------------------------------------------------------------------------

FrameAuthenticator::FrameAuthenticator(const Key& key, NodeId from, NodeId to)
    : key_(key), from_(from), to_(to) {}

MacBytes FrameAuthenticator::sign(std::span<const uint8_t> payload, uint64_t seq) const {
  std::vector<uint8_t> header(withIds("murmur frame", from_, to_));
  putU64(header, seq);
  putU64(header, payload.size());
  return Hmac(key_).update(header).update(payload).final();
}

bool FrameAuthenticator::verify(std::span<const uint8_t> payload, uint64_t seq,
                                std::span<const uint8_t> mac) const {
  if (mac.size() != MacBytes{}.size()) return false;
  MacBytes expected = sign(payload, seq);
  return CRYPTO_memcmp(expected.data(), mac.data(), expected.size()) == 0;
}

// --- handshake -------------------------------------------------------------------------------

Handshake::Handshake(const ClusterSecret* secret, Hello mine) : mine_(std::move(mine)) {
  if (secret != nullptr) {
    auto b = secret->bytes();
    secret_.emplace(b.begin(), b.end());
  }
  mine_.authenticated = secret != nullptr;
}

namespace {
MacBytes proofFor(const std::optional<std::vector<uint8_t>>& secret,
                  const std::vector<uint8_t>& transcript, NodeId prover) {
  Key proofKey{};
  if (secret) {
    hkdfSha256(*secret, bytesOf("murmur proof salt v1"), bytesOf("murmur handshake proof key"),
               proofKey);
  } else {
    proofKey = hmacSha256(bytesOf(kOpenProofKey), bytesOf("murmur handshake proof key"));
  }
  std::vector<uint8_t> label = withIds("murmur proof", prover, 0);
  MacBytes mac = Hmac(proofKey).update(label).update(transcript).final();
  OPENSSL_cleanse(proofKey.data(), proofKey.size());
  return mac;
}
}  // namespace

HelloProof Handshake::onPeerHello(const Hello& theirs, std::optional<NodeId> expectedPeer) {
  MURMUR_ENFORCE(!theirs_, ProtocolError, "node {} sent a second hello", theirs.node);
  checkHelloCompatible(mine_, theirs, expectedPeer);
  theirs_ = theirs;
  transcript_ = handshakeTranscript(mine_, theirs);
  return HelloProof{proofFor(secret_, transcript_, mine_.node)};
}

void Handshake::onPeerProof(const HelloProof& proof) {
  MURMUR_ENFORCE(theirs_.has_value(), ProtocolError, "hello proof arrived before the hello");
  MURMUR_ENFORCE(!verified_, ProtocolError, "node {} sent a second hello proof", theirs_->node);
  MacBytes expected = proofFor(secret_, transcript_, theirs_->node);
  MURMUR_ENFORCE(CRYPTO_memcmp(expected.data(), proof.mac.data(), expected.size()) == 0,
                 ProtocolError,
                 "node {} failed authentication: its handshake proof does not verify (wrong "
                 "cluster secret?)",
                 theirs_->node);
  verified_ = true;
}

NodeId Handshake::peer() const {
  MURMUR_CHECK(theirs_.has_value(), "peer() before the peer's hello");
  return theirs_->node;
}

namespace {
FrameAuthenticator directionAuthenticator(const std::vector<uint8_t>& secret,
                                          const std::vector<uint8_t>& transcript, NodeId from,
                                          NodeId to) {
  Key key{};
  hkdfSha256(secret, transcript, withIds("murmur frame key v1", from, to), key);
  FrameAuthenticator auth(key, from, to);
  OPENSSL_cleanse(key.data(), key.size());
  return auth;
}
}  // namespace

FrameAuthenticator Handshake::sendAuthenticator() const {
  MURMUR_CHECK(verified_ && secret_, "frame keys need a completed, authenticated handshake");
  return directionAuthenticator(*secret_, transcript_, mine_.node, theirs_->node);
}

FrameAuthenticator Handshake::receiveAuthenticator() const {
  MURMUR_CHECK(verified_ && secret_, "frame keys need a completed, authenticated handshake");
  return directionAuthenticator(*secret_, transcript_, theirs_->node, mine_.node);
}

}  // namespace murmur::net
