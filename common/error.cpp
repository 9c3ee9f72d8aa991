#include "common/error.hpp"

namespace murmur::detail {

void throwEnforce(const char* kind, const char* file, int line, const char* cond,
                  const std::string& message) {
  throw InternalError(
      fmt::format("{} error at {}:{}: check '{}' failed: {}", kind, file, line, cond, message));
}

}  // namespace murmur::detail

#include "common/messages.hpp"

namespace murmur {

const char* toString(MessageKind kind) {
  switch (kind) {
    case MessageKind::kHandshake:
      return "handshake";
    case MessageKind::kTensorUpdate:
      return "tensor_update";
    case MessageKind::kMaskVote:
      return "mask_vote";
    case MessageKind::kMaskDecision:
      return "mask_decision";
    case MessageKind::kHeartbeat:
      return "heartbeat";
    case MessageKind::kGoodbye:
      return "goodbye";
    case MessageKind::kKeyframeRequest:
      return "keyframe_request";
    case MessageKind::kCount:
      break;
  }
  return "unknown";
}

}  // namespace murmur
