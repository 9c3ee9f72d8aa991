#include "node/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace murmur::node {
namespace {
double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total % 3600) / 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{:02}:{:02}", m, s);
}

std::string formatProgress(const ProgressState& s, int barWidth) {
  std::string bar;
  double frac = 0.0;
  if (s.totalSteps > 0) {
    frac = std::clamp(static_cast<double>(s.step) / static_cast<double>(s.totalSteps), 0.0, 1.0);
  }
  if (barWidth > 0) {
    const int filled = static_cast<int>(frac * barWidth);
    bar.reserve(static_cast<size_t>(barWidth) + 3);
    bar.push_back('[');
    bar.append(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(barWidth - filled), '.');
    bar.append("] ");
  }
  double eta = -1.0;
  if (s.step > 0 && s.totalSteps > 0 && s.elapsedSeconds > 0) {
    eta =
        s.elapsedSeconds / static_cast<double>(s.step) * static_cast<double>(s.totalSteps - s.step);
  }
  return fmt::format("{}epoch {} step {}/{} ({:3.0f}%) loss {:.4f} {:.0f} img/s elapsed {} eta {}",
                     bar, s.epoch, s.step, s.totalSteps, frac * 100.0, s.loss, s.imagesPerSec,
                     formatDuration(s.elapsedSeconds), formatDuration(eta));
}

ProgressBar::ProgressBar(std::FILE* out, int tty, double plainEverySeconds)
    : out_(out),
      tty_(tty < 0 ? ::isatty(::fileno(out)) != 0 : tty != 0),
      plainEvery_(plainEverySeconds) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(const ProgressState& s, bool force) {
  const double now = nowSeconds();
  const double every = tty_ ? 0.1 : plainEvery_;
  if (!force && now - lastDraw_ < every) return;
  lastDraw_ = now;
  if (tty_) {
    fmt::print(out_, "\r\033[K{}", formatProgress(s, 24));
    barShown_ = true;
  } else {
    fmt::print(out_, "{}\n", formatProgress(s, 0));
  }
  std::fflush(out_);
}

void ProgressBar::message(const std::string& text) {
  if (tty_ && barShown_) {
    fmt::print(out_, "\r\033[K");
    barShown_ = false;
  }
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
  lastDraw_ = -1e18;  // redraw the bar at the next update
}

void ProgressBar::finish() {
  if (tty_ && barShown_) {
    fmt::print(out_, "\n");
    std::fflush(out_);
  }
  barShown_ = false;
}

}  // namespace murmur::node
