// `murmur run`: the launcher. Writes a run directory, starts one `murmur node` process per
// topology node (this same executable), shows one live line per node by tailing their
// metrics, waits with a deadline (stragglers get SIGTERM, then SIGKILL), and prints a summary.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/error.hpp"
#include "nn/checkpoint.hpp"
#include "node/commands.hpp"
#include "node/method_params.hpp"
#include "node/metrics.hpp"
#include "node/run_support.hpp"
#include "node/util.hpp"
#include "topologies/generators.hpp"
#include "topologies/topology.hpp"

extern char** environ;

namespace murmur::node {
namespace {

struct Child {
  uint32_t id = 0;
  pid_t pid = -1;
  bool running = false;
  int exitCode = -1;  // 128 + signal when killed by a signal
  std::filesystem::path dir;
  NodeStatus status;
};

pid_t spawnNode(const std::filesystem::path& exe, const std::vector<std::string>& args,
                const std::filesystem::path& outputFile) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, outputFile.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  MURMUR_ENFORCE(rc == 0, IoError, "cannot start {}: {}", exe.string(), std::strerror(rc));
  return pid;
}

void reap(Child& c, bool block) {
  if (!c.running) return;
  int st = 0;
  const pid_t r = ::waitpid(c.pid, &st, block ? 0 : WNOHANG);
  if (r == c.pid) {
    c.running = false;
    c.exitCode = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
}

std::string statusLine(const Child& c) {
  const auto& s = c.status;
  std::string state =
      c.running ? "running" : (c.exitCode == 0 ? "done" : fmt::format("FAILED ({})", c.exitCode));
  if (!s.seen) return fmt::format("node {:>3}  {:<10} starting", c.id, state);
  return fmt::format(
      "node {:>3}  {:<10} step {:>6}/{:<6} loss {:.4f}  test acc {}  sent {:8.2f} MB  trigger "
      "{:.3f}",
      c.id, state, s.step, s.totalSteps > 0 ? std::to_string(s.totalSteps) : "?", s.loss,
      std::isnan(s.testAccuracy) ? std::string("  -   ") : fmt::format("{:.4f}", s.testAccuracy),
      static_cast<double>(s.bytesSent) / 1e6, s.triggerRate);
}

}  // namespace

int runCommand(const Config& cfgIn, const std::string& outDirArg, bool quiet) {
  installStopHandlers();
  Config cfg = cfgIn;
  // Refuse a bad method before starting anything (InputError: exit 2).
  (void)buildMethod(cfg.gossip.method, cfg.gossip.params);
  (void)redundancyOf(cfg.gossip.method, cfg.gossip.params);
  const std::filesystem::path runDir = outDirArg.empty()
                                           ? std::filesystem::path("runs") / utcTimestamp()
                                           : std::filesystem::path(outDirArg);
  std::error_code ec;
  std::filesystem::create_directories(runDir, ec);
  MURMUR_ENFORCE(!ec, IoError, "{}: cannot create run directory: {}", runDir.string(),
                 ec.message());

  topologies::Topology topo;
  if (!cfg.run.topology.empty()) {
    topo = topologies::loadTopology(cfg.run.topology);
  } else {
    topologies::GenOptions o;
    o.kind = cfg.run.graph;
    o.n = static_cast<uint32_t>(cfg.run.nodes);
    o.basePort = static_cast<uint16_t>(cfg.net.basePort);
    o.seed = cfg.train.seed;
    topo = topologies::generate(o);
  }
  const auto topoPath = runDir / "topology.txt";
  topologies::saveTopology(topoPath, topo);
  cfg.run.topology = topoPath.string();
  cfg.run.nodes = static_cast<int64_t>(topo.size());
  const auto cfgPath = runDir / "config.toml";
  writeFileAtomic(cfgPath, toToml(cfg));

  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  std::vector<Child> children(topo.size());
  fmt::print(stderr, "run {}: {} nodes ({}), method {}, {} on {}\n", runDir.string(), topo.size(),
             cfg.run.topology, cfg.gossip.method, cfg.train.model, cfg.data.name);
  for (uint32_t i = 0; i < topo.size(); ++i) {
    auto& c = children[i];
    c.id = i;
    c.dir = runDir / fmt::format("node-{}", i);
    std::filesystem::create_directories(c.dir);
    c.pid = spawnNode(exe,
                      {"node", "--config", cfgPath.string(), "--topology", topoPath.string(),
                       "--id", std::to_string(i), "--run-dir", runDir.string()},
                      c.dir / "output.txt");
    c.running = true;
  }

  const bool tty = !quiet && ::isatty(STDERR_FILENO) != 0;
  const double start = monotonicSeconds();
  const double deadline = start + cfg.run.deadlineSeconds;
  double killAt = -1;  // when SIGKILL follows the SIGTERM already sent
  double lastPlain = start;
  bool drawn = false;
  std::string stopReason;
  while (std::any_of(children.begin(), children.end(), [](const Child& c) { return c.running; })) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    for (auto& c : children) {
      reap(c, false);
      c.status = readNodeStatus(c.dir / "metrics.jsonl");
    }
    const double now = monotonicSeconds();
    if (stopReason.empty() && (stopRequested() || now > deadline)) {
      stopReason = stopRequested()
                       ? fmt::format("stopped by signal {}", stopSignal())
                       : fmt::format("deadline of {:.0f} s passed", cfg.run.deadlineSeconds);
      fmt::print(stderr, "\n{}: asking the nodes to stop\n", stopReason);
      for (auto& c : children) {
        if (c.running) ::kill(c.pid, SIGTERM);
      }
      killAt = now + 15.0;
    }
    if (killAt > 0 && now > killAt) {
      for (auto& c : children) {
        if (c.running) ::kill(c.pid, SIGKILL);
      }
      killAt = -1;
    }
    if (tty) {
      if (drawn) fmt::print(stderr, "\033[{}A", children.size());
      for (const auto& c : children) fmt::print(stderr, "\r\033[K{}\n", statusLine(c));
      drawn = true;
    } else if (!quiet && now - lastPlain >= 10.0) {
      lastPlain = now;
      for (const auto& c : children) fmt::print(stderr, "{}\n", statusLine(c));
    }
  }
  for (auto& c : children) {
    reap(c, true);
    c.status = readNodeStatus(c.dir / "metrics.jsonl");
  }

  // Summary.
  const RunSummary summary = summarize(runDir, topo.size());
  fmt::print("{}", formatSummary(summary));
  writeFileAtomic(runDir / "summary.json", summaryJson(summary));
  bool failed = false;
  for (const auto& c : children) {
    // A node that exits 128+SIGTERM after the launcher asked it to stop did what it was told.
    const bool stoppedAsAsked = !stopReason.empty() && c.exitCode == 128 + SIGTERM;
    if (c.exitCode != 0 && !stoppedAsAsked) {
      failed = true;
      fmt::print(stderr, "node {} failed (exit {}); last lines of {}:\n{}", c.id, c.exitCode,
                 (c.dir / "output.txt").string(), lastLines(c.dir / "output.txt", 8));
    }
  }
  if (!stopReason.empty()) fmt::print(stderr, "run {}\n", stopReason);
  fmt::print(stderr, "run directory: {}\n", runDir.string());
  return failed || !stopReason.empty() ? kExitRuntime : kExitOk;
}

}  // namespace murmur::node
