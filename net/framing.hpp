#pragma once
// Framing on a byte stream: frame = [u32 little-endian payload length | payload | MAC?].
// The MAC (32 bytes, net/auth.hpp) is present on every frame after an authenticated handshake
// and on none before it or in an open cluster; both ends switch at the same frame boundary, so
// the reader is told (setMacEnabled) rather than the frame carrying a flag.
//
// Payloads are Cap'n Proto flat messages, so their length must be a non-zero multiple of 8
// and at most `maxPayloadBytes`. A FrameReader owns nothing but its buffers: one per
// connection, fed by the transport's read handler on the I/O thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "net/codec.hpp"

namespace murmur::net {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kFrameMacBytes = 32;

struct Frame {
  // Word-aligned (std::vector storage is at least 16-byte aligned on every supported target),
  // so decodePayload reads it in place.
  Bytes payload;
  std::optional<MacBytes> mac;  // set iff MACs were enabled when this frame's header was read
  size_t wireBytes = 0;         // header + payload + MAC, for traffic counters
};

// The 4-byte length prefix of a payload; throws InternalError when the payload cannot be
// framed (empty, not a multiple of 8, above maxPayloadBytes): we never send what we'd reject.
std::array<uint8_t, kFrameHeaderBytes> frameHeader(
    size_t payloadBytes, size_t maxPayloadBytes = kDefaultMaxPayloadBytes);

// header + payload (+ mac) in one buffer; for tests and small frames. The transport may
// instead write header, shared payload and MAC as three buffers (scatter-gather).
Bytes buildFrame(std::span<const uint8_t> payload, const MacBytes* mac = nullptr,
                 size_t maxPayloadBytes = kDefaultMaxPayloadBytes);

// Frame size limit before a peer has completed the handshake: Hello, HelloProof and a refusal
// Goodbye are a few hundred bytes (text fields are capped at 4 KiB).
inline constexpr size_t kHandshakeMaxPayloadBytes = 64 * 1024;

class FrameReader {
 public:
  explicit FrameReader(size_t maxPayloadBytes = kDefaultMaxPayloadBytes, bool macEnabled = false);

  // Appends bytes exactly as they came off the socket (any split). Bytes of a frame whose
  // header has already been read (by next()) go straight into that frame's buffer, so drain
  // next() after every feed: a large frame is then copied once, not staged twice.
  void feed(std::span<const uint8_t> bytes);

  // The missing part of the current frame's payload, when its header has been read and no
  // other received bytes are waiting (empty otherwise). The transport reads the socket
  // straight into it, so a large payload is copied once (kernel to frame buffer) instead of
  // being staged in a read buffer first. Valid until the next call of any other member.
  std::span<uint8_t> payloadWindow();
  // `n` bytes (<= payloadWindow().size()) were written at the front of payloadWindow().
  void commitPayload(size_t n);

  // The next complete frame, or nullopt if more bytes are needed. Throws ProtocolError on a
  // bad header (zero, unaligned or oversized length); the connection is unusable after that.
  std::optional<Frame> next();

  // Applies from the next frame header read on; call between next() calls, e.g. right after
  // the handshake frame that completes authentication.
  void setMacEnabled(bool enabled) { macEnabled_ = enabled; }

  // Applies from the next frame header read on. The transport keeps the limit small until a
  // peer has completed the handshake, so an unauthenticated stranger cannot make the node
  // reserve a maximal frame buffer per connection.
  void setMaxPayloadBytes(size_t maxPayloadBytes);
  size_t maxPayloadBytes() const { return maxPayloadBytes_; }
  bool macEnabled() const { return macEnabled_; }

  // Bytes received but not yet returned in a frame.
  size_t buffered() const;

 private:
  void fillCurrent(std::span<const uint8_t>& bytes);

  size_t maxPayloadBytes_;
  bool macEnabled_;
  std::vector<uint8_t> pending_;  // bytes not yet assigned to a frame
  size_t pendingOffset_ = 0;
  // The frame being assembled once its header is known.
  std::optional<Frame> current_;
  size_t currentLength_ = 0;  // payload bytes of current_ (its buffer's size from the header on)
  size_t currentFilled_ = 0;  // payload bytes of current_ received so far
  size_t currentNeeded_ = 0;  // payload + MAC bytes of current_ still missing
};

}  // namespace murmur::net
