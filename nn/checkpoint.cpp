#include "nn/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>

#include <zlib.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace murmur::nn {

static_assert(std::endian::native == std::endian::little,
              "the checkpoint format is little-endian and written with memcpy");

namespace {

constexpr char kMagic[8] = {'M', 'U', 'R', 'M', 'C', 'K', 'P', 'T'};
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 4 + 4;

uint32_t crc32Of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib's crc32 takes a uInt length; feed it in chunks below 4 GiB.
  while (size > 0) {
    const size_t chunk = std::min<size_t>(size, 1u << 30);
    crc = crc32(crc, data, static_cast<uInt>(chunk));
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

class Writer {
 public:
  template <typename T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    MURMUR_ENFORCE(s.size() <= std::numeric_limits<uint32_t>::max(), InputError,
                   "checkpoint string of {} bytes is too long", s.size());
    pod(static_cast<uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void floats(const std::vector<float>& v) {
    pod(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes_.insert(bytes_.end(), p, p + v.size() * sizeof(float));
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::filesystem::path& path)
      : data_(data), size_(size), path_(path) {}
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto n = pod<uint32_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<float> floats(const char* what) {
    const auto n = pod<uint64_t>(what);
    MURMUR_ENFORCE(n <= (size_ - pos_) / sizeof(float), InputError,
                   "checkpoint {}: corrupted: {} claims {} floats but only {} bytes remain",
                   path_.string(), what, n, size_ - pos_);
    std::vector<float> v(n);
    // An empty vector's data() may be null, and memcpy(nullptr, ..., 0) is undefined.
    if (n > 0) std::memcpy(v.data(), data_ + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return v;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  void need(size_t n, const char* what) {
    MURMUR_ENFORCE(n <= size_ - pos_, InputError,
                   "checkpoint {}: corrupted: {} needs {} bytes but only {} remain", path_.string(),
                   what, n, size_ - pos_);
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::filesystem::path& path_;
};

std::string errnoText(int err) { return std::strerror(err); }

}  // namespace

void saveCheckpoint(const std::filesystem::path& path, const Checkpoint& ckpt) {
  MURMUR_ENFORCE(!path.filename().empty(), InputError, "checkpoint path '{}' names no file",
                 path.string());
  Writer payload;
  payload.str(ckpt.model);
  payload.pod(ckpt.fingerprint);
  payload.pod(ckpt.step);
  payload.pod(ckpt.epoch);
  payload.floats(ckpt.params);
  payload.floats(ckpt.buffers);
  payload.floats(ckpt.optimizerState);
  payload.pod(static_cast<uint32_t>(ckpt.meta.size()));
  for (const auto& [key, value] : ckpt.meta) {
    payload.str(key);
    payload.str(value);
  }
  const auto& body = payload.bytes();

  Writer header;
  for (char c : kMagic) header.pod(c);
  header.pod(kCheckpointVersion);
  header.pod(uint32_t{0});
  header.pod(static_cast<uint64_t>(body.size()));
  header.pod(crc32Of(body.data(), body.size()));
  header.pod(uint32_t{0});

  try {
    writeFileAtomic(path, {header.bytes(), body});
  } catch (const IoError& e) {
    throw IoError(fmt::format("checkpoint {}", e.what()));
  }
}

Checkpoint loadCheckpoint(const std::filesystem::path& path) {
  std::error_code ec;
  MURMUR_ENFORCE(std::filesystem::is_regular_file(path, ec), InputError,
                 "checkpoint {}: no such file", path.string());
  std::ifstream in(path, std::ios::binary);
  MURMUR_ENFORCE(in.good(), InputError, "checkpoint {}: cannot open: {}", path.string(),
                 errnoText(errno));
  std::vector<uint8_t> bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff fileSize = in.tellg();
  in.seekg(0, std::ios::beg);
  MURMUR_ENFORCE(fileSize >= 0 && in.good(), InputError, "checkpoint {}: cannot determine the size",
                 path.string());
  bytes.resize(static_cast<size_t>(fileSize));
  in.read(reinterpret_cast<char*>(bytes.data()), fileSize);
  MURMUR_ENFORCE(in.gcount() == fileSize, InputError, "checkpoint {}: read {} of {} bytes",
                 path.string(), in.gcount(), fileSize);
  MURMUR_ENFORCE(!in.bad(), InputError, "checkpoint {}: read failed", path.string());
  MURMUR_ENFORCE(
      bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0,
      InputError, "checkpoint {}: not a murmur checkpoint (wrong magic bytes)", path.string());
  MURMUR_ENFORCE(bytes.size() >= kHeaderBytes, InputError,
                 "checkpoint {}: truncated: {} bytes, shorter than the {}-byte header",
                 path.string(), bytes.size(), kHeaderBytes);
  Reader header(bytes.data(), kHeaderBytes, path);
  for (size_t i = 0; i < sizeof(kMagic); ++i) header.pod<char>("magic");
  const auto version = header.pod<uint32_t>("version");
  MURMUR_ENFORCE(version == kCheckpointVersion, InputError,
                 "checkpoint {}: unsupported format version {} (this build reads version {})",
                 path.string(), version, kCheckpointVersion);
  header.pod<uint32_t>("reserved");
  const auto payloadBytes = header.pod<uint64_t>("payload length");
  const auto crc = header.pod<uint32_t>("checksum");
  const size_t available = bytes.size() - kHeaderBytes;
  MURMUR_ENFORCE(payloadBytes <= available, InputError,
                 "checkpoint {}: truncated: header promises {} payload bytes, file has {}",
                 path.string(), payloadBytes, available);
  MURMUR_ENFORCE(payloadBytes == available, InputError,
                 "checkpoint {}: {} unexpected trailing bytes after the payload", path.string(),
                 available - payloadBytes);
  const uint8_t* body = bytes.data() + kHeaderBytes;
  const uint32_t actual = crc32Of(body, payloadBytes);
  MURMUR_ENFORCE(actual == crc, InputError,
                 "checkpoint {}: checksum mismatch (stored {:08x}, computed {:08x}): corrupted",
                 path.string(), crc, actual);

  Reader r(body, payloadBytes, path);
  Checkpoint c;
  c.model = r.str("model name");
  c.fingerprint = r.pod<uint64_t>("fingerprint");
  c.step = r.pod<int64_t>("step");
  c.epoch = r.pod<int64_t>("epoch");
  c.params = r.floats("params");
  c.buffers = r.floats("buffers");
  c.optimizerState = r.floats("optimizer state");
  const auto metaCount = r.pod<uint32_t>("metadata count");
  for (uint32_t i = 0; i < metaCount; ++i) {
    auto key = r.str("metadata key");
    auto value = r.str("metadata value");
    c.meta.emplace(std::move(key), std::move(value));
  }
  MURMUR_ENFORCE(r.remaining() == 0, InputError,
                 "checkpoint {}: corrupted: {} bytes left over after the last field", path.string(),
                 r.remaining());
  return c;
}

void checkCompatible(const Checkpoint& c, std::string_view model, uint64_t fingerprint,
                     const std::filesystem::path& path) {
  MURMUR_ENFORCE(c.model == model, InputError,
                 "checkpoint {} holds model '{}', but this run trains model '{}'", path.string(),
                 c.model, model);
  MURMUR_ENFORCE(c.fingerprint == fingerprint, InputError,
                 "checkpoint {} was written for a different layout of model '{}' (fingerprint "
                 "{:016x}, this build's is {:016x}): was the model definition changed?",
                 path.string(), model, c.fingerprint, fingerprint);
}

}  // namespace murmur::nn
