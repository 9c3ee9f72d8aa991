#include "algo/compress.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.hpp"

namespace murmur::algo {

size_t topKCount(double fraction, size_t numel) {
  if (numel == 0) return 0;
  const double k = std::ceil(fraction * static_cast<double>(numel));
  if (k < 1.0) return 1;
  return std::min(numel, static_cast<size_t>(k));
}

std::vector<uint32_t> topKIndices(std::span<const float> x, std::span<const float> xs, size_t k) {
  MURMUR_CHECK(x.size() == xs.size(), "topKIndices: sizes {} and {} differ", x.size(), xs.size());
  const size_t n = x.size();
  k = std::min(k, n);
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  if (k < n) {
    auto better = [&](uint32_t a, uint32_t b) {
      const float da = std::fabs(x[a] - xs[a]);
      const float db = std::fabs(x[b] - xs[b]);
      if (da != db) return da > db;
      return a < b;
    };
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), better);
    idx.resize(k);
  }
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<uint32_t> decideMask(const std::vector<std::span<const uint32_t>>& votes,
                                 std::span<const float> x, std::span<const float> xs, size_t k) {
  MURMUR_CHECK(x.size() == xs.size(), "decideMask: sizes {} and {} differ", x.size(), xs.size());
  const size_t n = x.size();
  k = std::min(k, n);
  std::vector<uint32_t> count(n, 0);
  for (const auto& v : votes) {
    for (uint32_t i : v) {
      MURMUR_CHECK(i < n, "decideMask: vote index {} outside a tensor of {}", i, n);
      ++count[i];
    }
  }
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  if (k < n) {
    auto better = [&](uint32_t a, uint32_t b) {
      if (count[a] != count[b]) return count[a] > count[b];
      const float da = std::fabs(x[a] - xs[a]);
      const float db = std::fabs(x[b] - xs[b]);
      if (da != db) return da > db;
      return a < b;
    };
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), better);
    idx.resize(k);
  }
  std::sort(idx.begin(), idx.end());
  return idx;
}

float roundToHalf(float v) {
  if (!std::isfinite(v)) return v;
  constexpr float kMax = 65504.0f;
  constexpr float kMinNormal = 6.103515625e-05f;  // 2^-14
  const float a = std::fabs(v);
  float r;
  if (a < kMinNormal) {
    // Subnormal binary16: a multiple of 2^-24; nearbyint rounds ties to even.
    r = std::nearbyint(a * 16777216.0f) / 16777216.0f;
  } else {
    // Keep 10 of float's 23 mantissa bits, ties to even; a carry moves into the exponent.
    uint32_t u = std::bit_cast<uint32_t>(a);
    const uint32_t lsb = (u >> 13) & 1u;
    u += 0x0FFFu + lsb;
    u &= ~0x1FFFu;
    r = std::bit_cast<float>(u);
  }
  if (r > kMax) r = kMax;
  return std::signbit(v) ? -r : r;
}

float quantizeInt8(std::span<float> values) {
  float maxAbs = 0.0f;
  for (float v : values) maxAbs = std::max(maxAbs, std::fabs(v));
  // The clamp keeps the scale valid for the wire (validInt8Scale): a normal float when every
  // value is tiny (denormal inputs), and 127 * scale finite when a value is huge or infinite
  // (a diverging run; those values saturate instead of turning into NaN).
  const float scale = maxAbs > 0.0f ? std::clamp(maxAbs / 127.0f, std::numeric_limits<float>::min(),
                                                 std::numeric_limits<float>::max() / 128.0f)
                                    : 1.0f;
  // Round to nearest by adding and subtracting 1.5 * 2^23 (|v / scale| <= 127 here): no libm
  // call per value. Any rounding would do; the grid value q * scale is what must match.
  const float inv = 1.0f / scale;
  constexpr float kRound = 12582912.0f;
  for (float& v : values) {
    const float q = std::clamp((v * inv + kRound) - kRound, -127.0f, 127.0f);
    v = q * scale;  // exactly what the receiver computes: float(q) * scale
  }
  return scale;
}

float quantizeSign(std::span<float> values) {
  double sum = 0.0;  // double: a float sum of many values loses the small ones
  for (float v : values) sum += std::fabs(static_cast<double>(v));
  const double mean = values.empty() ? 1.0 : sum / static_cast<double>(values.size());
  const auto scale =
      static_cast<float>(std::clamp(mean, static_cast<double>(std::numeric_limits<float>::min()),
                                    static_cast<double>(std::numeric_limits<float>::max())));
  for (float& v : values) v = v < 0.0f ? -scale : scale;
  return scale;
}

void roundToHalf(std::span<float> values) {
  for (float& v : values) v = roundToHalf(v);
}

}  // namespace murmur::algo
