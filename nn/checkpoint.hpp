#pragma once
// A node's training state on disk: model identity, counters, the flat parameter and buffer
// vectors, the optimizer state and free-form metadata. Versioned little-endian binary, checked
// by CRC-32 over the payload, written atomically (temp file in the same directory, fsync,
// rename, fsync of the directory) so a crash leaves either the old file or the new one.
//
// Layout (version 1): "MURMCKPT" | u32 version | u32 reserved (0) | u64 payload bytes |
// u32 CRC-32 of payload | u32 reserved (0) | payload. Payload: string model | u64 fingerprint |
// i64 step | i64 epoch | f32 array params | f32 array buffers | f32 array optimizerState |
// u32 meta count, then (string key, string value) pairs in key order. A string is u32 length +
// bytes; an f32 array is u64 count + floats.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace murmur::nn {

inline constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  std::string model;
  uint64_t fingerprint = 0;
  int64_t step = 0;
  int64_t epoch = 0;
  std::vector<float> params;
  std::vector<float> buffers;         // non-trained state (e.g. batch-norm running statistics)
  std::vector<float> optimizerState;  // e.g. Sgd::state()
  std::map<std::string, std::string> meta;
};

// Throws IoError when the file cannot be written; the previous file at `path`, if any, is then
// left untouched and no temporary file remains.
void saveCheckpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);

// Throws InputError naming the file and the problem when it is missing, truncated, has the wrong
// magic or version, fails its checksum or is internally inconsistent.
Checkpoint loadCheckpoint(const std::filesystem::path& path);

// Throws InputError when the checkpoint was written for another model (name or layout
// fingerprint), saying which was expected and which was found; `path` is named in the message.
void checkCompatible(const Checkpoint& checkpoint, std::string_view model, uint64_t fingerprint,
                     const std::filesystem::path& path);

}  // namespace murmur::nn
