#include "topologies/generators.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "common/error.hpp"

namespace murmur::topologies {

namespace {

// Upper bounds on generated sizes: keep the O(n^2) generators and the edge sets in memory
// reasonable (a complete graph on 2^16 nodes would need ~100 GB).
constexpr uint32_t kMaxNodes = 1u << 16;
constexpr double kMaxEdges = 4e6;

// Deterministic draws on every platform: mt19937_64's output is fixed by the standard, the std
// distributions are not.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, bound), bound > 0, without modulo bias.
  uint64_t below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % bound;
  }
  // Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 engine_;
};

using EdgeSet = std::set<std::pair<uint32_t, uint32_t>>;

void addEdge(EdgeSet& edges, uint32_t a, uint32_t b) {
  if (a == b) return;
  edges.insert(std::minmax(a, b));
}

Topology build(const GenOptions& o, uint32_t n, const EdgeSet& edges) {
  Topology t;
  t.clusterId = o.clusterId;
  t.nodes = makeNodes(n, o.hostPattern, o.basePort);
  t.edges.reserve(edges.size());
  for (auto [u, v] : edges) t.edges.push_back(Edge{u, v, std::nullopt});
  return t;
}

bool connected(uint32_t n, const EdgeSet& edges) {
  if (n <= 1) return true;
  std::vector<std::vector<uint32_t>> adj(n);
  for (auto [u, v] : edges) {
    adj[u].push_back(v);
    adj[v].push_back(u);
  }
  std::vector<bool> seen(n, false);
  std::vector<uint32_t> stack{0};
  seen[0] = true;
  uint32_t reached = 1;
  while (!stack.empty()) {
    uint32_t x = stack.back();
    stack.pop_back();
    for (uint32_t y : adj[x]) {
      if (!seen[y]) {
        seen[y] = true;
        ++reached;
        stack.push_back(y);
      }
    }
  }
  return reached == n;
}

EdgeSet ring(uint32_t n) {
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) addEdge(e, i, (i + 1) % n);
  return e;
}

EdgeSet torus(uint32_t rows, uint32_t cols) {
  EdgeSet e;
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < cols; ++c) {
      const uint32_t id = r * cols + c;
      addEdge(e, id, r * cols + (c + 1) % cols);
      addEdge(e, id, ((r + 1) % rows) * cols + c);
    }
  }
  return e;
}

EdgeSet complete(uint32_t n) {
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = i + 1; j < n; ++j) e.insert({i, j});
  }
  return e;
}

EdgeSet star(uint32_t n) {
  EdgeSet e;
  for (uint32_t i = 1; i < n; ++i) e.insert({0, i});
  return e;
}

EdgeSet hypercube(uint32_t n) {
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t bit = 1; bit < n; bit <<= 1) addEdge(e, i, i ^ bit);
  }
  return e;
}

EdgeSet exponential(uint32_t n) {
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint64_t hop = 1; hop < n; hop <<= 1) addEdge(e, i, static_cast<uint32_t>((i + hop) % n));
  }
  return e;
}

// One attempt at a simple d-regular graph: pair up the n*d "stubs" at random, only ever joining
// two stubs of different, not yet adjacent nodes (after Steger and Wormald). Fails when the
// stubs left admit no such pair.
bool randomRegularAttempt(uint32_t n, uint32_t d, Rng& rng, EdgeSet& out) {
  out.clear();
  std::vector<uint32_t> stubs;
  stubs.reserve(static_cast<size_t>(n) * d);
  for (uint32_t i = 0; i < n; ++i) stubs.insert(stubs.end(), d, i);
  auto suitable = [&](size_t a, size_t b) {
    return stubs[a] != stubs[b] && !out.count(std::minmax(stubs[a], stubs[b]));
  };
  auto take = [&](size_t a, size_t b) {
    out.insert(std::minmax(stubs[a], stubs[b]));
    if (a < b) std::swap(a, b);  // pop the larger index first so the smaller stays valid
    stubs[a] = stubs.back();
    stubs.pop_back();
    stubs[b] = stubs.back();
    stubs.pop_back();
  };
  while (!stubs.empty()) {
    bool joined = false;
    // Random pairs almost always work until the very end; scanning all pairs is the fallback.
    const size_t budget = 64 + stubs.size();
    for (size_t tries = 0; tries < budget && !joined; ++tries) {
      const size_t a = rng.below(stubs.size());
      const size_t b = rng.below(stubs.size());
      if (a != b && suitable(a, b)) {
        take(a, b);
        joined = true;
      }
    }
    if (joined) continue;
    // Few stubs left or a crowded graph: list every suitable pair and pick one.
    std::vector<std::pair<size_t, size_t>> options;
    for (size_t a = 0; a < stubs.size(); ++a) {
      for (size_t b = a + 1; b < stubs.size(); ++b) {
        if (suitable(a, b)) options.emplace_back(a, b);
      }
    }
    if (options.empty()) return false;
    auto [a, b] = options[rng.below(options.size())];
    take(a, b);
  }
  return true;
}

EdgeSet erdosRenyi(uint32_t n, double p, Rng& rng) {
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = i + 1; j < n; ++j) {
      if (rng.unit() < p) e.insert({i, j});
    }
  }
  return e;
}

// Watts-Strogatz: ring lattice of k nearest neighbours, then each lattice edge (i, i+j) is
// moved with probability beta to (i, w) for a uniformly chosen w that keeps the graph simple.
EdgeSet smallWorld(uint32_t n, uint32_t k, double beta, Rng& rng) {
  std::vector<std::set<uint32_t>> adj(n);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 1; j <= k / 2; ++j) {
      const uint32_t v = (i + j) % n;
      adj[i].insert(v);
      adj[v].insert(i);
    }
  }
  for (uint32_t j = 1; j <= k / 2; ++j) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t v = (i + j) % n;
      if (rng.unit() >= beta) continue;
      if (!adj[i].count(v)) continue;        // already rewired away
      if (adj[i].size() + 1 >= n) continue;  // i is joined to everyone: nowhere to move
      uint32_t w = 0;
      do {
        w = static_cast<uint32_t>(rng.below(n));
      } while (w == i || adj[i].count(w));
      adj[i].erase(v);
      adj[v].erase(i);
      adj[i].insert(w);
      adj[w].insert(i);
    }
  }
  EdgeSet e;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t v : adj[i]) {
      if (i < v) e.insert({i, v});
    }
  }
  return e;
}

}  // namespace

const std::vector<std::string>& generatorKinds() {
  static const std::vector<std::string> kinds = {"ring",           "torus",       "complete",
                                                 "star",           "hypercube",   "exponential",
                                                 "random-regular", "erdos-renyi", "small-world"};
  return kinds;
}

std::vector<NodeSpec> makeNodes(uint32_t n, std::string_view hostPattern, uint16_t basePort) {
  const std::string pattern(hostPattern);
  MURMUR_ENFORCE(!pattern.empty(), InputError, "host pattern is empty");
  const bool perNodeHost = pattern.find("{i}") != std::string::npos;
  // Does the pattern carry its own port? "[v6]:P", "host:P"; a bare IPv6 must be bracketed.
  bool hasPort = false;
  if (pattern.front() == '[') {
    hasPort = pattern.find("]:") != std::string::npos;
  } else {
    const auto colons = std::count(pattern.begin(), pattern.end(), ':');
    MURMUR_ENFORCE(colons <= 1, InputError,
                   "host pattern '{}': write IPv6 addresses in brackets, e.g. [::1]", pattern);
    hasPort = colons == 1;
  }
  MURMUR_ENFORCE(perNodeHost || !hasPort || n <= 1, InputError,
                 "host pattern '{}' has a fixed port but no {{i}}: every node would get the same "
                 "address",
                 pattern);
  MURMUR_ENFORCE(
      perNodeHost || hasPort || n == 0 || static_cast<uint32_t>(basePort) + n - 1 <= 65535u,
      InputError, "{} nodes from base port {} run past port 65535", n, basePort);
  MURMUR_ENFORCE(basePort != 0 || hasPort, InputError, "base port must be in 1..65535");
  std::vector<NodeSpec> nodes;
  nodes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string text = pattern;
    for (size_t pos = text.find("{i}"); pos != std::string::npos; pos = text.find("{i}", pos)) {
      const std::string id = std::to_string(i);
      text.replace(pos, 3, id);
      pos += id.size();
    }
    if (!hasPort) {
      const uint32_t port = perNodeHost ? basePort : basePort + i;
      const bool v6 = text.front() == '[' || text.find(':') != std::string::npos;
      text = v6 && text.front() != '[' ? fmt::format("[{}]:{}", text, port)
                                       : fmt::format("{}:{}", text, port);
    }
    NodeSpec spec = parseAddress(text, fmt::format("host pattern '{}' for node {}", pattern, i));
    spec.id = i;
    nodes.push_back(std::move(spec));
  }
  return nodes;
}

Topology generate(const GenOptions& o) {
  const std::string& kind = o.kind;
  MURMUR_ENFORCE(
      std::find(generatorKinds().begin(), generatorKinds().end(), kind) != generatorKinds().end(),
      InputError, "unknown topology kind '{}' (known: {})", kind,
      fmt::join(generatorKinds(), ", "));
  uint32_t n = o.n;
  uint32_t rows = o.rows;
  uint32_t cols = o.cols;
  if (kind == "torus") {
    MURMUR_ENFORCE((rows == 0) == (cols == 0), InputError,
                   "torus: give both rows and cols, or neither (got rows={}, cols={})", rows, cols);
    if (rows == 0) {
      MURMUR_ENFORCE(n >= 1, InputError, "torus: give n or rows and cols");
      rows = static_cast<uint32_t>(std::sqrt(static_cast<double>(n)));
      while (rows > 1 && n % rows != 0) --rows;
      cols = n / rows;
    } else {
      MURMUR_ENFORCE(static_cast<uint64_t>(rows) * cols <= kMaxNodes, InputError,
                     "torus: {} x {} is more than {} nodes", rows, cols, kMaxNodes);
      MURMUR_ENFORCE(n == 0 || n == rows * cols, InputError,
                     "torus: n={} does not match rows x cols = {} x {} = {}", n, rows, cols,
                     rows * cols);
      n = rows * cols;
    }
  }
  MURMUR_ENFORCE(n >= 1, InputError, "{}: the node count n must be at least 1", kind);
  MURMUR_ENFORCE(n <= kMaxNodes, InputError, "{}: n={} is more than {} nodes", kind, n, kMaxNodes);

  // Expected edge counts of the dense kinds, checked before building anything.
  const double pairs = 0.5 * n * (n - 1.0);
  double expectedEdges = 0.0;
  if (kind == "complete") expectedEdges = pairs;
  if (kind == "erdos-renyi") expectedEdges = std::clamp(o.p, 0.0, 1.0) * pairs;
  if (kind == "random-regular") expectedEdges = 0.5 * n * o.degree;
  if (kind == "small-world") expectedEdges = 0.5 * n * o.k;
  MURMUR_ENFORCE(expectedEdges <= kMaxEdges, InputError,
                 "{}: about {:.0f} edges on {} nodes is more than murmur generates ({:.0f})", kind,
                 expectedEdges, n, kMaxEdges);

  if (kind == "ring") return build(o, n, ring(n));
  if (kind == "torus") return build(o, n, torus(rows, cols));
  if (kind == "complete") return build(o, n, complete(n));
  if (kind == "star") return build(o, n, star(n));
  if (kind == "hypercube") {
    MURMUR_ENFORCE((n & (n - 1)) == 0, InputError, "hypercube: n={} is not a power of two", n);
    return build(o, n, hypercube(n));
  }
  if (kind == "exponential") return build(o, n, exponential(n));

  MURMUR_ENFORCE(o.maxTries >= 1, InputError, "{}: maxTries must be at least 1", kind);
  Rng rng(o.seed);
  if (kind == "random-regular") {
    const uint32_t d = o.degree;
    MURMUR_ENFORCE(d >= 1 || n == 1, InputError, "random-regular: the degree must be at least 1");
    MURMUR_ENFORCE(d < n || (n == 1 && d == 0), InputError,
                   "random-regular: degree {} needs more than {} nodes", d, n);
    MURMUR_ENFORCE((static_cast<uint64_t>(n) * d) % 2 == 0, InputError,
                   "random-regular: n*d = {}*{} must be even (every edge has two ends)", n, d);
    MURMUR_ENFORCE(d >= 2 || n <= 2, InputError,
                   "random-regular: degree {} on {} nodes cannot be connected", d, n);
    EdgeSet edges;
    for (uint32_t attempt = 0; attempt < o.maxTries; ++attempt) {
      if (randomRegularAttempt(n, d, rng, edges) && connected(n, edges)) {
        return build(o, n, edges);
      }
    }
    throw InputError(fmt::format(
        "random-regular: no connected simple {}-regular graph on {} nodes after {} tries "
        "(seed {}); try another seed or more tries",
        d, n, o.maxTries, o.seed));
  }
  if (kind == "erdos-renyi") {
    MURMUR_ENFORCE(o.p > 0.0 && o.p <= 1.0, InputError, "erdos-renyi: p={} must be in (0, 1]", o.p);
    for (uint32_t attempt = 0; attempt < o.maxTries; ++attempt) {
      EdgeSet edges = erdosRenyi(n, o.p, rng);
      if (connected(n, edges)) return build(o, n, edges);
    }
    throw InputError(fmt::format(
        "erdos-renyi: no connected graph with n={}, p={} after {} tries (seed {}); p above "
        "ln(n)/n = {:.3g} makes connectivity likely",
        n, o.p, o.maxTries, o.seed, n > 1 ? std::log(static_cast<double>(n)) / n : 0.0));
  }
  // small-world
  MURMUR_ENFORCE(o.k >= 2 && o.k % 2 == 0, InputError,
                 "small-world: k={} must be an even number >= 2", o.k);
  MURMUR_ENFORCE(o.k < n, InputError, "small-world: k={} must be less than n={}", o.k, n);
  MURMUR_ENFORCE(o.beta >= 0.0 && o.beta <= 1.0, InputError,
                 "small-world: beta={} must be in [0, 1]", o.beta);
  for (uint32_t attempt = 0; attempt < o.maxTries; ++attempt) {
    EdgeSet edges = smallWorld(n, o.k, o.beta, rng);
    if (connected(n, edges)) return build(o, n, edges);
  }
  throw InputError(fmt::format(
      "small-world: no connected graph with n={}, k={}, beta={} after {} tries (seed {}); use "
      "a larger k or a smaller beta",
      n, o.k, o.beta, o.maxTries, o.seed));
}

}  // namespace murmur::topologies
