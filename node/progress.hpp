#pragma once
// Progress on stderr. On a terminal: one line redrawn in place (at most ~10 times a second)
// with step, loss, images/s and ETA. Otherwise (logs, pipes): a plain line every
// `plainEverySeconds`, so logs stay readable.

#include <cstdint>
#include <cstdio>
#include <string>

namespace murmur::node {

struct ProgressState {
  int64_t step = 0;
  int64_t totalSteps = 0;
  int epoch = 0;
  double loss = 0.0;  // recent (smoothed) training loss
  double imagesPerSec = 0.0;
  double elapsedSeconds = 0.0;
};

// "01:23" / "1:02:03" for the ETA and elapsed fields; "--:--" for unknown or negative.
std::string formatDuration(double seconds);
// The text of one progress line (no newline, no carriage return). `width` bounds the bar.
std::string formatProgress(const ProgressState& s, int barWidth);

class ProgressBar {
 public:
  // `tty` < 0: detect with isatty(fileno(out)).
  explicit ProgressBar(std::FILE* out = stderr, int tty = -1, double plainEverySeconds = 10.0);
  ~ProgressBar();

  // Draws if enough time passed since the last draw (or `force`).
  void update(const ProgressState& s, bool force = false);
  // Prints a message on its own line without garbling the bar.
  void message(const std::string& text);
  // Ends the bar's line on a terminal.
  void finish();
  bool isTty() const { return tty_; }

 private:
  std::FILE* out_;
  bool tty_;
  double plainEvery_;
  double lastDraw_ = -1e18;
  bool barShown_ = false;
};

}  // namespace murmur::node
