#include "node/metrics.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace murmur::node {
namespace {

TEST(JsonObject, FormatsScalarsNestedAndEscapes) {
  JsonObject inner;
  inner.add("bytes", uint64_t{18446744073709551615ull}).add("frames", 3);
  JsonObject o;
  o.add("step", int64_t{-5})
      .add("loss", 0.25)
      .add("nan", std::nan(""))
      .add("ok", true)
      .add("name", "a\"b\\c\nd\x01")
      .add("edge", inner)
      .addRaw("list", "[1,2]");
  EXPECT_EQ(o.str(),
            "{\"step\":-5,\"loss\":0.25,\"nan\":null,\"ok\":true,"
            "\"name\":\"a\\\"b\\\\c\\nd\\u0001\",\"edge\":{\"bytes\":18446744073709551615,"
            "\"frames\":3},\"list\":[1,2]}");
  EXPECT_EQ(JsonObject{}.str(), "{}");
}

TEST(MetricsWriter, AppendsOneFlushedLinePerRecord) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("murmur_metrics_test_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  {
    MetricsWriter w(path.string());
    w.write(JsonObject{}.add("step", 1));
    // Visible to a reader before the writer closes: `murmur run` tails live files.
    std::ifstream in(path);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "{\"step\":1}");
    w.write(JsonObject{}.add("step", 2));
  }
  {
    MetricsWriter again(path.string());  // appends (resume)
    again.write(JsonObject{}.add("step", 3));
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"step\":1}", "{\"step\":2}", "{\"step\":3}"}));
  std::filesystem::remove(path);
}

TEST(MetricsWriter, UnwritablePathIsAnIoErrorNamingIt) {
  try {
    MetricsWriter w("/nonexistent-dir/metrics.jsonl");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/metrics.jsonl"), std::string::npos);
  }
}

}  // namespace
}  // namespace murmur::node
