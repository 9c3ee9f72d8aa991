#include "nn/data/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.hpp"
#include "nn/data/rng.hpp"

namespace murmur::nn::data {

namespace {
constexpr uint64_t kOrderStream = 0x6f72646572ull;  // "order"
constexpr uint64_t kAugmentStream = 0x6175676dull;  // "augm"
}  // namespace

BatchSampler::BatchSampler(const DataSource& source, std::vector<uint32_t> indices,
                           SamplerConfig config)
    : BatchSampler(source,
                   std::vector<SamplerPart>{SamplerPart{std::move(indices), config.batchSize}},
                   config) {}

BatchSampler::BatchSampler(const DataSource& source, std::vector<SamplerPart> parts,
                           SamplerConfig config)
    : source_(source), config_(std::move(config)) {
  MURMUR_ENFORCE(!parts.empty(), InputError, "batch sampler: no index list given");
  MURMUR_ENFORCE(!parts[0].indices.empty(), InputError,
                 "batch sampler: the node's own shard is empty");
  MURMUR_ENFORCE(parts[0].perBatch > 0, InputError, "batch sampler: batch size must be > 0");
  MURMUR_ENFORCE(!config_.dropLast || parts[0].indices.size() >= parts[0].perBatch, InputError,
                 "batch sampler: the shard of {} samples is smaller than one batch of {} (lower "
                 "the batch size, or keep the last partial batch)",
                 parts[0].indices.size(), parts[0].perBatch);
  for (size_t p = 0; p < parts.size(); ++p) {
    MURMUR_ENFORCE(parts[p].perBatch == 0 || !parts[p].indices.empty(), InputError,
                   "batch sampler: part {} is empty but asked for {} samples per batch", p,
                   parts[p].perBatch);
    for (uint32_t i : parts[p].indices) {
      MURMUR_ENFORCE(i < source.size(), InputError,
                     "batch sampler: part {} names sample {} of a {}-sample dataset", p, i,
                     source.size());
    }
    streams_.push_back(Stream{std::move(parts[p]), {}, 0, 0});
  }
  seekEpoch(0);
}

void BatchSampler::startEpoch(Stream& s, size_t partIndex, int64_t epoch) {
  s.order = s.part.indices;
  if (config_.shuffle) {
    Rng rng(deriveSeed(config_.seed, kOrderStream + partIndex, static_cast<uint64_t>(epoch)));
    rng.shuffle(std::span<uint32_t>(s.order));
  }
  s.pos = 0;
  s.epoch = epoch;
}

void BatchSampler::seekEpoch(int64_t epoch) { seek(epoch, 0); }

void BatchSampler::seek(int64_t epoch, size_t batchInEpoch) {
  MURMUR_ENFORCE(epoch >= 0, InputError, "batch sampler: negative epoch {}", epoch);
  const size_t perEpoch = batchesPerEpoch();
  MURMUR_ENFORCE(batchInEpoch <= perEpoch, InputError,
                 "batch sampler: batch {} of an epoch of {} batches", batchInEpoch, perEpoch);
  epoch_ = epoch;
  Stream& own = streams_[0];
  startEpoch(own, 0, epoch);
  own.pos = std::min(own.order.size(), batchInEpoch * own.part.perBatch);
  // The other parts wrap on their own schedule: an uninterrupted run has drawn perBatch
  // samples from each of them for every batch so far, whatever the first part's epoch length.
  const uint64_t batchesSoFar =
      static_cast<uint64_t>(epoch) * perEpoch + static_cast<uint64_t>(batchInEpoch);
  for (size_t p = 1; p < streams_.size(); ++p) {
    Stream& s = streams_[p];
    const uint64_t size = s.part.indices.size();
    const uint64_t drawn = batchesSoFar * s.part.perBatch;
    if (size == 0) {
      startEpoch(s, p, 0);
      continue;
    }
    startEpoch(s, p, static_cast<int64_t>(drawn / size));
    s.pos = static_cast<size_t>(drawn % size);
  }
  batchCounter_ = batchInEpoch;
  epochDone_ = false;
}

size_t BatchSampler::batchesPerEpoch() const {
  const size_t n = streams_[0].part.indices.size();
  const size_t b = streams_[0].part.perBatch;
  return config_.dropLast ? n / b : (n + b - 1) / b;
}

size_t BatchSampler::batchSize() const {
  size_t total = 0;
  for (const auto& s : streams_) total += s.part.perBatch;
  return total;
}

bool BatchSampler::next(Batch& out) {
  if (epochDone_) seekEpoch(epoch_ + 1);
  Stream& own = streams_[0];
  const size_t left = own.order.size() - own.pos;
  const size_t want = own.part.perBatch;
  if (left == 0 || (left < want && config_.dropLast)) {
    epochDone_ = true;
    return false;
  }
  fill(out, std::min(left, want));
  return true;
}

void BatchSampler::nextWrapping(Batch& out) {
  if (!next(out)) {
    const bool ok = next(out);
    MURMUR_CHECK(ok, "a fresh epoch of {} samples yields no batch of {}", streams_[0].order.size(),
                 streams_[0].part.perBatch);
  }
}

void BatchSampler::fill(Batch& out, size_t firstPartCount) {
  size_t total = firstPartCount;
  for (size_t p = 1; p < streams_.size(); ++p) total += streams_[p].part.perBatch;
  const size_t sample = source_.sampleSize();
  out.n = static_cast<int>(total);
  out.c = source_.channels();
  out.h = source_.height();
  out.w = source_.width();
  out.images.resize(total * sample);
  out.labels.resize(total);
  size_t k = 0;
  for (size_t p = 0; p < streams_.size(); ++p) {
    Stream& s = streams_[p];
    const size_t count = p == 0 ? firstPartCount : s.part.perBatch;
    for (size_t j = 0; j < count; ++j, ++k) {
      if (s.pos == s.order.size()) startEpoch(s, p, s.epoch + 1);  // redundant parts wrap alone
      const uint32_t index = s.order[s.pos++];
      source_.copySample(index, std::span<float>(out.images).subspan(k * sample, sample));
      out.labels[k] = source_.label(index);
    }
  }
  if (config_.augment) {
    Rng rng(deriveSeed(config_.seed, kAugmentStream + static_cast<uint64_t>(epoch_) * 0x10000,
                       batchCounter_));
    augmentBatch(out.images, out.n, out.c, out.h, out.w, *config_.augment, rng);
  }
  ++batchCounter_;
}

std::vector<size_t> proportionalBatchCounts(const std::vector<size_t>& partSizes, size_t ownBatch) {
  MURMUR_ENFORCE(!partSizes.empty() && partSizes[0] > 0, InputError,
                 "batch split: the own part is empty");
  const double own = static_cast<double>(partSizes[0]);
  double sum = 0;
  for (size_t s : partSizes) sum += static_cast<double>(s);
  const auto total = static_cast<size_t>(std::llround(static_cast<double>(ownBatch) * sum / own));
  std::vector<size_t> counts(partSizes.size(), 0);
  counts[0] = ownBatch;
  if (partSizes.size() == 1) return counts;
  const size_t rest = total > ownBatch ? total - ownBatch : 0;
  std::vector<double> exact(partSizes.size(), 0.0);
  size_t given = 0;
  for (size_t p = 1; p < partSizes.size(); ++p) {
    exact[p] = static_cast<double>(ownBatch) * static_cast<double>(partSizes[p]) / own;
    counts[p] = static_cast<size_t>(std::floor(exact[p]));
    given += counts[p];
  }
  std::vector<size_t> order(partSizes.size() - 1);
  std::iota(order.begin(), order.end(), size_t{1});
  // Largest remainder first; ties go to the earlier part so every node agrees.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return exact[a] - std::floor(exact[a]) > exact[b] - std::floor(exact[b]);
  });
  for (size_t i = 0; given < rest && i < order.size(); ++i, ++given) ++counts[order[i]];
  return counts;
}

std::vector<SamplerPart> nodeParts(const Shards& shards, uint32_t nodeId, size_t batchPerNode,
                                   double mu) {
  MURMUR_ENFORCE(batchPerNode > 0, InputError, "batch size per node must be > 0");
  RedundantShard r = redundantShard(shards, nodeId, mu);
  MURMUR_ENFORCE(!r.parts[0].empty(), InputError,
                 "node {} of {} got no training samples (too many nodes for the data, or a "
                 "too skewed partition)",
                 nodeId, shards.size());
  std::vector<size_t> sizes;
  for (const auto& p : r.parts) sizes.push_back(p.size());
  const auto counts = proportionalBatchCounts(sizes, batchPerNode);
  std::vector<SamplerPart> parts;
  for (size_t k = 0; k < r.parts.size(); ++k) {
    parts.push_back(SamplerPart{std::move(r.parts[k]), counts[k]});
  }
  return parts;
}

}  // namespace murmur::nn::data
