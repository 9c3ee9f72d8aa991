#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "tests/support/mutate_text.hpp"
#include "topologies/generators.hpp"
#include "topologies/topology.hpp"

namespace murmur::topologies {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The InputError message thrown by fn ("" when it does not throw one).
std::string inputErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string parseError(const std::string& text) {
  return inputErrorOf([&] { parseTopology(text, "t.topo"); });
}

std::string edgeListError(const std::string& edges, const std::string& hosts) {
  return inputErrorOf([&] { parseEdgeList(edges, "g.edges", hosts, "g.hosts"); });
}

const char* kTriangle =
    "# a triangle\n"
    "cluster demo   # the id\n"
    "\n"
    "node 0 127.0.0.1:7000\n"
    "node 2 10.0.0.3:7002\n"
    "node 1 host-b.example:7001   # trailing comment\n"
    "edge 2 1\n"
    "edge 0 1\n"
    "\tedge  0   2 \r\n";

TEST(ParseTopology, ReadsNodesEdgesAndComments) {
  const Topology t = parseTopology(kTriangle, "t.topo");
  EXPECT_EQ(t.clusterId, "demo");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t.nodes[0], (NodeSpec{0, "127.0.0.1", 7000}));
  EXPECT_EQ(t.nodes[1], (NodeSpec{1, "host-b.example", 7001}));
  EXPECT_EQ(t.nodes[2], (NodeSpec{2, "10.0.0.3", 7002}));
  // Canonical: u < v, sorted.
  ASSERT_EQ(t.edges.size(), 3u);
  EXPECT_EQ(t.edges[0], (Edge{0, 1, std::nullopt}));
  EXPECT_EQ(t.edges[1], (Edge{0, 2, std::nullopt}));
  EXPECT_EQ(t.edges[2], (Edge{1, 2, std::nullopt}));
  EXPECT_EQ(t.neighbours(1), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(t.degree(2), 2u);
  EXPECT_FALSE(t.hasWeights());
  EXPECT_NE(t.findEdge(2, 1), nullptr);
}

TEST(ParseTopology, ReadsWeightsAndIpv6) {
  const Topology t = parseTopology(
      "node 0 [::1]:7000\nnode 1 [fe80::2]:7001\nnode 2 127.0.0.1:7002\n"
      "edge 0 1 0.25\nedge 1 2 0.5\n",
      "w.topo");
  ASSERT_TRUE(t.hasWeights());
  EXPECT_DOUBLE_EQ(*t.findEdge(1, 0)->weight, 0.25);
  EXPECT_DOUBLE_EQ(*t.findEdge(2, 1)->weight, 0.5);
  EXPECT_EQ(t.nodes[0].host, "::1");
  EXPECT_EQ(t.nodes[0].address(), "[::1]:7000");
  EXPECT_TRUE(t.clusterId.empty());
}

TEST(ParseTopology, SingleNodeNeedsNoEdges) {
  const Topology t = parseTopology("node 0 127.0.0.1:7000\n", "one.topo");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.edges.empty());
}

TEST(ParseTopology, FormatRoundTrips) {
  Topology t = parseTopology(kTriangle, "t.topo");
  EXPECT_EQ(parseTopology(formatTopology(t), "again"), t);
  t = parseTopology(
      "cluster w\nnode 0 [::1]:7000\nnode 1 a:1\nnode 2 b:2\n"
      "edge 0 1 0.1\nedge 1 2 0.3333333333333333\n",
      "w.topo");
  EXPECT_EQ(parseTopology(formatTopology(t), "again"), t);
  GenOptions o;
  o.kind = "small-world";
  o.n = 20;
  o.seed = 9;
  t = generate(o);
  EXPECT_EQ(parseTopology(formatTopology(t), "again"), t);
}

// Each broken file: the message names the file, the line and the problem.
TEST(ParseTopologyErrors, UnknownNodeInEdge) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1\nedge 1 5\n"),
              AllOf(HasSubstr("t.topo:4:"), HasSubstr("unknown node 5"), HasSubstr("0..1")));
}

TEST(ParseTopologyErrors, IdsNotZeroToNMinusOne) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nnode 3 a:3\nedge 0 1\nedge 1 3\n"),
              AllOf(HasSubstr("t.topo:3:"), HasSubstr("node id 3 is out of range"),
                    HasSubstr("id 2 is missing")));
}

TEST(ParseTopologyErrors, SelfLoop) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1\nedge 1 1\n"),
              AllOf(HasSubstr("t.topo:4:"), HasSubstr("self-loop")));
}

TEST(ParseTopologyErrors, DuplicateEdgeEitherDirection) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1\n\nedge 1 0\n"),
              AllOf(HasSubstr("t.topo:5:"), HasSubstr("duplicate edge 1 0"), HasSubstr("line 3")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1\nedge 0 1\n"),
              AllOf(HasSubstr("t.topo:4:"), HasSubstr("duplicate edge")));
}

TEST(ParseTopologyErrors, DuplicateNode) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nnode 1 a:3\nedge 0 1\n"),
              AllOf(HasSubstr("t.topo:3:"), HasSubstr("duplicate node 1"), HasSubstr("line 2")));
}

TEST(ParseTopologyErrors, DuplicateAddress) {
  EXPECT_THAT(parseError("node 0 h:7000\nnode 1 h:7000\nedge 0 1\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("h:7000"), HasSubstr("node 0")));
}

TEST(ParseTopologyErrors, BadHostPort) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 hostonly\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("hostonly"), HasSubstr("HOST:PORT")));
  EXPECT_THAT(parseError("node 0 a:70000\n"),
              AllOf(HasSubstr("t.topo:1:"), HasSubstr("port '70000'")));
  EXPECT_THAT(parseError("node 0 a:0\n"), AllOf(HasSubstr("t.topo:1:"), HasSubstr("port '0'")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 bad/host:7\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("bad/host")));
  EXPECT_THAT(parseError("node 0 :7000\n"), AllOf(HasSubstr("t.topo:1:"), HasSubstr("host")));
  EXPECT_THAT(parseError("node 0 [::1:7000\n"), AllOf(HasSubstr("t.topo:1:"), HasSubstr("IPv6")));
}

TEST(ParseTopologyErrors, BadWeights) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1 abc\n"),
              AllOf(HasSubstr("t.topo:3:"), HasSubstr("'abc' is not a number")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0 1 1.5\n"),
              AllOf(HasSubstr("t.topo:3:"), HasSubstr("(0, 1]")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nnode 2 a:3\nedge 0 1 0.5\nedge 1 2\n"),
              AllOf(HasSubstr("t.topo:5:"), HasSubstr("no weight"), HasSubstr("line 4")));
  // Node 1's weights sum past 1, which would leave it a negative self weight.
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nnode 2 a:3\nedge 0 1 0.6\nedge 1 2 0.6\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("node 1"), HasSubstr("sum to 1.2")));
}

TEST(ParseTopologyErrors, Disconnected) {
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nnode 2 a:3\nnode 3 a:4\nnode 4 a:5\n"
                         "edge 0 1\nedge 1 2\nedge 3 4\n"),
              AllOf(HasSubstr("t.topo"), HasSubstr("not connected"), HasSubstr("{0-2}"),
                    HasSubstr("{3-4}"), HasSubstr("node 3 cannot reach node 0")));
}

TEST(ParseTopologyErrors, SyntaxProblems) {
  EXPECT_THAT(parseError("node 0 a:1\nvertex 1 a:2\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("unknown keyword 'vertex'")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("node ID HOST:PORT")));
  EXPECT_THAT(parseError("node 0 a:1\nnode 1 a:2\nedge 0\n"),
              AllOf(HasSubstr("t.topo:3:"), HasSubstr("edge U V [WEIGHT]")));
  EXPECT_THAT(parseError("node -1 a:1\n"),
              AllOf(HasSubstr("t.topo:1:"), HasSubstr("'-1' is not a node id")));
  EXPECT_THAT(parseError("cluster a\ncluster b\nnode 0 a:1\n"),
              AllOf(HasSubstr("t.topo:2:"), HasSubstr("second cluster line")));
  EXPECT_THAT(parseError("# nothing\n\n"), HasSubstr("empty"));
  EXPECT_THAT(parseError("cluster only\n"), HasSubstr("no nodes"));
  EXPECT_THAT(parseError("hello world\n"),
              AllOf(HasSubstr("t.topo:1:"), HasSubstr("cannot tell the file format")));
}

TEST(ParseEdgeList, NetworkxStyleWithHosts) {
  // networkx write_edgelist(data=True) and write_weighted_edgelist.
  const Topology t = parseEdgeList("0 1 {'weight': 0.25}\n1 2 {\"weight\": 0.5}\n0 2 0.125\n",
                                   "g.edges", "a:1\nb:2\n# comment\nc:3\n", "g.hosts");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t.nodes[2], (NodeSpec{2, "c", 3}));
  EXPECT_DOUBLE_EQ(*t.findEdge(0, 1)->weight, 0.25);
  EXPECT_DOUBLE_EQ(*t.findEdge(1, 2)->weight, 0.5);
  EXPECT_DOUBLE_EQ(*t.findEdge(0, 2)->weight, 0.125);
  const Topology plain = parseEdgeList("0 1 {}\n1 2 {}\n", "g.edges");
  EXPECT_FALSE(plain.hasWeights());
}

TEST(ParseEdgeList, DecentralizepyCountLineAndBothDirections) {
  // decentralizepy writes the node count first and every edge from both ends.
  const Topology t = parseEdgeList("4\n0 1\n0 3\n1 0\n1 2\n2 1\n2 3\n3 2\n3 0\n", "r.edges");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t.edges.size(), 4u);
  EXPECT_EQ(t.nodes[3], (NodeSpec{3, "127.0.0.1", 7003}));
  EXPECT_EQ(t.neighbours(0), (std::vector<uint32_t>{1, 3}));
}

TEST(ParseEdgeList, SniffedByParseTopology) {
  const Topology t = parseTopology("# edge list\n0 1\n1 2\n", "x.txt");
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.edges.size(), 2u);
}

TEST(ParseEdgeList, ExportRoundTrips) {
  GenOptions o;
  o.kind = "erdos-renyi";
  o.n = 12;
  o.p = 0.4;
  o.hostPattern = "h{i}:9";
  const Topology t = generate(o);
  EXPECT_EQ(parseEdgeList(formatEdgeList(t), "e", formatHosts(t), "h"), t);
  EXPECT_EQ(parseEdgeList(formatEdgeList(t, false), "e", formatHosts(t), "h"), t);
  const Topology w = parseTopology(kTriangle, "t.topo");
  Topology weighted = w;
  for (Edge& e : weighted.edges) e.weight = 0.125 * (e.u + 1);
  weighted.clusterId.clear();
  EXPECT_EQ(parseEdgeList(formatEdgeList(weighted), "e", formatHosts(weighted), "h"), weighted);
  EXPECT_EQ(formatEdgeList(weighted), "3\n0 1 0.125\n0 2 0.125\n1 2 0.25\n");
}

TEST(ParseEdgeListErrors, AsymmetricWeights) {
  EXPECT_THAT(edgeListError("0 1 0.25\n1 2 0.5\n1 0 0.5\n", "a:1\na:2\na:3\n"),
              AllOf(HasSubstr("g.edges:3:"), HasSubstr("asymmetric"), HasSubstr("line 1")));
  EXPECT_THAT(edgeListError("0 1 0.25\n1 0\n", "a:1\na:2\n"),
              AllOf(HasSubstr("g.edges:2:"), HasSubstr("asymmetric")));
}

TEST(ParseEdgeListErrors, EdgeProblems) {
  EXPECT_THAT(edgeListError("0 1\n1 2\n0 1\n", "a:1\na:2\na:3\n"),
              AllOf(HasSubstr("g.edges:3:"), HasSubstr("duplicate edge 0 1"), HasSubstr("line 1")));
  EXPECT_THAT(edgeListError("0 1\n1 1\n", "a:1\na:2\n"),
              AllOf(HasSubstr("g.edges:2:"), HasSubstr("self-loop")));
  EXPECT_THAT(edgeListError("3\n0 1\n1 2\n2 7\n", "a:1\na:2\na:3\n"),
              AllOf(HasSubstr("g.edges:4:"), HasSubstr("unknown node 7"),
                    HasSubstr("line 1 declares 3 nodes")));
  EXPECT_THAT(edgeListError("0 1\n1 2\n2\n", "a:1\na:2\na:3\n"),
              AllOf(HasSubstr("g.edges:3:"), HasSubstr("only the first line")));
  EXPECT_THAT(edgeListError("0 1\n1 x\n", "a:1\na:2\n"),
              AllOf(HasSubstr("g.edges:2:"), HasSubstr("'x' is not a node id")));
}

TEST(ParseEdgeListErrors, HostsProblems) {
  EXPECT_THAT(edgeListError("0 1\n1 2\n", "a:1\na:2\n"),
              AllOf(HasSubstr("node 2"), HasSubstr("only 2 addresses")));
  EXPECT_THAT(edgeListError("3\n0 1\n1 2\n", "a:1\na:2\n"),
              AllOf(HasSubstr("g.hosts"), HasSubstr("2 addresses"), HasSubstr("g.edges:1")));
  EXPECT_THAT(edgeListError("0 1\n1 2\n", "a:1\n\na:2\nbad\n"),
              AllOf(HasSubstr("g.hosts:4:"), HasSubstr("'bad'")));
  EXPECT_THAT(edgeListError("0 1\n1 2\n", "a:1\na:2\n# x\na:1\n"),
              AllOf(HasSubstr("g.hosts:4:"), HasSubstr("a:1"), HasSubstr("node 0 at line 1")));
  // More hosts than the edges reach: node 3 is isolated.
  EXPECT_THAT(edgeListError("0 1\n1 2\n", "a:1\na:2\na:3\na:4\n"),
              AllOf(HasSubstr("not connected"), HasSubstr("{3}")));
}

TEST(Validate, AcceptsCanonicalRejectsOthers) {
  Topology t = parseTopology(kTriangle, "t.topo");
  EXPECT_NO_THROW(validate(t, "mine"));
  Topology swapped = t;
  std::swap(swapped.edges[0].u, swapped.edges[0].v);
  EXPECT_THAT(inputErrorOf([&] { validate(swapped, "mine"); }),
              AllOf(HasSubstr("mine"), HasSubstr("u < v")));
  Topology loop = t;
  loop.edges.push_back(Edge{2, 2, std::nullopt});
  EXPECT_THAT(inputErrorOf([&] { validate(loop, "mine"); }), HasSubstr("self-loop"));
  Topology twice = t;
  twice.nodes[2].id = 1;
  const std::string twiceError = inputErrorOf([&] { validate(twice, "mine"); });
  EXPECT_THAT(twiceError, HasSubstr("mine: duplicate node 1"));
  EXPECT_THAT(twiceError, ::testing::Not(HasSubstr("line")));
  Topology noAddress = t;
  noAddress.nodes[1].port = 0;
  EXPECT_THAT(inputErrorOf([&] { validate(noAddress, "mine"); }), HasSubstr("no address"));
}

TEST(Topology, UnknownIdThrows) {
  const Topology t = parseTopology(kTriangle, "t.topo");
  EXPECT_THAT(inputErrorOf([&] { (void)t.neighbours(3); }), HasSubstr("no node 3"));
  EXPECT_THAT(inputErrorOf([&] { (void)t.node(9); }), HasSubstr("no node 9"));
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("murmur-topo-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(TempDir, SaveAndLoadFiles) {
  const Topology t = parseTopology(kTriangle, "t.topo");
  const auto path = dir_ / "saved.topo";
  saveTopology(path, t);
  EXPECT_EQ(loadTopology(path), t);
  // Overwrites atomically, leaves no temp file behind.
  saveTopology(path, t);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);

  write("g.edges", "3\n0 1\n1 2\n");
  write("g.hosts", "x:1\ny:2\nz:3\n");
  const Topology fromList = loadEdgeList(dir_ / "g.edges", dir_ / "g.hosts");
  EXPECT_EQ(fromList.nodes[1], (NodeSpec{1, "y", 2}));
  EXPECT_EQ(loadTopology(dir_ / "g.edges", dir_ / "g.hosts"), fromList);
  EXPECT_EQ(loadTopology(dir_ / "g.edges").nodes[2], (NodeSpec{2, "127.0.0.1", 7002}));
}

TEST_F(TempDir, FileErrorsNameThePath) {
  write("bad.topo", "node 0 a:1\nnode 1 a:2\nedge 0 3\n");
  EXPECT_THAT(inputErrorOf([&] { loadTopology(dir_ / "bad.topo"); }),
              HasSubstr((dir_ / "bad.topo").string() + ":3:"));
  EXPECT_THROW(loadTopology(dir_ / "missing.topo"), IoError);
  EXPECT_THROW(saveTopology(dir_ / "no-such-dir" / "x.topo", Topology{}), IoError);
}

TEST(Examples, ShippedFilesLoad) {
  const char* root = std::getenv("MURMUR_SOURCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(root ? root : MURMUR_TOPO_SOURCE_DIR) / "topologies" / "examples";
  ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
  size_t loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".topo") continue;
    const Topology t = loadTopology(entry.path());
    EXPECT_GE(t.size(), 1u) << entry.path();
    EXPECT_EQ(parseTopology(formatTopology(t), "again"), t) << entry.path();
    ++loaded;
  }
  EXPECT_GE(loaded, 3u);
  const Topology cube = loadTopology(dir / "docker8-hypercube.topo");
  EXPECT_EQ(cube.nodes[5], (NodeSpec{5, "node-5", 7000}));
  GenOptions o;
  o.kind = "hypercube";
  o.n = 8;
  o.hostPattern = "node-{i}:7000";
  o.clusterId = "cube8";
  EXPECT_EQ(cube, generate(o));
  const Topology ring6 = loadEdgeList(dir / "ring6.edges", dir / "ring6.hosts");
  EXPECT_EQ(ring6.size(), 6u);
  EXPECT_EQ(ring6.edges.size(), 6u);
  EXPECT_EQ(ring6.nodes[5].port, 7205);
}

std::string readText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Hostile input: thousands of random edits of the shipped files either parse (into a topology
// that validates) or fail with an InputError naming the source. Nothing else may escape: no
// std::out_of_range from a number conversion, no crash.
TEST(ParseHostile, MutatedFilesParseOrFailWithAnInputErrorNamingTheSource) {
  const char* root = std::getenv("MURMUR_SOURCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(root ? root : MURMUR_TOPO_SOURCE_DIR) / "topologies" / "examples";
  const std::string edges = readText(dir / "ring6.edges");
  const std::string hosts = readText(dir / "ring6.hosts");
  const std::vector<std::string> files = {readText(dir / "star5-weighted.topo"),
                                          readText(dir / "docker8-hypercube.topo"), edges};
  std::mt19937 rng(2026);
  size_t accepted = 0;
  size_t rejected = 0;
  auto attempt = [&](const std::function<Topology()>& parse, const std::string& source,
                     const std::string& text) {
    try {
      validate(parse(), "again");
      ++accepted;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(source)) << "input:\n" << text;
      ++rejected;
    }
  };
  for (int i = 0; i < 10000; ++i) {
    for (const auto& base : files) {
      const std::string text = testsupport::mutateText(base, rng);
      attempt([&] { return parseTopology(text, "mut.topo"); }, "mut.topo", text);
    }
    const std::string badHosts = testsupport::mutateText(hosts, rng);
    attempt([&] { return parseEdgeList(edges, "ok.edges", badHosts, "mut.hosts"); }, "mut.hosts",
            badHosts);
  }
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(rejected, 1000u);
}

}  // namespace
}  // namespace murmur::topologies
