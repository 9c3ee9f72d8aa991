#pragma once
// The layers behind murmur::nn::Model. Internal to nn/ (model.cpp and tests/nn include it), but
// free of dnnl.hpp all the same: the oneDNN engine and stream hide behind the opaque Context.
//
// Conventions: activations cross layer boundaries as plain NCHW float buffers (a Linear layer's
// dst is {N, out, 1, 1}). Each layer builds its oneDNN primitives, memories and scratchpads
// lazily the first time it sees a batch size and caches them per batch size, so the training
// loop allocates nothing after the first step of each batch size. Parameter, gradient and
// buffer storage is NOT owned by layers: bind() hands them views into the model's flat buffers.
// backward() OVERWRITES the layer's gradients.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace murmur::nn {

// oneDNN CPU engine + one stream; defined in nn/dnnl_context.hpp (which includes dnnl.hpp).
struct Context;
std::shared_ptr<Context> makeContext();

// Per-sample shape {C, H, W}.
struct Dims3 {
  int c = 0, h = 0, w = 0;
  int64_t size() const { return int64_t{c} * h * w; }
  bool operator==(const Dims3&) const = default;
};

enum class Init { kUniformFanIn, kOnes, kZeros };

// Memory format of the activations a layer reads and writes. kNchw is plain NCHW. kBlocked16 is
// oneDNN's nChw16c (channels in blocks of 16 innermost): it needs C % 16 == 0, holds exactly
// N*C*H*W floats, and is byte-identical to NCHW when H == W == 1. Nets whose channel counts are
// multiples of 16 (resnet20) keep activations blocked end to end, so no reorders run between
// layers and BatchNorm/ReLU/pooling use their blocked JIT kernels. kNhwc (channels innermost,
// no padding) suits nets with few, odd channel counts (lenet5, mnist-cnn): conv, ReLU, pooling
// and channel dropout run on it without reorders or padding to 16.
enum class Format { kNchw, kBlocked16, kNhwc };

// A tensor a layer declares; the model gives it a slot in the flat buffer.
struct ParamSpec {
  std::string name;            // relative to the layer: "weight", "bias", "running_mean", ...
  std::vector<int64_t> shape;  // oneDNN logical dims
  Init init = Init::kZeros;
  int64_t fanIn = 1;  // for kUniformFanIn: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch default)
};

class Layer {
 public:
  virtual ~Layer() = default;
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual Dims3 inDims() const = 0;
  virtual Dims3 outDims() const = 0;
  virtual std::vector<ParamSpec> paramSpecs() const { return {}; }
  virtual std::vector<ParamSpec> bufferSpecs() const { return {}; }
  // Views into the flat buffers, in the order of paramSpecs() (params and grads) and
  // bufferSpecs() (buffers).
  virtual void bind(const std::vector<float*>& params, const std::vector<float*>& grads,
                    const std::vector<float*>& buffers);
  // A view layer (Flatten) computes nothing: dst is src.
  virtual bool isView() const { return false; }

  // training: dropout active, BatchNorm uses batch statistics and updates running statistics.
  virtual void forward(int batch, const float* src, float* dst, bool training) = 0;
  // Needs the src/dst of the immediately preceding forward(training=true) of the same batch.
  // diff_src may be nullptr (first layer of a net): then it is not computed.
  virtual void backward(int batch, const float* src, const float* dst, const float* diff_dst,
                        float* diff_src) = 0;

  // Dropout reseeds its generator; composites forward it. Others ignore it.
  virtual void reseed(uint64_t /*seed*/) {}
};

struct ConvFormats {
  Format src = Format::kNchw;
  Format dst = Format::kNchw;
};
std::unique_ptr<Layer> makeConv2d(Context& ctx, Dims3 in, int outChannels, int kernel,
                                  int stride = 1, int padding = 0, bool bias = true,
                                  ConvFormats formats = {});
std::unique_ptr<Layer> makeReLU(Context& ctx, Dims3 in, Format format = Format::kNchw);
std::unique_ptr<Layer> makeMaxPool2d(Context& ctx, Dims3 in, int kernel, int stride,
                                     Format format = Format::kNchw);
// Global average pool: {C,H,W} -> {C,1,1}.
std::unique_ptr<Layer> makeGlobalAvgPool(Context& ctx, Dims3 in, Format format = Format::kNchw);
// Fully connected on the flattened sample: {C,H,W} -> {out,1,1}; weight shape {out, C*H*W}.
std::unique_ptr<Layer> makeLinear(Context& ctx, Dims3 in, int out, bool bias = true);
std::unique_ptr<Layer> makeBatchNorm2d(Context& ctx, Dims3 in, float momentum = 0.1f,
                                       float eps = 1e-5f, Format format = Format::kNchw);
// Inverted dropout with drop probability p; channelwise = Dropout2d (whole feature maps).
// The masks drawn are the same in either format.
std::unique_ptr<Layer> makeDropout(Dims3 in, float p, bool channelwise, uint64_t seed,
                                   Format format = Format::kNchw);
// {C,H,W} -> {C*H*W,1,1} in NCHW (PyTorch's) feature order. A view for NCHW input (and whenever
// H == W == 1); for NHWC input it transposes.
std::unique_ptr<Layer> makeFlatten(Dims3 in, Format format = Format::kNchw);

// Layers applied in order, each with a name used as the prefix of its tensors' names.
class Sequential final : public Layer {
 public:
  explicit Sequential(Dims3 in);
  ~Sequential() override;
  void add(std::string name, std::unique_ptr<Layer> layer);
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override;
  std::vector<ParamSpec> paramSpecs() const override;
  std::vector<ParamSpec> bufferSpecs() const override;
  void bind(const std::vector<float*>& params, const std::vector<float*>& grads,
            const std::vector<float*>& buffers) override;
  void forward(int batch, const float* src, float* dst, bool training) override;
  void backward(int batch, const float* src, const float* dst, const float* diff_dst,
                float* diff_src) override;
  void reseed(uint64_t seed) override;
  size_t size() const;

 private:
  struct Plan;
  Plan& plan(int batch);
  Dims3 in_;
  std::vector<std::pair<std::string, std::unique_ptr<Layer>>> layers_;
  std::vector<std::unique_ptr<Plan>> plans_;  // small: one per batch size seen
};

// He et al. CIFAR basic block: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus identity or (when the
// shape changes) 1x1 conv(stride)-BN projection shortcut, then add and ReLU. Tensor names
// follow PyTorch: conv1, bn1, conv2, bn2, shortcut.0, shortcut.1.
// Works in either format (the residual add and ReLU are elementwise over same-format buffers).
std::unique_ptr<Layer> makeBasicBlock(Context& ctx, Dims3 in, int outChannels, int stride,
                                      Format format = Format::kNchw);

}  // namespace murmur::nn
