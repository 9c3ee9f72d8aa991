#include "nn/data/partition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "common/error.hpp"
#include "nn/data/rng.hpp"

namespace murmur::nn::data {

namespace {
constexpr uint64_t kIidStream = 0x696964ull;        // "iid"
constexpr uint64_t kDirichletStream = 0x646972ull;  // "dir"
}  // namespace

Shards iidShards(size_t n, uint32_t numNodes, uint64_t seed) {
  MURMUR_ENFORCE(numNodes > 0, InputError, "IID partition: node count must be > 0");
  MURMUR_ENFORCE(n <= UINT32_MAX, InputError, "IID partition: {} samples exceed 32-bit indices", n);
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  Rng rng(deriveSeed(seed, kIidStream, numNodes));
  rng.shuffle(std::span<uint32_t>(perm));
  Shards shards(numNodes);
  const size_t base = n / numNodes;
  const size_t extra = n % numNodes;
  size_t pos = 0;
  for (uint32_t j = 0; j < numNodes; ++j) {
    const size_t size = base + (j < extra ? 1 : 0);
    shards[j].assign(perm.begin() + static_cast<std::ptrdiff_t>(pos),
                     perm.begin() + static_cast<std::ptrdiff_t>(pos + size));
    std::sort(shards[j].begin(), shards[j].end());
    pos += size;
  }
  return shards;
}

std::vector<uint32_t> iidShard(size_t n, uint32_t nodeId, uint32_t numNodes, uint64_t seed) {
  MURMUR_ENFORCE(nodeId < numNodes, InputError, "IID partition: node {} of {} nodes", nodeId,
                 numNodes);
  return std::move(iidShards(n, numNodes, seed)[nodeId]);
}

Shards dirichletShards(std::span<const int32_t> labels, int classes, uint32_t numNodes,
                       double alpha, uint64_t seed, size_t minPerNode) {
  MURMUR_ENFORCE(numNodes > 0, InputError, "Dirichlet partition: node count must be > 0");
  MURMUR_ENFORCE(classes > 0, InputError, "Dirichlet partition: class count must be > 0");
  MURMUR_ENFORCE(alpha > 0 && std::isfinite(alpha), InputError,
                 "Dirichlet partition: alpha must be > 0, got {}", alpha);
  MURMUR_ENFORCE(labels.size() <= UINT32_MAX, InputError,
                 "Dirichlet partition: {} samples exceed 32-bit indices", labels.size());
  MURMUR_ENFORCE(minPerNode * numNodes <= labels.size(), InputError,
                 "Dirichlet partition: {} samples cannot give {} nodes {} each", labels.size(),
                 numNodes, minPerNode);
  std::vector<std::vector<uint32_t>> byClass(static_cast<size_t>(classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    MURMUR_ENFORCE(labels[i] >= 0 && labels[i] < classes, InputError,
                   "Dirichlet partition: label {} of sample {} outside [0, {})", labels[i], i,
                   classes);
    byClass[static_cast<size_t>(labels[i])].push_back(static_cast<uint32_t>(i));
  }
  constexpr int kAttempts = 1000;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Rng rng(deriveSeed(seed, kDirichletStream + static_cast<uint64_t>(attempt), numNodes));
    Shards shards(numNodes);
    std::vector<double> props(numNodes);
    for (auto members : byClass) {
      rng.shuffle(std::span<uint32_t>(members));
      double sum = 0;
      for (auto& p : props) sum += (p = rng.gamma(alpha));
      if (!(sum > 0)) {
        // Every gamma draw underflowed (tiny alpha): the class goes to one node.
        std::fill(props.begin(), props.end(), 0.0);
        props[rng.below(numNodes)] = sum = 1.0;
      }
      // Cut at rounded cumulative proportions, so the pieces add up to the class exactly.
      double cum = 0;
      size_t start = 0;
      for (uint32_t j = 0; j < numNodes; ++j) {
        cum += props[j] / sum;
        const size_t end =
            j + 1 == numNodes
                ? members.size()
                : std::min(
                      members.size(),
                      static_cast<size_t>(std::llround(cum * static_cast<double>(members.size()))));
        if (end > start) {
          shards[j].insert(shards[j].end(), members.begin() + static_cast<std::ptrdiff_t>(start),
                           members.begin() + static_cast<std::ptrdiff_t>(end));
          start = end;
        }
      }
    }
    const bool ok = std::all_of(shards.begin(), shards.end(),
                                [&](const auto& s) { return s.size() >= minPerNode; });
    if (ok) {
      for (auto& s : shards) std::sort(s.begin(), s.end());
      return shards;
    }
  }
  MURMUR_ENFORCE(false, InputError,
                 "Dirichlet partition: no draw in {} gave each of {} nodes at least {} samples "
                 "(alpha {} is too small for this node count; raise alpha or lower the minimum)",
                 kAttempts, numNodes, minPerNode, alpha);
  return {};
}

RedundantShard redundantShard(const Shards& shards, uint32_t nodeId, double mu) {
  const auto n = static_cast<uint32_t>(shards.size());
  MURMUR_ENFORCE(n > 0 && nodeId < n, InputError, "RI-SGD: node {} of {} shards", nodeId, n);
  MURMUR_ENFORCE(mu >= 0 && std::isfinite(mu), InputError,
                 "RI-SGD: redundancy mu must be >= 0, got {}", mu);
  const double r = mu * n;
  MURMUR_ENFORCE(r <= static_cast<double>(n - 1) + 1e-9, InputError,
                 "RI-SGD: redundancy mu={} gives r={} extra shards, but only {} other nodes "
                 "exist (need mu <= (N-1)/N)",
                 mu, r, n - 1);
  // Tolerate r a hair below an integer from floating error (mu = 0.3, N = 10).
  const double rounded = std::round(r);
  const double rr = std::abs(r - rounded) < 1e-9 ? rounded : r;
  const auto whole = static_cast<uint32_t>(std::floor(rr));
  const double frac = rr - whole;
  RedundantShard out;
  out.redundancy = rr;
  out.shardIds.push_back(nodeId);
  out.parts.push_back(shards[nodeId]);
  for (uint32_t k = 1; k <= whole; ++k) {
    const uint32_t id = (nodeId + k) % n;
    out.shardIds.push_back(id);
    out.parts.push_back(shards[id]);
  }
  if (frac > 0) {
    const uint32_t id = (nodeId + whole + 1) % n;
    const auto& src = shards[id];
    const auto take = static_cast<size_t>(std::floor(frac * static_cast<double>(src.size())));
    if (take > 0) {
      // Evenly spaced picks rather than a prefix: a prefix of a sorted shard would favour the
      // front of the data file, which may be ordered by class.
      std::vector<uint32_t> slice(take);
      for (size_t i = 0; i < take; ++i) slice[i] = src[i * src.size() / take];
      out.shardIds.push_back(id);
      out.parts.push_back(std::move(slice));
    }
  }
  return out;
}

PartitionConfig parsePartition(std::string_view spec, uint64_t seed) {
  PartitionConfig c;
  c.seed = seed;
  if (spec == "iid") return c;
  if (spec.starts_with("dirichlet")) {
    c.kind = PartitionConfig::Kind::kDirichlet;
    std::string_view rest = spec.substr(9);
    if (rest.empty()) return c;
    if (rest.front() == ':') {
      rest.remove_prefix(1);
      double alpha = 0;
      const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), alpha);
      MURMUR_ENFORCE(ec == std::errc() && ptr == rest.data() + rest.size() && alpha > 0 &&
                         std::isfinite(alpha),
                     InputError, "partition '{}': alpha '{}' is not a number > 0", spec, rest);
      c.alpha = alpha;
      return c;
    }
  }
  MURMUR_ENFORCE(false, InputError, "partition '{}': expected iid, dirichlet or dirichlet:ALPHA",
                 spec);
  return c;
}

std::string toString(const PartitionConfig& c) {
  return c.kind == PartitionConfig::Kind::kIid ? std::string("iid")
                                               : fmt::format("dirichlet:{}", c.alpha);
}

Shards partition(std::span<const int32_t> labels, int classes, uint32_t numNodes,
                 const PartitionConfig& c) {
  if (c.kind == PartitionConfig::Kind::kIid) return iidShards(labels.size(), numNodes, c.seed);
  return dirichletShards(labels, classes, numNodes, c.alpha, c.seed, c.minPerNode);
}

std::vector<uint32_t> flatten(const RedundantShard& shard) {
  std::vector<uint32_t> all;
  for (const auto& p : shard.parts) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

}  // namespace murmur::nn::data
