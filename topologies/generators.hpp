#pragma once
// Graph generators for `murmur topo gen` and for tests. Every generator returns a canonical,
// connected Topology (see topologies/topology.hpp); the random ones are deterministic for a
// given seed on every platform (murmur draws its own integers from std::mt19937_64 instead of
// the implementation-defined std distributions).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "topologies/topology.hpp"

namespace murmur::topologies {

struct GenOptions {
  // ring, torus, complete, star, hypercube, exponential, random-regular, erdos-renyi,
  // small-world (see generatorKinds()).
  std::string kind;
  uint32_t n = 0;  // node count; for torus it may be 0 when rows and cols are given
  // torus: grid shape; 0 and 0 picks the squarest rows x cols == n (rows <= cols).
  uint32_t rows = 0;
  uint32_t cols = 0;
  uint32_t degree = 0;  // random-regular: every node's degree d (d < n, n*d even)
  double p = 0.0;       // erdos-renyi: probability of each edge
  uint32_t k = 4;       // small-world: each node starts joined to its k nearest ring neighbours
  double beta = 0.1;    // small-world: probability of rewiring each lattice edge
  // Addresses. A pattern without a port gives host:basePort+i ("127.0.0.1" -> 127.0.0.1:7000,
  // 127.0.0.1:7001, ...). "{i}" in the pattern is replaced by the node id; then every node gets
  // the same port (the one in the pattern, else basePort): "node-{i}:7000" -> node-0:7000,
  // node-1:7000, ... as docker compose service names want.
  std::string hostPattern = "127.0.0.1";
  uint16_t basePort = 7000;
  uint64_t seed = 1;
  // Random kinds retry with the next draw of the same generator until the graph is valid
  // (connected, and for random-regular simple), at most this many times.
  uint32_t maxTries = 100;
  std::string clusterId;
};

// Throws InputError naming the kind and the bad parameter.
Topology generate(const GenOptions& options);

// The kinds generate() accepts, for help texts.
const std::vector<std::string>& generatorKinds();

// Nodes 0..n-1 with addresses from a host pattern as described in GenOptions.
std::vector<NodeSpec> makeNodes(uint32_t n, std::string_view hostPattern, uint16_t basePort);

}  // namespace murmur::topologies
