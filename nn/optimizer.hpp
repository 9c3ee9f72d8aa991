#pragma once
// Plain SGD with PyTorch's semantics (torch.optim.SGD, dampening 0), on the model's flat float
// buffer. The optimizer owns its momentum buffer for the whole run; checkpoints read and restore
// it through state().

#include <cstddef>
#include <span>
#include <vector>

namespace murmur::nn {

struct SgdConfig {
  float momentum = 0;
  bool nesterov = false;
  float weightDecay = 0;
};

class Sgd {
 public:
  // numel: floats in the parameter buffer this optimizer steps (fixed for its lifetime).
  Sgd(SgdConfig config, size_t numel);

  // g = grads + weightDecay * params; with momentum: b = momentum * b + g (b starts at 0, so the
  // first step gives b = g, as PyTorch), g = nesterov ? g + momentum * b : b; params -= lr * g.
  void step(std::span<float> params, std::span<const float> grads, float lr);

  // The momentum buffer (empty when momentum == 0): checkpoints save it and write it back.
  std::span<float> state() { return momentumBuffer_; }
  std::span<const float> state() const { return momentumBuffer_; }
  // Copies a saved momentum buffer in; its size must equal state().size().
  void loadState(std::span<const float> saved);
  // Forgets the momentum (back to the state before the first step).
  void reset();

  const SgdConfig& config() const { return config_; }
  size_t numel() const { return numel_; }

 private:
  SgdConfig config_;
  size_t numel_;
  std::vector<float> momentumBuffer_;
};

}  // namespace murmur::nn
