#pragma once
// In-memory datasets, per-channel normalisation, and the DataSource interface the samplers read
// (so tests and other producers can fake a dataset without files).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace murmur::nn::data {

struct Dataset {
  int n = 0, c = 0, h = 0, w = 0;
  int classes = 0;
  std::vector<float> images;    // n*c*h*w, NCHW; loaders give [0, 1], normalize() standardises
  std::vector<int32_t> labels;  // n, each in [0, classes)

  size_t sampleSize() const { return static_cast<size_t>(c) * h * w; }
  std::span<const float> image(size_t i) const {
    return std::span<const float>(images).subspan(i * sampleSize(), sampleSize());
  }
};

// The same samples as raw bytes (4x smaller than Dataset): N node processes on one machine can
// each hold CIFAR-10 (150 MB instead of 600 MB) and normalise per batch via ByteDatasetSource.
struct ByteDataset {
  int n = 0, c = 0, h = 0, w = 0;
  int classes = 0;
  std::vector<uint8_t> pixels;  // n*c*h*w, NCHW, the files' byte values
  std::vector<int32_t> labels;

  size_t sampleSize() const { return static_cast<size_t>(c) * h * w; }
};

// Bytes to floats in [0, 1] (byte / 255), not normalised.
Dataset toFloat(const ByteDataset& bytes);

// Per-channel mean and standard deviation of the [0, 1] pixel values.
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;
};

// x <- (x - mean[ch]) / std[ch]. mean/std sizes must equal dataset.c.
void normalize(Dataset& dataset, const Normalization& norm);

// Throws InputError (naming `origin`) when shapes and sizes disagree or a label is out of range.
void validate(const Dataset& dataset, const std::string& origin);

// A labelled sample store. Implementations are read-only after construction, so several
// samplers (threads) may read one source.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual size_t size() const = 0;
  virtual int channels() const = 0;
  virtual int height() const = 0;
  virtual int width() const = 0;
  virtual int classes() const = 0;
  // Writes sample `index` (c*h*w floats, CHW) into dst.
  virtual void copySample(size_t index, std::span<float> dst) const = 0;
  virtual int32_t label(size_t index) const = 0;

  size_t sampleSize() const {
    return static_cast<size_t>(channels()) * static_cast<size_t>(height()) *
           static_cast<size_t>(width());
  }
  // All labels in index order (partitioners need them).
  std::vector<int32_t> allLabels() const;
};

// A DataSource over a Dataset the caller keeps alive for the source's lifetime.
class DatasetSource final : public DataSource {
 public:
  explicit DatasetSource(const Dataset& dataset) : dataset_(dataset) {}
  size_t size() const override { return static_cast<size_t>(dataset_.n); }
  int channels() const override { return dataset_.c; }
  int height() const override { return dataset_.h; }
  int width() const override { return dataset_.w; }
  int classes() const override { return dataset_.classes; }
  void copySample(size_t index, std::span<float> dst) const override;
  int32_t label(size_t index) const override;

 private:
  const Dataset& dataset_;
};

// A DataSource over a ByteDataset (kept alive by the caller) that normalises on the fly; each
// sample equals normalize(toFloat(bytes), norm) up to float rounding.
class ByteDatasetSource final : public DataSource {
 public:
  ByteDatasetSource(const ByteDataset& dataset, const Normalization& norm);
  size_t size() const override { return static_cast<size_t>(dataset_.n); }
  int channels() const override { return dataset_.c; }
  int height() const override { return dataset_.h; }
  int width() const override { return dataset_.w; }
  int classes() const override { return dataset_.classes; }
  void copySample(size_t index, std::span<float> dst) const override;
  int32_t label(size_t index) const override;

 private:
  const ByteDataset& dataset_;
  std::vector<float> table_;  // 256 values per channel
};

// One mini-batch: NCHW images and their labels.
struct Batch {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;
  std::vector<int32_t> labels;
};

}  // namespace murmur::nn::data
