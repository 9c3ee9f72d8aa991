#include "net/fault.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/error.hpp"

namespace murmur::net {

bool LinkMatch::matches(NodeId src, NodeId dst) const {
  auto one = [](const std::optional<NodeId>& want, NodeId got) { return !want || *want == got; };
  if (one(from, src) && one(to, dst)) return true;
  return bothWays && one(from, dst) && one(to, src);
}

namespace {

std::string trim(std::string s) {
  auto notSpace = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
  s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
  return s;
}

struct LineCtx {
  const std::string& origin;
  size_t line;
};

double parseNumber(const std::string& text, const LineCtx& at, const std::string& what,
                   std::string* suffix) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MURMUR_ENFORCE(used > 0 && std::isfinite(v) && v >= 0, InputError,
                 "{}:{}: {} needs a non-negative number, got '{}'", at.origin, at.line, what, text);
  *suffix = text.substr(used);
  return v;
}

int64_t parseDurationNs(const std::string& text, const LineCtx& at, const std::string& what) {
  std::string unit;
  double v = parseNumber(text, at, what, &unit);
  double scale = 0;
  if (unit == "ns")
    scale = 1;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "ms" || unit.empty())
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  MURMUR_ENFORCE(scale > 0, InputError, "{}:{}: {} has unknown unit '{}' (ns, us, ms, s)",
                 at.origin, at.line, what, unit);
  return static_cast<int64_t>(std::llround(v * scale));
}

double parseBytes(const std::string& text, const LineCtx& at, const std::string& what) {
  std::string unit;
  double v = parseNumber(text, at, what, &unit);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},     {"B", 1},        {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) return v * scale;
  }
  MURMUR_ENFORCE(false, InputError,
                 "{}:{}: {} has unknown unit '{}' (B, KB, MB, GB, KiB, MiB, GiB)", at.origin,
                 at.line, what, unit);
  return 0;
}

double parseProbability(const std::string& text, const LineCtx& at, const std::string& what) {
  std::string unit;
  double v = parseNumber(text, at, what, &unit);
  if (unit == "%")
    v /= 100.0;
  else
    MURMUR_ENFORCE(unit.empty(), InputError, "{}:{}: {} has trailing '{}'", at.origin, at.line,
                   what, unit);
  MURMUR_ENFORCE(v <= 1.0, InputError, "{}:{}: {} must be a probability in [0, 1], got {}",
                 at.origin, at.line, what, text);
  return v;
}

std::optional<NodeId> parseNode(const std::string& text, const LineCtx& at) {
  if (text == "*") return std::nullopt;
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  MURMUR_ENFORCE(ec == std::errc() && ptr == text.data() + text.size() && !text.empty(), InputError,
                 "{}:{}: '{}' is not a node id or '*'", at.origin, at.line, text);
  return id;
}

// "A->B" (directed), "A<->B" or "A-B" (both ways), "*" (every link).
LinkMatch parseLink(const std::string& text, const LineCtx& at) {
  LinkMatch m;
  if (text == "*") {
    m.bothWays = true;
    return m;
  }
  size_t pos = 0;
  size_t len = 0;
  if ((pos = text.find("<->")) != std::string::npos) {
    len = 3;
    m.bothWays = true;
  } else if ((pos = text.find("->")) != std::string::npos) {
    len = 2;
  } else if ((pos = text.find('-')) != std::string::npos) {
    len = 1;
    m.bothWays = true;
  }
  MURMUR_ENFORCE(pos != std::string::npos && pos > 0, InputError,
                 "{}:{}: link '{}' must look like A->B, A<->B, A-B or * (A, B: node id or *)",
                 at.origin, at.line, text);
  m.from = parseNode(text.substr(0, pos), at);
  m.to = parseNode(text.substr(pos + len), at);
  return m;
}

std::pair<int64_t, int64_t> parseRange(const std::string& text, const LineCtx& at, bool steps) {
  size_t dots = text.find("..");
  MURMUR_ENFORCE(dots != std::string::npos, InputError,
                 "{}:{}: range '{}' must look like BEGIN..END", at.origin, at.line, text);
  std::string a = text.substr(0, dots);
  std::string b = text.substr(dots + 2);
  int64_t lo = 0;
  int64_t hi = 0;
  if (steps) {
    std::string unit;
    lo = static_cast<int64_t>(parseNumber(a, at, "steps", &unit));
    MURMUR_ENFORCE(unit.empty(), InputError, "{}:{}: bad step '{}'", at.origin, at.line, a);
    hi = static_cast<int64_t>(parseNumber(b, at, "steps", &unit));
    MURMUR_ENFORCE(unit.empty(), InputError, "{}:{}: bad step '{}'", at.origin, at.line, b);
  } else {
    lo = parseDurationNs(a, at, "time") / 1000000;
    hi = parseDurationNs(b, at, "time") / 1000000;
  }
  MURMUR_ENFORCE(lo <= hi, InputError, "{}:{}: range '{}' ends before it begins", at.origin,
                 at.line, text);
  return {lo, hi};
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

FaultScenario FaultScenario::parse(const std::string& text, const std::string& origin) {
  FaultScenario sc;
  std::istringstream in(text);
  std::string raw;
  size_t lineNo = 0;
  while (std::getline(in, raw)) {
    ++lineNo;
    LineCtx at{origin, lineNo};
    if (auto hash = raw.find('#'); hash != std::string::npos) raw.erase(hash);
    std::string line = trim(raw);
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string verb;
    words >> verb;
    std::vector<std::string> args;
    for (std::string w; words >> w;) args.push_back(w);
    if (verb == "seed") {
      MURMUR_ENFORCE(args.size() == 1, InputError, "{}:{}: 'seed' takes one number", origin,
                     lineNo);
      std::string unit;
      sc.seed = static_cast<uint64_t>(parseNumber(args[0], at, "seed", &unit));
      MURMUR_ENFORCE(unit.empty(), InputError, "{}:{}: bad seed '{}'", origin, lineNo, args[0]);
    } else if (verb == "link") {
      MURMUR_ENFORCE(!args.empty(), InputError, "{}:{}: 'link' needs a link (A->B, A-B, *)", origin,
                     lineNo);
      LinkRule rule;
      rule.link = parseLink(args[0], at);
      for (size_t i = 1; i < args.size(); ++i) {
        size_t eq = args[i].find('=');
        MURMUR_ENFORCE(eq != std::string::npos, InputError, "{}:{}: '{}' must be key=value", origin,
                       lineNo, args[i]);
        std::string key = args[i].substr(0, eq);
        std::string val = args[i].substr(eq + 1);
        if (key == "drop")
          rule.drop = parseProbability(val, at, key);
        else if (key == "delay")
          rule.delayNs = parseDurationNs(val, at, key);
        else if (key == "jitter")
          rule.jitterNs = parseDurationNs(val, at, key);
        else if (key == "dup")
          rule.duplicate = parseProbability(val, at, key);
        else if (key == "reorder")
          rule.reorder = parseProbability(val, at, key);
        else if (key == "hold")
          rule.reorderHoldNs = parseDurationNs(val, at, key);
        else if (key == "bw")
          rule.bandwidthBps = parseBytes(val, at, key);
        else if (key == "burst")
          rule.burstBytes = parseBytes(val, at, key);
        else
          MURMUR_ENFORCE(false, InputError,
                         "{}:{}: unknown link key '{}' (drop, delay, jitter, dup, reorder, hold, "
                         "bw, burst)",
                         origin, lineNo, key);
      }
      sc.rules.push_back(rule);
    } else if (verb == "partition") {
      Partition p;
      bool haveWindow = false;
      for (const auto& a : args) {
        if (a.rfind("time=", 0) == 0) {
          std::tie(p.begin, p.end) = parseRange(a.substr(5), at, false);
          p.bySteps = false;
          haveWindow = true;
        } else if (a.rfind("steps=", 0) == 0) {
          std::tie(p.begin, p.end) = parseRange(a.substr(6), at, true);
          p.bySteps = true;
          haveWindow = true;
        } else {
          p.links.push_back(parseLink(a, at));
        }
      }
      MURMUR_ENFORCE(haveWindow && !p.links.empty(), InputError,
                     "{}:{}: 'partition' needs links and time=A..B or steps=A..B", origin, lineNo);
      sc.partitions.push_back(std::move(p));
    } else {
      MURMUR_ENFORCE(false, InputError, "{}:{}: unknown directive '{}' (seed, link, partition)",
                     origin, lineNo, verb);
    }
  }
  return sc;
}

FaultScenario FaultScenario::load(const std::string& path) {
  std::ifstream f(path);
  MURMUR_ENFORCE(f.good(), InputError, "cannot open fault scenario '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

LinkShaper::LinkShaper(FaultScenario scenario, uint64_t seed, const Clock& clock)
    : scenario_(std::move(scenario)),
      seed_(splitmix(seed ^ splitmix(scenario_.seed.value_or(0)))),
      clock_(clock),
      startNs_(clock.nowNs()) {}

LinkShaper::Effective LinkShaper::ruleFor(NodeId from, NodeId to) const {
  Effective e;
  for (const auto& r : scenario_.rules) {
    if (r.link.matches(from, to)) {
      e.rule = r;
      e.any = true;
    }
  }
  return e;
}

bool LinkShaper::isCutLocked(NodeId from, NodeId to, int64_t nowNs) const {
  const int64_t ms = (nowNs - startNs_) / 1000000;
  for (const auto& p : scenario_.partitions) {
    const int64_t at = p.bySteps ? static_cast<int64_t>(step_) : ms;
    if (at < p.begin || at >= p.end) continue;
    for (const auto& l : p.links) {
      if (l.matches(from, to)) return true;
    }
  }
  return false;
}

bool LinkShaper::isCut(NodeId from, NodeId to) const {
  std::lock_guard lock(mutex_);
  return isCutLocked(from, to, clock_.nowNs());
}

void LinkShaper::setStep(uint64_t step) {
  std::lock_guard lock(mutex_);
  step_ = step;
}

uint64_t LinkShaper::step() const {
  std::lock_guard lock(mutex_);
  return step_;
}

LinkShaper::LinkState& LinkShaper::state(NodeId from, NodeId to) {
  auto key = std::make_pair(from, to);
  auto it = links_.find(key);
  if (it == links_.end()) {
    LinkState s;
    // One stream per directed link, so a link's decisions do not depend on other links' traffic.
    s.rng.seed(splitmix(seed_ ^ splitmix((uint64_t{from} << 32) | to)));
    it = links_.emplace(key, std::move(s)).first;
  }
  return it->second;
}

FrameFate LinkShaper::onFrame(NodeId from, NodeId to, size_t bytes) {
  FrameFate fate;
  std::lock_guard lock(mutex_);
  const int64_t now = clock_.nowNs();
  fate.linkFreeNs = now;
  if (isCutLocked(from, to, now)) {
    fate.partitioned = true;
    return fate;
  }
  Effective eff = ruleFor(from, to);
  if (!eff.any) {
    fate.releaseNs.push_back(now);
    return fate;
  }
  const LinkRule& r = eff.rule;
  LinkState& st = state(from, to);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Always draw the same number of variates per frame so replays stay aligned.
  const double uDrop = unit(st.rng);
  const double uDup = unit(st.rng);
  const double uReorder = unit(st.rng);
  const double uJitter1 = unit(st.rng);
  const double uJitter2 = unit(st.rng);
  if (uDrop < r.drop) return fate;

  int64_t base = now;
  if (r.bandwidthBps > 0) {
    const double depth = r.burstBytes > 0 ? r.burstBytes : static_cast<double>(bytes);
    if (!st.bucketInit) {
      st.tokens = depth;
      st.lastRefillNs = now;
      st.bucketInit = true;
    }
    st.tokens = std::min(
        depth, st.tokens + r.bandwidthBps * 1e-9 * static_cast<double>(now - st.lastRefillNs));
    st.lastRefillNs = now;
    st.tokens -= static_cast<double>(bytes);
    if (st.tokens < 0) {
      base = now + static_cast<int64_t>(std::ceil(-st.tokens / r.bandwidthBps * 1e9));
    }
    base = std::max(base, st.lastReleaseNs);
    st.lastReleaseNs = base;
    fate.linkFreeNs = base;
  }
  auto arrival = [&](double uJ) {
    int64_t t = base + r.delayNs + static_cast<int64_t>(uJ * static_cast<double>(r.jitterNs));
    if (uReorder < r.reorder) {
      t += r.reorderHoldNs > 0 ? r.reorderHoldNs : 2000000 + r.delayNs + r.jitterNs;
    }
    return t;
  };
  fate.releaseNs.push_back(arrival(uJitter1));
  if (uDup < r.duplicate) fate.releaseNs.push_back(arrival(uJitter2));
  return fate;
}

}  // namespace murmur::net
