#pragma once
// Index sets for the codec tests: each index of [0, universe) drawn with probability `density`
// from a seeded generator, so a set is the same on every run and every machine.

#include <cstdint>
#include <random>
#include <vector>

namespace murmur::net::testing {

inline std::vector<uint32_t> randomSortedIndices(uint32_t universe, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution pick(density);
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < universe; ++i) {
    if (pick(rng)) out.push_back(i);
  }
  return out;
}

}  // namespace murmur::net::testing
