#pragma once
// Mini-batches over a list of sample indices of a DataSource, reshuffled every epoch from
// (seed, epoch) so a resumed run can jump to any epoch and see the same order. A batch can draw
// from several parts (RI-SGD: the node's own shard plus redundant ones), each a separate
// stream with its own per-batch count; the first part's stream defines the epoch.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nn/data/augment.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/partition.hpp"

namespace murmur::nn::data {

struct SamplerConfig {
  size_t batchSize = 64;  // samples per batch from a single part (single-part constructor)
  uint64_t seed = 0;
  bool shuffle = true;
  // Drop the first part's last incomplete batch of an epoch (training); keep it for evaluation.
  bool dropLast = true;
  std::optional<AugmentConfig> augment;
};

struct SamplerPart {
  std::vector<uint32_t> indices;  // into the DataSource
  size_t perBatch = 0;            // samples this part contributes to each batch
};

// Holds a reference to the DataSource: the caller keeps it alive for the sampler's lifetime.
class BatchSampler {
 public:
  // One part holding `indices`, config.batchSize per batch.
  BatchSampler(const DataSource& source, std::vector<uint32_t> indices, SamplerConfig config);
  // Several parts; config.batchSize is ignored (the batch is the sum of perBatch).
  BatchSampler(const DataSource& source, std::vector<SamplerPart> parts, SamplerConfig config);

  // Fills `out` with the next batch of the current epoch and returns true; returns false (out
  // untouched) once the epoch is exhausted, and the following call starts the next epoch.
  bool next(Batch& out);
  // The next batch, rolling over into the next epoch when the current one is exhausted; for
  // training loops that count steps.
  void nextWrapping(Batch& out);

  // Jumps to the start of `epoch` (resuming from a checkpoint): the same as seek(epoch, 0).
  void seekEpoch(int64_t epoch);
  // Positions the sampler exactly where an uninterrupted run is after `batchInEpoch` batches of
  // `epoch` (all parts, augmentation included), without reading any sample. A training loop
  // that took `step` batches with nextWrapping resumes with
  // seek(step / batchesPerEpoch(), step % batchesPerEpoch()).
  void seek(int64_t epoch, size_t batchInEpoch);

  int64_t epoch() const { return epoch_; }
  // Batches in one epoch of the first part.
  size_t batchesPerEpoch() const;
  size_t batchSize() const;
  const DataSource& source() const { return source_; }

 private:
  struct Stream {
    SamplerPart part;
    std::vector<uint32_t> order;
    size_t pos = 0;
    int64_t epoch = 0;
  };
  void startEpoch(Stream& stream, size_t partIndex, int64_t epoch);
  void fill(Batch& out, size_t firstPartCount);

  const DataSource& source_;
  SamplerConfig config_;
  std::vector<Stream> streams_;
  int64_t epoch_ = 0;
  uint64_t batchCounter_ = 0;  // batches produced in this epoch, seeds augmentation
  bool epochDone_ = false;
};

// Splits a per-node batch across RI-SGD parts proportionally to their sizes relative to the
// first (own) part: the own part gets `ownBatch`, the total is round(ownBatch * sum / own), the
// rest shared by largest remainder. Returns one count per part.
std::vector<size_t> proportionalBatchCounts(const std::vector<size_t>& partSizes, size_t ownBatch);

// Node `nodeId`'s sampler parts: its own shard with `batchPerNode` samples per batch and, for
// RI-SGD redundancy mu > 0, the redundant shards of redundantShard() with counts from
// proportionalBatchCounts() (each full shard another batchPerNode, a fractional slice its share).
std::vector<SamplerPart> nodeParts(const Shards& shards, uint32_t nodeId, size_t batchPerNode,
                                   double mu = 0);

}  // namespace murmur::nn::data
