#pragma once
// Time is read through Clock so the in-memory transport, the fault layer and the failure
// detector can run a scenario deterministically in tests.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace murmur {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch fixed for the clock's lifetime.
  virtual int64_t nowNs() const = 0;
  std::chrono::nanoseconds now() const { return std::chrono::nanoseconds(nowNs()); }
};

class SteadyClock final : public Clock {
 public:
  int64_t nowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // One process-wide instance; it holds no state.
  static const SteadyClock& instance() {
    static const SteadyClock clock;
    return clock;
  }
};

// A clock that moves only when told; safe to read from several threads.
class ManualClock final : public Clock {
 public:
  int64_t nowNs() const override { return now_.load(std::memory_order_acquire); }
  void advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set(int64_t ns) { now_.store(ns, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_{0};
};

}  // namespace murmur
