#pragma once
// The main() of the network benchmarks. glibc gives blocks this large back to the kernel (trim /
// mmap) whenever two are freed together, so without raised thresholds every round trip pays
// ~2000 fresh-page faults and the numbers measure the allocator, not the code under test.
// `murmur node` (node/main.cpp) keeps megabyte update buffers resident the same way.
// MURMUR_BENCH_GLIBC_DEFAULTS=1 measures glibc's defaults instead.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>

namespace murmur::bench {

inline int benchMain(int argc, char** argv) {
  const char* defaults = std::getenv("MURMUR_BENCH_GLIBC_DEFAULTS");
  const bool keep = defaults == nullptr || *defaults == '\0' || *defaults == '0';
  if (keep) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  }
  benchmark::AddCustomContext("malloc", keep ? "mmap/trim thresholds raised" : "glibc defaults");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace murmur::bench
