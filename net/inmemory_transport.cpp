#include "net/inmemory_transport.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "net/codec.hpp"
#include "net/framing.hpp"

namespace murmur::net {

namespace {

void count(LinkCounters& c, MessageKind kind, size_t bytes) {
  c.frames += 1;
  c.bytes += bytes;
  c.framesByKind[static_cast<size_t>(kind)] += 1;
  c.bytesByKind[static_cast<size_t>(kind)] += bytes;
}

}  // namespace

// All state of the network behind one mutex: the hub is a test and simulation device, so
// simplicity beats contention here. Encoding and decoding happen outside the lock.
struct InMemoryNetwork::Hub {
  struct InFlight {
    NodeId from = 0;
    std::shared_ptr<const Bytes> payload;
    MessageKind kind = MessageKind::kTensorUpdate;
    size_t wireBytes = 0;
    uint64_t generation = 0;  // receiver incarnation it was sent to
  };
  struct Node {
    std::vector<NodeId> neighbours;
    bool alive = false;
    std::string downReason = "not started";
    uint64_t generation = 0;  // bumped by endpoint(): older endpoints go dead
    std::map<std::pair<int64_t, uint64_t>, InFlight> inbox;  // (deliverAt, order)
    std::map<NodeId, bool> reportedUp;                       // per neighbour, last PeerEvent
    std::map<NodeId, EdgeTraffic> traffic;
  };

  const Clock* clock;
  std::unique_ptr<LinkShaper> shaper;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<Node> nodes;
  uint64_t order = 0;

  bool isNeighbour(NodeId a, NodeId b) const {
    const auto& n = nodes[a].neighbours;
    return std::find(n.begin(), n.end(), b) != n.end();
  }
  bool cut(NodeId a, NodeId b) const {
    return shaper && (shaper->isCut(a, b) || shaper->isCut(b, a));
  }
  // Edge a-b as seen from a (lock held).
  bool edgeUp(NodeId a, NodeId b, std::string* why) const {
    if (!nodes[b].alive) {
      if (why) *why = nodes[b].downReason;
      return false;
    }
    if (cut(a, b)) {
      if (why) *why = "partitioned (fault scenario)";
      return false;
    }
    return true;
  }
  bool current(NodeId id, uint64_t generation) const {
    return nodes[id].alive && nodes[id].generation == generation;
  }
  void setDead(NodeId id, const std::string& reason) {
    auto& n = nodes[id];
    n.alive = false;
    n.downReason = reason;
    n.inbox.clear();
    n.reportedUp.clear();  // a revived node re-reports its edges
    cv.notify_all();
  }
};

namespace {

using Hub = InMemoryNetwork::Hub;

class InMemoryEndpoint final : public Transport {
 public:
  InMemoryEndpoint(std::shared_ptr<InMemoryNetwork::Hub> hub, NodeId id, uint64_t generation)
      : hub_(std::move(hub)), id_(id), generation_(generation) {
    std::lock_guard lock(hub_->mutex);
    neighbours_ = hub_->nodes[id_].neighbours;
  }

  ~InMemoryEndpoint() override {
    std::lock_guard lock(hub_->mutex);
    if (hub_->nodes[id_].generation == generation_ && hub_->nodes[id_].alive) {
      hub_->setDead(id_, "endpoint destroyed");
    }
  }

  NodeId self() const override { return id_; }
  const std::vector<NodeId>& neighbours() const override { return neighbours_; }

  void send(std::span<const NodeId> to, Message message) override {
    const MessageKind kind = kindOf(message);
    auto payload = std::make_shared<const Bytes>(encodePayload(message));
    const size_t wire = kFrameHeaderBytes + payload->size();
    std::lock_guard lock(hub_->mutex);
    if (!hub_->current(id_, generation_)) return;
    for (NodeId peer : to) {
      MURMUR_ENFORCE(peer < hub_->nodes.size() && hub_->isNeighbour(id_, peer), InputError,
                     "node {}: send to {} which is not a neighbour", id_, peer);
      if (!hub_->edgeUp(id_, peer, nullptr)) continue;
      std::vector<int64_t> release;
      if (hub_->shaper) {
        release = hub_->shaper->onFrame(id_, peer, wire).releaseNs;
      } else {
        release.push_back(hub_->clock->nowNs());
      }
      auto& dst = hub_->nodes[peer];
      for (int64_t at : release) {
        count(hub_->nodes[id_].traffic[peer].sent, kind, wire);
        dst.inbox.emplace(std::make_pair(at, hub_->order++),
                          Hub::InFlight{id_, payload, kind, wire, dst.generation});
      }
    }
    hub_->cv.notify_all();
  }

  size_t poll(std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
              std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<Hub::InFlight> ready;
    size_t nEvents = 0;
    {
      std::unique_lock lock(hub_->mutex);
      for (;;) {
        nEvents += collectEvents(events);
        int64_t nextDue = collectReady(ready);
        if (nEvents > 0 || !ready.empty()) break;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        auto wait = deadline - now;
        // Deliveries due later and scheduled partitions move with the network's clock, which
        // nobody notifies about: re-check at least every millisecond while either is pending.
        if (nextDue != INT64_MAX ||
            (hub_->shaper && !hub_->shaper->scenario().partitions.empty())) {
          wait = std::min<std::chrono::steady_clock::duration>(wait, std::chrono::milliseconds(1));
        }
        hub_->cv.wait_for(lock, wait);
      }
    }
    for (auto& f : ready) {
      try {
        messages.push_back(Envelope{f.from, decodePayload(*f.payload)});
      } catch (const ProtocolError& e) {
        spdlog::error("node {}: dropped an undecodable in-memory frame from {}: {}", id_, f.from,
                      e.what());
        continue;
      }
    }
    return ready.size() + nEvents;
  }

  bool isUp(NodeId peer) const override {
    std::lock_guard lock(hub_->mutex);
    return peer < hub_->nodes.size() && hub_->current(id_, generation_) &&
           hub_->isNeighbour(id_, peer) && hub_->edgeUp(id_, peer, nullptr);
  }

  std::vector<EdgeTraffic> traffic() const override {
    std::lock_guard lock(hub_->mutex);
    std::vector<EdgeTraffic> out;
    const auto& t = hub_->nodes[id_].traffic;
    for (NodeId peer : neighbours_) {
      auto it = t.find(peer);
      EdgeTraffic e = it == t.end() ? EdgeTraffic{} : it->second;
      e.peer = peer;
      out.push_back(e);
    }
    return out;
  }

  void close(const std::string& reason, std::chrono::milliseconds /*deadline*/) override {
    std::vector<NodeId> up;
    {
      std::lock_guard lock(hub_->mutex);
      if (!hub_->current(id_, generation_)) return;
      for (NodeId p : neighbours_) {
        if (hub_->edgeUp(id_, p, nullptr)) up.push_back(p);
      }
    }
    // In memory every frame is handed over at once, so there is nothing left to flush.
    send(up, Goodbye{reason});
    std::lock_guard lock(hub_->mutex);
    if (hub_->current(id_, generation_)) hub_->setDead(id_, "goodbye: " + reason);
  }

 private:
  // Lock held. Appends PeerEvents for edges whose state changed since last reported.
  size_t collectEvents(std::vector<PeerEvent>& events) {
    auto& me = hub_->nodes[id_];
    if (!hub_->current(id_, generation_)) return 0;
    size_t n = 0;
    for (NodeId p : neighbours_) {
      std::string why;
      const bool up = hub_->edgeUp(id_, p, &why);
      bool& reported = me.reportedUp[p];
      if (up == reported) continue;
      reported = up;
      events.push_back(PeerEvent{p, up ? PeerEvent::Kind::kUp : PeerEvent::Kind::kDown,
                                 up ? std::string("connected (in-memory)") : why});
      ++n;
    }
    return n;
  }

  // Lock held. Moves due frames to `ready`; returns the next due time still pending.
  int64_t collectReady(std::vector<Hub::InFlight>& ready) {
    auto& me = hub_->nodes[id_];
    if (!hub_->current(id_, generation_)) return INT64_MAX;
    const int64_t now = hub_->clock->nowNs();
    auto it = me.inbox.begin();
    while (it != me.inbox.end() && it->first.first <= now) {
      auto& f = it->second;
      if (f.generation == generation_) {
        count(me.traffic[f.from].received, f.kind, f.wireBytes);
        ready.push_back(std::move(f));
      }
      it = me.inbox.erase(it);
    }
    return it == me.inbox.end() ? INT64_MAX : it->first.first;
  }

  std::shared_ptr<InMemoryNetwork::Hub> hub_;
  NodeId id_;
  uint64_t generation_;
  std::vector<NodeId> neighbours_;
};

}  // namespace

InMemoryNetwork::InMemoryNetwork(size_t nodeCount, std::vector<std::vector<NodeId>> adjacency,
                                 InMemoryOptions options)
    : hub_(std::make_shared<Hub>()) {
  MURMUR_ENFORCE(adjacency.size() == nodeCount, InputError,
                 "in-memory network: adjacency has {} rows for {} nodes", adjacency.size(),
                 nodeCount);
  hub_->clock = options.clock ? options.clock : &SteadyClock::instance();
  hub_->nodes.resize(nodeCount);
  for (size_t i = 0; i < nodeCount; ++i) {
    for (NodeId j : adjacency[i]) {
      MURMUR_ENFORCE(j < nodeCount && j != i, InputError,
                     "in-memory network: node {} lists neighbour {} (must be < {} and not itself)",
                     i, j, nodeCount);
    }
    hub_->nodes[i].neighbours = std::move(adjacency[i]);
  }
  if (options.faults) {
    hub_->shaper =
        std::make_unique<LinkShaper>(std::move(*options.faults), options.seed, *hub_->clock);
  }
}

InMemoryNetwork::~InMemoryNetwork() = default;

std::unique_ptr<Transport> InMemoryNetwork::endpoint(NodeId id) {
  uint64_t generation = 0;
  {
    std::lock_guard lock(hub_->mutex);
    MURMUR_ENFORCE(id < hub_->nodes.size(), InputError,
                   "in-memory network: no node {} (network has {})", id, hub_->nodes.size());
    auto& n = hub_->nodes[id];
    generation = ++n.generation;
    n.alive = true;
    n.downReason.clear();
    n.inbox.clear();
    n.reportedUp.clear();
    n.traffic.clear();
    hub_->cv.notify_all();
  }
  return std::make_unique<InMemoryEndpoint>(hub_, id, generation);
}

void InMemoryNetwork::kill(NodeId id, const std::string& reason) {
  std::lock_guard lock(hub_->mutex);
  MURMUR_ENFORCE(id < hub_->nodes.size(), InputError, "in-memory network: no node {}", id);
  hub_->setDead(id, reason);
}

void InMemoryNetwork::revive(NodeId id) {
  std::lock_guard lock(hub_->mutex);
  MURMUR_ENFORCE(id < hub_->nodes.size(), InputError, "in-memory network: no node {}", id);
  auto& n = hub_->nodes[id];
  MURMUR_ENFORCE(n.generation > 0, InputError,
                 "in-memory network: node {} has no endpoint to revive", id);
  n.alive = true;
  n.downReason.clear();
  hub_->cv.notify_all();
}

LinkShaper* InMemoryNetwork::shaper() { return hub_->shaper.get(); }

size_t InMemoryNetwork::size() const {
  std::lock_guard lock(hub_->mutex);
  return hub_->nodes.size();
}

}  // namespace murmur::net
