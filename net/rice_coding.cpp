#include "net/rice_coding.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace murmur::net {

namespace {

// sum over the gaps of (g >> b): the unary part of riceSize. Gaps of a strictly increasing
// set telescope to at most 2^32 in total, so the sum cannot overflow.
uint64_t unaryBits(std::span<const uint32_t> indices, unsigned b) {
  uint64_t sum = 0;
  uint32_t next = 0;  // smallest index the next one may take
  for (uint32_t index : indices) {
    sum += (index - next) >> b;
    next = index + 1;
  }
  return sum;
}

uint64_t payloadBits(std::span<const uint32_t> indices, unsigned b) {
  return indices.size() * (uint64_t{b} + 1) + unaryBits(indices, b);
}

// MSB-first bit sink. Fewer than 32 bits are pending between calls, so a put of up to 32
// fits the 64-bit accumulator, and whole 32-bit words go out with one predictable branch.
class BitWriter {
 public:
  explicit BitWriter(uint8_t* out) : out_(out) {}

  void put(uint64_t value, unsigned len) {
    acc_ = (acc_ << len) | value;
    pending_ += len;
    if (pending_ >= 32) {
      pending_ -= 32;
      auto word = static_cast<uint32_t>(acc_ >> pending_);
      out_[0] = static_cast<uint8_t>(word >> 24);
      out_[1] = static_cast<uint8_t>(word >> 16);
      out_[2] = static_cast<uint8_t>(word >> 8);
      out_[3] = static_cast<uint8_t>(word);
      out_ += 4;
    }
  }

  void ones(uint64_t count) {
    for (; count >= 32; count -= 32) put(0xFFFFFFFFu, 32);
    put((uint64_t{1} << count) - 1, static_cast<unsigned>(count));
  }

  uint8_t* finish() {
    for (; pending_ >= 8; pending_ -= 8) *out_++ = static_cast<uint8_t>(acc_ >> (pending_ - 8));
    if (pending_ > 0) *out_++ = static_cast<uint8_t>(acc_ << (8 - pending_));
    return out_;
  }

 private:
  uint8_t* out_;
  uint64_t acc_ = 0;
  unsigned pending_ = 0;
};

// MSB-first bit source over untrusted bytes. The next bit is the window's MSB and bits past
// `avail_` are zero, so countl_one never counts beyond the loaded data.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> data)
      : next_(data.data()), end_(data.data() + data.size()) {}

  void refill() {
    if (avail_ > 56) return;
    if (end_ - next_ >= 8) {  // one load instead of a byte loop; whole bytes only
      uint64_t v;
      std::memcpy(&v, next_, sizeof v);
      if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
      unsigned bits = 8 * ((64 - avail_) / 8);
      window_ |= (v >> (64 - bits)) << (64 - bits - avail_);
      next_ += bits / 8;
      avail_ += bits;
      return;
    }
    while (avail_ <= 56 && next_ != end_) {
      window_ |= uint64_t{*next_++} << (56 - avail_);
      avail_ += 8;
    }
  }

  uint64_t window() const { return window_; }
  unsigned avail() const { return avail_; }

  void consume(unsigned n) {
    window_ = n >= 64 ? 0 : window_ << n;
    avail_ -= n;
  }

  // Bits not yet consumed, loaded or not.
  uint64_t remaining() const { return avail_ + 8 * static_cast<uint64_t>(end_ - next_); }

 private:
  const uint8_t* next_;
  const uint8_t* end_;
  uint64_t window_ = 0;
  unsigned avail_ = 0;
};

}  // namespace

size_t riceSize(std::span<const uint32_t> indices, unsigned b) {
  MURMUR_CHECK(b <= kMaxRiceParameter, "golomb-rice: parameter {} exceeds {}", b,
               kMaxRiceParameter);
  return 1 + static_cast<size_t>((payloadBits(indices, b) + 7) / 8);
}

unsigned bestRiceParameter(std::span<const uint32_t> indices) {
  if (indices.empty()) return 0;
  // payloadBits(b + 1) - payloadBits(b) = n - sum ceil((g >> b) / 2) never decreases with b:
  // the cost is convex, so walking downhill from a guess finds the minimum. The guess, the
  // width of the mean gap, is the optimum for geometric gaps to within one, so this costs 2-3
  // passes over the indices instead of 32. Gaps sum to last - (n - 1) without a pass.
  uint64_t n = indices.size();
  uint64_t mean = (indices.back() - (n - 1)) / n;
  unsigned b = std::min<unsigned>(kMaxRiceParameter,
                                  static_cast<unsigned>(std::bit_width(mean)) - (mean > 0));
  uint64_t cost = payloadBits(indices, b);
  while (b > 0) {
    uint64_t lower = payloadBits(indices, b - 1);
    if (lower > cost) break;
    --b;
    cost = lower;
  }
  while (b < kMaxRiceParameter) {
    uint64_t higher = payloadBits(indices, b + 1);
    if (higher >= cost) break;
    ++b;
    cost = higher;
  }
  return b;
}

size_t riceEncodedSize(std::span<const uint32_t> indices) {
  return riceSize(indices, bestRiceParameter(indices));
}

void writeRice(std::span<const uint32_t> indices, unsigned b, std::span<uint8_t> out) {
  MURMUR_CHECK(out.size() == riceSize(indices, b),
               "golomb-rice: {} output bytes for {} indices with b = {}, want {}", out.size(),
               indices.size(), b, riceSize(indices, b));
  out[0] = static_cast<uint8_t>(b);
  BitWriter bits(out.data() + 1);
  const uint32_t lowMask = static_cast<uint32_t>((uint64_t{1} << b) - 1);
  uint64_t next = 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    // A decreasing index would wrap its gap and overrun `out`: sizes came from the same gaps.
    MURMUR_CHECK(indices[i] >= next, "golomb-rice: indices not strictly increasing at position {}",
                 i);
    uint32_t gap = static_cast<uint32_t>(indices[i] - next);
    next = uint64_t{indices[i]} + 1;
    uint32_t q = gap >> b;
    if (uint64_t{q} + 1 + b <= 32) {  // usually: ones, stop bit and low bits in one put
      uint64_t unary = ((uint64_t{1} << (q + 1)) - 2) << b;
      bits.put(unary | (gap & lowMask), q + 1 + b);
    } else {
      bits.ones(q);
      bits.put(gap & lowMask, b + 1);
    }
  }
  uint8_t* end = bits.finish();
  MURMUR_CHECK(end == out.data() + out.size(), "golomb-rice: wrote {} bytes, sized {}",
               end - out.data(), out.size());
}

Bytes encodeRice(std::span<const uint32_t> indices, uint64_t universe) {
  MURMUR_CHECK(universe <= uint64_t{1} << 32, "golomb-rice: universe {} exceeds 2^32", universe);
  MURMUR_CHECK(indices.empty() || indices.back() < universe,
               "golomb-rice: index {} is >= universe {}", indices.back(), universe);
  unsigned b = bestRiceParameter(indices);
  Bytes out(riceSize(indices, b));
  writeRice(indices, b, out);
  return out;
}

std::vector<uint32_t> decodeRice(std::span<const uint8_t> data, uint32_t count, uint64_t universe) {
  MURMUR_CHECK(universe <= uint64_t{1} << 32, "golomb-rice: universe {} exceeds 2^32", universe);
  MURMUR_ENFORCE(!data.empty(), ProtocolError,
                 "golomb-rice: empty data, the parameter byte is missing ({} indices)", count);
  const unsigned b = data[0];
  MURMUR_ENFORCE(b <= kMaxRiceParameter, ProtocolError, "golomb-rice: parameter b = {} exceeds {}",
                 b, kMaxRiceParameter);
  BitReader bits(data.subspan(1));
  // Every index takes at least b + 1 bits: refuse a count the data cannot hold before
  // allocating for it. This also bounds the loop below by the data size.
  MURMUR_ENFORCE(uint64_t{count} * (b + 1) <= bits.remaining(), ProtocolError,
                 "golomb-rice: {} indices with b = {} cannot fit in {} bytes", count, b,
                 data.size());
  std::vector<uint32_t> out;
  out.reserve(count);
  // q < 2^33 when checked (after at most 64 more ones), so q << b cannot overflow 64 bits.
  auto checkQuotient = [&](uint64_t q, uint64_t maxQuotient, uint32_t i) {
    MURMUR_ENFORCE(
        q <= maxQuotient, ProtocolError,
        "golomb-rice: unary run of {} or more ones at index {} of {} (b = {}) {}", q, i, count, b,
        (q << b) > UINT32_MAX ? std::string("overflows a 32-bit gap")
                              : fmt::format("puts the index past universe {}", universe));
  };
  uint64_t next = 0;  // smallest index the next one may take
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ENFORCE(next < universe, ProtocolError,
                   "golomb-rice: no room for index {} of {} in universe {}", i, count, universe);
    // Checking the quotient before the low bits stops a long run of 0xFF as soon as it puts
    // the index past the universe, so it can neither overflow the gap nor spin.
    const uint64_t maxQuotient = (universe - 1 - next) >> b;
    uint64_t q = 0;
    uint64_t low = 0;
    bits.refill();
    auto run = static_cast<unsigned>(std::countl_one(bits.window()));
    if (run + 1 + b <= bits.avail()) {  // usually the whole code is in the window
      q = run;
      checkQuotient(q, maxQuotient, i);
      if (b > 0) low = (bits.window() << (run + 1)) >> (64 - b);
      bits.consume(run + 1 + b);
    } else {
      for (;;) {
        MURMUR_ENFORCE(bits.avail() > 0, ProtocolError, "golomb-rice: truncated at index {} of {}",
                       i, count);
        run = static_cast<unsigned>(std::countl_one(bits.window()));
        bool stopped = run < bits.avail();
        q += run;
        checkQuotient(q, maxQuotient, i);
        bits.consume(stopped ? run + 1 : run);
        if (stopped) break;
        bits.refill();
      }
      if (b > 0) {
        bits.refill();
        MURMUR_ENFORCE(bits.avail() >= b, ProtocolError, "golomb-rice: truncated at index {} of {}",
                       i, count);
        low = bits.window() >> (64 - b);
        bits.consume(b);
      }
    }
    uint64_t index = next + ((q << b) | low);
    MURMUR_ENFORCE(index < universe, ProtocolError,
                   "golomb-rice: index {} at position {} is >= universe {}", index, i, universe);
    out.push_back(static_cast<uint32_t>(index));
    next = index + 1;
  }
  uint64_t left = bits.remaining();
  MURMUR_ENFORCE(left < 8, ProtocolError, "golomb-rice: {} trailing bytes after {} indices",
                 left / 8, count);
  MURMUR_ENFORCE(bits.window() == 0, ProtocolError,
                 "golomb-rice: nonzero padding bits after {} indices", count);
  return out;
}

}  // namespace murmur::net
