#pragma once
// The local half of training, shared by `murmur train` and `murmur node`: a model, its SGD
// optimizer, the learning-rate schedule, the samples this process trains on, and evaluation on
// the test set. The data order is a pure function of (seed, epoch), so a resumed run draws the
// same batches as an uninterrupted one.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/checkpoint.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/sampler.hpp"
#include "nn/model.hpp"
#include "nn/optimizer.hpp"
#include "nn/schedule.hpp"
#include "node/config.hpp"

namespace murmur::node {

struct TrainData {
  nn::data::Dataset train;
  nn::data::Dataset test;
  std::optional<nn::data::AugmentConfig> augment;  // on training batches (CIFAR-10 by default)
};

// Loads cfg.data (train and test splits, normalised, limited by train_limit/test_limit).
// Throws InputError naming the missing or bad file.
TrainData loadTrainData(const Config& cfg);

struct StepResult {
  double loss = 0.0;
  int correct = 0;
  int batch = 0;
};

class Trainer {
 public:
  // `parts`: the samples of data.train this trainer draws from, the first being its own shard
  // (which defines the epoch) and the others RI-SGD's redundant shards, each with its per-batch
  // count. Empty: every training sample, cfg.train.batch per batch.
  Trainer(const Config& cfg, const TrainData& data, std::vector<nn::data::SamplerPart> parts = {});

  nn::Model& model() { return *model_; }
  nn::Sgd& optimizer() { return *sgd_; }
  int64_t step() const { return step_; }
  int64_t epoch() const { return step_ / stepsPerEpoch_; }
  int64_t stepsPerEpoch() const { return stepsPerEpoch_; }
  int64_t totalSteps() const { return totalSteps_; }
  size_t shardSize() const { return ownShard_.size(); }
  bool done() const { return step_ >= totalSteps_; }
  // True when the step just taken ended an epoch.
  bool epochEnded() const { return step_ > 0 && step_ % stepsPerEpoch_ == 0; }

  // The scheduled rate for the current step.
  float learningRate() const;
  // Draws the current step's batch and runs forward + backward (grads are overwritten).
  StepResult computeGradients();
  // Optimizer step with `lr` on the model's buffers; advances the step counter.
  void applyUpdate(float lr);

  nn::Model::EvalResult evaluateTest();
  // Accuracy/loss on up to `limit` training samples of the shard (inference mode).
  nn::Model::EvalResult evaluateTrain(size_t limit);

  nn::Checkpoint checkpoint() const;
  // Restores model, optimizer and step; throws InputError when `ckpt` is for another model.
  void restore(const nn::Checkpoint& ckpt, const std::string& origin);

 private:
  const Config& cfg_;
  const TrainData& data_;
  std::unique_ptr<nn::Model> model_;
  std::unique_ptr<nn::Sgd> sgd_;
  nn::ScheduleConfig schedule_;
  nn::data::DatasetSource source_;
  std::vector<uint32_t> ownShard_;
  std::unique_ptr<nn::data::BatchSampler> sampler_;
  int64_t stepsPerEpoch_ = 1;
  int64_t totalSteps_ = 0;
  int64_t step_ = 0;
  nn::data::Batch batch_;
};

}  // namespace murmur::node
