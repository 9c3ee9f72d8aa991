#include "nn/loss.hpp"

#include <cmath>

#include "common/error.hpp"

namespace murmur::nn {

float softmaxCrossEntropy(const float* logits, const int32_t* labels, int batch, int classes,
                          float* diffLogits, int* correct) {
  MURMUR_ENFORCE(batch >= 1 && classes >= 1, InputError,
                 "softmax cross-entropy: batch {} and classes {} must be >= 1", batch, classes);
  double total = 0.0;
  int hits = 0;
  const float invBatch = 1.f / static_cast<float>(batch);
  for (int b = 0; b < batch; ++b) {
    const float* row = logits + static_cast<size_t>(b) * classes;
    const int32_t y = labels[b];
    MURMUR_ENFORCE(y >= 0 && y < classes, InputError, "label {} of sample {} is outside [0, {})", y,
                   b, classes);
    int arg = 0;
    for (int k = 1; k < classes; ++k) {
      if (row[k] > row[arg]) arg = k;
    }
    hits += arg == y ? 1 : 0;
    const float mx = row[arg];
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(static_cast<double>(row[k] - mx));
    const double logSum = std::log(sum);
    total += logSum - static_cast<double>(row[y] - mx);
    if (diffLogits != nullptr) {
      float* d = diffLogits + static_cast<size_t>(b) * classes;
      for (int k = 0; k < classes; ++k) {
        const double p = std::exp(static_cast<double>(row[k] - mx) - logSum);
        d[k] = static_cast<float>(p) * invBatch;
      }
      d[y] -= invBatch;
    }
  }
  if (correct != nullptr) *correct = hits;
  return static_cast<float>(total / batch);
}

}  // namespace murmur::nn
