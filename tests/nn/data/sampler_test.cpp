#include "nn/data/sampler.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "nn/data/augment.hpp"

namespace murmur::nn::data {
namespace {

// Sample i is the constant image i (c x h x w), label i % classes: a batch says which samples
// it holds.
class FakeSource final : public DataSource {
 public:
  FakeSource(size_t n, int c, int h, int w) : n_(n), c_(c), h_(h), w_(w) {}
  size_t size() const override { return n_; }
  int channels() const override { return c_; }
  int height() const override { return h_; }
  int width() const override { return w_; }
  int classes() const override { return 10; }
  void copySample(size_t index, std::span<float> dst) const override {
    std::fill(dst.begin(), dst.end(), static_cast<float>(index));
  }
  int32_t label(size_t index) const override { return static_cast<int32_t>(index % 10); }

 private:
  size_t n_;
  int c_, h_, w_;
};

std::vector<uint32_t> samplesOf(const Batch& b) {
  std::vector<uint32_t> out;
  const size_t size = static_cast<size_t>(b.c) * b.h * b.w;
  for (int i = 0; i < b.n; ++i) {
    out.push_back(static_cast<uint32_t>(b.images[static_cast<size_t>(i) * size]));
    EXPECT_EQ(b.labels[static_cast<size_t>(i)], static_cast<int32_t>(out.back() % 10));
  }
  return out;
}

SamplerConfig cfg(size_t batchSize, uint64_t seed, bool shuffle = true, bool dropLast = true) {
  SamplerConfig c;
  c.batchSize = batchSize;
  c.seed = seed;
  c.shuffle = shuffle;
  c.dropLast = dropLast;
  return c;
}

std::vector<uint32_t> range(uint32_t from, uint32_t to) {
  std::vector<uint32_t> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(BatchSampler, EpochVisitsEachIndexOnceAndDropsLast) {
  FakeSource src(100, 2, 3, 3);
  const auto indices = range(10, 60);  // 50 samples
  BatchSampler s(src, indices, cfg(8, 1));
  EXPECT_EQ(s.batchesPerEpoch(), 6u);
  Batch b;
  std::vector<uint32_t> seen;
  int batches = 0;
  while (s.next(b)) {
    EXPECT_EQ(b.n, 8);
    EXPECT_EQ(b.c, 2);
    EXPECT_EQ(b.images.size(), 8u * 18u);
    const auto got = samplesOf(b);
    seen.insert(seen.end(), got.begin(), got.end());
    ++batches;
  }
  EXPECT_EQ(batches, 6);
  EXPECT_EQ(s.epoch(), 0);
  std::set<uint32_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), 48u);  // no repeats; 2 dropped
  for (uint32_t i : seen) EXPECT_TRUE(i >= 10 && i < 60);
  EXPECT_FALSE(std::is_sorted(seen.begin(), seen.end()));
  ASSERT_TRUE(s.next(b));  // rolls into epoch 1
  EXPECT_EQ(s.epoch(), 1);
}

TEST(BatchSampler, EvalModeKeepsOrderAndLastPartialBatch) {
  FakeSource src(20, 1, 2, 2);
  BatchSampler s(src, range(0, 20), cfg(6, 1, false, false));
  EXPECT_EQ(s.batchesPerEpoch(), 4u);
  Batch b;
  std::vector<uint32_t> seen;
  std::vector<int> sizes;
  while (s.next(b)) {
    sizes.push_back(b.n);
    const auto got = samplesOf(b);
    seen.insert(seen.end(), got.begin(), got.end());
  }
  EXPECT_EQ(sizes, (std::vector<int>{6, 6, 6, 2}));
  EXPECT_EQ(seen, range(0, 20));
}

TEST(BatchSampler, ReshufflesPerEpochDeterministically) {
  FakeSource src(64, 1, 1, 1);
  auto epochOrder = [&](BatchSampler& s) {
    Batch b;
    std::vector<uint32_t> order;
    while (s.next(b)) {
      const auto got = samplesOf(b);
      order.insert(order.end(), got.begin(), got.end());
    }
    return order;
  };
  BatchSampler a(src, range(0, 64), cfg(16, 7));
  BatchSampler b(src, range(0, 64), cfg(16, 7));
  BatchSampler other(src, range(0, 64), cfg(16, 8));
  const auto a0 = epochOrder(a), a1 = epochOrder(a), a2 = epochOrder(a);
  EXPECT_EQ(a0, epochOrder(b));
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, epochOrder(other));
  // Resuming at epoch 2 gives epoch 2's order.
  BatchSampler resumed(src, range(0, 64), cfg(16, 7));
  resumed.seekEpoch(2);
  EXPECT_EQ(epochOrder(resumed), a2);
}

TEST(BatchSampler, NextWrappingNeverStops) {
  FakeSource src(10, 1, 1, 1);
  BatchSampler s(src, range(0, 10), cfg(4, 3));
  Batch b;
  for (int i = 0; i < 7; ++i) {
    s.nextWrapping(b);
    EXPECT_EQ(b.n, 4);
  }
  EXPECT_EQ(s.epoch(), 3);  // 2 batches per epoch: batches 7 is the first of epoch 3
}

TEST(BatchSampler, MultiPartBatchesDrawFromEachPart) {
  FakeSource src(400, 1, 2, 2);
  std::vector<SamplerPart> parts{{range(0, 100), 8}, {range(100, 200), 8}, {range(200, 250), 4}};
  BatchSampler s(src, parts, cfg(64, 5));
  EXPECT_EQ(s.batchSize(), 20u);
  EXPECT_EQ(s.batchesPerEpoch(), 12u);
  Batch b;
  std::vector<uint32_t> fromThird;
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(s.next(b));
    ASSERT_EQ(b.n, 20);
    const auto got = samplesOf(b);
    for (size_t k = 0; k < 8; ++k) EXPECT_LT(got[k], 100u);
    for (size_t k = 8; k < 16; ++k) EXPECT_TRUE(got[k] >= 100 && got[k] < 200);
    for (size_t k = 16; k < 20; ++k) {
      EXPECT_TRUE(got[k] >= 200 && got[k] < 250);
      fromThird.push_back(got[k]);
    }
  }
  EXPECT_FALSE(s.next(b));
  // The third part (50 samples, 4 per batch) wrapped on its own after 12 full passes of 4:
  // its first 48 draws are 48 distinct samples.
  EXPECT_EQ(std::set<uint32_t>(fromThird.begin(), fromThird.end()).size(), 48u);
}

// Resuming anywhere must reproduce an uninterrupted run, redundant parts and augmentation
// included, although the parts wrap at different times.
TEST(BatchSampler, SeekMatchesUninterruptedRun) {
  FakeSource src(300, 1, 4, 4);
  std::vector<SamplerPart> parts{{range(0, 50), 8}, {range(50, 80), 5}, {range(80, 87), 3}};
  SamplerConfig config = cfg(0, 9);
  config.augment = AugmentConfig{1, true, {-1.0f}};
  BatchSampler run(src, parts, config);
  const size_t perEpoch = run.batchesPerEpoch();
  ASSERT_EQ(perEpoch, 6u);
  std::vector<Batch> batches(40);
  for (auto& b : batches) run.nextWrapping(b);
  for (size_t step : {size_t{0}, size_t{1}, size_t{5}, size_t{6}, size_t{13}, size_t{39}}) {
    BatchSampler resumed(src, parts, config);
    resumed.seek(static_cast<int64_t>(step / perEpoch), step % perEpoch);
    Batch b;
    resumed.nextWrapping(b);
    EXPECT_EQ(b.labels, batches[step].labels) << "step " << step;
    EXPECT_EQ(b.images, batches[step].images) << "step " << step;
  }
  BatchSampler bad(src, parts, config);
  EXPECT_THROW(bad.seek(0, perEpoch + 1), InputError);
  EXPECT_THROW(bad.seek(-1, 0), InputError);
}

TEST(BatchSampler, RejectsBadInput) {
  FakeSource src(10, 1, 1, 1);
  EXPECT_THROW(BatchSampler(src, std::vector<uint32_t>{}, {}), InputError);
  EXPECT_THROW(BatchSampler(src, range(0, 11), {}), InputError);
  EXPECT_THROW(BatchSampler(src, range(0, 5), cfg(0, 0)), InputError);
  EXPECT_THROW(BatchSampler(src, range(0, 5), cfg(6, 0)), InputError);  // no full batch
  EXPECT_NO_THROW(BatchSampler(src, range(0, 5), cfg(6, 0, true, false)));
}

TEST(BatchSampler, AugmentationIsSeededPerEpochAndBatch) {
  FakeSource src(32, 3, 8, 8);
  SamplerConfig config = cfg(8, 2, false);
  config.augment =
      AugmentConfig{.cropPadding = 2, .horizontalFlip = true, .padValue = {-1, -2, -3}};
  BatchSampler a(src, range(0, 32), config);
  BatchSampler b(src, range(0, 32), config);
  Batch x, y;
  a.next(x);
  b.next(y);
  EXPECT_EQ(x.images, y.images);
  // Some padding shows up somewhere in a batch of 8 shifted images.
  EXPECT_TRUE(std::any_of(x.images.begin(), x.images.end(), [](float v) { return v < 0; }));
  // Same samples in epoch 1 (no shuffle) get a different augmentation.
  while (a.next(x)) {
  }
  a.next(x);
  EXPECT_EQ(a.epoch(), 1);
  EXPECT_NE(x.images, y.images);
}

// Finds a shift (dy, dx) in [-pad, pad] and flip that explain `out` from `in` (one channel).
bool explainedByCropFlip(const std::vector<float>& in, const std::vector<float>& out, int h, int w,
                         int pad, float fill, bool* flipped) {
  for (int flip = 0; flip < 2; ++flip) {
    for (int dy = -pad; dy <= pad; ++dy) {
      for (int dx = -pad; dx <= pad; ++dx) {
        bool match = true;
        for (int y = 0; y < h && match; ++y) {
          for (int x = 0; x < w && match; ++x) {
            const int sx = (flip ? w - 1 - x : x) + dx;
            const int sy = y + dy;
            const float expect = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[sy * w + sx] : fill;
            match = out[y * w + x] == expect;
          }
        }
        if (match) {
          *flipped = flip != 0;
          return true;
        }
      }
    }
  }
  return false;
}

TEST(Augment, CropAndFlipAreShiftsAndMirrors) {
  const int n = 64, c = 2, h = 6, w = 5;
  std::vector<float> original(static_cast<size_t>(n) * c * h * w);
  // Distinct positive values so any shift/flip is identifiable.
  for (size_t i = 0; i < original.size(); ++i) original[i] = static_cast<float>(i + 1);
  auto images = original;
  Rng rng(77);
  const AugmentConfig config{.cropPadding = 2, .horizontalFlip = true, .padValue = {-1, -2}};
  augmentBatch(images, n, c, h, w, config, rng);
  int flips = 0, changed = 0;
  for (int i = 0; i < n; ++i) {
    bool flippedCh0 = false;
    for (int ch = 0; ch < c; ++ch) {
      const size_t off = (static_cast<size_t>(i) * c + ch) * h * w;
      const std::vector<float> in(original.begin() + off, original.begin() + off + h * w);
      const std::vector<float> out(images.begin() + off, images.begin() + off + h * w);
      bool flipped = false;
      ASSERT_TRUE(explainedByCropFlip(in, out, h, w, 2, config.padValue[ch], &flipped))
          << "image " << i << " channel " << ch;
      if (ch == 0) flippedCh0 = flipped;
      if (in != out) ++changed;
    }
    flips += flippedCh0 ? 1 : 0;
  }
  EXPECT_GT(flips, 16);  // about half of 64
  EXPECT_LT(flips, 48);
  EXPECT_GT(changed, 2 * n / 2);
  // Deterministic from the seed.
  auto again = original;
  Rng rng2(77);
  augmentBatch(again, n, c, h, w, config, rng2);
  EXPECT_EQ(again, images);
}

TEST(Augment, CifarRecipePadsWithNormalisedBlack) {
  const std::vector<float> mean{0.5f, 0.25f, 0.0f}, stdev{0.5f, 0.25f, 1.0f};
  const AugmentConfig config = cifarAugment(mean, stdev);
  EXPECT_EQ(config.cropPadding, 4);
  EXPECT_TRUE(config.horizontalFlip);
  EXPECT_EQ(config.padValue, (std::vector<float>{-1.0f, -1.0f, 0.0f}));
}

}  // namespace
}  // namespace murmur::nn::data
