#pragma once
// The subcommands of the `murmur` executable. Each takes a resolved, validated Config (or its
// own arguments) and returns the process exit code: 0 success, 1 runtime failure, 2 usage.
// runMain() parses the command line and dispatches; main.cpp only calls it.

#include <string>
#include <vector>

#include "node/config.hpp"
#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::node {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

int runMain(int argc, char** argv);

// `murmur train`: single-node training (node/train.cpp).
int trainCommand(const Config& cfg);
// cfg.train.threads if set, else MURMUR_THREADS, else `fallback`.
int resolveThreads(const Config& cfg, int fallback);

// `murmur topo gen` / `murmur topo info` (node/topo_cmd.cpp).
struct TopoGenArgs {
  std::string kind;
  int64_t nodes = 0;
  std::string out;  // empty: stdout
  uint64_t seed = 1;
  int64_t rows = 0, cols = 0;      // torus shape (0, 0: squarest)
  int64_t degree = 0;              // random-regular degree
  double p = 0.0;                  // erdos-renyi edge probability
  int64_t k = 4;                   // small-world ring neighbours
  double beta = 0.1;               // small-world rewiring probability
  std::string host = "127.0.0.1";  // host pattern; "{i}" is replaced by the node id
  int basePort = 7000;
  std::string clusterId;
};
int topoGenCommand(const TopoGenArgs& args);
int topoInfoCommand(const std::string& path, const std::string& mixing);
// "auto" picks explicit weights when the file has them, else Metropolis-Hastings.
topologies::MixingRule mixingRuleFor(const std::string& text, const topologies::Topology& t);

// `murmur node` (node/node_cmd.cpp): one process of a cluster.
struct NodeArgs {
  std::string topology;
  int64_t id = -1;
  std::string runDir;  // writes RUN/node-<id>/
};
int nodeCommand(const Config& cfg, const NodeArgs& args);

// `murmur run` (node/run_cmd.cpp): the launcher.
int runCommand(const Config& cfg, const std::string& outDir, bool quiet);

// `murmur report` (node/report_cmd.cpp): runs scripts/report.py on run directories.
int reportCommand(const std::vector<std::string>& runDirs, const std::string& out);

}  // namespace murmur::node
