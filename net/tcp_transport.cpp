#include "net/tcp_transport.hpp"

// GCC's -Wnull-dereference fires inside Asio's scheduler once it is inlined here (a false
// positive in a system header); silence it for this file only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#ifndef ASIO_NO_DEPRECATED
#define ASIO_NO_DEPRECATED
#endif
#include <asio.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "net/auth.hpp"
#include "net/framing.hpp"
#include "net/write_queue.hpp"

namespace murmur::net {

namespace tcp_detail {

constexpr size_t kKinds = static_cast<size_t>(MessageKind::kCount);
// Staging buffer for headers and small frames; the bulk of a large payload bypasses it
// (Connection::read), so it need not be large.
constexpr size_t kReadChunk = size_t{64} << 10;
// A payload with at least this much still missing is read straight into its frame buffer.
constexpr size_t kDirectReadMin = size_t{16} << 10;

struct AtomicCounters {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> bytes{0};
  std::array<std::atomic<uint64_t>, kKinds> framesByKind{};
  std::array<std::atomic<uint64_t>, kKinds> bytesByKind{};

  void add(MessageKind kind, uint64_t n, uint64_t count = 1) {
    frames.fetch_add(count, std::memory_order_relaxed);
    bytes.fetch_add(n, std::memory_order_relaxed);
    framesByKind[static_cast<size_t>(kind)].fetch_add(count, std::memory_order_relaxed);
    bytesByKind[static_cast<size_t>(kind)].fetch_add(n, std::memory_order_relaxed);
  }
  LinkCounters snapshot() const {
    LinkCounters c;
    c.frames = frames.load(std::memory_order_relaxed);
    c.bytes = bytes.load(std::memory_order_relaxed);
    for (size_t k = 0; k < kKinds; ++k) {
      c.framesByKind[k] = framesByKind[k].load(std::memory_order_relaxed);
      c.bytesByKind[k] = bytesByKind[k].load(std::memory_order_relaxed);
    }
    return c;
  }
};

inline int64_t nowNs() { return SteadyClock::instance().nowNs(); }

// asio::transfer_all() hands the socket at most 64 KiB per system call, which turns a 4 MB
// frame into ~64 sendmsg calls, each a trip through the reactor. This condition offers the
// kernel everything still unsent (asio caps the iovec count, not us); the kernel takes what
// the send buffer holds.
struct TransferAllAtOnce {
  size_t total;
  size_t operator()(const std::error_code& ec, size_t sent) const {
    return ec || sent >= total ? 0 : total - sent;
  }
};

struct Connection;

}  // namespace tcp_detail

using tcp_detail::AtomicCounters;
using tcp_detail::Connection;
using tcp_detail::kDirectReadMin;
using tcp_detail::kReadChunk;
using tcp_detail::nowNs;
using tcp_detail::TransferAllAtOnce;

struct TcpTransport::Impl {
  struct Peer {
    Peer(asio::io_context& io, const PeerAddress& a, bool dial, size_t maxBytes, size_t overhead)
        : id(a.id), addr(a), dialer(dial), queue(maxBytes, overhead), retryTimer(io) {}
    NodeId id;
    PeerAddress addr;
    bool dialer;  // we dial this peer (lower id dials higher)
    // Shared with the trainer thread, guarded by qmu: the queue and the up flag.
    std::mutex qmu;
    std::condition_variable qcv;
    WriteQueue queue;
    std::atomic<bool> up{false};
    std::atomic<bool> kickPending{false};
    AtomicCounters sent;
    AtomicCounters received;
    // I/O thread only.
    std::shared_ptr<Connection> conn;  // dialer: from connect on; acceptor: once up
    bool dialing = false;
    std::chrono::milliseconds backoff{0};
    asio::steady_timer retryTimer;
    std::string lastFailure;
  };

  explicit Impl(TcpTransportConfig c);
  void start();

  // I/O thread.
  void accept();
  void dial(Peer& p);
  void scheduleReconnect(Peer& p);
  void tick();
  void pump(Connection& c);
  void kick(Peer& p);
  void event(NodeId peer, PeerEvent::Kind kind, std::string reason);
  void deliver(NodeId from, Message m);
  void checkFlushed();
  Peer* peer(NodeId id) {
    auto it = peers.find(id);
    return it == peers.end() ? nullptr : it->second.get();
  }
  bool cut(NodeId other) const {
    return shaper && (shaper->isCut(cfg.self, other) || shaper->isCut(other, cfg.self));
  }
  std::string edge(NodeId other) const {
    return fmt::format("edge {}-{}", std::min(cfg.self, other), std::max(cfg.self, other));
  }
  size_t overhead() const { return kFrameHeaderBytes + (secret ? kFrameMacBytes : 0); }

  TcpTransportConfig cfg;
  std::optional<ClusterSecret> secret;
  std::vector<NodeId> neighbourIds;
  const Clock* clock;  // fault layer and failure detector time; asio timers only poll it
  std::unique_ptr<LinkShaper> shaper;

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer hbTimer;
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  std::set<std::shared_ptr<Connection>> conns;  // I/O thread only
  std::mt19937_64 rng;                          // I/O thread only (back-off jitter)
  bool stopping = false;                        // I/O thread only
  bool closingIo = false;                       // I/O thread only: goodbyes queued

  std::mutex inmu;
  std::condition_variable incv;
  std::deque<Envelope> inbox;
  std::deque<PeerEvent> inEvents;
  bool flushed = false;  // guarded by inmu

  std::atomic<uint64_t> step{0};
  std::atomic<bool> closed{false};
  uint16_t boundPort = 0;
  std::thread thread;
  std::promise<void> ioDone;

  std::atomic<uint64_t> merges{0};
  std::atomic<uint64_t> blockedSends{0};
  std::atomic<uint64_t> overflowedSends{0};
  std::atomic<uint64_t> connectionsClosed{0};
  std::atomic<int64_t> lastOverflowLogNs{0};
};

namespace tcp_detail {

using Impl = TcpTransport::Impl;

struct Connection : std::enable_shared_from_this<Connection> {
  enum class State { kHandshake, kUp, kClosed };

  Connection(Impl& impl, std::optional<NodeId> expectedPeer)
      : t(impl),
        sock(impl.io),
        resolver(impl.io),
        shapeTimer(impl.io),
        expected(expectedPeer),
        reader(std::min(impl.cfg.limits.maxPayloadBytes, kHandshakeMaxPayloadBytes), false),
        rbuf(kReadChunk),
        startNs(impl.clock->nowNs()),
        lastRxNs(startNs) {}

  Impl& t;
  asio::ip::tcp::socket sock;
  asio::ip::tcp::resolver resolver;
  asio::steady_timer shapeTimer;
  std::optional<NodeId> expected;  // set when we dialled
  Impl::Peer* peer = nullptr;      // once the peer's Hello named a neighbour
  State state = State::kHandshake;
  std::optional<Handshake> hs;
  bool gotHello = false;
  FrameReader reader;
  std::vector<uint8_t> rbuf;
  std::optional<FrameAuthenticator> sendAuth;
  std::optional<FrameAuthenticator> recvAuth;
  uint64_t sendSeq = 0;
  uint64_t recvSeq = 0;
  int64_t startNs;
  int64_t lastRxNs;
  // Writing: one write in flight; handshake/refusal frames first, unshaped.
  bool writing = false;
  std::deque<Bytes> control;
  bool closeAfterControl = false;
  std::string closeAfterControlReason;
  std::multimap<int64_t, OutFrame> pending;  // shaped frames by release time
  int64_t linkFreeNs = 0;
  std::array<uint8_t, kFrameHeaderBytes> header{};
  MacBytes mac{};
  // Handshake bytes are counted on the peer's counters once the peer is known.
  uint64_t hsSentFrames = 0, hsSentBytes = 0, hsRecvFrames = 0, hsRecvBytes = 0;

  std::string who() const {
    if (peer) return fmt::format("node {} ({})", peer->id, t.edge(peer->id));
    std::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    return ec ? std::string("unidentified peer")
              : fmt::format("unidentified peer at {}:{}", ep.address().to_string(), ep.port());
  }

  void start() {
    std::error_code ec;
    sock.set_option(asio::ip::tcp::no_delay(true), ec);
    Hello mine;
    mine.protocolVersion = kProtocolVersion;
    mine.clusterId = t.cfg.clusterId;
    mine.node = t.cfg.self;
    mine.modelFingerprint = t.cfg.modelFingerprint;
    try {
      mine.nonce = randomNonce();
      hs.emplace(t.secret ? &*t.secret : nullptr, mine);
      sendControl(encodeHello(hs->hello()));
    } catch (const std::exception& e) {
      close(fmt::format("handshake set-up failed: {}", e.what()));
      return;
    }
    read();
  }

  void sendControl(const Bytes& payload) {
    control.push_back(buildFrame(payload, nullptr, t.cfg.limits.maxPayloadBytes));
    t.pump(*this);
  }

  void read() {
    auto self = shared_from_this();
    // In the middle of a large payload, read straight into the frame's buffer (one copy, by
    // the kernel); otherwise into rbuf, which also picks up the headers and small frames that
    // follow in the same system call.
    std::span<uint8_t> window = reader.payloadWindow();
    const bool direct = window.size() >= kDirectReadMin;
    asio::mutable_buffer into =
        direct ? asio::buffer(window.data(), window.size()) : asio::buffer(rbuf);
    sock.async_read_some(into, [self, direct](std::error_code ec, size_t n) {
      if (self->state == State::kClosed) return;
      if (ec) {
        self->close(ec == asio::error::eof ? std::string("connection closed by peer (EOF)")
                                           : fmt::format("read error: {}", ec.message()));
        return;
      }
      // Any bytes prove the peer alive, even the middle of a long frame on a slow link.
      self->lastRxNs = self->t.clock->nowNs();
      try {
        if (direct) {
          self->reader.commitPayload(n);
        } else {
          self->reader.feed(std::span<const uint8_t>(self->rbuf.data(), n));
        }
        while (self->state != State::kClosed && !self->closeAfterControl) {
          auto frame = self->reader.next();
          if (!frame) break;
          self->onFrame(std::move(*frame));
        }
      } catch (const ProtocolError& e) {
        self->close(fmt::format("malformed frame: {}", e.what()));
        return;
      } catch (const std::exception& e) {
        self->close(fmt::format("frame rejected: {}", e.what()));
        return;
      }
      if (self->state != State::kClosed) self->read();
    });
  }

  void onFrame(Frame frame) {
    if (state == State::kHandshake) {
      onHandshakeFrame(frame);
      return;
    }
    if (recvAuth) {
      if (!frame.mac || !recvAuth->verify(frame.payload, recvSeq, *frame.mac)) {
        close(fmt::format("bad MAC on frame {}", recvSeq));
        return;
      }
      ++recvSeq;
    }
    Message m = decodePayload(frame.payload, t.cfg.limits);
    const MessageKind kind = kindOf(m);
    peer->received.add(kind, frame.wireBytes);
    if (const auto* bye = std::get_if<Goodbye>(&m)) {
      std::string reason = "goodbye: " + bye->reason;
      t.deliver(peer->id, std::move(m));
      close(reason);
      return;
    }
    t.deliver(peer->id, std::move(m));
  }

  void onHandshakeFrame(const Frame& frame) {
    ++hsRecvFrames;
    hsRecvBytes += frame.wireBytes;
    WirePayload any;
    try {
      any = decodeAny(frame.payload, t.cfg.limits);
    } catch (const ProtocolError& e) {
      refuse(fmt::format("malformed handshake frame: {}", e.what()));
      return;
    }
    if (const auto* hello = std::get_if<Hello>(&any)) {
      if (gotHello) return refuse("a second Hello");
      gotHello = true;
      onHello(*hello);
    } else if (const auto* proof = std::get_if<HelloProof>(&any)) {
      if (!gotHello) return refuse("HelloProof before Hello");
      try {
        hs->onPeerProof(*proof);
      } catch (const ProtocolError& e) {
        return refuse(fmt::format("authentication failed: {}", e.what()));
      }
      complete();
    } else {
      const auto& m = std::get<Message>(any);
      if (const auto* bye = std::get_if<Goodbye>(&m)) {
        close(fmt::format("refused by the peer: {}", bye->reason));
      } else {
        refuse(fmt::format("a {} before the handshake finished", toString(kindOf(m))));
      }
    }
  }

  void onHello(const Hello& theirs) {
    const NodeId id = theirs.node;
    if (expected && id != *expected) {
      return refuse(fmt::format("dialled node {} but node {} answered", *expected, id));
    }
    if (Impl::Peer* p = t.peer(id)) {
      peer = p;
    } else {
      return refuse(fmt::format("node {} is not a neighbour of node {}", id, t.cfg.self));
    }
    if (!expected && peer->dialer) {
      return refuse(fmt::format("node {} dialled node {}, but the lower id dials", id, t.cfg.self));
    }
    if (t.cut(id)) return refuse("partitioned (fault scenario)");
    try {
      HelloProof proof = hs->onPeerHello(theirs, id);
      sendControl(encodeHelloProof(proof));
    } catch (const ProtocolError& e) {
      return refuse(e.what());
    }
  }

  void complete() {
    if (hs->authenticated()) {
      sendAuth.emplace(hs->sendAuthenticator());
      recvAuth.emplace(hs->receiveAuthenticator());
      reader.setMacEnabled(true);
    }
    reader.setMaxPayloadBytes(t.cfg.limits.maxPayloadBytes);
    state = State::kUp;
    if (peer->conn && peer->conn.get() != this) {
      peer->conn->close("replaced by a newer connection from the same peer");
    }
    peer->conn = shared_from_this();
    peer->sent.add(MessageKind::kHandshake, hsSentBytes, hsSentFrames);
    peer->received.add(MessageKind::kHandshake, hsRecvBytes, hsRecvFrames);
    hsSentFrames = hsSentBytes = hsRecvFrames = hsRecvBytes = 0;
    {
      std::lock_guard lock(peer->qmu);
      peer->queue.clear();
      peer->up.store(true);
    }
    peer->backoff = t.cfg.reconnectBackoffMin;
    peer->lastFailure.clear();
    std::string how = fmt::format("connected ({}, {})", expected ? "dialled" : "accepted",
                                  hs->authenticated() ? "authenticated" : "OPEN cluster");
    spdlog::info("node {}: {} up: {}", t.cfg.self, who(), how);
    t.event(peer->id, PeerEvent::Kind::kUp, how);
    t.pump(*this);
  }

  // Handshake refusal: tell the peer why (unauthenticated Goodbye), then close.
  void refuse(const std::string& reason) {
    if (state == State::kClosed) return;
    spdlog::warn("node {}: refusing {}: {}", t.cfg.self, who(), reason);
    try {
      control.push_back(
          buildFrame(encodePayload(Goodbye{reason}), nullptr, t.cfg.limits.maxPayloadBytes));
    } catch (const std::exception&) {
      close("refused: " + reason);
      return;
    }
    closeAfterControl = true;
    closeAfterControlReason = "refused: " + reason;
    state = State::kHandshake;
    t.pump(*this);
  }

  void close(const std::string& reason) {
    if (state == State::kClosed) return;
    const bool wasUp = state == State::kUp;
    state = State::kClosed;
    t.connectionsClosed.fetch_add(1, std::memory_order_relaxed);
    std::error_code ec;
    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
    resolver.cancel();
    shapeTimer.cancel();
    pending.clear();
    auto self = shared_from_this();
    t.conns.erase(self);
    if (!peer) {
      spdlog::warn("node {}: closed {}: {}", t.cfg.self, who(), reason);
      return;
    }
    const bool current = peer->conn.get() == this;
    if (current) peer->conn.reset();
    if (wasUp) {
      {
        std::lock_guard lock(peer->qmu);
        peer->up.store(false);
        peer->queue.clear();
      }
      peer->qcv.notify_all();
      spdlog::warn("node {}: {} down: {}", t.cfg.self, who(), reason);
      t.event(peer->id, PeerEvent::Kind::kDown, reason);
    } else if (!t.stopping) {
      spdlog::warn("node {}: handshake with {} failed: {}", t.cfg.self, who(), reason);
      // Reported once per distinct reason, and never while the peer is up on another
      // connection (a stranger claiming its id must not take it down in the trainer's eyes).
      if (reason != peer->lastFailure && !peer->up.load()) {
        peer->lastFailure = reason;
        t.event(peer->id, PeerEvent::Kind::kDown, "handshake failed: " + reason);
      }
    }
    if (peer->dialer && current && !t.stopping) t.scheduleReconnect(*peer);
    t.checkFlushed();
  }

  void writeControl() {
    writing = true;
    auto self = shared_from_this();
    asio::async_write(sock, asio::buffer(control.front()), [self](std::error_code ec, size_t n) {
      self->writing = false;
      if (self->state == State::kClosed) return;
      if (ec) {
        self->close(fmt::format("write failed: {}", ec.message()));
        return;
      }
      if (self->state == State::kUp) {
        self->peer->sent.add(MessageKind::kHandshake, n);  // our proof, finishing after theirs
      } else {
        self->hsSentFrames += 1;
        self->hsSentBytes += n;
      }
      self->control.pop_front();
      if (self->control.empty() && self->closeAfterControl) {
        self->close(self->closeAfterControlReason);
        return;
      }
      self->t.pump(*self);
    });
  }

  void writeFrame(OutFrame f) {
    writing = true;
    try {
      header = frameHeader(f.payload->size(), t.cfg.limits.maxPayloadBytes);
      if (sendAuth) mac = sendAuth->sign(*f.payload, sendSeq++);
    } catch (const std::exception& e) {
      writing = false;
      close(fmt::format("cannot frame an outgoing message: {}", e.what()));
      return;
    }
    std::array<asio::const_buffer, 3> bufs{asio::buffer(header), asio::buffer(*f.payload),
                                           asio::buffer(mac.data(), sendAuth ? mac.size() : 0)};
    const TransferAllAtOnce all{asio::buffer_size(bufs)};
    auto self = shared_from_this();
    asio::async_write(sock, bufs, all, [self, f = std::move(f)](std::error_code ec, size_t n) {
      self->writing = false;
      if (self->state == State::kClosed) return;
      if (ec) {
        self->close(fmt::format("write failed: {}", ec.message()));
        return;
      }
      self->peer->sent.add(f.kind, n);
      self->t.pump(*self);
      self->t.checkFlushed();
    });
  }

  bool idle() const { return !writing && control.empty() && pending.empty(); }
};

}  // namespace tcp_detail

TcpTransport::Impl::Impl(TcpTransportConfig c)
    : cfg(std::move(c)),
      clock(cfg.clock ? cfg.clock : &SteadyClock::instance()),
      work(asio::make_work_guard(io)),
      acceptor(io),
      hbTimer(io),
      rng(std::random_device{}()) {
  if (cfg.secret) secret.emplace(*cfg.secret);  // throws InputError when too short
  for (const auto& a : cfg.neighbours) {
    MURMUR_ENFORCE(a.id != cfg.self, InputError, "node {}: lists itself as a neighbour", cfg.self);
    MURMUR_ENFORCE(!peers.count(a.id), InputError, "node {}: neighbour {} listed twice", cfg.self,
                   a.id);
    peers.emplace(a.id, std::make_unique<Peer>(io, a, cfg.self < a.id, cfg.maxQueuedBytesPerPeer,
                                               overhead()));
    neighbourIds.push_back(a.id);
  }
  MURMUR_ENFORCE(cfg.heartbeatInterval.count() > 0 && cfg.peerTimeout > cfg.heartbeatInterval,
                 InputError, "node {}: peerTimeout ({} ms) must exceed heartbeatInterval ({} ms)",
                 cfg.self, cfg.peerTimeout.count(), cfg.heartbeatInterval.count());
  if (cfg.faults) {
    shaper = std::make_unique<LinkShaper>(*cfg.faults, cfg.faultSeed, *clock);
  }
  try {
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(cfg.listenHost, std::to_string(cfg.listenPort),
                                    asio::ip::resolver_base::passive);
    MURMUR_ENFORCE(!results.empty(), IoError, "node {}: listen host '{}' resolves to nothing",
                   cfg.self, cfg.listenHost);
    asio::ip::tcp::endpoint ep = results.begin()->endpoint();
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    boundPort = acceptor.local_endpoint().port();
  } catch (const std::system_error& e) {
    throw IoError(fmt::format("node {}: cannot listen on {}:{}: {}", cfg.self, cfg.listenHost,
                              cfg.listenPort, e.what()));
  }
  if (!secret) spdlog::warn("node {}: {}", cfg.self, openClusterWarning(cfg.clusterId));
}

void TcpTransport::Impl::start() {
  asio::post(io, [this] {
    accept();
    for (auto& [id, p] : peers) {
      p->backoff = cfg.reconnectBackoffMin;
      if (p->dialer) dial(*p);
    }
    tick();
  });
  thread = std::thread([this] {
    for (;;) {
      try {
        io.run();
        break;
      } catch (const std::exception& e) {
        // Handlers are written not to throw; if one does, log it and keep the node up.
        spdlog::error("node {}: I/O handler threw: {}", cfg.self, e.what());
      }
    }
    ioDone.set_value();
  });
}

void TcpTransport::Impl::accept() {
  if (stopping) return;
  auto conn = std::make_shared<Connection>(*this, std::nullopt);
  acceptor.async_accept(conn->sock, [this, conn](std::error_code ec) {
    if (stopping) return;
    if (!ec) {
      conns.insert(conn);
      conn->start();
    } else if (ec != asio::error::operation_aborted) {
      spdlog::warn("node {}: accept failed: {}", cfg.self, ec.message());
    }
    accept();
  });
}

void TcpTransport::Impl::dial(Peer& p) {
  if (stopping || p.conn || p.dialing) return;
  if (cut(p.id)) {
    scheduleReconnect(p);
    return;
  }
  p.dialing = true;
  auto conn = std::make_shared<Connection>(*this, p.id);
  conn->resolver.async_resolve(
      p.addr.host, std::to_string(p.addr.port),
      [this, &p, conn](std::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (stopping) return;
        if (ec) {
          p.dialing = false;
          spdlog::warn("node {}: cannot resolve {}:{} for node {}: {}", cfg.self, p.addr.host,
                       p.addr.port, p.id, ec.message());
          scheduleReconnect(p);
          return;
        }
        asio::async_connect(conn->sock, results,
                            [this, &p, conn](std::error_code ec2, const asio::ip::tcp::endpoint&) {
                              if (stopping) return;
                              p.dialing = false;
                              if (ec2) {
                                spdlog::debug("node {}: dialling node {} failed: {}", cfg.self,
                                              p.id, ec2.message());
                                scheduleReconnect(p);
                                return;
                              }
                              conn->peer = &p;
                              p.conn = conn;
                              conns.insert(conn);
                              conn->start();
                            });
      });
}

void TcpTransport::Impl::scheduleReconnect(Peer& p) {
  if (stopping || closingIo) return;
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  const auto wait = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(p.backoff.count()) * jitter(rng)) + 1);
  p.backoff = std::min(cfg.reconnectBackoffMax, std::max(cfg.reconnectBackoffMin, p.backoff * 2));
  p.retryTimer.expires_after(wait);
  p.retryTimer.async_wait([this, &p](std::error_code ec) {
    if (ec || stopping) return;
    dial(p);
  });
}

void TcpTransport::Impl::tick() {
  if (stopping) return;
  const int64_t now = clock->nowNs();
  const int64_t hsLimit = std::chrono::nanoseconds(cfg.handshakeTimeout).count();
  const int64_t rxLimit = std::chrono::nanoseconds(cfg.peerTimeout).count();
  std::vector<std::shared_ptr<Connection>> snapshot(conns.begin(), conns.end());
  for (auto& c : snapshot) {
    if (c->state == Connection::State::kHandshake && now - c->startNs > hsLimit &&
        !c->closeAfterControl) {
      c->close(fmt::format("handshake timed out after {} ms", cfg.handshakeTimeout.count()));
    } else if (c->state == Connection::State::kUp) {
      if (now - c->lastRxNs > rxLimit) {
        c->close(fmt::format("timeout: no frame for {} ms", (now - c->lastRxNs) / 1000000));
      } else if (cut(c->peer->id)) {
        c->close("partitioned (fault scenario)");
      }
    }
  }
  if (!closingIo) {
    for (auto& [id, p] : peers) {
      if (!p->conn || p->conn->state != Connection::State::kUp) continue;
      // Any frame proves liveness: only an idle edge needs the transport's own heartbeat.
      if (p->conn->writing || !p->conn->pending.empty()) continue;
      {
        std::lock_guard lock(p->qmu);
        if (!p->queue.empty()) continue;
        const Message hb = Heartbeat{step.load(), 0, now, 0};
        p->queue.append(OutFrame::of(hb, std::make_shared<const Bytes>(encodePayload(hb))));
      }
      pump(*p->conn);
    }
  }
  hbTimer.expires_after(cfg.heartbeatInterval);
  hbTimer.async_wait([this](std::error_code ec) {
    if (!ec) tick();
  });
}

void TcpTransport::Impl::pump(Connection& c) {
  if (c.writing || c.state == Connection::State::kClosed) return;
  if (!c.control.empty()) {
    c.writeControl();
    return;
  }
  if (c.state != Connection::State::kUp) return;
  Peer& p = *c.peer;
  const int64_t now = clock->nowNs();
  bool queueNonEmpty = false;
  for (;;) {
    if (!c.pending.empty() && c.pending.begin()->first <= now) {
      OutFrame f = std::move(c.pending.begin()->second);
      c.pending.erase(c.pending.begin());
      c.writeFrame(std::move(f));
      return;
    }
    if (shaper && now < c.linkFreeNs) {
      std::lock_guard lock(p.qmu);
      queueNonEmpty = !p.queue.empty();
      break;
    }
    std::optional<OutFrame> f;
    {
      std::lock_guard lock(p.qmu);
      f = p.queue.pop();
    }
    if (!f) break;
    p.qcv.notify_all();
    if (!shaper) {
      c.writeFrame(std::move(*f));
      return;
    }
    const FrameFate fate = shaper->onFrame(cfg.self, p.id, f->payload->size() + overhead());
    c.linkFreeNs = fate.linkFreeNs;
    for (int64_t at : fate.releaseNs) c.pending.emplace(at, *f);
  }
  int64_t next = c.pending.empty() ? INT64_MAX : c.pending.begin()->first;
  if (queueNonEmpty) next = std::min(next, c.linkFreeNs);
  if (next == INT64_MAX) return;
  int64_t waitNs = std::max<int64_t>(0, next - now);
  // A clock other than the steady one (a test's ManualClock) moves without telling anyone:
  // look again every 2 ms of real time.
  if (clock != &SteadyClock::instance()) waitNs = std::min<int64_t>(waitNs, 2000000);
  c.shapeTimer.expires_after(std::chrono::nanoseconds(waitNs));
  c.shapeTimer.async_wait([conn = c.shared_from_this()](std::error_code ec) {
    if (!ec) conn->t.pump(*conn);
  });
}

void TcpTransport::Impl::kick(Peer& p) {
  if (p.kickPending.exchange(true)) return;
  asio::post(io, [this, &p] {
    p.kickPending.store(false);
    if (p.conn) pump(*p.conn);
  });
}

void TcpTransport::Impl::event(NodeId peerId, PeerEvent::Kind kind, std::string reason) {
  {
    std::lock_guard lock(inmu);
    inEvents.push_back(PeerEvent{peerId, kind, std::move(reason)});
  }
  incv.notify_all();
}

void TcpTransport::Impl::deliver(NodeId from, Message m) {
  {
    std::lock_guard lock(inmu);
    inbox.push_back(Envelope{from, std::move(m)});
  }
  incv.notify_all();
}

void TcpTransport::Impl::checkFlushed() {
  if (!closingIo) return;
  for (auto& [id, p] : peers) {
    if (!p->conn || p->conn->state != Connection::State::kUp) continue;
    if (!p->conn->idle()) return;
    std::lock_guard lock(p->qmu);
    if (!p->queue.empty()) return;
  }
  {
    std::lock_guard lock(inmu);
    flushed = true;
  }
  incv.notify_all();
}

// --- TcpTransport ---------------------------------------------------------------------------

TcpTransport::TcpTransport(TcpTransportConfig config)
    : impl_(std::make_shared<Impl>(std::move(config))) {
  impl_->start();
}

TcpTransport::~TcpTransport() {
  try {
    close("shutdown", std::chrono::milliseconds(1000));
  } catch (const std::exception& e) {
    spdlog::error("node {}: error while closing the transport: {}", impl_->cfg.self, e.what());
  }
}

NodeId TcpTransport::self() const { return impl_->cfg.self; }
const std::vector<NodeId>& TcpTransport::neighbours() const { return impl_->neighbourIds; }
uint16_t TcpTransport::port() const { return impl_->boundPort; }
LinkShaper* TcpTransport::shaper() { return impl_->shaper.get(); }

void TcpTransport::reportStep(uint64_t step) {
  impl_->step.store(step);
  if (impl_->shaper) impl_->shaper->setStep(step);
}

void TcpTransport::send(std::span<const NodeId> to, Message message) {
  Impl& t = *impl_;
  if (t.closed.load()) return;
  auto payload = std::make_shared<const Bytes>(encodePayload(message));
  const auto deadline = std::chrono::steady_clock::now() + t.cfg.sendBlockBound;
  const OutFrame frame = OutFrame::of(message, payload);
  for (NodeId id : to) {
    Impl::Peer* p = t.peer(id);
    MURMUR_ENFORCE(p != nullptr, InputError, "node {}: send to {} which is not a neighbour",
                   t.cfg.self, id);
    {
      std::unique_lock lock(p->qmu);
      if (!p->up.load()) continue;
      if (!p->queue.fits(payload->size())) {
        if (p->queue.tryMerge(message, payload)) {
          t.merges.fetch_add(1, std::memory_order_relaxed);
          lock.unlock();
          t.kick(*p);
          continue;
        }
        t.blockedSends.fetch_add(1, std::memory_order_relaxed);
        p->qcv.wait_until(lock, deadline,
                          [&] { return !p->up.load() || p->queue.fits(payload->size()); });
        if (!p->up.load()) continue;
        if (!p->queue.fits(payload->size())) {
          t.overflowedSends.fetch_add(1, std::memory_order_relaxed);
          const int64_t now = nowNs();
          if (now - t.lastOverflowLogNs.load() > 1000000000) {
            t.lastOverflowLogNs.store(now);
            spdlog::warn(
                "node {}: {} is falling behind: {} bytes queued (bound {}), queueing "
                "past the bound after waiting {} ms",
                t.cfg.self, t.edge(id), p->queue.bytes(), p->queue.maxBytes(),
                t.cfg.sendBlockBound.count());
          }
          if (p->queue.bytes() > 4 * p->queue.maxBytes()) {
            lock.unlock();
            asio::post(t.io, [&t, p] {
              if (p->conn) {
                p->conn->close(fmt::format("peer too slow: write queue over {} bytes",
                                           4 * p->queue.maxBytes()));
              }
            });
            continue;
          }
        }
      }
      p->queue.append(frame);
    }
    t.kick(*p);
  }
}

size_t TcpTransport::poll(std::vector<Envelope>& messages, std::vector<PeerEvent>& events,
                          std::chrono::milliseconds timeout) {
  Impl& t = *impl_;
  std::unique_lock lock(t.inmu);
  t.incv.wait_for(lock, timeout, [&] { return !t.inbox.empty() || !t.inEvents.empty(); });
  const size_t n = t.inbox.size() + t.inEvents.size();
  for (auto& e : t.inbox) messages.push_back(std::move(e));
  for (auto& e : t.inEvents) events.push_back(std::move(e));
  t.inbox.clear();
  t.inEvents.clear();
  return n;
}

bool TcpTransport::isUp(NodeId peer) const {
  const Impl::Peer* p = impl_->peer(peer);
  return p != nullptr && p->up.load();
}

std::vector<EdgeTraffic> TcpTransport::traffic() const {
  std::vector<EdgeTraffic> out;
  for (NodeId id : impl_->neighbourIds) {
    const Impl::Peer* p = impl_->peer(id);
    out.push_back(EdgeTraffic{id, p->sent.snapshot(), p->received.snapshot()});
  }
  return out;
}

TcpTransport::Stats TcpTransport::stats() const {
  Stats s;
  s.merges = impl_->merges.load();
  s.blockedSends = impl_->blockedSends.load();
  s.overflowedSends = impl_->overflowedSends.load();
  s.connectionsClosed = impl_->connectionsClosed.load();
  return s;
}

void TcpTransport::close(const std::string& reason, std::chrono::milliseconds deadline) {
  Impl& t = *impl_;
  if (t.closed.exchange(true)) return;
  const auto until = std::chrono::steady_clock::now() + deadline;
  // 1. Goodbye to every neighbour that is up, then wait for the queues to drain.
  asio::post(t.io, [&t, reason] {
    t.closingIo = true;
    const Message bye = Goodbye{reason};
    auto payload = std::make_shared<const Bytes>(encodePayload(bye));
    for (auto& [id, p] : t.peers) {
      p->retryTimer.cancel();
      if (!p->conn || p->conn->state != Connection::State::kUp) continue;
      {
        std::lock_guard lock(p->qmu);
        p->queue.append(OutFrame::of(bye, payload));
      }
      t.pump(*p->conn);
    }
    t.checkFlushed();
  });
  {
    std::unique_lock lock(t.inmu);
    t.incv.wait_until(lock, until, [&] { return t.flushed; });
  }
  // 2. Close everything on the I/O thread and let io.run() return.
  asio::post(t.io, [&t, reason] {
    t.stopping = true;
    std::error_code ec;
    t.acceptor.close(ec);
    t.hbTimer.cancel();
    for (auto& [id, p] : t.peers) p->retryTimer.cancel();
    std::vector<std::shared_ptr<Connection>> all(t.conns.begin(), t.conns.end());
    for (auto& c : all) c->close("closing: " + reason);
    t.work.reset();
  });
  auto done = t.ioDone.get_future();
  if (done.wait_until(until + std::chrono::milliseconds(500)) != std::future_status::ready) {
    spdlog::warn("node {}: I/O did not wind down in time; stopping it", t.cfg.self);
    t.io.stop();
  }
  if (t.thread.joinable()) t.thread.join();
  // Run what the stop left behind (aborted handlers) so no handler outlives its objects.
  t.io.restart();
  t.io.poll();
  t.conns.clear();
  for (auto& [id, p] : t.peers) p->conn.reset();
}

}  // namespace murmur::net
