#pragma once
// Test support: N TcpTransports on 127.0.0.1 with ephemeral ports, wired by an adjacency list.
// Higher ids start (and listen) first and lower ids dial them, so every port a node dials is
// already known. Used by the algo and node suites; header-only so each links what it has.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/transport.hpp"
#include "net/tcp_transport.hpp"

namespace murmur::testsupport {

struct LoopbackOptions {
  std::string clusterId = "test-cluster";
  uint64_t modelFingerprint = 42;
  std::string secret = "loopback test cluster secret";
  std::chrono::milliseconds heartbeatInterval{20};
  std::chrono::milliseconds peerTimeout{2000};
};

inline std::vector<std::unique_ptr<Transport>> loopbackCluster(
    const std::vector<std::vector<NodeId>>& adjacency, const LoopbackOptions& o) {
  std::vector<std::unique_ptr<Transport>> nodes(adjacency.size());
  std::map<NodeId, uint16_t> ports;
  for (size_t i = adjacency.size(); i-- > 0;) {
    net::TcpTransportConfig c;
    c.self = static_cast<NodeId>(i);
    c.listenHost = "127.0.0.1";
    c.listenPort = 0;
    for (NodeId n : adjacency[i]) {
      c.neighbours.push_back({n, "127.0.0.1", ports.count(n) ? ports.at(n) : uint16_t{0}});
    }
    c.clusterId = o.clusterId;
    c.modelFingerprint = o.modelFingerprint;
    c.secret = o.secret;
    c.heartbeatInterval = o.heartbeatInterval;
    c.peerTimeout = o.peerTimeout;
    c.reconnectBackoffMin = std::chrono::milliseconds(10);
    c.reconnectBackoffMax = std::chrono::milliseconds(100);
    auto t = std::make_unique<net::TcpTransport>(c);
    ports[c.self] = t->port();
    nodes[i] = std::move(t);
  }
  return nodes;
}

}  // namespace murmur::testsupport
