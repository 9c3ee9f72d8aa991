#include "algo/trigger.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace murmur::algo {

EventTrigger::EventTrigger(const EventGradConfig& config, uint64_t firstStep)
    : config_(config),
      thr_(config.adaptive ? 0.0 : config.staticThreshold),
      lastEvent_(static_cast<int64_t>(firstStep) - 1) {}

bool EventTrigger::decide(uint64_t k, double delta) {
  const int64_t ki = static_cast<int64_t>(k);
  const int64_t gap = std::max<int64_t>(1, ki - lastEvent_);
  thr_ *= config_.horizon;
  const bool fire = delta >= thr_ || k < config_.warmup ||
                    (config_.maxSilence > 0 && static_cast<uint64_t>(gap) >= config_.maxSilence);
  if (!fire) return false;
  slopes_.push_back(delta / static_cast<double>(gap));
  while (slopes_.size() > config_.history) slopes_.pop_front();
  if (config_.adaptive) {
    thr_ = config_.scale * std::accumulate(slopes_.begin(), slopes_.end(), 0.0) /
           static_cast<double>(slopes_.size());
  } else {
    thr_ = config_.staticThreshold;
  }
  lastEvent_ = ki;
  return true;
}

uint64_t AetSchedule::roundLength(uint32_t r) const {
  const double v = config_.a * std::pow(static_cast<double>(r) + config_.m, config_.p);
  // The guard keeps an exact integer such as 10 * 3^1 from rounding up through pow's last ulp.
  const double s = std::ceil(v - 1e-9);
  return s < 1.0 ? 1 : static_cast<uint64_t>(s);
}

AetSchedule::Position AetSchedule::at(uint64_t k) const {
  Position pos;
  pos.round = 1;
  pos.start = 0;
  pos.end = roundLength(1);
  while (k >= pos.end) {
    ++pos.round;
    pos.start = pos.end;
    pos.end += roundLength(pos.round);
  }
  return pos;
}

double AetSchedule::lrScale(uint64_t k) const {
  if (!config_.roundLearningRate) return 1.0;
  return 1.0 / (1.0 + 0.01 * std::sqrt(static_cast<double>(at(k).start)));
}

}  // namespace murmur::algo
