#pragma once
// A base port with `count` consecutive TCP ports free on 127.0.0.1 right now, for tests that
// must put fixed ports in a topology (`murmur run --base-port`). Probing beats a port derived
// from the pid: ctest -j runs suites side by side and experiments may hold ports of their own.
// Chosen below the kernel's ephemeral range (32768+) so outgoing connections do not take them.
// A port can still be taken between the probe and its use; the window is short.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <stdexcept>
#include <vector>

namespace murmur::testing {

inline bool portFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

inline int freePortBase(int count) {
  std::random_device rd;
  std::uniform_int_distribution<int> pick(10000, 32000 - count);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(rd);
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = portFree(base + i);
    if (all) return base;
  }
  throw std::runtime_error("no run of free ports found on 127.0.0.1 in 200 attempts");
}

}  // namespace murmur::testing
