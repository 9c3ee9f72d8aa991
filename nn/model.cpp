#include "nn/model.hpp"

#include <cmath>
#include <random>

#include "common/error.hpp"
#include "nn/dnnl_context.hpp"
#include "nn/layers.hpp"
#include "nn/loss.hpp"
#include "nn/runtime.hpp"

namespace murmur::nn {

namespace {

constexpr uint64_t kDropoutSalt = 0xD50F0A7E5EEDull;

struct Spec {
  std::array<int, 3> input;
  int classes;
};

// lenet5 and mnist-cnn keep activations in NHWC (few, odd channel counts: blocked layouts would
// pad 6 or 10 channels to 16 and reorder around every conv). The input is NCHW, which for one
// channel is the same bytes as NHWC; Flatten transposes back so fc1 sees PyTorch's order.
constexpr Format kNhwc = Format::kNhwc;
constexpr ConvFormats kNhwcConv{Format::kNhwc, Format::kNhwc};

std::unique_ptr<Sequential> buildLenet5(Context& ctx, uint64_t) {
  auto net = std::make_unique<Sequential>(Dims3{1, 28, 28});
  auto add = [&](const char* name, auto&& make) { net->add(name, make(net->outDims())); };
  // Max pooling and ReLU commute (both monotone; equal values and gradients, ties included), so
  // pool first and run ReLU on the 4x smaller tensor.
  add("conv1", [&](Dims3 d) { return makeConv2d(ctx, d, 6, 5, 1, 2, true, kNhwcConv); });
  add("pool1", [&](Dims3 d) { return makeMaxPool2d(ctx, d, 2, 2, kNhwc); });
  add("relu1", [&](Dims3 d) { return makeReLU(ctx, d, kNhwc); });
  add("conv2", [&](Dims3 d) { return makeConv2d(ctx, d, 16, 5, 1, 0, true, kNhwcConv); });
  add("pool2", [&](Dims3 d) { return makeMaxPool2d(ctx, d, 2, 2, kNhwc); });
  add("relu2", [&](Dims3 d) { return makeReLU(ctx, d, kNhwc); });
  add("flatten", [&](Dims3 d) { return makeFlatten(d, kNhwc); });
  add("fc1", [&](Dims3 d) { return makeLinear(ctx, d, 120); });
  add("relu3", [&](Dims3 d) { return makeReLU(ctx, d); });
  add("fc2", [&](Dims3 d) { return makeLinear(ctx, d, 84); });
  add("relu4", [&](Dims3 d) { return makeReLU(ctx, d); });
  add("fc3", [&](Dims3 d) { return makeLinear(ctx, d, 10); });
  return net;
}

// PyTorch's classic MNIST example as used by EventGraD.
std::unique_ptr<Sequential> buildMnistCnn(Context& ctx, uint64_t seed) {
  auto net = std::make_unique<Sequential>(Dims3{1, 28, 28});
  auto add = [&](const char* name, auto&& make) { net->add(name, make(net->outDims())); };
  add("conv1", [&](Dims3 d) { return makeConv2d(ctx, d, 10, 3, 1, 0, true, kNhwcConv); });
  add("pool1", [&](Dims3 d) { return makeMaxPool2d(ctx, d, 2, 2, kNhwc); });
  add("relu1", [&](Dims3 d) { return makeReLU(ctx, d, kNhwc); });
  add("conv2", [&](Dims3 d) { return makeConv2d(ctx, d, 20, 3, 1, 0, true, kNhwcConv); });
  add("conv2_drop",
      [&](Dims3 d) { return makeDropout(d, 0.5f, true, seed ^ kDropoutSalt, kNhwc); });
  add("pool2", [&](Dims3 d) { return makeMaxPool2d(ctx, d, 2, 2, kNhwc); });
  add("relu2", [&](Dims3 d) { return makeReLU(ctx, d, kNhwc); });
  add("flatten", [&](Dims3 d) { return makeFlatten(d, kNhwc); });
  add("fc1", [&](Dims3 d) { return makeLinear(ctx, d, 50); });
  add("relu3", [&](Dims3 d) { return makeReLU(ctx, d); });
  add("fc1_drop", [&](Dims3 d) { return makeDropout(d, 0.5f, false, (seed ^ kDropoutSalt) + 1); });
  add("fc2", [&](Dims3 d) { return makeLinear(ctx, d, 10); });
  return net;
}

// He et al. 2016, CIFAR ResNet-20 with projection (1x1 conv + BN) shortcuts at stage starts.
// Activations stay in oneDNN's blocked nChw16c format from conv1's dst to the global pool (all
// widths are multiples of 16); the pooled {N,64,1,1} is byte-identical to NCHW, so fc reads it
// as plain.
std::unique_ptr<Sequential> buildResnet20(Context& ctx, uint64_t) {
  constexpr Format kB = Format::kBlocked16;
  auto net = std::make_unique<Sequential>(Dims3{3, 32, 32});
  net->add("conv1", makeConv2d(ctx, net->outDims(), 16, 3, 1, 1, false, {Format::kNchw, kB}));
  net->add("bn1", makeBatchNorm2d(ctx, net->outDims(), 0.1f, 1e-5f, kB));
  net->add("relu", makeReLU(ctx, net->outDims(), kB));
  const int widths[3] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (int b = 0; b < 3; ++b) {
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      net->add(fmt::format("layer{}.{}", stage + 1, b),
               makeBasicBlock(ctx, net->outDims(), widths[stage], stride, kB));
    }
  }
  net->add("avgpool", makeGlobalAvgPool(ctx, net->outDims(), kB));
  net->add("flatten", makeFlatten(net->outDims()));
  net->add("fc", makeLinear(ctx, net->outDims(), 10));
  return net;
}

struct Entry {
  const char* name;
  std::unique_ptr<Sequential> (*build)(Context&, uint64_t);
};
constexpr Entry kModels[] = {
    {"lenet5", &buildLenet5},
    {"mnist-cnn", &buildMnistCnn},
    {"resnet20", &buildResnet20},
};

TensorLayout layoutOf(const std::vector<ParamSpec>& specs) {
  TensorLayout l;
  for (const auto& s : specs) {
    TensorInfo t;
    t.name = s.name;
    t.shape = s.shape;
    t.offset = l.total;
    t.numel = 1;
    for (int64_t d : s.shape) t.numel *= static_cast<size_t>(d);
    l.total += t.numel;
    l.tensors.push_back(std::move(t));
  }
  return l;
}

// PyTorch-like default init, reproducible: one mt19937_64 stream walks the tensors in layout
// order; uniform draws use 24 bits so the floats are exact on every platform.
void initialize(const std::vector<ParamSpec>& specs, const TensorLayout& l, float* data,
                std::mt19937_64& rng) {
  for (size_t i = 0; i < specs.size(); ++i) {
    float* p = data + l.tensors[i].offset;
    const size_t n = l.tensors[i].numel;
    switch (specs[i].init) {
      case Init::kOnes:
        for (size_t j = 0; j < n; ++j) p[j] = 1.f;
        break;
      case Init::kZeros:
        for (size_t j = 0; j < n; ++j) p[j] = 0.f;
        break;
      case Init::kUniformFanIn: {
        const float bound = 1.f / std::sqrt(static_cast<float>(specs[i].fanIn));
        for (size_t j = 0; j < n; ++j) {
          const float u = static_cast<float>(rng() >> 40) * (1.f / 16777216.f);  // [0,1)
          p[j] = (2.f * u - 1.f) * bound;
        }
        break;
      }
    }
  }
}

std::vector<float*> views(const TensorLayout& l, float* base) {
  std::vector<float*> v;
  for (const auto& t : l.tensors) v.push_back(base + t.offset);
  return v;
}

}  // namespace

struct Model::Impl {
  std::string name;
  std::shared_ptr<Context> ctx;
  std::unique_ptr<Sequential> net;
  TensorLayout layout, bufferLayout;
  FloatBuffer params, grads, buffers;
  std::array<int, 3> input{};
  int classes = 0;
  // OpenMP's thread count is per calling thread, and oneDNN primitives must run with the count
  // they were created with; so every entry point re-applies it on whatever thread calls.
  int threads = 1;
  void enterThread() const {
    if (numThreads() != threads) setNumThreads(threads);
  }
  struct LossPlan {
    int batch = 0;
    FloatBuffer logits, diffLogits;
  };
  std::vector<std::unique_ptr<LossPlan>> lossPlans;

  LossPlan& lossPlan(int batch) {
    for (auto& p : lossPlans) {
      if (p->batch == batch) return *p;
    }
    auto p = std::make_unique<LossPlan>();
    p->batch = batch;
    p->logits = FloatBuffer(static_cast<size_t>(batch) * classes);
    p->diffLogits = FloatBuffer(static_cast<size_t>(batch) * classes);
    lossPlans.push_back(std::move(p));
    return *lossPlans.back();
  }
};

std::vector<std::string> Model::names() {
  std::vector<std::string> n;
  for (const auto& e : kModels) n.emplace_back(e.name);
  return n;
}

std::unique_ptr<Model> Model::create(const std::string& name, uint64_t seed) {
  const Entry* entry = nullptr;
  for (const auto& e : kModels) {
    if (name == e.name) entry = &e;
  }
  MURMUR_ENFORCE(entry != nullptr, InputError, "unknown model '{}'; known models: {}", name,
                 fmt::join(names(), ", "));
  auto impl = std::make_unique<Impl>();
  impl->threads = threadsFromEnv(1);
  impl->enterThread();
  impl->name = name;
  impl->ctx = makeContext();
  impl->net = entry->build(*impl->ctx, seed);
  const Dims3 in = impl->net->inDims();
  impl->input = {in.c, in.h, in.w};
  const Dims3 out = impl->net->outDims();
  MURMUR_CHECK(out.h == 1 && out.w == 1, "model {} does not end in a vector", name);
  impl->classes = out.c;

  const auto pspecs = impl->net->paramSpecs();
  const auto bspecs = impl->net->bufferSpecs();
  impl->layout = layoutOf(pspecs);
  impl->bufferLayout = layoutOf(bspecs);
  impl->params = FloatBuffer(impl->layout.total);
  impl->grads = FloatBuffer(impl->layout.total);
  impl->buffers = FloatBuffer(impl->bufferLayout.total);
  std::mt19937_64 rng(seed);
  initialize(pspecs, impl->layout, impl->params.data(), rng);
  initialize(bspecs, impl->bufferLayout, impl->buffers.data(), rng);
  impl->net->bind(views(impl->layout, impl->params.data()), views(impl->layout, impl->grads.data()),
                  views(impl->bufferLayout, impl->buffers.data()));
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const std::string& Model::name() const { return impl_->name; }
const TensorLayout& Model::layout() const { return impl_->layout; }
std::span<float> Model::params() { return {impl_->params.data(), impl_->params.size()}; }
std::span<const float> Model::params() const {
  return {impl_->params.data(), impl_->params.size()};
}
std::span<float> Model::grads() { return {impl_->grads.data(), impl_->grads.size()}; }
std::span<const float> Model::grads() const { return {impl_->grads.data(), impl_->grads.size()}; }
const TensorLayout& Model::bufferLayout() const { return impl_->bufferLayout; }
std::span<float> Model::buffers() { return {impl_->buffers.data(), impl_->buffers.size()}; }
std::span<const float> Model::buffers() const {
  return {impl_->buffers.data(), impl_->buffers.size()};
}
std::array<int, 3> Model::inputShape() const { return impl_->input; }
int Model::numClasses() const { return impl_->classes; }
size_t Model::numParams() const { return impl_->layout.total; }
void Model::reseedDropout(uint64_t seed) { impl_->net->reseed(seed ^ kDropoutSalt); }

float Model::trainStep(const float* src, const int32_t* labels, int batch, int* correct) {
  MURMUR_ENFORCE(src != nullptr && labels != nullptr && batch >= 1, InputError,
                 "trainStep({}): needs src, labels and batch >= 1 (got batch {})", impl_->name,
                 batch);
  for (int b = 0; b < batch; ++b) {
    MURMUR_ENFORCE(labels[b] >= 0 && labels[b] < impl_->classes, InputError,
                   "trainStep({}): label {} of sample {} is outside [0, {})", impl_->name,
                   labels[b], b, impl_->classes);
  }
  impl_->enterThread();
  auto& lp = impl_->lossPlan(batch);
  return dnnlCall("trainStep", [&] {
    impl_->net->forward(batch, src, lp.logits.data(), true);
    const float loss = softmaxCrossEntropy(lp.logits.data(), labels, batch, impl_->classes,
                                           lp.diffLogits.data(), correct);
    impl_->net->backward(batch, src, lp.logits.data(), lp.diffLogits.data(), nullptr);
    return loss;
  });
}

void Model::infer(const float* src, int batch, float* dst) {
  MURMUR_ENFORCE(src != nullptr && dst != nullptr && batch >= 1, InputError,
                 "infer({}): needs src, dst and batch >= 1 (got batch {})", impl_->name, batch);
  impl_->enterThread();
  dnnlCall("infer", [&] { impl_->net->forward(batch, src, dst, false); });
}

Model::EvalResult Model::evaluate(const float* src, const int32_t* labels, size_t n, int chunk) {
  MURMUR_ENFORCE(chunk >= 1, InputError, "evaluate({}): chunk {} must be >= 1", impl_->name, chunk);
  if (n == 0) return {0.0, 0.0};
  const size_t sample = static_cast<size_t>(impl_->input[0]) * impl_->input[1] * impl_->input[2];
  double lossSum = 0.0;
  size_t hits = 0;
  for (size_t start = 0; start < n; start += static_cast<size_t>(chunk)) {
    const int b = static_cast<int>(std::min<size_t>(chunk, n - start));
    auto& lp = impl_->lossPlan(b);
    infer(src + start * sample, b, lp.logits.data());
    int correct = 0;
    const float loss =
        softmaxCrossEntropy(lp.logits.data(), labels + start, b, impl_->classes, nullptr, &correct);
    lossSum += static_cast<double>(loss) * b;
    hits += static_cast<size_t>(correct);
  }
  return {lossSum / static_cast<double>(n), static_cast<double>(hits) / static_cast<double>(n)};
}

}  // namespace murmur::nn
