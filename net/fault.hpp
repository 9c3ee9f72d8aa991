#pragma once
// The fault layer: per-link loss, delay with jitter, duplication, reordering, bandwidth caps and
// scheduled partitions, applied at the frame level inside both transports (the kernel on the
// development machines has no netem, so this is the only way to get delay and loss). A
// FaultScenario is plain data (parsed from the line format in docs/FAULTS.md); a LinkShaper is
// the seeded, clock-driven state one node's send path consults for each frame it transmits.
// The same scenario and seed replay the same decisions in-process.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/messages.hpp"

namespace murmur::net {

// Matches a directed link from -> to; std::nullopt is the wildcard '*'. bothWays also matches
// to -> from.
struct LinkMatch {
  std::optional<NodeId> from;
  std::optional<NodeId> to;
  bool bothWays = false;

  bool matches(NodeId src, NodeId dst) const;
};

struct LinkRule {
  LinkMatch link;
  double drop = 0.0;          // probability a frame is lost
  int64_t delayNs = 0;        // fixed one-way delay
  int64_t jitterNs = 0;       // + uniform [0, jitter]
  double duplicate = 0.0;     // probability a frame is delivered twice
  double reorder = 0.0;       // probability a frame is held back behind later frames
  int64_t reorderHoldNs = 0;  // how long a reordered frame is held back; 0: 2 ms + delay + jitter
  double bandwidthBps = 0.0;  // bytes per second; 0 = unlimited
  double burstBytes = 0.0;    // token bucket depth; 0 = one frame's worth
};

// An edge set that is cut for a window of time (ms since the shaper's start) or of steps
// (as reported with LinkShaper::setStep). Edges are undirected unless written with "->".
struct Partition {
  std::vector<LinkMatch> links;
  bool bySteps = false;
  int64_t begin = 0;  // ms or step, inclusive
  int64_t end = 0;    // ms or step, exclusive
};

struct FaultScenario {
  std::vector<LinkRule> rules;  // for each link the LAST matching rule applies, whole
  std::vector<Partition> partitions;
  std::optional<uint64_t> seed;  // from the file; the caller's seed is mixed in

  // Parses the line format of docs/FAULTS.md. Throws InputError naming the line.
  static FaultScenario parse(const std::string& text, const std::string& origin = "<scenario>");
  static FaultScenario load(const std::string& path);
  bool empty() const { return rules.empty() && partitions.empty(); }
};

// What the shaper decided for one frame: one entry per copy to deliver, each the clock time
// (ns) at which it may leave/arrive. Empty: the frame is lost.
struct FrameFate {
  std::vector<int64_t> releaseNs;
  // When the link can take the next frame (bandwidth cap serialises frames); the transport's
  // writer waits for it before taking another frame off its queue, so a capped link backs up
  // into the write queue (where updates merge) rather than into memory.
  int64_t linkFreeNs = 0;
  bool partitioned = false;  // lost because the edge is cut (not random loss)
};

// Seeded, clock-driven fault state for the links leaving one node (or a whole in-memory
// network). Thread-safe: every call takes an internal mutex held for a few arithmetic steps.
class LinkShaper {
 public:
  LinkShaper(FaultScenario scenario, uint64_t seed, const Clock& clock);

  // Decides the fate of a frame of `bytes` wire bytes from `from` to `to`, sent now.
  FrameFate onFrame(NodeId from, NodeId to, size_t bytes);

  // True while a scheduled partition cuts from -> to (time read from the clock).
  bool isCut(NodeId from, NodeId to) const;

  // The caller's training step, for step-based partitions.
  void setStep(uint64_t step);
  uint64_t step() const;

  int64_t startNs() const { return startNs_; }
  const Clock& clock() const { return clock_; }
  const FaultScenario& scenario() const { return scenario_; }

 private:
  struct Effective {
    LinkRule rule;
    bool any = false;
  };
  struct LinkState {
    std::mt19937_64 rng;
    double tokens = 0.0;
    int64_t lastRefillNs = 0;
    int64_t lastReleaseNs = 0;  // bandwidth-limited frames leave in order
    bool bucketInit = false;
  };
  Effective ruleFor(NodeId from, NodeId to) const;
  bool isCutLocked(NodeId from, NodeId to, int64_t nowNs) const;
  LinkState& state(NodeId from, NodeId to);

  FaultScenario scenario_;
  uint64_t seed_;
  const Clock& clock_;
  int64_t startNs_;
  mutable std::mutex mutex_;
  uint64_t step_ = 0;
  std::map<std::pair<NodeId, NodeId>, LinkState> links_;
};

}  // namespace murmur::net
