// The real `murmur` executable: exit codes, one-line errors, output files.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "node/config.hpp"
#include "node/run_support.hpp"

namespace murmur::node {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string output;  // stdout + stderr
};

fs::path scratch(const std::string& name) {
  auto p = fs::temp_directory_path() / ("murmur_cli_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}

Result murmur(const std::string& args) {
  const auto out = scratch("out.txt");
  const std::string cmd = std::string(MURMUR_BINARY) + " " + args + " > " + out.string() + " 2>&1";
  const int st = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

std::string readAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Cli, HelpExitsZero) {
  const auto r = murmur("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("train"), std::string::npos);
  EXPECT_EQ(murmur("train --help").code, 0);
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  auto r = murmur("train --bogus");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--bogus"), std::string::npos) << r.output;
  r = murmur("train --lr -1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("optim.lr"), std::string::npos) << r.output;
  r = murmur("train --batch many");
  EXPECT_EQ(r.code, 2) << r.output;
  r = murmur("");
  EXPECT_EQ(r.code, 2) << r.output;
  r = murmur("train --config /nonexistent/x.toml");
  EXPECT_EQ(r.code, 2) << r.output;
  r = murmur("train --model vgg16 --steps 1 --train-limit 64 --test-limit 10");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("vgg16"), std::string::npos) << r.output;
  r = murmur("train --data-dir /nonexistent/fm --steps 1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/fm"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(Cli, BadConfigFileNamesFileAndKey) {
  const auto cfg = scratch("bad.toml");
  std::ofstream(cfg) << "[train]\nepochs = 1\nbach = 32\n";
  const auto r = murmur("train --config " + cfg.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(cfg.string() + ":3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bach"), std::string::npos) << r.output;
}

TEST(Cli, TrainWritesMetricsCheckpointAndConfigAndFlagsOverrideTheFile) {
  const auto cfgFile = scratch("train.toml");
  std::ofstream(cfgFile) << "[train]\nsteps = 100\nbatch = 32\n[optim]\nlr = 0.02\n";
  const auto out = scratch("train-out");
  const auto r =
      murmur("train --config " + cfgFile.string() +
             " --steps 6 --train-limit 320 --test-limit 100 --threads 1 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::is_regular_file(out / "checkpoint.bin"));
  Config written;
  loadConfigFile((out / "config.toml").string(), written);
  EXPECT_EQ(written.train.steps, 6);         // the flag won
  EXPECT_EQ(written.train.batch, 32);        // the file's value
  EXPECT_DOUBLE_EQ(written.optim.lr, 0.02);  // the file's value
  const auto metrics = readAll(out / "metrics.jsonl");
  EXPECT_NE(metrics.find("\"event\":\"eval\""), std::string::npos) << metrics;
  const auto status = readNodeStatus(out / "metrics.jsonl");
  EXPECT_EQ(status.step, 6);
  EXPECT_GE(status.testAccuracy, 0.0);
  EXPECT_LE(status.testAccuracy, 1.0);

  // Resuming the finished run: nothing left to train, exits 0 and reports the accuracy.
  const auto again = murmur("train --config " + cfgFile.string() +
                            " --steps 6 --train-limit 320 --test-limit 100 --resume " +
                            (out / "checkpoint.bin").string());
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("final test accuracy"), std::string::npos) << again.output;
}

TEST(Cli, TopoGenAndInfo) {
  const auto file = scratch("ring.txt");
  auto r = murmur("topo gen ring --nodes 5 --out " + file.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = murmur("topo info " + file.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("nodes:         5"), std::string::npos) << r.output;
  EXPECT_EQ(murmur("topo gen ring --nodes 0").code, 2);
  EXPECT_EQ(murmur("topo info /nonexistent/topo.txt").code, 1);
}

}  // namespace
}  // namespace murmur::node

namespace murmur::node {
namespace {

// `murmur node` reads its fault scenario and cluster secret before it opens a socket: a broken
// scenario or a too-short secret stops it with a one-line error naming the file.
TEST(Cli, NodeRefusesBadFaultScenarioAndShortSecret) {
  const auto topo = scratch("pair.topo");
  ASSERT_EQ(murmur("topo gen ring --nodes 2 --base-port 47950 --out " + topo.string()).code, 0);
  const auto faults = scratch("bad.faults");
  std::ofstream(faults) << "link * drop=0.1\nlink 0->1 delay=fast\n";
  const std::string common = "node --topology " + topo.string() +
                             " --id 0 --steps 1 --train-limit 256 --test-limit 64 --run-dir " +
                             scratch("run").string();
  auto r = murmur(common + " --faults " + faults.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(faults.string() + ":2"), std::string::npos) << r.output;

  const auto secret = scratch("short.secret");
  std::ofstream(secret) << "tiny";
  r = murmur(common + " --secret-file " + secret.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("secret"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace murmur::node
