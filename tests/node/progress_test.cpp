#include "node/progress.hpp"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace murmur::node {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(formatDuration(0), "00:00");
  EXPECT_EQ(formatDuration(83), "01:23");
  EXPECT_EQ(formatDuration(3723), "1:02:03");
  EXPECT_EQ(formatDuration(-1), "--:--");
}

TEST(Progress, LineShowsStepLossRateAndEta) {
  ProgressState s;
  s.step = 25;
  s.totalSteps = 100;
  s.epoch = 1;
  s.loss = 0.5;
  s.imagesPerSec = 1234;
  s.elapsedSeconds = 10;  // 25 steps in 10 s: 75 more take 30 s
  const auto line = formatProgress(s, 8);
  EXPECT_NE(line.find("[##......]"), std::string::npos) << line;
  EXPECT_NE(line.find("step 25/100"), std::string::npos) << line;
  EXPECT_NE(line.find("loss 0.5000"), std::string::npos) << line;
  EXPECT_NE(line.find("1234 img/s"), std::string::npos) << line;
  EXPECT_NE(line.find("eta 00:30"), std::string::npos) << line;
}

TEST(Progress, PlainModeWritesWholeLinesAndRateLimits) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar(f, /*tty=*/0, /*plainEverySeconds=*/3600);
    ProgressState s;
    s.totalSteps = 10;
    s.step = 1;
    bar.update(s);  // first update draws
    s.step = 2;
    bar.update(s);  // too soon: skipped
    bar.message("evaluated");
    s.step = 3;
    bar.update(s, /*force=*/true);
  }
  std::rewind(f);
  std::string all;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f) != nullptr) all += buf;
  std::fclose(f);
  EXPECT_NE(all.find("step 1/10"), std::string::npos) << all;
  EXPECT_EQ(all.find("step 2/10"), std::string::npos) << all;
  EXPECT_NE(all.find("evaluated\n"), std::string::npos) << all;
  EXPECT_NE(all.find("step 3/10"), std::string::npos) << all;
  EXPECT_EQ(all.find('\r'), std::string::npos) << all;
}

}  // namespace
}  // namespace murmur::node
