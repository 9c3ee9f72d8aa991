#pragma once
// Durable file replacement, used for checkpoints, topology files, configs and run summaries:
// a reader sees either the old file or the complete new one, never a torn write, even across a
// crash or power loss.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string_view>

namespace murmur {

// Writes `chunks` one after another to a temp file in path's directory, fsyncs it, renames it
// over `path` and fsyncs the directory. On any failure throws IoError naming `path` and the
// step that failed, leaves the old file untouched and removes the temp file.
void writeFileAtomic(const std::filesystem::path& path,
                     std::initializer_list<std::span<const uint8_t>> chunks);

inline void writeFileAtomic(const std::filesystem::path& path, std::string_view text) {
  writeFileAtomic(
      path, {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
}

}  // namespace murmur
