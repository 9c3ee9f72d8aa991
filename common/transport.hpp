#pragma once
// The Transport interface: what algo/ sees of the network. net/ implements it twice (TCP over
// Asio, and in memory for N nodes on threads in one process) and wraps either in the fault
// layer. Implementations are thread-safe: the trainer thread calls send/poll while the
// transport's own thread does the I/O.

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/messages.hpp"

namespace murmur {

struct Envelope {
  NodeId from = 0;
  Message message;
};

struct PeerEvent {
  enum class Kind : uint8_t { kUp, kDown };
  NodeId peer = 0;
  Kind kind = Kind::kUp;
  std::string reason;  // human-readable: why it went down / how it came up
};

struct LinkCounters {
  uint64_t frames = 0;
  uint64_t bytes = 0;  // on the wire, headers and MACs included
  std::array<uint64_t, static_cast<size_t>(MessageKind::kCount)> framesByKind{};
  std::array<uint64_t, static_cast<size_t>(MessageKind::kCount)> bytesByKind{};
};

struct EdgeTraffic {
  NodeId peer = 0;
  LinkCounters sent;
  LinkCounters received;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual NodeId self() const = 0;
  virtual const std::vector<NodeId>& neighbours() const = 0;

  // Queues `message` for every peer in `to`, encoding it once. Never blocks beyond the
  // transport's configured bound. A peer that is down does not get it; the caller learns of the
  // down edge from a PeerEvent and repairs it with a keyframe when the peer is up again.
  virtual void send(std::span<const NodeId> to, Message message) = 0;

  // Appends every delivered message and peer event that is ready; waits up to `timeout` for the
  // first one. Returns how many items (messages + events) were appended.
  virtual size_t poll(std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
                      std::chrono::milliseconds timeout) = 0;

  virtual bool isUp(NodeId peer) const = 0;

  // Counters per neighbour and direction since start.
  virtual std::vector<EdgeTraffic> traffic() const = 0;

  // Says goodbye to every neighbour and flushes queued frames, waiting at most `deadline`.
  virtual void close(const std::string& reason, std::chrono::milliseconds deadline) = 0;
};

}  // namespace murmur
