// Two TcpTransport nodes on loopback: dense tensor-update throughput (payload bytes/s of
// 1M-float updates, pipelined 8 deep) and the round-trip time of a small message, each with
// and without a cluster secret (MACs on every frame). The throughput case also reports the
// process's CPU time per update (cpu_ms_per_update, all threads), which separates the
// transport's cost from where a busy scheduler happened to put its threads.
//   build-*/bench/loopback_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench/bench_main.hpp"
#include "net/tcp_transport.hpp"

namespace {

using namespace std::chrono_literals;
using murmur::Envelope;
using murmur::NodeId;
using murmur::PeerEvent;
using murmur::net::TcpTransport;
using murmur::net::TcpTransportConfig;

// CPU seconds of the whole process (every thread: both nodes' I/O threads and this one),
// user + system. Wall-clock throughput on a shared 2-core machine depends on where the
// scheduler puts the threads; CPU per byte does not, so both are reported.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Pair {
  std::unique_ptr<TcpTransport> a;
  std::unique_ptr<TcpTransport> b;
  std::vector<Envelope> msgs;
  std::vector<PeerEvent> evs;

  explicit Pair(bool secret) {
    auto cfg = [&](NodeId self, NodeId peer, uint16_t port) {
      TcpTransportConfig c;
      c.self = self;
      c.neighbours.push_back({peer, "127.0.0.1", port});
      c.clusterId = "bench";
      if (secret) c.secret = "benchmark secret, not a real one";
      c.maxQueuedBytesPerPeer = size_t{256} << 20;
      c.heartbeatInterval = 500ms;
      c.peerTimeout = 10s;
      return c;
    };
    b = std::make_unique<TcpTransport>(cfg(1, 0, 0));
    a = std::make_unique<TcpTransport>(cfg(0, 1, b->port()));
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!(a->isUp(1) && b->isUp(0))) {
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("nodes did not connect");
      a->poll(msgs, evs, 5ms);
      b->poll(msgs, evs, 5ms);
    }
  }

  // Waits for `n` messages of type T on `t`, ignoring heartbeats. With `keep`, the received
  // TensorUpdates' value buffers are moved there for reuse.
  template <typename T>
  void receive(TcpTransport& t, size_t n, std::vector<std::vector<float>>* keep = nullptr) {
    size_t got = 0;
    while (got < n) {
      msgs.clear();
      t.poll(msgs, evs, 1000ms);
      for (auto& m : msgs) {
        if (auto* x = std::get_if<T>(&m.message)) {
          ++got;
          if constexpr (std::is_same_v<T, murmur::TensorUpdate>) {
            if (keep != nullptr) keep->push_back(std::move(x->values));
          }
        }
      }
      if (!evs.empty()) {
        for (const auto& e : evs) {
          if (e.kind == PeerEvent::Kind::kDown) throw std::runtime_error("edge down: " + e.reason);
        }
        evs.clear();
      }
    }
  }
};

// The sender moves each update into send(), as algo/gossip.cpp does with the delta it has just
// computed; copying a 4 MB update into send() would add the trainer's own work (an allocation
// and a 4 MB copy per update) to the transport's bill. The value buffers come from the
// receiver's decoded updates (same size and values), so the loop allocates nothing itself.
void BM_DenseUpdateThroughput(benchmark::State& state) {
  const bool secret = state.range(0) != 0;
  const size_t floats = 1 << 20;
  const size_t depth = 8;
  Pair p(secret);
  std::vector<std::vector<float>> buffers(depth, std::vector<float>(floats, 0.5f));
  const std::vector<NodeId> to{1};
  uint64_t seq = 0;
  const double cpu0 = processCpuSeconds();
  for (auto _ : state) {
    for (size_t i = 0; i < depth; ++i) {
      murmur::TensorUpdate u;
      u.tensor = 0;
      u.seq = ++seq;
      u.values = std::move(buffers.back());
      buffers.pop_back();
      p.a->send(to, murmur::Message(std::move(u)));
    }
    p.receive<murmur::TensorUpdate>(*p.b, depth, &buffers);
    if (buffers.size() != depth || buffers.front().size() != floats) {
      state.SkipWithError("received updates of the wrong size");
      break;
    }
  }
  const double bytes = static_cast<double>(state.iterations() * depth * floats * sizeof(float));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  // Process CPU milliseconds per 4 MB update, all threads: the cost that 2 cores must cover.
  state.counters["cpu_ms_per_update"] =
      (processCpuSeconds() - cpu0) * 1e3 / static_cast<double>(state.iterations() * depth);
  state.SetLabel(secret ? "HMAC-SHA256 frames" : "open cluster");
}
BENCHMARK(BM_DenseUpdateThroughput)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SmallMessageRoundTrip(benchmark::State& state) {
  const bool secret = state.range(0) != 0;
  Pair p(secret);
  const std::vector<NodeId> toB{1};
  const std::vector<NodeId> toA{0};
  murmur::KeyframeRequest ping{3, "ping"};
  for (auto _ : state) {
    p.a->send(toB, ping);
    p.receive<murmur::KeyframeRequest>(*p.b, 1);
    p.b->send(toA, ping);
    p.receive<murmur::KeyframeRequest>(*p.a, 1);
  }
  state.SetLabel(secret ? "HMAC-SHA256 frames" : "open cluster");
}
BENCHMARK(BM_SmallMessageRoundTrip)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return murmur::bench::benchMain(argc, argv); }
