#include "nn/data/augment.hpp"

#include <algorithm>
#include <vector>

#include "common/error.hpp"

namespace murmur::nn::data {

AugmentConfig cifarAugment(std::span<const float> mean, std::span<const float> std) {
  MURMUR_ENFORCE(mean.size() == std.size(), InputError, "augmentation: {} means but {} stds",
                 mean.size(), std.size());
  AugmentConfig config;
  config.cropPadding = 4;
  config.horizontalFlip = true;
  for (size_t ch = 0; ch < mean.size(); ++ch) config.padValue.push_back(-mean[ch] / std[ch]);
  return config;
}

void augmentBatch(std::span<float> images, int n, int c, int h, int w, const AugmentConfig& config,
                  Rng& rng) {
  MURMUR_CHECK(images.size() == static_cast<size_t>(n) * c * h * w,
               "augmentBatch: {} floats for {}x{}x{}x{}", images.size(), n, c, h, w);
  MURMUR_ENFORCE(config.padValue.empty() || config.padValue.size() == static_cast<size_t>(c),
                 InputError, "augmentation: {} pad values for {} channels", config.padValue.size(),
                 c);
  MURMUR_ENFORCE(config.cropPadding >= 0, InputError, "augmentation: negative crop padding {}",
                 config.cropPadding);
  const int pad = config.cropPadding;
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  std::vector<float> scratch(plane);
  for (int i = 0; i < n; ++i) {
    // Draw in a fixed order per image so the stream does not depend on which options are on.
    const int dy = static_cast<int>(rng.below(static_cast<uint64_t>(2 * pad + 1))) - pad;
    const int dx = static_cast<int>(rng.below(static_cast<uint64_t>(2 * pad + 1))) - pad;
    const bool flip = config.horizontalFlip && (rng.next() >> 63) != 0;
    if (dy == 0 && dx == 0 && !flip) continue;
    for (int ch = 0; ch < c; ++ch) {
      float* img = images.data() + (static_cast<size_t>(i) * c + ch) * plane;
      const float fill = config.padValue.empty() ? 0.0f : config.padValue[ch];
      // Output (y, x) reads the padded input at (y + pad + dy - pad) = (y + dy, x + dx), after
      // the flip has mirrored the output column.
      for (int y = 0; y < h; ++y) {
        const int sy = y + dy;
        for (int x = 0; x < w; ++x) {
          const int ox = flip ? w - 1 - x : x;
          const int sx = ox + dx;
          scratch[static_cast<size_t>(y) * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                                        ? img[static_cast<size_t>(sy) * w + sx]
                                                        : fill;
        }
      }
      std::copy(scratch.begin(), scratch.end(), img);
    }
  }
}

}  // namespace murmur::nn::data
