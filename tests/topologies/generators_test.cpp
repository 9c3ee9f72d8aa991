#include <algorithm>
#include <functional>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "topologies/describe.hpp"
#include "topologies/generators.hpp"

namespace murmur::topologies {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string inputErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

GenOptions kind(const std::string& k, uint32_t n) {
  GenOptions o;
  o.kind = k;
  o.n = n;
  return o;
}

std::vector<size_t> degreesOf(const Topology& t) {
  std::vector<size_t> d;
  for (const auto& row : adjacency(t)) d.push_back(row.size());
  return d;
}

// Every generated graph is canonical and connected; validate() checks both independently of
// the generator's own bookkeeping.
void expectValid(const Topology& t, uint32_t n) {
  EXPECT_EQ(t.size(), n);
  EXPECT_NO_THROW(validate(t, "generated"));
  EXPECT_EQ(components(t).size(), 1u);
}

TEST(Generators, Ring) {
  for (uint32_t n : {1u, 2u, 3u, 10u}) {
    const Topology t = generate(kind("ring", n));
    expectValid(t, n);
    EXPECT_EQ(t.edges.size(), n <= 2 ? n - 1 : n);
    if (n >= 3) {
      for (size_t d : degreesOf(t)) EXPECT_EQ(d, 2u);
      EXPECT_EQ(t.neighbours(0), (std::vector<uint32_t>{1, n - 1}));
    }
  }
}

TEST(Generators, Torus) {
  GenOptions o = kind("torus", 0);
  o.rows = 3;
  o.cols = 4;
  Topology t = generate(o);
  expectValid(t, 12);
  EXPECT_EQ(t.edges.size(), 24u);
  for (size_t d : degreesOf(t)) EXPECT_EQ(d, 4u);
  // Node (1, 0) = 4 joins (1, 1), (1, 3), (0, 0), (2, 0).
  EXPECT_EQ(t.neighbours(4), (std::vector<uint32_t>{0, 5, 7, 8}));
  // Shape picked from n: 16 -> 4 x 4, 6 -> 2 x 3 (a 2-row torus has no doubled edges).
  t = generate(kind("torus", 16));
  expectValid(t, 16);
  for (size_t d : degreesOf(t)) EXPECT_EQ(d, 4u);
  t = generate(kind("torus", 6));
  expectValid(t, 6);
  EXPECT_EQ(t.edges.size(), 9u);
  // A prime n degenerates to a 1 x n ring.
  t = generate(kind("torus", 7));
  for (size_t d : degreesOf(t)) EXPECT_EQ(d, 2u);
}

TEST(Generators, CompleteAndStar) {
  Topology t = generate(kind("complete", 6));
  expectValid(t, 6);
  EXPECT_EQ(t.edges.size(), 15u);
  for (size_t d : degreesOf(t)) EXPECT_EQ(d, 5u);
  t = generate(kind("star", 6));
  expectValid(t, 6);
  EXPECT_EQ(t.degree(0), 5u);
  for (uint32_t i = 1; i < 6; ++i) EXPECT_EQ(t.neighbours(i), (std::vector<uint32_t>{0}));
}

TEST(Generators, Hypercube) {
  const Topology t = generate(kind("hypercube", 16));
  expectValid(t, 16);
  EXPECT_EQ(t.edges.size(), 32u);
  for (const Edge& e : t.edges) EXPECT_EQ(__builtin_popcount(e.u ^ e.v), 1) << e.u << "-" << e.v;
  EXPECT_THAT(inputErrorOf([] { generate(kind("hypercube", 12)); }),
              AllOf(HasSubstr("hypercube"), HasSubstr("power of two")));
}

TEST(Generators, Exponential) {
  const Topology t = generate(kind("exponential", 16));
  expectValid(t, 16);
  // i +- 1, 2, 4, 8: 8 is its own opposite on 16 nodes, so degree 2*4 - 1.
  for (size_t d : degreesOf(t)) EXPECT_EQ(d, 7u);
  EXPECT_EQ(t.neighbours(0), (std::vector<uint32_t>{1, 2, 4, 8, 12, 14, 15}));
  const Topology odd = generate(kind("exponential", 10));
  expectValid(odd, 10);
  // On 10 nodes the hop 8 is the hop -2 again: i joins i +- 1, 2, 4.
  for (const Edge& e : odd.edges) {
    const uint32_t gap = std::min(e.v - e.u, 10 - (e.v - e.u));
    EXPECT_TRUE(gap == 1 || gap == 2 || gap == 4) << e.u << "-" << e.v;
  }
  for (size_t d : degreesOf(odd)) EXPECT_EQ(d, 6u);
}

TEST(Generators, RandomRegular) {
  for (uint32_t d : {2u, 3u, 5u, 8u}) {
    GenOptions o = kind("random-regular", 12);
    o.degree = d;
    o.seed = 42 + d;
    const Topology t = generate(o);
    expectValid(t, 12);
    for (size_t deg : degreesOf(t)) EXPECT_EQ(deg, d);
    EXPECT_EQ(generate(o), t) << "same seed, same graph";
  }
  GenOptions o = kind("random-regular", 20);
  o.degree = 3;
  o.seed = 1;
  const Topology a = generate(o);
  o.seed = 2;
  EXPECT_NE(generate(o), a) << "another seed, another graph";
  // The complete graph is the only 11-regular graph on 12 nodes.
  o = kind("random-regular", 12);
  o.degree = 11;
  EXPECT_EQ(generate(o).edges.size(), 66u);

  o = kind("random-regular", 7);
  o.degree = 3;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("must be even"));
  o.degree = 7;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("needs more than 7 nodes"));
  o = kind("random-regular", 8);
  o.degree = 1;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("cannot be connected"));
}

TEST(Generators, ErdosRenyi) {
  GenOptions o = kind("erdos-renyi", 30);
  o.p = 0.2;
  o.seed = 7;
  const Topology t = generate(o);
  expectValid(t, 30);
  EXPECT_EQ(generate(o), t);
  // Edge count near p * n(n-1)/2 = 87 (a connected draw; loose bounds).
  EXPECT_GT(t.edges.size(), 50u);
  EXPECT_LT(t.edges.size(), 130u);
  o.seed = 8;
  EXPECT_NE(generate(o), t);
  o.p = 1.0;
  EXPECT_EQ(generate(o).edges.size(), 435u);
  // Far below the connectivity threshold: gives up after maxTries with advice.
  o.p = 0.01;
  o.maxTries = 5;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }),
              AllOf(HasSubstr("erdos-renyi"), HasSubstr("after 5 tries"), HasSubstr("ln(n)/n")));
  o.p = 0.0;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("(0, 1]"));
}

TEST(Generators, SmallWorld) {
  GenOptions o = kind("small-world", 24);
  o.k = 4;
  o.beta = 0.0;
  // beta = 0 is the ring lattice: i joins i +- 1, i +- 2.
  Topology t = generate(o);
  expectValid(t, 24);
  EXPECT_EQ(t.neighbours(0), (std::vector<uint32_t>{1, 2, 22, 23}));
  o.beta = 0.3;
  o.seed = 5;
  t = generate(o);
  expectValid(t, 24);
  EXPECT_EQ(t.edges.size(), 48u) << "rewiring moves edges, never adds or drops them";
  EXPECT_EQ(generate(o), t);
  EXPECT_NE(t, generate(kind("small-world", 24))) << "some edges were rewired";
  o.k = 3;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("even"));
  o.k = 24;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("less than n"));
  o.k = 4;
  o.beta = 1.5;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("beta"));
}

TEST(Generators, BadKindAndSize) {
  EXPECT_THAT(inputErrorOf([] { generate(kind("tree", 4)); }),
              AllOf(HasSubstr("unknown topology kind 'tree'"), HasSubstr("hypercube")));
  EXPECT_THAT(inputErrorOf([] { generate(kind("ring", 0)); }), HasSubstr("at least 1"));
  GenOptions o = kind("torus", 10);
  o.rows = 3;
  o.cols = 3;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("does not match"));
}

TEST(HostPatterns, DefaultAndDockerStyle) {
  GenOptions o = kind("ring", 4);
  Topology t = generate(o);
  EXPECT_EQ(t.nodes[3], (NodeSpec{3, "127.0.0.1", 7003}));
  o.basePort = 9000;
  o.hostPattern = "10.1.2.3";
  EXPECT_EQ(generate(o).nodes[2], (NodeSpec{2, "10.1.2.3", 9002}));
  o.hostPattern = "node-{i}:7000";
  t = generate(o);
  EXPECT_EQ(t.nodes[0], (NodeSpec{0, "node-0", 7000}));
  EXPECT_EQ(t.nodes[3], (NodeSpec{3, "node-3", 7000}));
  o.hostPattern = "w{i}.cluster-{i}";
  EXPECT_EQ(generate(o).nodes[1], (NodeSpec{1, "w1.cluster-1", 9000}));
  o.hostPattern = "[::1]";
  EXPECT_EQ(generate(o).nodes[1], (NodeSpec{1, "::1", 9001}));
}

TEST(HostPatterns, Errors) {
  GenOptions o = kind("ring", 4);
  o.hostPattern = "10.0.0.1:7000";
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("same address"));
  o.hostPattern = "::1";
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("brackets"));
  o.hostPattern = "bad host";
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("bad host"));
  o = kind("ring", 100);
  o.basePort = 65500;
  EXPECT_THAT(inputErrorOf([&] { generate(o); }), HasSubstr("65535"));
}

}  // namespace
}  // namespace murmur::topologies
