// Wire codec speed against memcpy of the same bytes, side by side in one run.
//   build-*/bench/codec_bench --benchmark_filter='Dense|Sparse|Memcpy'
// The goal (docs/BENCHMARKS.md): encode+decode of a 1M-float dense update at >= 1/3 of the
// memcpy rate of its 4 MB.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench/bench_main.hpp"
#include "net/auth.hpp"
#include "net/codec.hpp"
#include "net/framing.hpp"

namespace {

using namespace murmur;
using namespace murmur::net;

constexpr size_t kFloats = size_t{1} << 20;

std::vector<float> randomFloats(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1e-3f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TensorUpdate denseUpdate() {
  TensorUpdate u;
  u.tensor = 1;
  u.kind = UpdateKind::kDense;
  u.values = randomFloats(kFloats);
  return u;
}

TensorUpdate sparseUpdate() {
  TensorUpdate u;
  u.tensor = 1;
  u.kind = UpdateKind::kSparse;
  std::mt19937 rng(2);
  std::bernoulli_distribution pick(0.01);
  for (uint32_t i = 0; i < kFloats; ++i) {
    if (pick(rng)) u.indices.push_back(i);
  }
  u.values = randomFloats(u.indices.size());
  return u;
}

// Raw bytes the update carries: 4 per value (+ 4 per index for sparse), the memcpy baseline.
size_t rawBytes(const TensorUpdate& u) { return 4 * u.values.size() + 4 * u.indices.size(); }

void memcpyBaseline(benchmark::State& state, size_t bytes) {
  std::vector<uint8_t> src(bytes, 1), dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_MemcpyDense1M(benchmark::State& state) { memcpyBaseline(state, 4 * kFloats); }
void BM_MemcpySparse1pct(benchmark::State& state) {
  memcpyBaseline(state, rawBytes(sparseUpdate()));
}

void encodeBench(benchmark::State& state, const TensorUpdate& u) {
  Message m(u);
  for (auto _ : state) {
    Bytes payload = encodePayload(m);
    benchmark::DoNotOptimize(payload.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rawBytes(u)));
}

void decodeBench(benchmark::State& state, const TensorUpdate& u) {
  Bytes payload = encodePayload(Message(u));
  for (auto _ : state) {
    Message m = decodePayload(payload);
    benchmark::DoNotOptimize(&m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rawBytes(u)));
}

void roundTripBench(benchmark::State& state, const TensorUpdate& u) {
  Message m(u);
  for (auto _ : state) {
    Bytes payload = encodePayload(m);
    Message back = decodePayload(payload);
    benchmark::DoNotOptimize(&back);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rawBytes(u)));
}

void BM_EncodeDense1M(benchmark::State& state) { encodeBench(state, denseUpdate()); }
void BM_DecodeDense1M(benchmark::State& state) { decodeBench(state, denseUpdate()); }
void BM_EncodeDecodeDense1M(benchmark::State& state) { roundTripBench(state, denseUpdate()); }

void BM_EncodeDecodeDense1MFp16(benchmark::State& state) {
  auto u = denseUpdate();
  u.fp16 = true;
  roundTripBench(state, u);
}

// int8 values: the sender has put them on the grid q * scale already (algo's quantizeInt8), so
// the codec's cost is the per-value division, the grid check and the byte store.
void BM_EncodeDecodeDense1MInt8(benchmark::State& state) {
  auto u = denseUpdate();
  float maxAbs = 0.0f;
  for (float v : u.values) maxAbs = std::max(maxAbs, std::fabs(v));
  u.int8Scale = maxAbs / 127.0f;
  for (float& v : u.values) v = std::nearbyint(v / u.int8Scale) * u.int8Scale;
  roundTripBench(state, u);
}

// Sign values: the sender has put every value at +-scale already (algo's quantizeSign), so the
// codec's cost is the check and the bit packing on the way out and the unpacking on the way in.
void BM_EncodeDecodeDense1MSign(benchmark::State& state) {
  auto u = denseUpdate();
  double sum = 0;
  for (float v : u.values) sum += std::fabs(v);
  u.signScale = static_cast<float>(sum / static_cast<double>(u.values.size()));
  for (float& v : u.values) v = v < 0.0f ? -u.signScale : u.signScale;
  roundTripBench(state, u);
}

// A mask vote for 10% of 1M coordinates, as the voted masks send every mask epoch: the codec
// picks the smallest of bitmap, delta-varint and Golomb-Rice (Rice, here). Bytes processed are
// the 4 bytes per index of the list in memory.
void BM_EncodeDecodeVote10pct(benchmark::State& state) {
  MaskVote v{1, 0, static_cast<uint32_t>(kFloats), {}};
  std::mt19937 rng(3);
  std::bernoulli_distribution pick(0.1);
  for (uint32_t i = 0; i < kFloats; ++i) {
    if (pick(rng)) v.indices.push_back(i);
  }
  Message m(v);
  for (auto _ : state) {
    Bytes payload = encodePayload(m);
    Message back = decodePayload(payload);
    benchmark::DoNotOptimize(&back);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 4 * v.indices.size()));
}

void BM_EncodeSparse1pct(benchmark::State& state) { encodeBench(state, sparseUpdate()); }
void BM_DecodeSparse1pct(benchmark::State& state) { decodeBench(state, sparseUpdate()); }
void BM_EncodeDecodeSparse1pct(benchmark::State& state) { roundTripBench(state, sparseUpdate()); }

// Frame MAC (HMAC-SHA256) over the 4 MB dense payload: the cost authentication adds per frame.
void BM_FrameMacDense1M(benchmark::State& state) {
  Bytes payload = encodePayload(Message(denseUpdate()));
  Key key{};
  key.fill(7);
  FrameAuthenticator auth(key, 1, 2);
  uint64_t seq = 0;
  for (auto _ : state) {
    MacBytes mac = auth.sign(payload, seq++);
    benchmark::DoNotOptimize(mac.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}

// A framed 4 MB dense payload arriving in 64 KiB socket reads, reassembled and decoded.
void BM_FrameReaderDecodeDense1M(benchmark::State& state) {
  auto u = denseUpdate();
  Bytes frame = buildFrame(encodePayload(Message(u)));
  constexpr size_t kChunk = 64 << 10;
  for (auto _ : state) {
    FrameReader reader;
    for (size_t pos = 0; pos < frame.size(); pos += kChunk) {
      // As a transport's read handler does: feed, then take whatever frames are complete.
      reader.feed({frame.data() + pos, std::min(kChunk, frame.size() - pos)});
      while (auto f = reader.next()) {
        Message m = decodePayload(f->payload);
        benchmark::DoNotOptimize(&m);
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rawBytes(u)));
}

BENCHMARK(BM_MemcpyDense1M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDense1M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeDense1M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeDense1M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeDense1MFp16)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeDense1MInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeDense1MSign)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MemcpySparse1pct)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeVote10pct)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeSparse1pct)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeSparse1pct)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeDecodeSparse1pct)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FrameReaderDecodeDense1M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FrameMacDense1M)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return murmur::bench::benchMain(argc, argv); }
