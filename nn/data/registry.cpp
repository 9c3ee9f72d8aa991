#include "nn/data/registry.hpp"

#include <cstdlib>

#include "common/error.hpp"
#include "nn/data/loaders.hpp"

namespace murmur::nn::data {

namespace {

const std::vector<DatasetSpec>& specs() {
  static const std::vector<DatasetSpec> all = [] {
    std::vector<DatasetSpec> v;
    v.push_back(DatasetSpec{"fashion-mnist",
                            "MURMUR_FASHION_MNIST_DIR",
                            {"/usr/share/datasets/fashion-mnist"},
                            1,
                            28,
                            28,
                            10,
                            Normalization{{0.2860f}, {0.3530f}},
                            std::nullopt});
    v.push_back(DatasetSpec{"mnist",
                            "MURMUR_MNIST_DIR",
                            {"/work/shared/data/mnist", "data/mnist"},
                            1,
                            28,
                            28,
                            10,
                            Normalization{{0.1307f}, {0.3081f}},
                            std::nullopt});
    // Per-channel mean and std of the CIFAR-10 training set.
    const std::vector<float> mean{0.4914f, 0.4822f, 0.4465f};
    const std::vector<float> stdev{0.2470f, 0.2435f, 0.2616f};
    v.push_back(DatasetSpec{"cifar10",
                            "MURMUR_CIFAR10_DIR",
                            {"data/cifar10"},
                            3,
                            32,
                            32,
                            10,
                            Normalization{mean, stdev},
                            cifarAugment(mean, stdev)});
    return v;
  }();
  return all;
}

}  // namespace

std::vector<std::string> datasetNames() {
  std::vector<std::string> names;
  for (const auto& s : specs()) names.push_back(s.name);
  return names;
}

const DatasetSpec& datasetSpec(std::string_view name) {
  for (const auto& s : specs()) {
    if (s.name == name) return s;
  }
  MURMUR_ENFORCE(false, InputError, "unknown dataset '{}' (known: {})", name,
                 fmt::join(datasetNames(), ", "));
  return specs().front();
}

std::filesystem::path datasetDir(const DatasetSpec& spec,
                                 const std::optional<std::filesystem::path>& override) {
  if (override && !override->empty()) return *override;
  if (const char* env = std::getenv(spec.envVar.c_str()); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  for (const auto& d : spec.defaultDirs) {
    if (std::filesystem::is_directory(d, ec)) return d;
  }
  return spec.defaultDirs.front();
}

ByteDataset loadDatasetBytes(std::string_view name, Split split,
                             const std::optional<std::filesystem::path>& dir) {
  const DatasetSpec& spec = datasetSpec(name);
  const auto path = datasetDir(spec, dir);
  const bool train = split == Split::kTrain;
  ByteDataset d;
  try {
    d = spec.name == "cifar10" ? loadCifar10Bytes(path, train) : loadMnistLikeBytes(path, train);
  } catch (const InputError& e) {
    throw InputError(
        fmt::format("dataset '{}' ({} split): {} (set the data directory with a "
                    "path option or ${})",
                    spec.name, train ? "train" : "test", e.what(), spec.envVar));
  }
  MURMUR_ENFORCE(d.c == spec.c && d.h == spec.h && d.w == spec.w, InputError,
                 "dataset '{}' at {}: images are {}x{}x{}, expected {}x{}x{}", spec.name,
                 path.string(), d.c, d.h, d.w, spec.c, spec.h, spec.w);
  MURMUR_ENFORCE(d.n > 0, InputError, "dataset '{}' at {}: no samples", spec.name, path.string());
  d.classes = spec.classes;
  return d;
}

Dataset loadDataset(std::string_view name, Split split,
                    const std::optional<std::filesystem::path>& dir) {
  const DatasetSpec& spec = datasetSpec(name);
  Dataset d = toFloat(loadDatasetBytes(name, split, dir));
  validate(d, fmt::format("dataset '{}'", spec.name));
  normalize(d, spec.norm);
  return d;
}

}  // namespace murmur::nn::data
