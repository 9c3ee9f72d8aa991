// `murmur run` end to end with a tiny configuration: two real node processes over TCP.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "node/run_support.hpp"
#include "tests/support/free_ports.hpp"

namespace murmur::node {
namespace {

namespace fs = std::filesystem;

TEST(Run, TwoNodesTrainGossipAndSummarise) {
  const auto dir = fs::temp_directory_path() / ("murmur_run_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const int port = testing::freePortBase(2);
  const std::string cmd = std::string(MURMUR_BINARY) +
                          " run --quiet --nodes 2 --graph ring --method eventgrad --steps 12"
                          " --eval-every 6 --train-limit 640 --test-limit 200 --deadline 120"
                          " --base-port " +
                          std::to_string(port) + " --out " + dir.string() + " > " +
                          (dir.string() + ".out") + " 2>&1";
  const int st = std::system(cmd.c_str());
  std::ifstream outFile(dir.string() + ".out");
  std::stringstream ss;
  ss << outFile.rdbuf();
  const std::string output = ss.str();
  ASSERT_TRUE(WIFEXITED(st)) << output;
  ASSERT_EQ(WEXITSTATUS(st), 0) << output;
  EXPECT_TRUE(fs::is_regular_file(dir / "config.toml"));
  EXPECT_TRUE(fs::is_regular_file(dir / "topology.txt"));
  EXPECT_TRUE(fs::is_regular_file(dir / "summary.json"));
  const auto summary = summarize(dir, 2);
  for (const auto& n : summary.nodes) {
    EXPECT_EQ(n.status.step, 12) << "node " << n.id;
    EXPECT_EQ(n.status.lastEvent, "final") << "node " << n.id;
    EXPECT_GT(n.status.bytesSent, 0u) << "node " << n.id;
    EXPECT_GT(n.status.updateFramesSent, 0u) << "node " << n.id;
    EXPECT_EQ(n.status.degree, 1u);
    EXPECT_TRUE(n.haveCheckpoint) << "node " << n.id;
    EXPECT_TRUE(fs::is_regular_file(dir / ("node-" + std::to_string(n.id)) / "log.txt"));
  }
  EXPECT_GT(summary.dpsgdBytes, 0u);
  EXPECT_GE(summary.consensusDistance, 0.0);
  EXPECT_NE(output.find("mean test accuracy"), std::string::npos) << output;

  // The report reads the run directory back.
  const std::string report = std::string(MURMUR_BINARY) + " report " + dir.string() + " --out " +
                             (dir / "report").string() + " > /dev/null 2>&1";
  const int rst = std::system(report.c_str());
  ASSERT_TRUE(WIFEXITED(rst));
  EXPECT_EQ(WEXITSTATUS(rst), 0);
  std::ifstream md(dir / "report" / "report.md");
  std::stringstream mds;
  mds << md.rdbuf();
  EXPECT_NE(mds.str().find("| eventgrad | 2 | 12 |"), std::string::npos) << mds.str();
  fs::remove_all(dir);
  fs::remove(dir.string() + ".out");
}

// Four node processes over loopback TCP, scheduled however the kernel likes: with lockstep the
// same seed gives the same models, bit for bit, in every node's checkpoint.
TEST(Run, LockstepRunsRepeatBitForBit) {
  const auto base =
      fs::temp_directory_path() / ("murmur_run_lockstep_" + std::to_string(::getpid()));
  fs::remove_all(base);
  std::vector<std::string> checkpoints[2];
  for (int r = 0; r < 2; ++r) {
    const auto dir = base / std::to_string(r);
    fs::create_directories(base);
    const int port = testing::freePortBase(4);
    const std::string cmd =
        std::string(MURMUR_BINARY) +
        " run --quiet --nodes 4 --graph ring --method eventgrad --steps 40 --eval-every 20"
        " --train-limit 1280 --test-limit 100 --deadline 120 --seed 7"
        " --param lockstep=true --param scale=2 --param public_mix=true --param warmup=5"
        " --base-port " +
        std::to_string(port) + " --out " + dir.string() + " > " + (dir.string() + ".out") + " 2>&1";
    const int st = std::system(cmd.c_str());
    std::ifstream outFile(dir.string() + ".out");
    std::stringstream out;
    out << outFile.rdbuf();
    ASSERT_TRUE(WIFEXITED(st)) << out.str();
    ASSERT_EQ(WEXITSTATUS(st), 0) << out.str();
    for (int n = 0; n < 4; ++n) {
      const auto nodeDir = dir / ("node-" + std::to_string(n));
      std::ifstream ck(nodeDir / "checkpoint.bin", std::ios::binary);
      std::stringstream bytes;
      bytes << ck.rdbuf();
      ASSERT_FALSE(bytes.str().empty()) << "node " << n << " wrote no checkpoint";
      checkpoints[r].push_back(bytes.str());
      const auto status = readNodeStatus(nodeDir / "metrics.jsonl");
      EXPECT_EQ(status.step, 40) << "node " << n;
    }
    // No wait ran into its deadline: the run was lock-step all along, as the promise requires.
    std::ifstream metrics(dir / "node-0" / "metrics.jsonl");
    std::stringstream m;
    m << metrics.rdbuf();
    EXPECT_NE(m.str().find("\"lockstep_timeouts\":0"), std::string::npos);
  }
  for (int n = 0; n < 4; ++n) {
    EXPECT_TRUE(checkpoints[0][static_cast<size_t>(n)] == checkpoints[1][static_cast<size_t>(n)])
        << "node " << n << ": the two runs' checkpoints differ";
  }
  fs::remove_all(base);
}

TEST(Run, DeadlineStopsNodesWhichSaveAndSayWhy) {
  const auto dir =
      fs::temp_directory_path() / ("murmur_run_deadline_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const int port = testing::freePortBase(2);
  // A small learning rate: a thousand steps on 640 images at the default 0.05 could in principle
  // diverge, and a node that stops on a NaN loss is not what this test is about.
  const std::string cmd = std::string(MURMUR_BINARY) +
                          " run --quiet --nodes 2 --steps 1000000 --eval-every 1000000 --lr 0.01"
                          " --train-limit 640 --test-limit 100 --deadline 6 --base-port " +
                          std::to_string(port) + " --out " + dir.string() + " > " +
                          (dir.string() + ".out") + " 2>&1";
  const int st = std::system(cmd.c_str());
  std::stringstream output;
  output << std::ifstream(dir.string() + ".out").rdbuf();
  for (int i = 0; i < 2; ++i) {  // the nodes' own logs, to say why if a node did not stop well
    output << "\n--- node " << i << " log ---\n"
           << std::ifstream(dir / ("node-" + std::to_string(i)) / "log.txt").rdbuf();
  }
  ASSERT_TRUE(WIFEXITED(st)) << output.str();
  EXPECT_EQ(WEXITSTATUS(st), 1) << output.str();  // the run did not finish
  const auto summary = summarize(dir, 2);
  for (const auto& n : summary.nodes) {
    EXPECT_EQ(n.status.lastEvent, "stopped") << "node " << n.id << "\n" << output.str();
    EXPECT_TRUE(n.haveCheckpoint) << "node " << n.id;
  }
  fs::remove(dir.string() + ".out");
  fs::remove_all(dir);
}

TEST(RunSupport, JsonNumberReadsTopLevelNumbers) {
  const std::string line =
      R"({"event":"eval","step":12,"loss":0.5,"test_accuracy":null,"x":-1e-3})";
  EXPECT_EQ(jsonNumber(line, "step"), 12.0);
  EXPECT_EQ(jsonNumber(line, "loss"), 0.5);
  EXPECT_EQ(jsonNumber(line, "x"), -1e-3);
  EXPECT_FALSE(jsonNumber(line, "test_accuracy").has_value());
  EXPECT_FALSE(jsonNumber(line, "missing").has_value());
}

TEST(RunSupport, NodeStatusIgnoresAHalfWrittenLastLine) {
  const auto path = fs::temp_directory_path() / ("murmur_status_" + std::to_string(::getpid()));
  std::ofstream(path) << "{\"event\":\"eval\",\"step\":5,\"test_accuracy\":0.5}\n{\"event\":\"tr";
  const auto s = readNodeStatus(path);
  EXPECT_TRUE(s.seen);
  EXPECT_EQ(s.step, 5);
  EXPECT_EQ(s.testAccuracy, 0.5);
  EXPECT_EQ(s.lastEvent, "eval");
  fs::remove(path);
}

}  // namespace
}  // namespace murmur::node
