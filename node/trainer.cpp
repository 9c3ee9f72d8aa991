#include "node/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "common/error.hpp"
#include "nn/data/registry.hpp"
#include "nn/data/rng.hpp"

namespace murmur::node {

Trainer::Trainer(const Config& cfg, const TrainData& data, std::vector<nn::data::SamplerPart> parts)
    : cfg_(cfg), data_(data), source_(data.train) {
  if (parts.empty()) {
    nn::data::SamplerPart all;
    all.indices.resize(static_cast<size_t>(data.train.n));
    std::iota(all.indices.begin(), all.indices.end(), 0u);
    all.perBatch = static_cast<size_t>(cfg.train.batch);
    parts.push_back(std::move(all));
  }
  MURMUR_ENFORCE(!parts[0].indices.empty(), InputError, "no training samples for this node");
  ownShard_ = parts[0].indices;
  model_ = nn::Model::create(cfg.train.model, cfg.train.seed);
  const auto shape = model_->inputShape();
  MURMUR_ENFORCE(shape[0] == data.train.c && shape[1] == data.train.h && shape[2] == data.train.w,
                 InputError, "model {} takes {}x{}x{} inputs but dataset {} has {}x{}x{} images",
                 cfg.train.model, shape[0], shape[1], shape[2], cfg.data.name, data.train.c,
                 data.train.h, data.train.w);
  MURMUR_ENFORCE(model_->numClasses() == data.train.classes, InputError,
                 "model {} has {} classes but dataset {} has {}", cfg.train.model,
                 model_->numClasses(), cfg.data.name, data.train.classes);
  nn::SgdConfig sgd;
  sgd.momentum = static_cast<float>(cfg.optim.momentum);
  sgd.nesterov = cfg.optim.nesterov;
  sgd.weightDecay = static_cast<float>(cfg.optim.weightDecay);
  sgd_ = std::make_unique<nn::Sgd>(sgd, model_->numParams());

  nn::data::SamplerConfig sc;
  sc.seed = nn::data::deriveSeed(cfg.train.seed, 0x5348554646ull /* "SHUFF" */);
  sc.shuffle = true;
  // Keep the last partial batch when the shard is smaller than one batch (tiny tests).
  sc.dropLast = parts[0].indices.size() >= parts[0].perBatch;
  sc.augment = data.augment;
  sampler_ = std::make_unique<nn::data::BatchSampler>(source_, std::move(parts), sc);
  stepsPerEpoch_ = std::max<int64_t>(1, static_cast<int64_t>(sampler_->batchesPerEpoch()));
  totalSteps_ = cfg.train.steps > 0
                    ? cfg.train.steps
                    : std::max<int64_t>(
                          1, static_cast<int64_t>(std::ceil(
                                 cfg.train.epochs * static_cast<double>(stepsPerEpoch_) - 1e-9)));
  schedule_ = nn::parseSchedule(cfg.optim.schedule, static_cast<float>(cfg.optim.lr), totalSteps_);
  nn::validate(schedule_);
}

float Trainer::learningRate() const { return nn::learningRate(schedule_, step_); }

StepResult Trainer::computeGradients() {
  sampler_->nextWrapping(batch_);
  StepResult r;
  r.batch = batch_.n;
  r.loss = model_->trainStep(batch_.images.data(), batch_.labels.data(), r.batch, &r.correct);
  return r;
}

void Trainer::applyUpdate(float lr) {
  sgd_->step(model_->params(), model_->grads(), lr);
  ++step_;
}

nn::Model::EvalResult Trainer::evaluateTest() {
  const auto& t = data_.test;
  return model_->evaluate(t.images.data(), t.labels.data(), static_cast<size_t>(t.n));
}

nn::Model::EvalResult Trainer::evaluateTrain(size_t limit) {
  const size_t n = std::min(limit, ownShard_.size());
  const size_t sample = data_.train.sampleSize();
  std::vector<float> images(n * sample);
  std::vector<int32_t> labels(n);
  for (size_t i = 0; i < n; ++i) {
    const auto src = data_.train.image(ownShard_[i]);
    std::copy(src.begin(), src.end(), images.begin() + static_cast<std::ptrdiff_t>(i * sample));
    labels[i] = data_.train.labels[ownShard_[i]];
  }
  return model_->evaluate(images.data(), labels.data(), n);
}

nn::Checkpoint Trainer::checkpoint() const {
  nn::Checkpoint c;
  c.model = cfg_.train.model;
  c.fingerprint = model_->layout().fingerprint();
  c.step = step_;
  c.epoch = epoch();
  const auto p = std::as_const(*model_).params();
  c.params.assign(p.begin(), p.end());
  const auto b = std::as_const(*model_).buffers();
  c.buffers.assign(b.begin(), b.end());
  const auto s = std::as_const(*sgd_).state();
  c.optimizerState.assign(s.begin(), s.end());
  c.meta["seed"] = std::to_string(cfg_.train.seed);
  c.meta["data"] = cfg_.data.name;
  return c;
}

void Trainer::restore(const nn::Checkpoint& ckpt, const std::string& origin) {
  nn::checkCompatible(ckpt, cfg_.train.model, model_->layout().fingerprint(), origin);
  MURMUR_ENFORCE(ckpt.params.size() == model_->params().size(), InputError,
                 "{}: {} parameters, the model has {}", origin, ckpt.params.size(),
                 model_->params().size());
  MURMUR_ENFORCE(ckpt.buffers.size() == model_->buffers().size(), InputError,
                 "{}: {} buffer values, the model has {}", origin, ckpt.buffers.size(),
                 model_->buffers().size());
  MURMUR_ENFORCE(ckpt.step >= 0, InputError, "{}: negative step {}", origin, ckpt.step);
  std::copy(ckpt.params.begin(), ckpt.params.end(), model_->params().begin());
  std::copy(ckpt.buffers.begin(), ckpt.buffers.end(), model_->buffers().begin());
  if (sgd_->state().size() == ckpt.optimizerState.size()) {
    sgd_->loadState(ckpt.optimizerState);
  } else {
    // A checkpoint from a run without momentum (or with other settings): start momentum afresh.
    MURMUR_ENFORCE(ckpt.optimizerState.empty() || sgd_->state().empty(), InputError,
                   "{}: optimizer state has {} values, expected {}", origin,
                   ckpt.optimizerState.size(), sgd_->state().size());
    sgd_->reset();
  }
  step_ = ckpt.step;
  // Continue the data order where the checkpoint left it.
  sampler_->seek(step_ / stepsPerEpoch_, static_cast<size_t>(step_ % stepsPerEpoch_));
}

}  // namespace murmur::node

namespace murmur::node {
namespace {

void truncate(nn::data::Dataset& d, int64_t limit) {
  if (limit <= 0 || limit >= d.n) return;
  d.n = static_cast<int>(limit);
  d.images.resize(static_cast<size_t>(d.n) * d.sampleSize());
  d.labels.resize(static_cast<size_t>(d.n));
}

}  // namespace

TrainData loadTrainData(const Config& cfg) {
  const auto& spec = nn::data::datasetSpec(cfg.data.name);
  std::optional<std::filesystem::path> dir;
  if (!cfg.data.dir.empty()) dir = cfg.data.dir;
  TrainData d;
  d.train = nn::data::loadDataset(cfg.data.name, nn::data::Split::kTrain, dir);
  d.test = nn::data::loadDataset(cfg.data.name, nn::data::Split::kTest, dir);
  truncate(d.train, cfg.data.trainLimit);
  truncate(d.test, cfg.data.testLimit);
  if (cfg.data.augment == "auto") {
    d.augment = spec.trainAugment;
  } else if (cfg.data.augment == "on") {
    d.augment = spec.trainAugment ? *spec.trainAugment
                                  : nn::data::cifarAugment(spec.norm.mean, spec.norm.std);
  }
  return d;
}

}  // namespace murmur::node
