#pragma once
// What the launcher reads back from a run directory: the live status of a node (tail of its
// metrics.jsonl) and the end-of-run summary (final accuracies, traffic, consensus distance
// from the nodes' checkpoints, the bytes D-PSGD would have sent for the same steps).

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace murmur::node {

// The number after "key": at the top level of one of murmur's own JSON lines (flat numbers,
// keys unique), or nullopt when absent or null.
std::optional<double> jsonNumber(std::string_view line, std::string_view key);

struct NodeStatus {
  bool seen = false;  // at least one record read
  int64_t step = 0;
  int64_t totalSteps = 0;
  double loss = std::nan("");
  double testAccuracy = std::nan("");
  uint64_t bytesSent = 0;
  uint64_t updateFramesSent = 0;
  double triggerRate = 0.0;
  uint64_t numParams = 0;
  uint64_t degree = 0;
  std::string lastEvent;
};

// Reads the complete lines of `metricsPath` (a missing file gives an unseen status).
NodeStatus readNodeStatus(const std::filesystem::path& metricsPath);

struct NodeSummary {
  uint32_t id = 0;
  NodeStatus status;
  bool haveCheckpoint = false;
};

struct RunSummary {
  std::vector<NodeSummary> nodes;
  double meanTestAccuracy = std::nan("");
  uint64_t bytesSent = 0;
  uint64_t updateFramesSent = 0;
  // sum over nodes of steps * degree * params * 4: the tensor values D-PSGD sends (framing
  // not counted, so the ratio below understates the saving slightly).
  uint64_t dpsgdBytes = 0;
  double savedRatio = std::nan("");         // dpsgdBytes / bytesSent
  double consensusDistance = std::nan("");  // (1/N) sum ||x_i - mean x||^2, from checkpoints
};

RunSummary summarize(const std::filesystem::path& runDir, size_t numNodes);
std::string formatSummary(const RunSummary& s);
std::string summaryJson(const RunSummary& s);

// The last `n` lines of a text file ("" when unreadable).
std::string lastLines(const std::filesystem::path& path, size_t n);

}  // namespace murmur::node
