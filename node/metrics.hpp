#pragma once
// Metrics as JSON lines: one object per line, appended and flushed as it is written, so a
// reader (`murmur run` tailing a node, `murmur report`) never sees half a record except
// possibly the last line, which readers skip when it does not end in '\n'.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace murmur::node {

// Builds one flat-or-nested JSON object. Non-finite numbers become null (JSON has no NaN).
class JsonObject {
 public:
  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, int64_t value);
  JsonObject& add(std::string_view key, uint64_t value);
  JsonObject& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  JsonObject& add(std::string_view key, bool value);
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, const JsonObject& value);
  // `json` must already be valid JSON (an array built by the caller, say).
  JsonObject& addRaw(std::string_view key, std::string_view json);

  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

std::string jsonEscape(std::string_view s);  // with the quotes

class MetricsWriter {
 public:
  // Opens `path` for appending (creating it); throws IoError naming the path.
  explicit MetricsWriter(const std::string& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Writes one line and flushes it to the OS. Throws IoError on a failed write.
  void write(const JsonObject& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace murmur::node
