// Single-thread training and inference throughput of murmur's models, the numbers compared with
// bench/pytorch_reference.py (run both side by side with bench/run_nn_bench.sh).
//
// One training step = Model::trainStep (forward + softmax cross-entropy + backward) followed by
// Sgd::step with momentum 0.9 -- the same work as PyTorch's zero_grad/forward/loss/backward/step.
// items_per_second is images per second of CPU time of the benchmark thread (oneDNN runs on the
// calling thread when OpenMP has one thread): on a shared, loaded machine that is the stable
// figure; real_time is in the JSON output too. Inputs are synthetic (seeded noise, random labels):
// the speed of these kernels does not depend on the pixel values.
//
// The component benchmarks (TrainStepNoOpt, SgdStep) split the step so a regression can be
// pinned on the layers or on the optimizer without a profiler.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nn/model.hpp"
#include "nn/optimizer.hpp"
#include "nn/runtime.hpp"

namespace {

constexpr int kBatch = 64;
constexpr float kLr = 0.01F;
constexpr float kMomentum = 0.9F;
constexpr int kWarmupSteps = 3;  // first calls build and cache the oneDNN primitives

struct Workload {
  std::unique_ptr<murmur::nn::Model> model;
  std::vector<float> src;
  std::vector<int32_t> labels;
};

Workload makeWorkload(const std::string& name, int batch) {
  Workload w;
  w.model = murmur::nn::Model::create(name, 1);
  // One thread unless MURMUR_THREADS asks for more: the rival is PyTorch on one thread.
  murmur::nn::setNumThreads(murmur::nn::threadsFromEnv(1));
  const auto shape = w.model->inputShape();
  w.src.resize(static_cast<size_t>(batch) * shape[0] * shape[1] * shape[2]);
  w.labels.resize(static_cast<size_t>(batch));
  std::mt19937_64 rng(42);
  std::normal_distribution<float> pixel(0.0F, 1.0F);
  std::uniform_int_distribution<int32_t> label(0, w.model->numClasses() - 1);
  for (float& v : w.src) v = pixel(rng);
  for (int32_t& l : w.labels) l = label(rng);
  return w;
}

void setCounters(benchmark::State& state, const Workload& w, int batch) {
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["batch"] = batch;
  state.counters["params"] = static_cast<double>(w.model->params().size());
  state.counters["threads"] = murmur::nn::numThreads();
}

// The full training step: what a node does per batch before gossip.
void trainStep(benchmark::State& state, const std::string& name) {
  Workload w = makeWorkload(name, kBatch);
  murmur::nn::Sgd sgd(murmur::nn::SgdConfig{.momentum = kMomentum}, w.model->params().size());
  for (int i = 0; i < kWarmupSteps; ++i) {
    w.model->trainStep(w.src.data(), w.labels.data(), kBatch);
    sgd.step(w.model->params(), w.model->grads(), kLr);
  }
  float loss = 0;
  for (auto _ : state) {
    loss = w.model->trainStep(w.src.data(), w.labels.data(), kBatch);
    sgd.step(w.model->params(), w.model->grads(), kLr);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(loss);
  setCounters(state, w, kBatch);
}

// Forward + loss + backward only (no optimizer).
void trainStepNoOpt(benchmark::State& state, const std::string& name) {
  Workload w = makeWorkload(name, kBatch);
  for (int i = 0; i < kWarmupSteps; ++i) {
    w.model->trainStep(w.src.data(), w.labels.data(), kBatch);
  }
  float loss = 0;
  for (auto _ : state) {
    loss = w.model->trainStep(w.src.data(), w.labels.data(), kBatch);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(loss);
  setCounters(state, w, kBatch);
}

// The optimizer alone on the model's buffers (items = images of the step it belongs to).
void sgdStep(benchmark::State& state, const std::string& name) {
  Workload w = makeWorkload(name, kBatch);
  w.model->trainStep(w.src.data(), w.labels.data(), kBatch);
  murmur::nn::Sgd sgd(murmur::nn::SgdConfig{.momentum = kMomentum}, w.model->params().size());
  for (auto _ : state) {
    sgd.step(w.model->params(), w.model->grads(), kLr);
    benchmark::ClobberMemory();
  }
  setCounters(state, w, kBatch);
}

// Inference throughput (eval mode: no dropout, BatchNorm running statistics).
void infer(benchmark::State& state, const std::string& name) {
  const int batch = static_cast<int>(state.range(0));
  Workload w = makeWorkload(name, batch);
  std::vector<float> logits(static_cast<size_t>(batch) * w.model->numClasses());
  for (int i = 0; i < kWarmupSteps; ++i) w.model->infer(w.src.data(), batch, logits.data());
  for (auto _ : state) {
    w.model->infer(w.src.data(), batch, logits.data());
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
  setCounters(state, w, batch);
}

void registerAll() {
  for (const std::string name : {"lenet5", "mnist-cnn", "resnet20"}) {
    benchmark::RegisterBenchmark(("TrainStep/" + name).c_str(), trainStep, name)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("TrainStepNoOpt/" + name).c_str(), trainStepNoOpt, name)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("SgdStep/" + name).c_str(), sgdStep, name)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("Infer/" + name).c_str(), infer, name)
        ->Arg(kBatch)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    registerAll();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn_bench: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}
