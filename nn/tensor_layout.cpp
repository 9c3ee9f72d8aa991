#include "nn/tensor_layout.hpp"

namespace murmur::nn {

uint64_t TensorLayout::fingerprint() const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  };
  for (const auto& t : tensors) {
    mix(t.name.data(), t.name.size());
    for (int64_t d : t.shape) mix(&d, sizeof d);
  }
  return h;
}

}  // namespace murmur::nn
