#pragma once
// When a tensor is sent: the EventGraD threshold trigger (per tensor) and the AET-SGD round
// schedule. Both are small value types so their arithmetic is tested by hand.

#include <cstdint>
#include <deque>

#include "algo/method.hpp"

namespace murmur::algo {

// EventGraD's per-tensor trigger. At step k with change `delta` (the chosen metric between x_p
// and x~_p):
//   thr <- thr * horizon
//   fire iff delta >= thr, or k < warmup, or k - lastEvent >= maxSilence (when set)
//   on fire: push delta / (k - lastEvent) into the last-H slope history; thr <- mean(history)
//            (adaptive) or the static threshold; lastEvent <- k.
class EventTrigger {
 public:
  // firstStep: the first step this trigger will see (0, or the resumed step); the gap of the
  // first event is counted from firstStep - 1.
  EventTrigger(const EventGradConfig& config, uint64_t firstStep);

  // Decides step k (k increasing) and, when it fires, updates the threshold.
  bool decide(uint64_t k, double delta);

  double threshold() const { return thr_; }
  // Step of the last event; firstStep - 1 before the first one (as a signed value).
  int64_t lastEvent() const { return lastEvent_; }
  const std::deque<double>& slopes() const { return slopes_; }

 private:
  EventGradConfig config_;
  double thr_;
  int64_t lastEvent_;
  std::deque<double> slopes_;
};

// AET-SGD's rounds: round r = 1, 2, ... lasts s_r = max(1, ceil(a (r + m)^p)) steps; T_r is the
// number of steps in rounds 1..r (T_0 = 0).
class AetSchedule {
 public:
  explicit AetSchedule(const AetConfig& config) : config_(config) {}

  uint64_t roundLength(uint32_t r) const;

  struct Position {
    uint32_t round = 1;  // the round step k belongs to
    uint64_t start = 0;  // T_{round-1}: first step of the round
    uint64_t end = 0;    // T_round: first step after the round
  };
  Position at(uint64_t k) const;

  // lr_r / lr0 = 1 / (1 + 0.01 sqrt(T_{r-1})) for the round of step k.
  double lrScale(uint64_t k) const;

 private:
  AetConfig config_;
};

}  // namespace murmur::algo
