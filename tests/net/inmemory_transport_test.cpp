#include "net/inmemory_transport.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

#include "common/error.hpp"
#include "net/codec.hpp"
#include "net/framing.hpp"

namespace murmur::net {
namespace {

using namespace std::chrono_literals;

std::vector<std::vector<NodeId>> ring(size_t n) {
  std::vector<std::vector<NodeId>> adj(n);
  for (size_t i = 0; i < n; ++i) {
    adj[i] = {static_cast<NodeId>((i + n - 1) % n), static_cast<NodeId>((i + 1) % n)};
  }
  return adj;
}

TensorUpdate dense(uint32_t tensor, uint64_t seq, std::vector<float> values) {
  TensorUpdate u;
  u.tensor = tensor;
  u.seq = seq;
  u.step = seq;
  u.values = std::move(values);
  return u;
}

struct Drained {
  std::vector<Envelope> messages;
  std::vector<PeerEvent> events;
};

Drained drain(Transport& t, std::chrono::milliseconds wait = 0ms) {
  Drained d;
  t.poll(d.messages, d.events, wait);
  while (t.poll(d.messages, d.events, 0ms) > 0) {
  }
  return d;
}

const PeerEvent* findEvent(const std::vector<PeerEvent>& ev, NodeId peer, PeerEvent::Kind kind) {
  for (const auto& e : ev) {
    if (e.peer == peer && e.kind == kind) return &e;
  }
  return nullptr;
}

TEST(InMemoryTransportTest, RingDeliversAndCountsRealWireBytes) {
  InMemoryNetwork net(4, ring(4));
  std::vector<std::unique_ptr<Transport>> ep;
  for (NodeId i = 0; i < 4; ++i) ep.push_back(net.endpoint(i));
  for (NodeId i = 0; i < 4; ++i) {
    auto d = drain(*ep[i]);
    EXPECT_EQ(d.events.size(), 2u);
    for (const auto& e : d.events) EXPECT_EQ(e.kind, PeerEvent::Kind::kUp);
    EXPECT_TRUE(ep[i]->isUp(ep[i]->neighbours()[0]));
    EXPECT_FALSE(ep[i]->isUp((i + 2) % 4));
  }
  for (NodeId i = 0; i < 4; ++i) {
    const auto& nb = ep[i]->neighbours();
    ep[i]->send(nb, dense(i, 1, std::vector<float>(100, static_cast<float>(i) + 0.5f)));
    ep[i]->send(std::vector<NodeId>{nb[1]}, Heartbeat{7, 0, 123});
  }
  const size_t updateWire =
      kFrameHeaderBytes + encodePayload(dense(0, 1, std::vector<float>(100, 0.5f))).size();
  const size_t hbWire = kFrameHeaderBytes + encodePayload(Heartbeat{7, 0, 123}).size();
  for (NodeId i = 0; i < 4; ++i) {
    auto d = drain(*ep[i], 100ms);
    ASSERT_EQ(d.messages.size(), 3u) << "node " << i;
    std::vector<NodeId> updatesFrom;
    for (const auto& m : d.messages) {
      if (const auto* u = std::get_if<TensorUpdate>(&m.message)) {
        EXPECT_EQ(u->tensor, m.from);
        EXPECT_EQ(u->values, std::vector<float>(100, static_cast<float>(m.from) + 0.5f));
        updatesFrom.push_back(m.from);
      } else {
        EXPECT_EQ(m.from, (i + 3) % 4);  // heartbeat came from the left neighbour
        EXPECT_EQ(std::get<Heartbeat>(m.message).step, 7u);
      }
    }
    std::sort(updatesFrom.begin(), updatesFrom.end());
    std::vector<NodeId> expect = ep[i]->neighbours();
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(updatesFrom, expect);
  }
  // Counters: what i sent to j is what j received from i, in frames, bytes and kinds.
  for (NodeId i = 0; i < 4; ++i) {
    for (const auto& e : ep[i]->traffic()) {
      const bool right = e.peer == (i + 1) % 4;
      EXPECT_EQ(e.sent.frames, right ? 2u : 1u);
      EXPECT_EQ(e.sent.bytes, updateWire + (right ? hbWire : 0));
      EXPECT_EQ(e.sent.framesByKind[static_cast<size_t>(MessageKind::kTensorUpdate)], 1u);
      EXPECT_EQ(e.sent.bytesByKind[static_cast<size_t>(MessageKind::kHeartbeat)],
                right ? hbWire : 0u);
      for (const auto& back : ep[e.peer]->traffic()) {
        if (back.peer != i) continue;
        EXPECT_EQ(back.received.frames, e.sent.frames);
        EXPECT_EQ(back.received.bytes, e.sent.bytes);
        EXPECT_EQ(back.received.bytesByKind, e.sent.bytesByKind);
      }
    }
  }
}

TEST(InMemoryTransportTest, SendToNonNeighbourIsRefused) {
  InMemoryNetwork net(4, ring(4));
  auto a = net.endpoint(0);
  std::vector<NodeId> bad{2};
  EXPECT_THROW(a->send(bad, Heartbeat{}), InputError);
  EXPECT_THROW(InMemoryNetwork(2, {{1}, {5}}), InputError);
}

TEST(InMemoryTransportTest, KillReviveDestroyAndGoodbyeRaisePeerEvents) {
  InMemoryNetwork net(3, ring(3));
  auto a = net.endpoint(0);
  auto b = net.endpoint(1);
  auto c = net.endpoint(2);
  drain(*a);
  drain(*b);
  drain(*c);

  net.kill(1, "crashed in test");
  auto d = drain(*a);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].peer, 1u);
  EXPECT_EQ(d.events[0].kind, PeerEvent::Kind::kDown);
  EXPECT_EQ(d.events[0].reason, "crashed in test");
  EXPECT_FALSE(a->isUp(1));
  a->send(std::vector<NodeId>{1}, Heartbeat{});  // lost: the peer is down
  net.revive(1);
  d = drain(*a);
  ASSERT_NE(findEvent(d.events, 1, PeerEvent::Kind::kUp), nullptr);
  auto db = drain(*b);
  EXPECT_TRUE(db.messages.empty());
  EXPECT_EQ(db.events.size(), 2u);  // the revived node sees both edges come up

  b.reset();
  d = drain(*c);
  const auto* down = findEvent(d.events, 1, PeerEvent::Kind::kDown);
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->reason, "endpoint destroyed");

  b = net.endpoint(1);  // restart
  EXPECT_NE(findEvent(drain(*c).events, 1, PeerEvent::Kind::kUp), nullptr);

  c->close("shutting down", 100ms);
  d = drain(*a);
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(std::get<Goodbye>(d.messages[0].message).reason, "shutting down");
  down = findEvent(d.events, 2, PeerEvent::Kind::kDown);
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->reason, "goodbye: shutting down");
}

TEST(InMemoryTransportTest, ThreadsExchangeEverything) {
  const size_t n = 4;
  const int rounds = 200;
  InMemoryNetwork net(n, ring(n));
  std::vector<std::unique_ptr<Transport>> ep;
  for (NodeId i = 0; i < n; ++i) ep.push_back(net.endpoint(i));
  std::vector<double> sums(n, 0.0);
  std::vector<std::thread> threads;
  for (NodeId i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto& t = *ep[i];
      size_t got = 0;
      std::vector<Envelope> msgs;
      std::vector<PeerEvent> evs;
      for (int r = 0; r < rounds; ++r) {
        t.send(t.neighbours(), dense(0, static_cast<uint64_t>(r) + 1, {static_cast<float>(i + 1)}));
      }
      const auto until = std::chrono::steady_clock::now() + 5s;
      while (got < 2 * rounds && std::chrono::steady_clock::now() < until) {
        msgs.clear();
        t.poll(msgs, evs, 10ms);
        for (const auto& m : msgs) sums[i] += std::get<TensorUpdate>(m.message).values[0];
        got += msgs.size();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (NodeId i = 0; i < n; ++i) {
    const double left = ((i + n - 1) % n) + 1;
    const double right = ((i + 1) % n) + 1;
    EXPECT_DOUBLE_EQ(sums[i], rounds * (left + right)) << "node " << i;
  }
}

// --- Fault layer on the in-memory transport -------------------------------------------------

struct Pair {
  ManualClock clock;
  std::unique_ptr<InMemoryNetwork> net;
  std::unique_ptr<Transport> a;
  std::unique_ptr<Transport> b;
  explicit Pair(const std::string& scenario, uint64_t seed = 1) {
    clock.set(1000000000);
    InMemoryOptions o;
    o.faults = FaultScenario::parse(scenario);
    o.seed = seed;
    o.clock = &clock;
    net = std::make_unique<InMemoryNetwork>(2, std::vector<std::vector<NodeId>>{{1}, {0}}, o);
    a = net->endpoint(0);
    b = net->endpoint(1);
    drain(*a);
    drain(*b);
  }
  void send(uint64_t seq) { a->send(std::vector<NodeId>{1}, dense(0, seq, {1.0f})); }
  std::vector<uint64_t> received() {
    std::vector<uint64_t> seqs;
    for (const auto& m : drain(*b).messages) seqs.push_back(std::get<TensorUpdate>(m.message).seq);
    return seqs;
  }
};

TEST(InMemoryFaultTest, DropRateWithinBinomialBound) {
  Pair p("link 0->1 drop=0.3");
  const int n = 3000;
  for (int i = 0; i < n; ++i) p.send(static_cast<uint64_t>(i));
  const double got = static_cast<double>(p.received().size());
  EXPECT_NEAR(got, n * 0.7, 5 * std::sqrt(n * 0.3 * 0.7));
  EXPECT_EQ(p.a->traffic()[0].sent.frames, static_cast<uint64_t>(got));  // lost frames never left
}

TEST(InMemoryFaultTest, DelayAndJitterFollowTheClock) {
  Pair p("link 0->1 delay=20ms jitter=10ms");
  for (int i = 0; i < 200; ++i) p.send(static_cast<uint64_t>(i));
  EXPECT_TRUE(p.received().empty());
  p.clock.advance(19ms);
  EXPECT_TRUE(p.received().empty());  // nothing before the fixed delay
  size_t total = 0;
  std::vector<size_t> perMs;
  for (int ms = 20; ms <= 30; ++ms) {
    p.clock.advance(1ms);
    perMs.push_back(p.received().size());
    total += perMs.back();
  }
  EXPECT_EQ(total, 200u);  // all by delay + jitter
  EXPECT_GT(*std::max_element(perMs.begin(), perMs.end()), 0u);
  EXPECT_LT(*std::max_element(perMs.begin(), perMs.end()), 100u);  // spread by the jitter
}

TEST(InMemoryFaultTest, DuplicationDeliversTwice) {
  Pair p("link 0->1 dup=0.5");
  const int n = 2000;
  for (int i = 0; i < n; ++i) p.send(static_cast<uint64_t>(i));
  auto seqs = p.received();
  EXPECT_NEAR(static_cast<double>(seqs.size()), n * 1.5, 5 * std::sqrt(n * 0.25));
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(std::unique(seqs.begin(), seqs.end()) - seqs.begin(), n);  // every one arrived
}

TEST(InMemoryFaultTest, ReorderingInvertsOrder) {
  Pair p("link 0->1 reorder=0.3 hold=3ms");
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 300; ++i) {
    p.send(static_cast<uint64_t>(i));
    p.clock.advance(1ms);
    for (auto s : p.received()) seqs.push_back(s);
  }
  p.clock.advance(10ms);
  for (auto s : p.received()) seqs.push_back(s);
  ASSERT_EQ(seqs.size(), 300u);
  int inversions = 0;
  for (size_t i = 1; i < seqs.size(); ++i) inversions += seqs[i] < seqs[i - 1] ? 1 : 0;
  EXPECT_GT(inversions, 30);
}

TEST(InMemoryFaultTest, BandwidthCapLimitsBytesOverTime) {
  Pair p("link 0->1 bw=100KB burst=2KB");
  const size_t frame = kFrameHeaderBytes + encodePayload(dense(0, 0, {1.0f})).size();
  for (int i = 0; i < 500; ++i) p.send(static_cast<uint64_t>(i));
  size_t frames = 0;
  for (int step = 1; step <= 10; ++step) {
    p.clock.advance(100ms);
    frames += p.received().size();
    const double bytes = static_cast<double>(frames * frame);
    const double cap = 2000.0 + 100000.0 * 0.1 * step;
    EXPECT_LE(bytes, cap + 1) << "after " << step * 100 << " ms";
    if (frames < 500) {
      EXPECT_GE(bytes, cap - 2.0 * static_cast<double>(frame));
    }
  }
}

TEST(InMemoryFaultTest, TimePartitionCutsAndHeals) {
  Pair p("partition 0-1 time=100ms..200ms");
  p.send(1);
  EXPECT_EQ(p.received().size(), 1u);
  p.clock.advance(150ms);
  auto d = drain(*p.a);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].kind, PeerEvent::Kind::kDown);
  EXPECT_NE(d.events[0].reason.find("partition"), std::string::npos);
  EXPECT_FALSE(p.a->isUp(1));
  p.send(2);
  d = drain(*p.b);
  EXPECT_TRUE(d.messages.empty());
  ASSERT_EQ(d.events.size(), 1u);
  p.clock.advance(50ms);
  EXPECT_TRUE(p.a->isUp(1));
  EXPECT_NE(findEvent(drain(*p.a).events, 1, PeerEvent::Kind::kUp), nullptr);
  p.send(3);
  EXPECT_EQ(p.received(), std::vector<uint64_t>{3});
}

TEST(InMemoryFaultTest, StepPartitionCutsAndHeals) {
  Pair p("partition 0->1 steps=10..12");
  p.net->shaper()->setStep(10);
  p.send(1);
  EXPECT_TRUE(p.received().empty());
  p.net->shaper()->setStep(12);
  p.send(2);
  EXPECT_EQ(p.received(), std::vector<uint64_t>{2});
}

TEST(InMemoryFaultTest, SeededScenarioReplays) {
  auto run = [](uint64_t seed) {
    Pair p("link * drop=0.2 dup=0.2 delay=1ms jitter=2ms reorder=0.2", seed);
    std::vector<uint64_t> seqs;
    for (int i = 0; i < 200; ++i) {
      p.send(static_cast<uint64_t>(i));
      p.clock.advance(500us);
      for (auto s : p.received()) seqs.push_back(s);
    }
    return seqs;
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

}  // namespace
}  // namespace murmur::net
