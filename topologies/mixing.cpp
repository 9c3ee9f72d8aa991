#include "topologies/mixing.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.hpp"

namespace murmur::topologies {

namespace {

// Explicit weights are checked to sum to <= 1 within this tolerance when loaded; a self weight
// that comes out slightly negative from rounding is clamped to 0.
constexpr double kTolerance = 1e-9;

}  // namespace

MixingRule parseMixingRule(std::string_view text) {
  if (text == "metropolis-hastings" || text == "metropolis" || text == "mh") {
    return MixingRule::kMetropolisHastings;
  }
  if (text == "max-degree" || text == "maxdegree") return MixingRule::kMaxDegree;
  if (text == "explicit" || text == "file") return MixingRule::kExplicit;
  throw InputError(fmt::format(
      "unknown mixing rule '{}' (expected metropolis-hastings, max-degree or explicit)", text));
}

const char* toString(MixingRule rule) {
  switch (rule) {
    case MixingRule::kMetropolisHastings:
      return "metropolis-hastings";
    case MixingRule::kMaxDegree:
      return "max-degree";
    case MixingRule::kExplicit:
      return "explicit";
  }
  return "unknown";
}

MixingRule defaultMixingRule(const Topology& t) {
  return t.hasWeights() ? MixingRule::kExplicit : MixingRule::kMetropolisHastings;
}

double MixingRow::weightOf(uint32_t j) const {
  for (const auto& [id, w] : neighbours) {
    if (id == j) return w;
  }
  return 0.0;
}

double MixingRow::sum() const {
  double s = self;
  for (const auto& entry : neighbours) s += entry.second;
  return s;
}

namespace {

std::vector<size_t> degrees(const Topology& t) {
  std::vector<size_t> d(t.nodes.size(), 0);
  for (const Edge& e : t.edges) {
    MURMUR_CHECK(e.u < d.size() && e.v < d.size(), "edge {}-{} outside 0..{}", e.u, e.v, d.size());
    ++d[e.u];
    ++d[e.v];
  }
  return d;
}

MixingRow rowWith(const Topology& t, uint32_t node, MixingRule rule, const std::vector<size_t>& deg,
                  size_t maxDeg) {
  MURMUR_ENFORCE(node < t.nodes.size(), InputError, "no node {} in the topology (it has {} nodes)",
                 node, t.nodes.size());
  MixingRow row;
  double total = 0.0;
  for (const Edge& e : t.edges) {
    if (e.u != node && e.v != node) continue;
    const uint32_t j = e.u == node ? e.v : e.u;
    double w = 0.0;
    switch (rule) {
      case MixingRule::kMetropolisHastings:
        w = 1.0 / (1.0 + static_cast<double>(std::max(deg[node], deg[j])));
        break;
      case MixingRule::kMaxDegree:
        w = 1.0 / (1.0 + static_cast<double>(maxDeg));
        break;
      case MixingRule::kExplicit:
        MURMUR_ENFORCE(e.weight.has_value(), InputError,
                       "mixing rule 'explicit' needs a weight on every edge, but edge {} {} has "
                       "none",
                       e.u, e.v);
        w = *e.weight;
        break;
    }
    row.neighbours.emplace_back(j, w);
    total += w;
  }
  std::sort(row.neighbours.begin(), row.neighbours.end());
  MURMUR_ENFORCE(total <= 1.0 + kTolerance, InputError, "the edge weights of node {} sum to {} > 1",
                 node, total);
  row.self = std::max(0.0, 1.0 - total);
  return row;
}

}  // namespace

MixingRow mixingRow(const Topology& t, uint32_t node, MixingRule rule) {
  const auto deg = degrees(t);
  const size_t maxDeg = deg.empty() ? 0 : *std::max_element(deg.begin(), deg.end());
  return rowWith(t, node, rule, deg, maxDeg);
}

DenseMatrix mixingMatrix(const Topology& t, MixingRule rule) {
  const auto deg = degrees(t);
  const size_t maxDeg = deg.empty() ? 0 : *std::max_element(deg.begin(), deg.end());
  DenseMatrix m;
  m.n = t.nodes.size();
  m.values.assign(m.n * m.n, 0.0);
  for (uint32_t i = 0; i < m.n; ++i) {
    const MixingRow row = rowWith(t, i, rule, deg, maxDeg);
    m.values[i * m.n + i] = row.self;
    for (const auto& [j, w] : row.neighbours) m.values[i * m.n + j] = w;
  }
  return m;
}

MixingRow keepNeighbours(const MixingRow& row, const std::function<bool(uint32_t)>& isUp) {
  MixingRow out;
  out.self = row.self;
  for (const auto& entry : row.neighbours) {
    if (isUp(entry.first)) {
      out.neighbours.push_back(entry);
    } else {
      out.self += entry.second;
    }
  }
  return out;
}

MixingRow withoutNeighbours(const MixingRow& row, const std::vector<uint32_t>& down) {
  return keepNeighbours(
      row, [&down](uint32_t id) { return std::find(down.begin(), down.end(), id) == down.end(); });
}

}  // namespace murmur::topologies
