#pragma once
// murmur::nn::Model: a named CNN (lenet5, mnist-cnn, resnet20) trained on the CPU through oneDNN.
// The model owns ONE contiguous float buffer of parameters and one of gradients (same layout),
// plus one of buffers (BatchNorm running statistics); layers hold views into them, so algo/
// reads and mixes the parameters through spans without copies. oneDNN stays behind the pimpl:
// this header is safe to include from any folder.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/tensor_layout.hpp"

namespace murmur::nn {

// Not thread-safe: one thread at a time may call a Model (any thread; the thread count is
// re-applied on each call). Storage per distinct batch size is allocated on first use and kept:
// activations for training batch sizes, two ping-pong buffers per block for inference (resnet20:
// ~360 MB for evaluate() chunks of 256, ~880 MB more for training at batch 128; lenet5 and
// mnist-cnn need a few MB). Prefer chunk sizes equal to the training batch size.
class Model {
 public:
  // Builds the named model with deterministic initial weights derived from `seed` (the same
  // seed gives bit-identical weights on every node). Sets the oneDNN/OpenMP thread count to 1
  // unless the environment variable MURMUR_THREADS says otherwise.
  // Throws InputError on an unknown name (the message lists the known ones).
  static std::unique_ptr<Model> create(const std::string& name, uint64_t seed);
  // Known model names: "lenet5", "mnist-cnn", "resnet20".
  static std::vector<std::string> names();

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const;

  // Parameters: one contiguous buffer cut into named tensors ("conv1.weight", "fc1.bias",
  // "layer1.0.bn1.weight", ...). Gradients use the same layout.
  const TensorLayout& layout() const;
  std::span<float> params();
  std::span<const float> params() const;
  std::span<float> grads();
  std::span<const float> grads() const;

  // Buffers: state that is not trained by gradients (BatchNorm running_mean / running_var).
  // Empty for models without BatchNorm.
  const TensorLayout& bufferLayout() const;
  std::span<float> buffers();
  std::span<const float> buffers() const;

  std::array<int, 3> inputShape() const;  // {C, H, W}
  int numClasses() const;

  // Training mode (dropout on, BatchNorm batch statistics, running statistics updated):
  // forward + softmax cross-entropy + backward on `batch` samples of NCHW float `src`.
  // OVERWRITES grads() with d(mean loss)/d(params); returns the mean loss. If `correct` is
  // non-null it receives the number of samples whose argmax logit equals the label.
  // Labels must lie in [0, numClasses()) (InputError otherwise). Any batch size >= 1 works;
  // oneDNN primitives are built once per distinct batch size and cached.
  float trainStep(const float* src, const int32_t* labels, int batch, int* correct = nullptr);

  // Inference mode (no dropout, BatchNorm running statistics): logits [batch x numClasses()]
  // written to dst.
  void infer(const float* src, int batch, float* dst);

  // Mean softmax cross-entropy and accuracy (fraction in [0,1]) over n samples, in inference
  // mode, evaluated in chunks of `chunk` samples.
  struct EvalResult {
    double loss;
    double accuracy;
  };
  EvalResult evaluate(const float* src, const int32_t* labels, size_t n, int chunk = 256);

  // Number of trainable parameters (== layout().total).
  size_t numParams() const;

  // Reseeds the dropout generators (created from the model seed). Nodes that share the model
  // seed (identical initial weights) call this with a per-node seed so their masks differ.
  void reseedDropout(uint64_t seed);

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace murmur::nn
