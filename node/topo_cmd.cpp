// `murmur topo gen` and `murmur topo info`: thin wrappers over topologies/.

#include <limits>

#include <fmt/format.h>

#include "common/error.hpp"
#include "node/commands.hpp"
#include "topologies/describe.hpp"
#include "topologies/generators.hpp"
#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::node {
namespace {

uint32_t toU32(int64_t v, const char* flag) {
  MURMUR_ENFORCE(v >= 0 && v <= std::numeric_limits<uint32_t>::max(), InputError,
                 "{} must be in 0..{}, got {}", flag, std::numeric_limits<uint32_t>::max(), v);
  return static_cast<uint32_t>(v);
}

}  // namespace

topologies::MixingRule mixingRuleFor(const std::string& text, const topologies::Topology& t) {
  if (text == "auto") return topologies::defaultMixingRule(t);
  return topologies::parseMixingRule(text);
}

int topoGenCommand(const TopoGenArgs& a) {
  topologies::GenOptions o;
  o.kind = a.kind;
  o.n = toU32(a.nodes, "--nodes");
  MURMUR_ENFORCE(o.n >= 1, InputError, "--nodes must be >= 1, got {}", a.nodes);
  o.rows = toU32(a.rows, "--rows");
  o.cols = toU32(a.cols, "--cols");
  o.degree = toU32(a.degree, "--degree");
  o.p = a.p;
  o.k = toU32(a.k, "--k");
  o.beta = a.beta;
  o.hostPattern = a.host;
  MURMUR_ENFORCE(a.basePort > 0 && a.basePort < 65536, InputError,
                 "--base-port must be in 1..65535, got {}", a.basePort);
  o.basePort = static_cast<uint16_t>(a.basePort);
  o.seed = a.seed;
  o.clusterId = a.clusterId;
  const auto t = topologies::generate(o);
  if (a.out.empty() || a.out == "-") {
    fmt::print("{}", topologies::formatTopology(t));
  } else {
    topologies::saveTopology(a.out, t);
    fmt::print(stderr, "wrote {} ({} nodes, {} edges)\n", a.out, t.size(), t.edges.size());
  }
  return kExitOk;
}

int topoInfoCommand(const std::string& path, const std::string& mixing) {
  const auto t = topologies::loadTopology(path);
  const auto info = topologies::describe(t, mixingRuleFor(mixing, t));
  fmt::print("{}", topologies::formatInfo(info));
  return kExitOk;
}

}  // namespace murmur::node
