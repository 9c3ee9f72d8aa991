#pragma once
// Softmax cross-entropy over a batch of logits. Internal to nn/ (and its tests); no oneDNN.

#include <cstdint>

namespace murmur::nn {

// logits: [batch x classes] row-major. Returns the mean over the batch of -log softmax(label).
// If diffLogits is non-null it receives d(mean loss)/d(logits) = (softmax - onehot) / batch.
// If correct is non-null it receives the number of rows whose argmax (first maximum) equals
// the label. Throws InputError when a label is outside [0, classes).
float softmaxCrossEntropy(const float* logits, const int32_t* labels, int batch, int classes,
                          float* diffLogits, int* correct);

}  // namespace murmur::nn
