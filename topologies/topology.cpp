#include "topologies/topology.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace murmur::topologies {

namespace {

// Tolerance for "the explicit weights of a row sum to at most 1" and for comparing a weight
// given in both directions: values written with a few decimals must not be rejected.
constexpr double kWeightTolerance = 1e-9;

struct Line {
  size_t number = 0;  // 1-based
  std::vector<std::string_view> tokens;
};

// Splits text into lines, drops '#' comments and blank lines, and cuts each line into
// whitespace-separated tokens. The views point into `text`, which the caller keeps alive.
std::vector<Line> tokenize(std::string_view text) {
  std::vector<Line> lines;
  size_t number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++number;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    Line parsed{number, {}};
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t start = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i > start) parsed.tokens.push_back(line.substr(start, i - start));
    }
    if (!parsed.tokens.empty()) lines.push_back(std::move(parsed));
    if (end == text.size()) break;
    pos = end + 1;
  }
  return lines;
}

std::string where(std::string_view source, size_t line) {
  if (line == 0) return std::string(source);
  return fmt::format("{}:{}", source, line);
}

// " at line N", or nothing for entries that did not come from a file.
std::string atLine(size_t line) { return line ? fmt::format(" at line {}", line) : std::string(); }

bool parseU64(std::string_view token, uint64_t& out) {
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

uint32_t parseId(std::string_view token, std::string_view source, size_t line,
                 std::string_view what) {
  uint64_t value = 0;
  MURMUR_ENFORCE(parseU64(token, value) && value <= 0xFFFFFFFEull, InputError,
                 "{}: {} '{}' is not a node id (a non-negative integer)", where(source, line), what,
                 token);
  return static_cast<uint32_t>(value);
}

double parseWeight(std::string_view token, std::string_view source, size_t line) {
  double value = 0.0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  MURMUR_ENFORCE(ec == std::errc() && ptr == token.data() + token.size() && std::isfinite(value),
                 InputError, "{}: edge weight '{}' is not a number", where(source, line), token);
  MURMUR_ENFORCE(value > 0.0 && value <= 1.0, InputError,
                 "{}: edge weight {} is out of range: a mixing weight must be in (0, 1]",
                 where(source, line), token);
  return value;
}

bool isHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// One node or edge as read, with the line it came from (0: not from a file).
struct DraftNode {
  NodeSpec spec;
  size_t line = 0;
};
struct DraftEdge {
  Edge edge;
  size_t line = 0;
};

struct Draft {
  std::string source;
  std::string clusterId;
  std::vector<DraftNode> nodes;
  std::vector<DraftEdge> edges;
  // Edge lists list many edges in both directions (decentralizepy writes every edge twice);
  // the murmur format says each edge once, so a repeat there is a mistake.
  bool reverseAllowed = false;
};

std::string describeIds(const std::vector<uint32_t>& ids, size_t limit = 12) {
  // Compact "0-4, 7, 9-11" form, cut after `limit` pieces.
  std::string out;
  size_t pieces = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (pieces == limit) {
      out += fmt::format(", ... ({} nodes in all)", ids.size());
      break;
    }
    if (!out.empty()) out += ", ";
    out += j == i ? fmt::format("{}", ids[i]) : fmt::format("{}-{}", ids[i], ids[j]);
    ++pieces;
    i = j + 1;
  }
  return out;
}

void checkConnected(const Topology& t, std::string_view source) {
  if (t.nodes.size() <= 1) return;
  auto comps = components(t);
  if (comps.size() == 1) return;
  std::string list;
  const size_t shown = std::min<size_t>(comps.size(), 4);
  for (size_t c = 0; c < shown; ++c) {
    if (c > 0) list += c + 1 == shown && shown == comps.size() ? " and " : ", ";
    list += fmt::format("{{{}}}", describeIds(comps[c]));
  }
  if (shown < comps.size()) list += fmt::format(" and {} more", comps.size() - shown);
  throw InputError(
      fmt::format("{}: the graph is not connected: {} components {}; node {} cannot reach node {}",
                  source, comps.size(), list, comps[1].front(), comps[0].front()));
}

// Turns a draft into a canonical Topology, or throws InputError naming the line and problem.
Topology finish(Draft d) {
  const std::string& src = d.source;
  MURMUR_ENFORCE(!d.nodes.empty(), InputError, "{}: the topology has no nodes", src);
  const size_t n = d.nodes.size();

  // Nodes: unique ids, exactly 0..N-1, unique addresses.
  std::vector<const DraftNode*> byId(n, nullptr);
  std::map<std::pair<std::string, uint16_t>, const DraftNode*> byAddress;
  for (const DraftNode& node : d.nodes) {
    const uint32_t id = node.spec.id;
    if (id < n && byId[id] != nullptr) {
      throw InputError(fmt::format("{}: duplicate node {} (first declared{})",
                                   where(src, node.line), id, atLine(byId[id]->line)));
    }
    if (id >= n) {
      // Name the first id the count leaves unused, since that is usually the typo.
      std::vector<bool> seen(n, false);
      for (const DraftNode& other : d.nodes) {
        if (other.spec.id < n) seen[other.spec.id] = true;
      }
      auto missing = std::find(seen.begin(), seen.end(), false);
      throw InputError(fmt::format(
          "{}: node id {} is out of range: {} nodes are declared, so ids must be 0..{}{}",
          where(src, node.line), id, n, n - 1,
          missing == seen.end() ? std::string()
                                : fmt::format(" (id {} is missing)", missing - seen.begin())));
    }
    byId[id] = &node;
    auto [it, inserted] = byAddress.emplace(std::make_pair(node.spec.host, node.spec.port), &node);
    if (!inserted) {
      throw InputError(fmt::format("{}: node {} has address {}, already used by node {}{}",
                                   where(src, node.line), id, node.spec.address(),
                                   it->second->spec.id, atLine(it->second->line)));
    }
  }

  // Edges: known ids, no self-loops, no duplicates, symmetric weights, all-or-none weights.
  struct Seen {
    const DraftEdge* first = nullptr;
    bool forward = false;  // seen as (min, max)
    bool backward = false;
  };
  std::map<std::pair<uint32_t, uint32_t>, Seen> seen;
  Topology t;
  t.clusterId = d.clusterId;
  const DraftEdge* firstWeighted = nullptr;
  const DraftEdge* firstUnweighted = nullptr;
  for (const DraftEdge& de : d.edges) {
    const Edge& e = de.edge;
    const std::string at = where(src, de.line);
    for (uint32_t id : {e.u, e.v}) {
      MURMUR_ENFORCE(id < n, InputError, "{}: edge {} {}: unknown node {} (nodes are 0..{})", at,
                     e.u, e.v, id, n - 1);
    }
    MURMUR_ENFORCE(e.u != e.v, InputError, "{}: edge {} {} is a self-loop", at, e.u, e.v);
    const auto key = std::minmax(e.u, e.v);
    const bool forward = e.u < e.v;
    Seen& s = seen[{key.first, key.second}];
    if (s.first != nullptr) {
      const std::string firstAt = atLine(s.first->line);
      const bool sameDirection = forward ? s.forward : s.backward;
      MURMUR_ENFORCE(d.reverseAllowed && !sameDirection, InputError,
                     "{}: duplicate edge {} {} (already given{})", at, e.u, e.v, firstAt);
      const auto& w0 = s.first->edge.weight;
      const bool same = w0.has_value() == e.weight.has_value() &&
                        (!w0 || std::fabs(*w0 - *e.weight) <= kWeightTolerance);
      MURMUR_ENFORCE(same, InputError,
                     "{}: asymmetric weights: edge {} {} has weight {} but the reverse edge{} "
                     "has weight {} (mixing weights must be symmetric)",
                     at, e.u, e.v, e.weight ? fmt::format("{}", *e.weight) : "none", firstAt,
                     w0 ? fmt::format("{}", *w0) : "none");
      (forward ? s.forward : s.backward) = true;
      continue;
    }
    s.first = &de;
    (forward ? s.forward : s.backward) = true;
    const DraftEdge*& firstOfKind = e.weight ? firstWeighted : firstUnweighted;
    if (firstOfKind == nullptr) firstOfKind = &de;
    t.edges.push_back(Edge{key.first, key.second, e.weight});
  }
  if (firstWeighted != nullptr && firstUnweighted != nullptr) {
    throw InputError(fmt::format(
        "{}: edge {} {} has no weight, but edge {} {}{} has one: give weights on every edge "
        "or on none",
        where(src, firstUnweighted->line), firstUnweighted->edge.u, firstUnweighted->edge.v,
        firstWeighted->edge.u, firstWeighted->edge.v, atLine(firstWeighted->line)));
  }

  t.nodes.resize(n);
  for (uint32_t id = 0; id < n; ++id) t.nodes[id] = byId[id]->spec;
  std::sort(t.edges.begin(), t.edges.end(),
            [](const Edge& a, const Edge& b) { return std::tie(a.u, a.v) < std::tie(b.u, b.v); });

  if (firstWeighted != nullptr) {
    // W_ii = 1 - sum_j W_ij must stay non-negative.
    std::vector<double> sums(n, 0.0);
    for (const Edge& e : t.edges) {
      sums[e.u] += *e.weight;
      sums[e.v] += *e.weight;
    }
    for (uint32_t id = 0; id < n; ++id) {
      MURMUR_ENFORCE(sums[id] <= 1.0 + kWeightTolerance, InputError,
                     "{}: the edge weights of node {} sum to {} > 1, which leaves it a negative "
                     "self weight",
                     where(src, byId[id]->line), id, sums[id]);
    }
  }
  checkConnected(t, src);
  return t;
}

std::string readText(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  MURMUR_ENFORCE(in.good(), IoError, "cannot open {} {}: {}", what, path.string(),
                 std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  MURMUR_ENFORCE(!in.bad(), IoError, "cannot read {} {}", what, path.string());
  return buffer.str();
}

bool isKeyword(std::string_view token) {
  return token == "cluster" || token == "node" || token == "edge";
}

// networkx's write_edgelist(data=True) appends a Python dict: "{}" or "{'weight': 0.5}".
std::optional<double> parseDictWeight(std::string_view dict, std::string_view source, size_t line) {
  MURMUR_ENFORCE(dict.size() >= 2 && dict.front() == '{' && dict.back() == '}', InputError,
                 "{}: cannot read edge attributes '{}' (expected {{}} or {{'weight': W}})",
                 where(source, line), dict);
  size_t key = dict.find("'weight'");
  if (key == std::string_view::npos) key = dict.find("\"weight\"");
  if (key == std::string_view::npos) return std::nullopt;
  size_t colon = dict.find(':', key);
  MURMUR_ENFORCE(colon != std::string_view::npos, InputError,
                 "{}: cannot read edge attributes '{}'", where(source, line), dict);
  size_t start = colon + 1;
  while (start < dict.size() && dict[start] == ' ') ++start;
  size_t end = start;
  while (end < dict.size() && dict[end] != ',' && dict[end] != '}' && dict[end] != ' ') ++end;
  return parseWeight(dict.substr(start, end - start), source, line);
}

}  // namespace

std::string NodeSpec::address() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

const NodeSpec& Topology::node(uint32_t id) const {
  if (id < nodes.size() && nodes[id].id == id) return nodes[id];
  for (const NodeSpec& spec : nodes) {
    if (spec.id == id) return spec;
  }
  throw InputError(fmt::format("no node {} in the topology (it has {} nodes)", id, nodes.size()));
}

std::vector<uint32_t> Topology::neighbours(uint32_t id) const {
  (void)node(id);  // throws for unknown ids
  std::vector<uint32_t> out;
  for (const Edge& e : edges) {
    if (e.u == id) out.push_back(e.v);
    if (e.v == id) out.push_back(e.u);
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Topology::degree(uint32_t id) const {
  (void)node(id);
  return static_cast<size_t>(std::count_if(edges.begin(), edges.end(),
                                           [id](const Edge& e) { return e.u == id || e.v == id; }));
}

bool Topology::hasWeights() const {
  return !edges.empty() && std::all_of(edges.begin(), edges.end(),
                                       [](const Edge& e) { return e.weight.has_value(); });
}

const Edge* Topology::findEdge(uint32_t a, uint32_t b) const {
  for (const Edge& e : edges) {
    if ((e.u == a && e.v == b) || (e.u == b && e.v == a)) return &e;
  }
  return nullptr;
}

std::vector<std::vector<uint32_t>> adjacency(const Topology& t) {
  std::vector<std::vector<uint32_t>> adj(t.nodes.size());
  for (const Edge& e : t.edges) {
    MURMUR_CHECK(e.u < adj.size() && e.v < adj.size(), "edge {}-{} outside 0..{}", e.u, e.v,
                 adj.size());
    adj[e.u].push_back(e.v);
    adj[e.v].push_back(e.u);
  }
  for (auto& row : adj) std::sort(row.begin(), row.end());
  return adj;
}

std::vector<std::vector<uint32_t>> components(const Topology& t) {
  const auto adj = adjacency(t);
  std::vector<int> label(adj.size(), -1);
  std::vector<std::vector<uint32_t>> out;
  for (uint32_t start = 0; start < adj.size(); ++start) {
    if (label[start] >= 0) continue;
    const int c = static_cast<int>(out.size());
    out.emplace_back();
    std::vector<uint32_t> stack{start};
    label[start] = c;
    while (!stack.empty()) {
      uint32_t x = stack.back();
      stack.pop_back();
      out.back().push_back(x);
      for (uint32_t y : adj[x]) {
        if (label[y] < 0) {
          label[y] = c;
          stack.push_back(y);
        }
      }
    }
    std::sort(out.back().begin(), out.back().end());
  }
  return out;
}

NodeSpec parseAddress(std::string_view text, std::string_view what) {
  NodeSpec spec;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    MURMUR_ENFORCE(
        close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == ':',
        InputError, "{}: bad address '{}': expected [IPv6]:PORT", what, text);
    std::string_view host = text.substr(1, close - 1);
    MURMUR_ENFORCE(
        !host.empty() && std::all_of(host.begin(), host.end(),
                                     [](char c) {
                                       return std::isxdigit(static_cast<unsigned char>(c)) ||
                                              c == ':' || c == '.';
                                     }),
        InputError, "{}: bad address '{}': '{}' is not an IPv6 address", what, text, host);
    spec.host = std::string(host);
    portText = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    MURMUR_ENFORCE(colon != std::string_view::npos, InputError,
                   "{}: bad address '{}': expected HOST:PORT", what, text);
    std::string_view host = text.substr(0, colon);
    MURMUR_ENFORCE(!host.empty() && std::all_of(host.begin(), host.end(), isHostChar), InputError,
                   "{}: bad address '{}': host '{}' must be a name or IPv4 address (letters, "
                   "digits, '.', '-', '_'; IPv6 goes in brackets)",
                   what, text, host);
    spec.host = std::string(host);
    portText = text.substr(colon + 1);
  }
  uint64_t port = 0;
  MURMUR_ENFORCE(parseU64(portText, port) && port >= 1 && port <= 65535, InputError,
                 "{}: bad address '{}': port '{}' must be a number in 1..65535", what, text,
                 portText);
  spec.port = static_cast<uint16_t>(port);
  return spec;
}

void validate(const Topology& t, std::string_view source) {
  Draft d;
  d.source = std::string(source);
  d.clusterId = t.clusterId;
  for (const NodeSpec& spec : t.nodes) {
    MURMUR_ENFORCE(!spec.host.empty() && spec.port != 0, InputError, "{}: node {} has no address",
                   source, spec.id);
    d.nodes.push_back({spec, 0});
  }
  for (const Edge& e : t.edges) d.edges.push_back({e, 0});
  const Topology canonical = finish(std::move(d));
  MURMUR_ENFORCE(canonical == t, InputError,
                 "{}: nodes must be sorted by id and edges stored once as u < v, sorted", source);
}

Topology parseTopology(std::string_view text, std::string_view source) {
  const auto lines = tokenize(text);
  MURMUR_ENFORCE(!lines.empty(), InputError, "{}: the topology file is empty", source);
  if (!isKeyword(lines.front().tokens.front())) {
    uint64_t ignored = 0;
    MURMUR_ENFORCE(parseU64(lines.front().tokens.front(), ignored), InputError,
                   "{}: cannot tell the file format: the first line starts with '{}', expected "
                   "'cluster', 'node', 'edge' or a node id of an edge list",
                   where(source, lines.front().number), lines.front().tokens.front());
    return parseEdgeList(text, source);
  }
  Draft d;
  d.source = std::string(source);
  size_t clusterLine = 0;
  for (const Line& line : lines) {
    const auto& tok = line.tokens;
    const std::string at = where(source, line.number);
    if (tok[0] == "cluster") {
      MURMUR_ENFORCE(tok.size() == 2, InputError, "{}: expected 'cluster ID', got {} fields", at,
                     tok.size());
      MURMUR_ENFORCE(clusterLine == 0, InputError,
                     "{}: second cluster line (the cluster id was set at line {})", at,
                     clusterLine);
      MURMUR_ENFORCE(std::all_of(tok[1].begin(), tok[1].end(), isHostChar), InputError,
                     "{}: cluster id '{}' may use only letters, digits, '.', '-', '_'", at, tok[1]);
      d.clusterId = std::string(tok[1]);
      clusterLine = line.number;
    } else if (tok[0] == "node") {
      MURMUR_ENFORCE(tok.size() == 3, InputError, "{}: expected 'node ID HOST:PORT', got {} fields",
                     at, tok.size());
      NodeSpec spec = parseAddress(tok[2], at);
      spec.id = parseId(tok[1], source, line.number, "node id");
      d.nodes.push_back({std::move(spec), line.number});
    } else if (tok[0] == "edge") {
      MURMUR_ENFORCE(tok.size() == 3 || tok.size() == 4, InputError,
                     "{}: expected 'edge U V [WEIGHT]', got {} fields", at, tok.size());
      Edge e;
      e.u = parseId(tok[1], source, line.number, "edge endpoint");
      e.v = parseId(tok[2], source, line.number, "edge endpoint");
      if (tok.size() == 4) e.weight = parseWeight(tok[3], source, line.number);
      d.edges.push_back({e, line.number});
    } else {
      throw InputError(fmt::format(
          "{}: unknown keyword '{}' (expected 'cluster', 'node' or 'edge')", at, tok[0]));
    }
  }
  return finish(std::move(d));
}

Topology parseEdgeList(std::string_view edgesText, std::string_view source,
                       std::optional<std::string_view> hostsText, std::string_view hostsSource) {
  const auto lines = tokenize(edgesText);
  MURMUR_ENFORCE(!lines.empty(), InputError, "{}: the edge list is empty", source);
  Draft d;
  d.source = std::string(source);
  d.reverseAllowed = true;

  std::optional<uint64_t> declared;
  size_t declaredLine = 0;
  size_t first = 0;
  if (lines.front().tokens.size() == 1) {
    // decentralizepy's .edges files start with the node count.
    uint64_t count = 0;
    MURMUR_ENFORCE(parseU64(lines.front().tokens[0], count) && count >= 1 && count < (1u << 31),
                   InputError, "{}: '{}' is not a node count", where(source, lines.front().number),
                   lines.front().tokens[0]);
    declared = count;
    declaredLine = lines.front().number;
    first = 1;
  }
  uint32_t maxId = 0;
  bool anyEdge = false;
  for (size_t i = first; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const auto& tok = line.tokens;
    MURMUR_ENFORCE(tok.size() >= 2, InputError, "{}: expected 'U V [WEIGHT]', got {} field{}{}",
                   where(source, line.number), tok.size(), tok.size() == 1 ? "" : "s",
                   tok.size() == 1 ? " (only the first line may hold a node count)" : "");
    Edge e;
    e.u = parseId(tok[0], source, line.number, "edge endpoint");
    e.v = parseId(tok[1], source, line.number, "edge endpoint");
    if (tok.size() >= 3 && tok[2].front() == '{') {
      // Rejoin the dict, which may contain spaces.
      const char* begin = tok[2].data();
      const char* end = tok.back().data() + tok.back().size();
      e.weight = parseDictWeight(std::string_view(begin, static_cast<size_t>(end - begin)), source,
                                 line.number);
    } else {
      MURMUR_ENFORCE(tok.size() <= 3, InputError, "{}: expected 'U V [WEIGHT]', got {} fields",
                     where(source, line.number), tok.size());
      if (tok.size() == 3) e.weight = parseWeight(tok[2], source, line.number);
    }
    if (declared) {
      for (uint32_t id : {e.u, e.v}) {
        MURMUR_ENFORCE(id < *declared, InputError,
                       "{}: edge {} {}: unknown node {} (line {} declares {} nodes: 0..{})",
                       where(source, line.number), e.u, e.v, id, declaredLine, *declared,
                       *declared - 1);
      }
    }
    maxId = std::max({maxId, e.u, e.v});
    anyEdge = true;
    d.edges.push_back({e, line.number});
  }

  std::vector<NodeSpec> hosts;
  if (hostsText) {
    for (const Line& line : tokenize(*hostsText)) {
      const std::string at = where(hostsSource, line.number);
      MURMUR_ENFORCE(line.tokens.size() == 1, InputError,
                     "{}: expected one HOST:PORT per line, got {} fields", at, line.tokens.size());
      NodeSpec spec = parseAddress(line.tokens[0], at);
      spec.id = static_cast<uint32_t>(hosts.size());
      hosts.push_back(std::move(spec));
      d.nodes.push_back({hosts.back(), line.number});
    }
    MURMUR_ENFORCE(!hosts.empty(), InputError, "{}: the hosts file lists no addresses",
                   hostsSource);
    if (declared) {
      MURMUR_ENFORCE(hosts.size() == *declared, InputError,
                     "{}: lists {} addresses but {} declares {} nodes", hostsSource, hosts.size(),
                     where(source, declaredLine), *declared);
    } else if (anyEdge) {
      MURMUR_ENFORCE(maxId < hosts.size(), InputError,
                     "{}: the edges name node {} but {} lists only {} addresses (nodes 0..{})",
                     source, maxId, hostsSource, hosts.size(), hosts.size() - 1);
    }
    // Address errors must name the hosts file, node errors the edges file: check addresses
    // here, the rest in finish().
    std::map<std::pair<std::string, uint16_t>, const DraftNode*> seenAt;
    for (const DraftNode& node : d.nodes) {
      auto [it, inserted] = seenAt.emplace(std::make_pair(node.spec.host, node.spec.port), &node);
      MURMUR_ENFORCE(inserted, InputError,
                     "{}: address {} of node {} is already used by node {} at line {}",
                     where(hostsSource, node.line), node.spec.address(), node.spec.id,
                     it->second->spec.id, it->second->line);
    }
    for (DraftNode& node : d.nodes) node.line = 0;  // lines above belong to the hosts file
  } else {
    const uint64_t n = declared ? *declared : static_cast<uint64_t>(maxId) + 1;
    MURMUR_ENFORCE(7000 + n - 1 <= 65535, InputError,
                   "{}: {} nodes do not fit default ports 7000.. ; give a hosts file", source, n);
    for (uint32_t id = 0; id < n; ++id) {
      d.nodes.push_back({NodeSpec{id, "127.0.0.1", static_cast<uint16_t>(7000 + id)}, 0});
    }
  }
  return finish(std::move(d));
}

Topology loadTopology(const std::filesystem::path& path, const std::filesystem::path& hostsPath) {
  const std::string text = readText(path, "topology file");
  const std::string source = path.string();
  const auto lines = tokenize(text);
  const bool native = !lines.empty() && isKeyword(lines.front().tokens.front());
  if (native) {
    MURMUR_ENFORCE(hostsPath.empty(), InputError,
                   "{}: a hosts file was given, but this topology file names its own addresses",
                   source);
    return parseTopology(text, source);
  }
  return loadEdgeList(path, hostsPath);
}

Topology loadEdgeList(const std::filesystem::path& edgesPath,
                      const std::filesystem::path& hostsPath) {
  const std::string text = readText(edgesPath, "edge list");
  if (hostsPath.empty()) return parseEdgeList(text, edgesPath.string());
  const std::string hosts = readText(hostsPath, "hosts file");
  return parseEdgeList(text, edgesPath.string(), hosts, hostsPath.string());
}

std::string formatTopology(const Topology& t) {
  std::string out =
      fmt::format("# murmur topology: {} nodes, {} edges\n", t.nodes.size(), t.edges.size());
  if (!t.clusterId.empty()) out += fmt::format("cluster {}\n", t.clusterId);
  for (const NodeSpec& spec : t.nodes) out += fmt::format("node {} {}\n", spec.id, spec.address());
  for (const Edge& e : t.edges) {
    if (e.weight) {
      out += fmt::format("edge {} {} {}\n", e.u, e.v, *e.weight);
    } else {
      out += fmt::format("edge {} {}\n", e.u, e.v);
    }
  }
  return out;
}

std::string formatEdgeList(const Topology& t, bool withCount) {
  std::string out;
  if (withCount) out += fmt::format("{}\n", t.nodes.size());
  for (const Edge& e : t.edges) {
    out += e.weight ? fmt::format("{} {} {}\n", e.u, e.v, *e.weight)
                    : fmt::format("{} {}\n", e.u, e.v);
  }
  return out;
}

std::string formatHosts(const Topology& t) {
  std::string out;
  for (const NodeSpec& spec : t.nodes) out += spec.address() + "\n";
  return out;
}

void saveTopology(const std::filesystem::path& path, const Topology& t) {
  writeFileAtomic(path, formatTopology(t));
}

}  // namespace murmur::topologies
