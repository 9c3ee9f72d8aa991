#pragma once
// The in-memory transport: N nodes on threads in one process, each holding a Transport endpoint
// of one InMemoryNetwork hub. Messages are encoded with the real codec (so the counted bytes are
// the bytes a TCP frame without MAC would carry: 4-byte header + payload) and decoded on
// delivery, and the fault layer (net/fault.hpp) shapes every frame, driven by the network's
// Clock, so a scenario replays deterministically under a ManualClock.
//
// Liveness: a node is up while its endpoint exists and has not been killed or closed; an edge
// is up while both ends are up and no scheduled partition cuts it in either direction. Each
// endpoint reports transitions of its edges as PeerEvents from poll() (the first poll reports
// every neighbour that is already up).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/transport.hpp"
#include "net/fault.hpp"

namespace murmur::net {

struct InMemoryOptions {
  std::optional<FaultScenario> faults;
  uint64_t seed = 0;             // fault layer seed
  const Clock* clock = nullptr;  // nullptr: SteadyClock; must outlive the network
};

class InMemoryNetwork {
 public:
  // adjacency[i]: the neighbours of node i (edges are used as given in each direction; a node
  // only sends to and accepts from its own list). Throws InputError on ids >= nodeCount or
  // self-loops.
  InMemoryNetwork(size_t nodeCount, std::vector<std::vector<NodeId>> adjacency,
                  InMemoryOptions options = {});
  ~InMemoryNetwork();
  InMemoryNetwork(const InMemoryNetwork&) = delete;
  InMemoryNetwork& operator=(const InMemoryNetwork&) = delete;

  // The endpoint of node `id`; the node is up until the endpoint is destroyed, killed or
  // closed. Calling it again for the same id (e.g. after destroying the previous endpoint)
  // restarts the node: the old endpoint, if still held, goes dead. The endpoints may outlive
  // the network object (they share its state).
  std::unique_ptr<Transport> endpoint(NodeId id);

  // Crash / restart `id` without touching its endpoint object: its neighbours see it down
  // (reason given) / up again; frames addressed to it while down are lost.
  void kill(NodeId id, const std::string& reason = "killed");
  void revive(NodeId id);

  // The fault layer state (nullptr without a scenario), e.g. to report the training step for
  // step-based partitions.
  LinkShaper* shaper();

  size_t size() const;

  struct Hub;  // shared with the endpoints

 private:
  std::shared_ptr<Hub> hub_;
};

}  // namespace murmur::net
