#pragma once
// What of a tensor is sent: top-K selection, the majority-vote mask decision, and binary16
// rounding. All work on flat spans of one tensor: x (current), xs (x~, what neighbours hold).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace murmur::algo {

// K = max(1, ceil(fraction * numel)), at most numel.
size_t topKCount(double fraction, size_t numel);

// Indices of the k largest |x[i] - xs[i]| (ties: lower index first), returned in increasing
// order. k is clamped to x.size().
std::vector<uint32_t> topKIndices(std::span<const float> x, std::span<const float> xs, size_t k);

// The majority-vote mask: count how many vote lists (own included) hold each index, and keep
// the k indices with the highest count; ties go to the larger own |x - xs|, then to the lower
// index. Returned in increasing order. Every vote index must be < x.size().
std::vector<uint32_t> decideMask(const std::vector<std::span<const uint32_t>>& votes,
                                 std::span<const float> x, std::span<const float> xs, size_t k);

// v rounded to the nearest binary16 value (ties to even), clamped to +-65504 so it stays
// finite; the result is exactly representable in binary16, so the wire conversion is lossless.
float roundToHalf(float v);
void roundToHalf(std::span<float> values);

// Puts every value on the grid q * scale, q = round(v / scale) in [-127, 127], scale =
// max|v| / 127 (1 if all are 0), in place, and returns scale: what an int8 TensorUpdate carries
// and decodes to bit for bit. The error (at most scale / 2 per value) stays in the sender's
// residual. Values must be finite.
float quantizeInt8(std::span<float> values);

// Scaled sign (1 bit per value): every value becomes +scale or -scale (0 counts as +), scale =
// mean |v|, the scale that minimises the squared error for those signs; a normal float however
// small or large the values. Returns scale: what a sign TensorUpdate carries and decodes to bit
// for bit. The error stays in the sender's residual (error feedback, as for int8), so what one
// frame gets wrong the next carries. Values must be finite.
float quantizeSign(std::span<float> values);

}  // namespace murmur::algo
