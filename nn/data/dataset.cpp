#include "nn/data/dataset.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace murmur::nn::data {

namespace {
void checkNormalization(const Normalization& norm, int channels) {
  MURMUR_ENFORCE(norm.mean.size() == static_cast<size_t>(channels) &&
                     norm.std.size() == static_cast<size_t>(channels),
                 InputError, "normalisation has {} means and {} stds for {} channels",
                 norm.mean.size(), norm.std.size(), channels);
  for (size_t ch = 0; ch < norm.std.size(); ++ch) {
    MURMUR_ENFORCE(norm.std[ch] > 0 && std::isfinite(norm.std[ch]), InputError,
                   "normalisation std of channel {} must be > 0, got {}", ch, norm.std[ch]);
  }
}

// Both the eager and the on-the-fly paths evaluate exactly this expression.
inline float normalized(float x, float mean, float inv) { return (x - mean) * inv; }
constexpr float kByteScale = 1.0f / 255.0f;
}  // namespace

Dataset toFloat(const ByteDataset& b) {
  Dataset d;
  d.n = b.n;
  d.c = b.c;
  d.h = b.h;
  d.w = b.w;
  d.classes = b.classes;
  d.labels = b.labels;
  d.images.resize(b.pixels.size());
  for (size_t i = 0; i < b.pixels.size(); ++i) {
    d.images[i] = static_cast<float>(b.pixels[i]) * kByteScale;
  }
  return d;
}

void normalize(Dataset& d, const Normalization& norm) {
  checkNormalization(norm, d.c);
  const size_t plane = static_cast<size_t>(d.h) * static_cast<size_t>(d.w);
  for (size_t i = 0; i < static_cast<size_t>(d.n); ++i) {
    for (size_t ch = 0; ch < static_cast<size_t>(d.c); ++ch) {
      float* p = d.images.data() + (i * static_cast<size_t>(d.c) + ch) * plane;
      const float m = norm.mean[ch];
      const float inv = 1.0f / norm.std[ch];
      for (size_t k = 0; k < plane; ++k) p[k] = normalized(p[k], m, inv);
    }
  }
}

void validate(const Dataset& d, const std::string& origin) {
  MURMUR_ENFORCE(d.n >= 0 && d.c > 0 && d.h > 0 && d.w > 0 && d.classes > 0, InputError,
                 "{}: bad dataset shape n={} c={} h={} w={} classes={}", origin, d.n, d.c, d.h, d.w,
                 d.classes);
  MURMUR_ENFORCE(d.images.size() == static_cast<size_t>(d.n) * d.sampleSize(), InputError,
                 "{}: {} image floats for {} samples of {}", origin, d.images.size(), d.n,
                 d.sampleSize());
  MURMUR_ENFORCE(d.labels.size() == static_cast<size_t>(d.n), InputError,
                 "{}: {} labels for {} samples", origin, d.labels.size(), d.n);
  for (size_t i = 0; i < d.labels.size(); ++i) {
    MURMUR_ENFORCE(d.labels[i] >= 0 && d.labels[i] < d.classes, InputError,
                   "{}: label {} of sample {} is outside [0, {})", origin, d.labels[i], i,
                   d.classes);
  }
}

std::vector<int32_t> DataSource::allLabels() const {
  std::vector<int32_t> out(size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = label(i);
  return out;
}

void DatasetSource::copySample(size_t index, std::span<float> dst) const {
  MURMUR_CHECK(index < size() && dst.size() == dataset_.sampleSize(),
               "sample {} of {}, destination {} floats", index, size(), dst.size());
  const auto src = dataset_.image(index);
  std::copy(src.begin(), src.end(), dst.begin());
}

int32_t DatasetSource::label(size_t index) const {
  MURMUR_CHECK(index < size(), "label {} of {}", index, size());
  return dataset_.labels[index];
}

ByteDatasetSource::ByteDatasetSource(const ByteDataset& dataset, const Normalization& norm)
    : dataset_(dataset) {
  checkNormalization(norm, dataset.c);
  MURMUR_CHECK(dataset.pixels.size() == static_cast<size_t>(dataset.n) * dataset.sampleSize() &&
                   dataset.labels.size() == static_cast<size_t>(dataset.n),
               "byte dataset of {} samples has {} pixels and {} labels", dataset.n,
               dataset.pixels.size(), dataset.labels.size());
  table_.resize(static_cast<size_t>(dataset.c) * 256);
  for (size_t ch = 0; ch < static_cast<size_t>(dataset.c); ++ch) {
    const float inv = 1.0f / norm.std[ch];
    for (int v = 0; v < 256; ++v) {
      table_[ch * 256 + static_cast<size_t>(v)] =
          normalized(static_cast<float>(v) * kByteScale, norm.mean[ch], inv);
    }
  }
}

void ByteDatasetSource::copySample(size_t index, std::span<float> dst) const {
  const size_t sample = dataset_.sampleSize();
  MURMUR_CHECK(index < size() && dst.size() == sample, "sample {} of {}, destination {} floats",
               index, size(), dst.size());
  const size_t plane = static_cast<size_t>(dataset_.h) * static_cast<size_t>(dataset_.w);
  const uint8_t* src = dataset_.pixels.data() + index * sample;
  for (size_t ch = 0; ch < static_cast<size_t>(dataset_.c); ++ch) {
    const float* table = table_.data() + ch * 256;
    float* out = dst.data() + ch * plane;
    const uint8_t* in = src + ch * plane;
    for (size_t k = 0; k < plane; ++k) out[k] = table[in[k]];
  }
}

int32_t ByteDatasetSource::label(size_t index) const {
  MURMUR_CHECK(index < size(), "label {} of {}", index, size());
  return dataset_.labels[index];
}

}  // namespace murmur::nn::data
