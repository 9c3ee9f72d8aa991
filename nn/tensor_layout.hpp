#pragma once
// How the model's one contiguous float buffer is cut into named tensors. A plain value type:
// algo/ and node/ read it without seeing oneDNN. Every node builds the same layout from the
// same model name, so tensor indices and the fingerprint agree across the cluster.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace murmur::nn {

struct TensorInfo {
  std::string name;            // "conv1.weight", "fc3.bias", "bn1.weight", ...
  std::vector<int64_t> shape;  // oneDNN logical dims, e.g. {oc, ic, kh, kw}
  size_t offset = 0;           // in floats, into the flat buffer
  size_t numel = 0;
};

struct TensorLayout {
  std::vector<TensorInfo> tensors;
  size_t total = 0;  // floats in the flat buffer

  // FNV-1a over names and shapes: equal on two nodes iff they built the same model.
  uint64_t fingerprint() const;
};

}  // namespace murmur::nn
