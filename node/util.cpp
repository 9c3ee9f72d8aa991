#include "node/util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/error.hpp"

namespace murmur::node {
namespace {
std::atomic<int> gStopSignal{0};

extern "C" void onStopSignal(int sig) { gStopSignal.store(sig, std::memory_order_relaxed); }
}  // namespace

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MURMUR_ENFORCE(in.good(), IoError, "{}: cannot open", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void installStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and loops notice the flag
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stopRequested() { return gStopSignal.load(std::memory_order_relaxed) != 0; }
int stopSignal() { return gStopSignal.load(std::memory_order_relaxed); }
void requestStop(int signal) { gStopSignal.store(signal, std::memory_order_relaxed); }

double monotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string utcTimestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace murmur::node
