// The fault layer on its own: parsing, and each effect measured against a ManualClock. The same
// effects are checked end to end on both transports in inmemory_transport_test.cpp and
// tcp_transport_test.cpp.
#include "net/fault.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"

namespace murmur::net {
namespace {

using namespace std::chrono_literals;

TEST(FaultScenarioTest, ParsesEveryDirective) {
  auto sc = FaultScenario::parse(R"(
    # a comment
    seed 7
    link 0->1 drop=0.1 delay=5ms jitter=2ms dup=5% reorder=0.2 hold=10ms bw=1MB burst=64KiB
    link *-2 drop=0.5     # both ways, wildcard
    partition 0-1 1->2 time=100ms..1s
    partition 3<->* steps=10..20
  )");
  ASSERT_EQ(sc.seed, 7u);
  ASSERT_EQ(sc.rules.size(), 2u);
  const auto& r = sc.rules[0];
  EXPECT_DOUBLE_EQ(r.drop, 0.1);
  EXPECT_EQ(r.delayNs, 5000000);
  EXPECT_EQ(r.jitterNs, 2000000);
  EXPECT_DOUBLE_EQ(r.duplicate, 0.05);
  EXPECT_DOUBLE_EQ(r.reorder, 0.2);
  EXPECT_EQ(r.reorderHoldNs, 10000000);
  EXPECT_DOUBLE_EQ(r.bandwidthBps, 1e6);
  EXPECT_DOUBLE_EQ(r.burstBytes, 65536.0);
  EXPECT_TRUE(r.link.matches(0, 1));
  EXPECT_FALSE(r.link.matches(1, 0));
  EXPECT_TRUE(sc.rules[1].link.matches(2, 9));
  EXPECT_TRUE(sc.rules[1].link.matches(9, 2));
  EXPECT_FALSE(sc.rules[1].link.matches(1, 3));
  ASSERT_EQ(sc.partitions.size(), 2u);
  EXPECT_FALSE(sc.partitions[0].bySteps);
  EXPECT_EQ(sc.partitions[0].begin, 100);
  EXPECT_EQ(sc.partitions[0].end, 1000);
  EXPECT_TRUE(sc.partitions[1].bySteps);
  EXPECT_EQ(sc.partitions[1].begin, 10);
  EXPECT_EQ(sc.partitions[1].end, 20);
}

TEST(FaultScenarioTest, RejectsBadLinesNamingTheLine) {
  for (const char* bad : {"link 0->1 drop=2", "link 0->1 delay=5parsecs", "link 0=>1",
                          "link 0->1 speed=3", "partition 0-1", "partition time=1..2",
                          "partition 0-1 steps=5..2", "flood 0-1", "link a->1"}) {
    try {
      FaultScenario::parse(std::string("\n") + bad, "scn");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("scn:2"), std::string::npos) << e.what();
    }
  }
}

TEST(LinkShaperTest, NoRuleMeansImmediateSingleDelivery) {
  ManualClock clock;
  clock.set(5000);
  LinkShaper shaper(FaultScenario::parse("link 1->2 drop=1"), 1, clock);
  for (int i = 0; i < 100; ++i) {
    auto fate = shaper.onFrame(0, 1, 100);
    ASSERT_EQ(fate.releaseNs.size(), 1u);
    EXPECT_EQ(fate.releaseNs[0], 5000);
  }
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(shaper.onFrame(1, 2, 100).releaseNs.empty());
}

TEST(LinkShaperTest, DropRateWithinBinomialBound) {
  ManualClock clock;
  LinkShaper shaper(FaultScenario::parse("link * drop=0.2"), 42, clock);
  const int n = 20000;
  int lost = 0;
  for (int i = 0; i < n; ++i) lost += shaper.onFrame(0, 1, 64).releaseNs.empty() ? 1 : 0;
  const double mean = n * 0.2;
  const double sd = std::sqrt(n * 0.2 * 0.8);
  EXPECT_NEAR(lost, mean, 5 * sd);
}

TEST(LinkShaperTest, DelayAndJitterStayInWindowAndSpread) {
  ManualClock clock;
  clock.set(1000000000);
  LinkShaper shaper(FaultScenario::parse("link 0->1 delay=10ms jitter=4ms"), 3, clock);
  int64_t lo = INT64_MAX;
  int64_t hi = INT64_MIN;
  double sum = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    clock.advance(1ms);
    auto fate = shaper.onFrame(0, 1, 64);
    ASSERT_EQ(fate.releaseNs.size(), 1u);
    const int64_t d = fate.releaseNs[0] - clock.nowNs();
    ASSERT_GE(d, 10000000);
    ASSERT_LE(d, 14000000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += static_cast<double>(d);
  }
  EXPECT_LT(lo, 10200000);  // jitter really spreads over the window
  EXPECT_GT(hi, 13800000);
  EXPECT_NEAR(sum / n, 12000000.0, 150000.0);
}

TEST(LinkShaperTest, DuplicationRate) {
  ManualClock clock;
  LinkShaper shaper(FaultScenario::parse("link 0->1 dup=0.3"), 9, clock);
  const int n = 10000;
  int dups = 0;
  for (int i = 0; i < n; ++i) {
    auto fate = shaper.onFrame(0, 1, 10);
    ASSERT_GE(fate.releaseNs.size(), 1u);
    dups += fate.releaseNs.size() == 2 ? 1 : 0;
  }
  EXPECT_NEAR(dups, n * 0.3, 5 * std::sqrt(n * 0.3 * 0.7));
}

TEST(LinkShaperTest, ReorderHoldsFramesBehindLaterOnes) {
  ManualClock clock;
  LinkShaper shaper(FaultScenario::parse("link 0->1 reorder=0.25 hold=5ms"), 11, clock);
  std::vector<int64_t> release;
  for (int i = 0; i < 2000; ++i) {
    clock.advance(100us);
    release.push_back(shaper.onFrame(0, 1, 10).releaseNs.at(0));
  }
  int inversions = 0;
  int held = 0;
  for (size_t i = 0; i < release.size(); ++i) {
    const int64_t sentAt = static_cast<int64_t>(i + 1) * 100000;
    if (release[i] - sentAt == 5000000)
      ++held;
    else
      EXPECT_EQ(release[i], sentAt);
    if (i + 1 < release.size() && release[i] > release[i + 1]) ++inversions;
  }
  EXPECT_NEAR(held, 500, 5 * std::sqrt(2000 * 0.25 * 0.75));
  EXPECT_GT(inversions, 100);
}

TEST(LinkShaperTest, ProgrammaticRuleGetsDefaultHold) {
  ManualClock clock;
  FaultScenario sc;
  LinkRule rule;  // wildcard link, built in code rather than parsed
  rule.reorder = 1.0;
  rule.delayNs = 1000000;
  sc.rules.push_back(rule);
  LinkShaper shaper(sc, 1, clock);
  EXPECT_EQ(shaper.onFrame(3, 4, 10).releaseNs.at(0), 4000000);  // delay + hold (2 ms + delay)
}

TEST(LinkShaperTest, BandwidthCapBoundsBytesOverTime) {
  ManualClock clock;
  // 1 MB/s with a 10 KB bucket; 1000 frames of 1000 bytes offered at once.
  LinkShaper shaper(FaultScenario::parse("link 0->1 bw=1MB burst=10KB"), 1, clock);
  std::vector<int64_t> release;
  for (int i = 0; i < 1000; ++i) release.push_back(shaper.onFrame(0, 1, 1000).releaseNs.at(0));
  EXPECT_TRUE(std::is_sorted(release.begin(), release.end()));
  for (int64_t t : {0LL, 1000000LL, 100000000LL, 500000000LL, 990000000LL}) {
    const auto sentBy = std::upper_bound(release.begin(), release.end(), t) - release.begin();
    const double bytes = static_cast<double>(sentBy) * 1000.0;
    const double allowed = 10000.0 + 1e6 * static_cast<double>(t) * 1e-9;
    EXPECT_LE(bytes, allowed + 1.0) << "t=" << t;
    EXPECT_GE(bytes, allowed - 1000.0) << "t=" << t;  // and the link is not idle either
  }
  EXPECT_NEAR(static_cast<double>(release.back()), 0.99e9, 1e6);
  // Idle time refills the bucket, capped at its depth.
  clock.set(release.back() + 1000000000);
  int immediate = 0;
  for (int i = 0; i < 20; ++i)
    immediate += shaper.onFrame(0, 1, 1000).releaseNs.at(0) == clock.nowNs();
  EXPECT_EQ(immediate, 10);
}

TEST(LinkShaperTest, PartitionByTimeWindow) {
  ManualClock clock;
  clock.set(7000000000);
  LinkShaper shaper(FaultScenario::parse("partition 0-1 2->3 time=100ms..300ms"), 1, clock);
  EXPECT_FALSE(shaper.isCut(0, 1));
  clock.advance(100ms);
  EXPECT_TRUE(shaper.isCut(0, 1));
  EXPECT_TRUE(shaper.isCut(1, 0));
  EXPECT_TRUE(shaper.isCut(2, 3));
  EXPECT_FALSE(shaper.isCut(3, 2));
  EXPECT_FALSE(shaper.isCut(0, 2));
  auto fate = shaper.onFrame(1, 0, 10);
  EXPECT_TRUE(fate.releaseNs.empty());
  EXPECT_TRUE(fate.partitioned);
  clock.advance(199ms);
  EXPECT_TRUE(shaper.isCut(0, 1));
  clock.advance(1ms);
  EXPECT_FALSE(shaper.isCut(0, 1));
  EXPECT_EQ(shaper.onFrame(1, 0, 10).releaseNs.size(), 1u);
}

TEST(LinkShaperTest, PartitionBySteps) {
  ManualClock clock;
  LinkShaper shaper(FaultScenario::parse("partition 1-* steps=5..8"), 1, clock);
  shaper.setStep(4);
  EXPECT_FALSE(shaper.isCut(1, 0));
  shaper.setStep(5);
  EXPECT_TRUE(shaper.isCut(1, 0));
  EXPECT_TRUE(shaper.isCut(3, 1));
  EXPECT_FALSE(shaper.isCut(0, 3));
  shaper.setStep(8);
  EXPECT_FALSE(shaper.isCut(1, 0));
}

TEST(LinkShaperTest, SameSeedReplaysDifferentSeedDiffers) {
  const auto sc = FaultScenario::parse("link * drop=0.3 delay=1ms jitter=1ms dup=0.2 reorder=0.1");
  auto run = [&](uint64_t seed) {
    ManualClock clock;
    LinkShaper shaper(sc, seed, clock);
    std::vector<std::vector<int64_t>> out;
    for (int i = 0; i < 500; ++i) {
      clock.advance(10us);
      out.push_back(
          shaper.onFrame(static_cast<NodeId>(i % 3), static_cast<NodeId>((i + 1) % 3), 100)
              .releaseNs);
    }
    return out;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

// The scenarios shipped in scripts/scenarios/ (used by the README and the experiments) parse.
TEST(FaultScenario, ShippedScenariosParse) {
  const char* root = std::getenv("MURMUR_SOURCE_DIR");
  ASSERT_NE(root, nullptr) << "ctest sets MURMUR_SOURCE_DIR";
  const std::filesystem::path dir = std::filesystem::path(root) / "scripts" / "scenarios";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".faults") continue;
    ++files;
    EXPECT_NO_THROW((void)FaultScenario::load(entry.path().string())) << entry.path();
  }
  EXPECT_GE(files, 2);
}

}  // namespace
}  // namespace murmur::net
