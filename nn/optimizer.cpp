#include "nn/optimizer.hpp"

#include <algorithm>

#include <Eigen/Core>

#include "common/error.hpp"

namespace murmur::nn {

namespace {
using Vec = Eigen::Map<Eigen::ArrayXf>;
using ConstVec = Eigen::Map<const Eigen::ArrayXf>;
}  // namespace

Sgd::Sgd(SgdConfig config, size_t numel) : config_(config), numel_(numel) {
  MURMUR_ENFORCE(config.momentum >= 0 && config.momentum < 1, InputError,
                 "SGD momentum must be in [0, 1), got {}", config.momentum);
  MURMUR_ENFORCE(config.weightDecay >= 0, InputError, "SGD weight decay must be >= 0, got {}",
                 config.weightDecay);
  MURMUR_ENFORCE(!config.nesterov || config.momentum > 0, InputError,
                 "SGD: Nesterov momentum needs momentum > 0");
  if (config.momentum > 0) momentumBuffer_.assign(numel, 0.0f);
}

void Sgd::step(std::span<float> params, std::span<const float> grads, float lr) {
  MURMUR_CHECK(params.size() == numel_ && grads.size() == numel_,
               "Sgd::step sizes: params {} grads {} optimizer {}", params.size(), grads.size(),
               numel_);
  const auto n = static_cast<Eigen::Index>(numel_);
  Vec p(params.data(), n);
  ConstVec g(grads.data(), n);
  const float mu = config_.momentum;
  const float wd = config_.weightDecay;
  if (mu == 0.0f) {
    if (wd == 0.0f) {
      p -= lr * g;
    } else {
      p -= lr * (g + wd * p);
    }
    return;
  }
  Vec b(momentumBuffer_.data(), n);
  // b starts at zero, so mu * b + g is exactly PyTorch's "b = g" on the first step.
  if (wd == 0.0f) {
    b = mu * b + g;
    if (config_.nesterov) {
      p -= lr * (g + mu * b);
    } else {
      p -= lr * b;
    }
  } else {
    // Coefficient-wise expressions read p[i] before writing it, so p may appear on both sides.
    b = mu * b + (g + wd * p);
    if (config_.nesterov) {
      p -= lr * ((g + wd * p) + mu * b);
    } else {
      p -= lr * b;
    }
  }
}

void Sgd::loadState(std::span<const float> saved) {
  MURMUR_ENFORCE(saved.size() == momentumBuffer_.size(), InputError,
                 "SGD state has {} floats, the optimizer expects {} (momentum {})", saved.size(),
                 momentumBuffer_.size(), config_.momentum);
  std::copy(saved.begin(), saved.end(), momentumBuffer_.begin());
}

void Sgd::reset() { std::fill(momentumBuffer_.begin(), momentumBuffer_.end(), 0.0f); }

}  // namespace murmur::nn
