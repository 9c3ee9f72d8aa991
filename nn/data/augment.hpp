#pragma once
// Training-time augmentation of a whole NCHW batch: random crop with zero-valued padding (the
// padded pixels take padValue[channel], which for normalised data is the normalised black,
// -mean/std, as torchvision's RandomCrop before Normalize) and horizontal flip. Deterministic
// given the Rng's seed.

#include <span>
#include <vector>

#include "nn/data/rng.hpp"

namespace murmur::nn::data {

struct AugmentConfig {
  int cropPadding = 0;          // random crop of the original size from the image padded by this
  bool horizontalFlip = false;  // flip each image with probability 1/2
  std::vector<float> padValue;  // per channel; empty means 0
};

// The standard CIFAR recipe (crop 32 with padding 4 + flip), padding with the normalised black
// of the given per-channel mean/std.
AugmentConfig cifarAugment(std::span<const float> mean, std::span<const float> std);

// Augments `images` (n*c*h*w, NCHW) in place.
void augmentBatch(std::span<float> images, int n, int c, int h, int w, const AugmentConfig& config,
                  Rng& rng);

}  // namespace murmur::nn::data
