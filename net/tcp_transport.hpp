#pragma once
// The TCP transport: one node's Transport over Asio, one io_context on its own thread.
//
// Edges: the lower node id dials the higher one (so each edge has one socket), re-dialling with
// exponential back-off and jitter after any failure; the higher id accepts. Handshake: Hello
// both ways, HelloProof (net/auth.hpp), then every frame carries a MAC when a secret is set.
// A peer that is not a neighbour, holds another secret or cluster id, another model fingerprint
// or protocol version is refused with a logged reason and a PeerEvent. A malformed or bad-MAC
// frame closes that connection only. Heartbeats every heartbeatInterval; an edge with no frame
// for peerTimeout is reported down.
//
// Sending: the trainer thread encodes once and hands the payload to one bounded write queue
// per peer (net/write_queue.hpp; one write in flight per peer). A peer that falls behind has
// its queued updates merged; send() blocks at most sendBlockBound waiting for room, then queues
// anyway (logged); a peer whose queue grows past 4x the bound is disconnected as too slow
// (PeerEvent down; the caller repairs with a keyframe when it is back up).
//
// Fault layer: with `faults` set, every post-handshake frame passes a LinkShaper (drop, delay,
// duplication, reordering, bandwidth cap); partitions also keep the edge from (re)connecting.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/transport.hpp"
#include "net/codec.hpp"
#include "net/fault.hpp"

namespace murmur::net {

struct PeerAddress {
  NodeId id = 0;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

struct TcpTransportConfig {
  NodeId self = 0;
  std::string listenHost = "127.0.0.1";
  uint16_t listenPort = 0;  // 0: an ephemeral port, read it back with TcpTransport::port()
  std::vector<PeerAddress> neighbours;
  std::string clusterId = "murmur";
  uint64_t modelFingerprint = 0;
  std::optional<std::string> secret;  // cluster secret bytes (>= 16); nullopt: OPEN cluster
  size_t maxQueuedBytesPerPeer = size_t{256} << 20;
  std::chrono::milliseconds heartbeatInterval{200};
  std::chrono::milliseconds peerTimeout{3000};
  std::chrono::milliseconds sendBlockBound{2000};
  std::chrono::milliseconds reconnectBackoffMin{50};
  std::chrono::milliseconds reconnectBackoffMax{2000};
  std::chrono::milliseconds handshakeTimeout{3000};
  std::optional<FaultScenario> faults;
  uint64_t faultSeed = 0;
  // Time for the fault layer and the failure detector (heartbeat age, handshake timeout);
  // nullptr: SteadyClock. Tests pass a ManualClock to step delays deterministically. Must
  // outlive the transport.
  const Clock* clock = nullptr;
  DecodeLimits limits;  // frames above limits.maxPayloadBytes close the connection
};

class TcpTransport final : public Transport {
 public:
  // Binds the listening socket and starts the I/O thread. Throws IoError if the address cannot
  // be bound, InputError on a bad config (self in neighbours, duplicate ids, short secret).
  explicit TcpTransport(TcpTransportConfig config);
  // close("shutdown", 1 s) unless close() was called.
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  NodeId self() const override;
  const std::vector<NodeId>& neighbours() const override;
  void send(std::span<const NodeId> to, Message message) override;
  size_t poll(std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
              std::chrono::milliseconds timeout) override;
  bool isUp(NodeId peer) const override;
  std::vector<EdgeTraffic> traffic() const override;
  void close(const std::string& reason, std::chrono::milliseconds deadline) override;

  // The port actually listened on.
  uint16_t port() const;
  // The trainer's step: carried in heartbeats and used by step-based fault partitions.
  void reportStep(uint64_t step);
  // nullptr without a fault scenario.
  LinkShaper* shaper();

  struct Stats {
    uint64_t merges = 0;             // queued messages folded into others (all peers)
    uint64_t blockedSends = 0;       // send() calls that had to wait for queue room
    uint64_t overflowedSends = 0;    // frames queued past the bound after waiting
    uint64_t connectionsClosed = 0;  // for any reason, handshake failures included
  };
  Stats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace murmur::net
