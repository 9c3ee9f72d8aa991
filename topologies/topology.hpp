#pragma once
// The communication graph of a murmur cluster: which nodes exist, where they listen, and who
// gossips with whom. A plain value type read from a topology file (docs/TOPOLOGY.md), an edge
// list plus hosts file, or a generator (topologies/generators.hpp). No network code here: node/
// and net/ read addresses from it, algo/ reads neighbours and mixing weights
// (topologies/mixing.hpp).
//
// Canonical form, which every loader and generator returns and validate() checks: nodes sorted
// by id with ids exactly 0..N-1; every edge stored once with u < v, edges sorted by (u, v); no
// self-loops, no duplicates; either every edge carries a weight or none does.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace murmur::topologies {

struct NodeSpec {
  uint32_t id = 0;
  std::string host;  // name, IPv4, or IPv6 without brackets
  uint16_t port = 0;

  // "host:port", with IPv6 hosts bracketed ("[::1]:7000").
  std::string address() const;
  bool operator==(const NodeSpec&) const = default;
};

struct Edge {
  uint32_t u = 0;
  uint32_t v = 0;
  std::optional<double> weight;  // explicit symmetric mixing weight W_uv = W_vu, if given

  bool operator==(const Edge&) const = default;
};

struct Topology {
  std::string clusterId;  // may be empty
  std::vector<NodeSpec> nodes;
  std::vector<Edge> edges;

  size_t size() const { return nodes.size(); }
  // Sorted ids of the nodes sharing an edge with `id`. Throws InputError for an unknown id.
  std::vector<uint32_t> neighbours(uint32_t id) const;
  size_t degree(uint32_t id) const;
  // The node with this id. Throws InputError for an unknown id.
  const NodeSpec& node(uint32_t id) const;
  // True when every edge carries an explicit weight (and there is at least one edge).
  bool hasWeights() const;
  // The edge between a and b (either order), if any.
  const Edge* findEdge(uint32_t a, uint32_t b) const;

  bool operator==(const Topology&) const = default;
};

// adjacency(t)[i] = sorted neighbours of node i; one pass over the edges.
std::vector<std::vector<uint32_t>> adjacency(const Topology& t);

// Connected components, each sorted, ordered by their smallest id.
std::vector<std::vector<uint32_t>> components(const Topology& t);

// Checks the canonical form and connectivity of an in-memory topology (for example one built
// in code); `source` names it in the InputError message. Loaders already call this.
void validate(const Topology& t, std::string_view source = "<topology>");

// Parses "host:port" ("[v6]:port" for IPv6). Throws InputError naming `what` on bad input.
NodeSpec parseAddress(std::string_view text, std::string_view what);

// --- Files ----------------------------------------------------------------------------------

// Reads a topology file, sniffing the format from its first meaningful line: the murmur format
// (`cluster` / `node` / `edge` lines) or a plain edge list ("u v [w]" lines, optionally a
// leading node-count line as decentralizepy writes). An edge list takes addresses from
// `hostsPath` if given, else 127.0.0.1:7000+i. Throws InputError ("FILE:LINE: problem") for bad
// content and IoError when the file cannot be read.
Topology loadTopology(const std::filesystem::path& path,
                      const std::filesystem::path& hostsPath = {});

// An edge list plus a hosts file (one host:port per line; the i-th address is node i). An
// empty hostsPath means 127.0.0.1:7000+i.
Topology loadEdgeList(const std::filesystem::path& edgesPath,
                      const std::filesystem::path& hostsPath);

// The same from text already in memory; `source` / `hostsSource` name it in messages.
Topology parseTopology(std::string_view text, std::string_view source);
Topology parseEdgeList(std::string_view edgesText, std::string_view source,
                       std::optional<std::string_view> hostsText = std::nullopt,
                       std::string_view hostsSource = "<hosts>");

// The murmur format; parseTopology(formatTopology(t)) == t for a canonical t.
std::string formatTopology(const Topology& t);
// Writes formatTopology(t) atomically (temp file, fsync, rename). Throws IoError.
void saveTopology(const std::filesystem::path& path, const Topology& t);

// For other tools: an edge list ("u v" or "u v w" per edge, each edge once), led by the node
// count line when withCount (decentralizepy's .edges; networkx wants it off), and the matching
// hosts file (one address per line, node i on the i-th line). Both parse back with
// parseEdgeList to the same topology, cluster id aside.
std::string formatEdgeList(const Topology& t, bool withCount = true);
std::string formatHosts(const Topology& t);

}  // namespace murmur::topologies
