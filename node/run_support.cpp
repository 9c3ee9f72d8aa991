#include "node/run_support.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/error.hpp"
#include "nn/checkpoint.hpp"
#include "node/metrics.hpp"

namespace murmur::node {

std::optional<double> jsonNumber(std::string_view line, std::string_view key) {
  const std::string needle = fmt::format("\"{}\":", key);
  const auto pos = line.find(needle);
  if (pos == std::string_view::npos) return std::nullopt;
  const char* begin = line.data() + pos + needle.size();
  const char* end = line.data() + line.size();
  double v = 0;
  const auto [p, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || p == begin) return std::nullopt;
  return v;
}

namespace {
std::string jsonString(std::string_view line, std::string_view key) {
  const std::string needle = fmt::format("\"{}\":\"", key);
  const auto pos = line.find(needle);
  if (pos == std::string_view::npos) return "";
  const auto b = pos + needle.size();
  const auto e = line.find('"', b);
  return e == std::string_view::npos ? "" : std::string(line.substr(b, e - b));
}
}  // namespace

NodeStatus readNodeStatus(const std::filesystem::path& metricsPath) {
  NodeStatus s;
  std::ifstream in(metricsPath, std::ios::binary);
  if (!in) return s;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t nl = text.find('\n', begin);
    if (nl == std::string::npos) break;  // a line still being written
    const std::string_view line(text.data() + begin, nl - begin);
    begin = nl + 1;
    if (line.empty() || line.front() != '{') continue;
    s.seen = true;
    s.lastEvent = jsonString(line, "event");
    if (auto v = jsonNumber(line, "step")) s.step = static_cast<int64_t>(*v);
    if (auto v = jsonNumber(line, "total_steps")) s.totalSteps = static_cast<int64_t>(*v);
    if (auto v = jsonNumber(line, "loss")) s.loss = *v;
    if (auto v = jsonNumber(line, "test_accuracy")) s.testAccuracy = *v;
    if (auto v = jsonNumber(line, "bytes_sent")) s.bytesSent = static_cast<uint64_t>(*v);
    if (auto v = jsonNumber(line, "update_frames_sent"))
      s.updateFramesSent = static_cast<uint64_t>(*v);
    if (auto v = jsonNumber(line, "trigger_rate")) s.triggerRate = *v;
    if (auto v = jsonNumber(line, "num_params")) s.numParams = static_cast<uint64_t>(*v);
    if (auto v = jsonNumber(line, "degree")) s.degree = static_cast<uint64_t>(*v);
  }
  return s;
}

RunSummary summarize(const std::filesystem::path& runDir, size_t numNodes) {
  RunSummary r;
  double accSum = 0;
  size_t accCount = 0;
  std::vector<std::vector<float>> params;
  for (size_t i = 0; i < numNodes; ++i) {
    NodeSummary n;
    n.id = static_cast<uint32_t>(i);
    const auto dir = runDir / fmt::format("node-{}", i);
    n.status = readNodeStatus(dir / "metrics.jsonl");
    if (!std::isnan(n.status.testAccuracy)) {
      accSum += n.status.testAccuracy;
      ++accCount;
    }
    r.bytesSent += n.status.bytesSent;
    r.updateFramesSent += n.status.updateFramesSent;
    r.dpsgdBytes += static_cast<uint64_t>(std::max<int64_t>(0, n.status.step)) * n.status.degree *
                    n.status.numParams * sizeof(float);
    try {
      auto ckpt = nn::loadCheckpoint(dir / "checkpoint.bin");
      params.push_back(std::move(ckpt.params));
      n.haveCheckpoint = true;
    } catch (const Error&) {
      // A node that died before saving has no checkpoint; consensus is then over the others.
    }
    r.nodes.push_back(std::move(n));
  }
  if (accCount > 0) r.meanTestAccuracy = accSum / static_cast<double>(accCount);
  if (r.bytesSent > 0)
    r.savedRatio = static_cast<double>(r.dpsgdBytes) / static_cast<double>(r.bytesSent);
  if (!params.empty() &&
      std::all_of(params.begin(), params.end(),
                  [&](const std::vector<float>& p) { return p.size() == params[0].size(); })) {
    const size_t d = params[0].size();
    std::vector<double> mean(d, 0.0);
    for (const auto& p : params) {
      for (size_t k = 0; k < d; ++k) mean[k] += p[k];
    }
    for (auto& m : mean) m /= static_cast<double>(params.size());
    double total = 0;
    for (const auto& p : params) {
      for (size_t k = 0; k < d; ++k) {
        const double diff = p[k] - mean[k];
        total += diff * diff;
      }
    }
    r.consensusDistance = total / static_cast<double>(params.size());
  }
  return r;
}

std::string formatSummary(const RunSummary& s) {
  std::string out = "\nnode  steps    test acc   MB sent   update frames  trigger rate\n";
  for (const auto& n : s.nodes) {
    out += fmt::format("{:>4}  {:>6}   {:>8}   {:>7.2f}   {:>13}  {:>12.3f}\n", n.id, n.status.step,
                       std::isnan(n.status.testAccuracy)
                           ? std::string("-")
                           : fmt::format("{:.4f}", n.status.testAccuracy),
                       static_cast<double>(n.status.bytesSent) / 1e6, n.status.updateFramesSent,
                       n.status.triggerRate);
  }
  out += fmt::format("mean test accuracy:   {}\n", std::isnan(s.meanTestAccuracy)
                                                       ? std::string("-")
                                                       : fmt::format("{:.4f}", s.meanTestAccuracy));
  out += fmt::format("consensus distance:   {}\n",
                     std::isnan(s.consensusDistance) ? std::string("-")
                                                     : fmt::format("{:.6g}", s.consensusDistance));
  out += fmt::format("bytes sent (all):     {:.2f} MB in {} update frames\n",
                     static_cast<double>(s.bytesSent) / 1e6, s.updateFramesSent);
  out += fmt::format("D-PSGD, same steps:   {:.2f} MB (dense values only)\n",
                     static_cast<double>(s.dpsgdBytes) / 1e6);
  if (!std::isnan(s.savedRatio)) {
    out += fmt::format("communication saved:  {:.2f}x ({:.1f}% fewer bytes)\n", s.savedRatio,
                       100.0 * (1.0 - 1.0 / s.savedRatio));
  }
  return out;
}

std::string summaryJson(const RunSummary& s) {
  std::string nodes = "[";
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const auto& n = s.nodes[i];
    if (i > 0) nodes += ',';
    nodes += JsonObject{}
                 .add("node", static_cast<uint64_t>(n.id))
                 .add("step", n.status.step)
                 .add("test_accuracy", n.status.testAccuracy)
                 .add("bytes_sent", n.status.bytesSent)
                 .add("update_frames_sent", n.status.updateFramesSent)
                 .add("trigger_rate", n.status.triggerRate)
                 .add("last_event", n.status.lastEvent)
                 .str();
  }
  nodes += "]";
  return JsonObject{}
             .add("mean_test_accuracy", s.meanTestAccuracy)
             .add("consensus_distance", s.consensusDistance)
             .add("bytes_sent", s.bytesSent)
             .add("update_frames_sent", s.updateFramesSent)
             .add("dpsgd_bytes", s.dpsgdBytes)
             .add("saved_ratio", s.savedRatio)
             .addRaw("nodes", nodes)
             .str() +
         "\n";
}

std::string lastLines(const std::filesystem::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    lines.push_back(l);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

}  // namespace murmur::node
