#include "net/framing.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace murmur::net {

namespace {

void checkFramable(size_t payloadBytes, size_t maxPayloadBytes) {
  MURMUR_CHECK(payloadBytes != 0 && payloadBytes % 8 == 0 && payloadBytes <= maxPayloadBytes &&
                   payloadBytes <= UINT32_MAX,
               "cannot frame a payload of {} bytes (limit {}, must be a non-zero multiple of 8)",
               payloadBytes, maxPayloadBytes);
}

}  // namespace

std::array<uint8_t, kFrameHeaderBytes> frameHeader(size_t payloadBytes, size_t maxPayloadBytes) {
  checkFramable(payloadBytes, maxPayloadBytes);
  auto n = static_cast<uint32_t>(payloadBytes);
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

Bytes buildFrame(std::span<const uint8_t> payload, const MacBytes* mac, size_t maxPayloadBytes) {
  auto header = frameHeader(payload.size(), maxPayloadBytes);
  Bytes out(header.size() + payload.size() + (mac != nullptr ? mac->size() : 0));
  std::memcpy(out.data(), header.data(), header.size());
  // An empty span's data() may be null, and memcpy from null is undefined even for 0 bytes.
  if (!payload.empty()) std::memcpy(out.data() + header.size(), payload.data(), payload.size());
  if (mac != nullptr) {
    std::memcpy(out.data() + header.size() + payload.size(), mac->data(), mac->size());
  }
  return out;
}

FrameReader::FrameReader(size_t maxPayloadBytes, bool macEnabled)
    : maxPayloadBytes_(maxPayloadBytes), macEnabled_(macEnabled) {
  MURMUR_CHECK(maxPayloadBytes_ >= 8 && maxPayloadBytes_ <= UINT32_MAX,
               "frame payload limit {} out of range", maxPayloadBytes_);
}

void FrameReader::setMaxPayloadBytes(size_t maxPayloadBytes) {
  MURMUR_CHECK(maxPayloadBytes >= 8 && maxPayloadBytes <= UINT32_MAX,
               "frame payload limit {} out of range", maxPayloadBytes);
  maxPayloadBytes_ = maxPayloadBytes;
}

void FrameReader::fillCurrent(std::span<const uint8_t>& bytes) {
  Bytes& payload = current_->payload;
  size_t take = std::min(bytes.size(), currentLength_ - currentFilled_);
  if (take != 0) std::memcpy(payload.data() + currentFilled_, bytes.data(), take);
  currentFilled_ += take;
  bytes = bytes.subspan(take);
  currentNeeded_ -= take;
  if (current_->mac && currentNeeded_ > 0 && !bytes.empty()) {
    size_t macTake = std::min(bytes.size(), currentNeeded_);
    std::memcpy(current_->mac->data() + (kFrameMacBytes - currentNeeded_), bytes.data(), macTake);
    bytes = bytes.subspan(macTake);
    currentNeeded_ -= macTake;
  }
}

std::span<uint8_t> FrameReader::payloadWindow() {
  if (!current_ || pendingOffset_ != pending_.size()) return {};
  return {current_->payload.data() + currentFilled_, currentLength_ - currentFilled_};
}

void FrameReader::commitPayload(size_t n) {
  MURMUR_CHECK(n <= payloadWindow().size(), "committing {} bytes to a window of {}", n,
               payloadWindow().size());
  currentFilled_ += n;
  currentNeeded_ -= n;
}

void FrameReader::feed(std::span<const uint8_t> bytes) {
  // Inside a frame whose header is known, bytes go straight to it (pending_ is empty then).
  if (current_ && currentNeeded_ > 0 && pendingOffset_ == pending_.size()) fillCurrent(bytes);
  if (bytes.empty()) return;
  if (pendingOffset_ == pending_.size()) {
    pending_.clear();
    pendingOffset_ = 0;
  } else if (pendingOffset_ > 4096 && pendingOffset_ * 2 > pending_.size()) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(pendingOffset_));
    pendingOffset_ = 0;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
}

std::optional<Frame> FrameReader::next() {
  if (!current_) {
    if (pending_.size() - pendingOffset_ < kFrameHeaderBytes) return std::nullopt;
    const uint8_t* h = pending_.data() + pendingOffset_;
    size_t length = size_t{h[0]} | size_t{h[1]} << 8 | size_t{h[2]} << 16 | size_t{h[3]} << 24;
    MURMUR_ENFORCE(length != 0, ProtocolError, "frame with an empty payload");
    MURMUR_ENFORCE(length <= maxPayloadBytes_, ProtocolError,
                   "frame of {} bytes exceeds the limit of {}", length, maxPayloadBytes_);
    MURMUR_ENFORCE(length % 8 == 0, ProtocolError,
                   "frame of {} bytes is not a whole number of 8-byte words", length);
    pendingOffset_ += kFrameHeaderBytes;
    current_.emplace();
    // Sized at once (Bytes does not zero-fill) so the socket can be read straight into it.
    current_->payload.resize(length);
    currentLength_ = length;
    currentFilled_ = 0;
    if (macEnabled_) current_->mac.emplace();
    current_->wireBytes = kFrameHeaderBytes + length + (macEnabled_ ? kFrameMacBytes : 0);
    currentNeeded_ = length + (macEnabled_ ? kFrameMacBytes : 0);
    std::span<const uint8_t> rest(pending_.data() + pendingOffset_,
                                  pending_.size() - pendingOffset_);
    size_t before = rest.size();
    fillCurrent(rest);
    pendingOffset_ += before - rest.size();
    if (pendingOffset_ == pending_.size()) {
      pending_.clear();
      pendingOffset_ = 0;
    }
  }
  if (currentNeeded_ != 0) return std::nullopt;
  Frame frame = std::move(*current_);
  current_.reset();
  return frame;
}

size_t FrameReader::buffered() const {
  size_t inCurrent = 0;
  if (current_) {
    inCurrent =
        kFrameHeaderBytes + currentLength_ + (current_->mac ? kFrameMacBytes : 0) - currentNeeded_;
  }
  return (pending_.size() - pendingOffset_) + inCurrent;
}

}  // namespace murmur::net
