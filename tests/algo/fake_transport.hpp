#pragma once
// A small in-process Transport for algo/ tests: one queue per node, peer events when a node is
// switched off or on, a hook to drop or alter a message on its way, and (optionally) a
// ManualClock that an empty poll advances by its timeout, so deadlines pass deterministically
// without sleeping.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/clock.hpp"
#include "common/transport.hpp"

namespace murmur::algo::testing {

class FakeNetwork {
 public:
  // Returns true to drop the message; may also alter it (the receiver sees the change).
  using Hook = std::function<bool(NodeId from, NodeId to, Message& message)>;

  explicit FakeNetwork(std::vector<std::vector<NodeId>> adjacency, ManualClock* clock = nullptr)
      : adjacency_(std::move(adjacency)), clock_(clock) {
    nodes_.resize(adjacency_.size());
    for (auto& n : nodes_) n = std::make_unique<NodeState>();
  }

  static std::vector<std::vector<NodeId>> ring(size_t n) {
    std::vector<std::vector<NodeId>> adj(n);
    for (size_t i = 0; i < n; ++i) {
      if (n == 2) {
        adj[i] = {static_cast<NodeId>(1 - i)};
      } else {
        adj[i] = {static_cast<NodeId>((i + n - 1) % n), static_cast<NodeId>((i + 1) % n)};
      }
    }
    return adj;
  }

  class Endpoint final : public Transport {
   public:
    Endpoint(FakeNetwork& net, NodeId id) : net_(net), id_(id) {}
    NodeId self() const override { return id_; }
    const std::vector<NodeId>& neighbours() const override { return net_.adjacency_[id_]; }
    void send(std::span<const NodeId> to, Message message) override { net_.send(id_, to, message); }
    size_t poll(std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
                std::chrono::milliseconds timeout) override {
      return net_.poll(id_, messages, events, timeout);
    }
    bool isUp(NodeId peer) const override { return net_.linkUp(id_, peer); }
    std::vector<EdgeTraffic> traffic() const override { return {}; }
    void close(const std::string&, std::chrono::milliseconds) override {}

   private:
    FakeNetwork& net_;
    NodeId id_;
  };

  std::unique_ptr<Transport> endpoint(NodeId id) { return std::make_unique<Endpoint>(*this, id); }

  void setHook(Hook hook) {
    std::lock_guard lock(mutex_);
    hook_ = std::move(hook);
  }

  // Switches a node off or on: its neighbours (and the node itself) see the edges go down/up.
  void setAlive(NodeId id, bool alive) {
    std::lock_guard lock(mutex_);
    if (nodes_[id]->alive == alive) return;
    nodes_[id]->alive = alive;
    const auto kind = alive ? PeerEvent::Kind::kUp : PeerEvent::Kind::kDown;
    for (NodeId j : adjacency_[id]) {
      nodes_[j]->events.push_back(PeerEvent{id, kind, alive ? "revived" : "killed"});
      if (alive) nodes_[id]->events.push_back(PeerEvent{j, kind, "revived"});
    }
    if (!alive) nodes_[id]->inbox.clear();
    cv_.notify_all();
  }

  // Messages of a kind delivered so far (after the hook), over all edges.
  uint64_t delivered(MessageKind kind) const {
    std::lock_guard lock(mutex_);
    return delivered_[static_cast<size_t>(kind)];
  }

 private:
  struct NodeState {
    bool alive = true;
    std::deque<Envelope> inbox;
    std::deque<PeerEvent> events;
  };

  bool linkUp(NodeId a, NodeId b) const {
    std::lock_guard lock(mutex_);
    return nodes_[a]->alive && nodes_[b]->alive;
  }

  void send(NodeId from, std::span<const NodeId> to, const Message& message) {
    std::lock_guard lock(mutex_);
    if (!nodes_[from]->alive) return;
    for (NodeId j : to) {
      if (!nodes_[j]->alive) continue;
      Message copy = message;
      if (hook_ && hook_(from, j, copy)) continue;
      ++delivered_[static_cast<size_t>(kindOf(copy))];
      nodes_[j]->inbox.push_back(Envelope{from, std::move(copy)});
    }
    cv_.notify_all();
  }

  size_t poll(NodeId id, std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
              std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    NodeState& n = *nodes_[id];
    if (n.inbox.empty() && n.events.empty() && timeout.count() > 0) {
      if (clock_ != nullptr) {
        clock_->advance(timeout);
        return 0;
      }
      cv_.wait_for(lock, timeout, [&] { return !n.inbox.empty() || !n.events.empty(); });
    }
    const size_t count = n.inbox.size() + n.events.size();
    for (auto& e : n.events) events.push_back(std::move(e));
    for (auto& m : n.inbox) messages.push_back(std::move(m));
    n.events.clear();
    n.inbox.clear();
    return count;
  }

  std::vector<std::vector<NodeId>> adjacency_;
  ManualClock* clock_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<NodeState>> nodes_;
  Hook hook_;
  uint64_t delivered_[static_cast<size_t>(MessageKind::kCount)] = {};
};

}  // namespace murmur::algo::testing
