// Mutated and random inputs: the parsers either return a topology that passes validate() or
// throw InputError; never another exception, never a crash. Eigenvalue sanity on random graphs.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "topologies/describe.hpp"
#include "topologies/generators.hpp"
#include "topologies/mixing.hpp"
#include "topologies/topology.hpp"

namespace murmur::topologies {
namespace {

const std::vector<std::string> kPieces = {"node",
                                          "edge",
                                          "cluster",
                                          " ",
                                          " ",
                                          "\n",
                                          "\n",
                                          "#",
                                          "0",
                                          "1",
                                          "2",
                                          "3",
                                          "17",
                                          "-1",
                                          "127.0.0.1:7000",
                                          "a:1",
                                          "b:2",
                                          "[::1]:9",
                                          ":",
                                          "0.5",
                                          "1e-3",
                                          "2.0",
                                          "nan",
                                          "{",
                                          "}",
                                          "{'weight': 0.3}",
                                          "\t",
                                          "\r\n",
                                          "99999999999",
                                          "x"};

// Returns true when the text parsed (and the result is canonical and connected).
bool parsesCleanly(const std::string& text, bool edgeList) {
  try {
    const Topology t = edgeList ? parseEdgeList(text, "fuzz", "a:1\nb:2\nc:3\nd:4\n", "hosts")
                                : parseTopology(text, "fuzz");
    validate(t, "reparsed");
    EXPECT_EQ(parseTopology(formatTopology(t), "again"), t);
    return true;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fuzz"), std::string::npos) << e.what();
    return false;
  }
}

TEST(Robustness, RandomTokenSoupOnlyThrowsInputError) {
  std::mt19937_64 rng(12345);
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) text += kPieces[rng() % kPieces.size()];
    rejected += parsesCleanly(text, round % 2 == 1) ? 0 : 1;
  }
  // The soup is mostly garbage: most of it must be refused (with a message naming the file,
  // checked in parsesCleanly).
  EXPECT_GT(rejected, 2000);
}

TEST(Robustness, MutatedValidFilesOnlyThrowInputError) {
  GenOptions o;
  o.kind = "small-world";
  o.n = 8;
  o.k = 4;
  o.seed = 3;
  const std::string valid = formatTopology(generate(o));
  ASSERT_TRUE(parsesCleanly(valid, false));
  std::mt19937_64 rng(777);
  int survived = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string text = valid;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text.erase(pos, 1 + rng() % 6);
          break;
        case 1:
          text.insert(pos, kPieces[rng() % kPieces.size()]);
          break;
        default:
          text[pos] = static_cast<char>(rng() % 128);
          break;
      }
      if (text.empty()) text.push_back('x');
    }
    survived += parsesCleanly(text, false) ? 1 : 0;
  }
  // Edits inside comments or whitespace leave the file valid, so some must survive.
  EXPECT_GT(survived, 0);
  EXPECT_LT(survived, 2000);
}

TEST(Robustness, MixingSpectrumIsAStochasticOne) {
  // For every random graph: lambda_1 = 1 (the all-ones vector), all eigenvalues in [-1, 1],
  // and a connected graph has a positive gap.
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    GenOptions o;
    o.kind = seed % 2 ? "erdos-renyi" : "random-regular";
    o.n = 10 + static_cast<uint32_t>(seed);
    o.p = 0.35;
    o.degree = 4;
    o.seed = seed;
    const Topology t = generate(o);
    for (MixingRule rule : {MixingRule::kMetropolisHastings, MixingRule::kMaxDegree}) {
      const auto eig = mixingEigenvalues(t, rule);
      ASSERT_EQ(eig.size(), t.size());
      EXPECT_NEAR(eig.front(), 1.0, 1e-12);
      EXPECT_GE(eig.back(), -1.0 - 1e-12);
      EXPECT_LT(eig[1], 1.0 - 1e-9) << "seed " << seed;
    }
  }
}

TEST(Limits, HugeRequestsAreRefused) {
  GenOptions o;
  o.kind = "complete";
  o.n = 5000;
  EXPECT_THROW(generate(o), InputError);
  o.kind = "ring";
  o.n = (1u << 16) + 1;
  o.hostPattern = "n{i}";
  EXPECT_THROW(generate(o), InputError);
}

TEST(Limits, SpectrumSkippedOnLargeGraphs) {
  GenOptions o;
  o.kind = "ring";
  o.n = static_cast<uint32_t>(kMaxSpectrumNodes) + 1;
  o.hostPattern = "n{i}";
  const TopologyInfo info = describe(generate(o));
  EXPECT_EQ(info.diameter, o.n / 2);
  EXPECT_FALSE(info.spectralGap.has_value());
  EXPECT_NE(formatInfo(info).find("not computed"), std::string::npos);
}

}  // namespace
}  // namespace murmur::topologies
