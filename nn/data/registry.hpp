#pragma once
// Datasets by name: where they live by default, their shape and standard normalisation, and
// whether training augments them. loadDataset() returns normalised data.
//
//   name            default directory                         override env
//   fashion-mnist   /usr/share/datasets/fashion-mnist          MURMUR_FASHION_MNIST_DIR
//   mnist           /work/shared/data/mnist (if present), else data/mnist   MURMUR_MNIST_DIR
//   cifar10         data/cifar10 (scripts/cifar10_from_jpeg.py output)     MURMUR_CIFAR10_DIR
//
// An explicit path passed to loadDataset beats the environment, which beats the default.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/data/augment.hpp"
#include "nn/data/dataset.hpp"

namespace murmur::nn::data {

enum class Split { kTrain, kTest };

struct DatasetSpec {
  std::string name;
  std::string envVar;                    // overrides the default directory when set
  std::vector<std::string> defaultDirs;  // the first that exists is used
  int c = 0, h = 0, w = 0, classes = 0;
  Normalization norm;
  std::optional<AugmentConfig> trainAugment;  // what training applies per batch, if anything
};

std::vector<std::string> datasetNames();

// Throws InputError listing the known names when `name` is not one.
const DatasetSpec& datasetSpec(std::string_view name);

// The directory loadDataset would read: override, else $envVar, else the first existing
// default (or the first default when none exists, so errors name it).
std::filesystem::path datasetDir(const DatasetSpec& spec,
                                 const std::optional<std::filesystem::path>& override);

// Loads and normalises a split. Throws InputError naming the directory and the override
// (flag path or environment variable) when the data is missing or broken.
Dataset loadDataset(std::string_view name, Split split,
                    const std::optional<std::filesystem::path>& dir = std::nullopt);

// The same split as raw bytes (4x less memory), checked but not normalised: read it through
// ByteDatasetSource(bytes, datasetSpec(name).norm) to get loadDataset's values per batch.
ByteDataset loadDatasetBytes(std::string_view name, Split split,
                             const std::optional<std::filesystem::path>& dir = std::nullopt);

}  // namespace murmur::nn::data
