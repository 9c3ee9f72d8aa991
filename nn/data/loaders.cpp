#include "nn/data/loaders.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include <zlib.h>

#include "common/error.hpp"

namespace murmur::nn::data {

namespace {

std::vector<uint8_t> readRaw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MURMUR_ENFORCE(in.good(), InputError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  std::vector<uint8_t> bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff fileSize = in.tellg();
  in.seekg(0, std::ios::beg);
  MURMUR_ENFORCE(fileSize >= 0 && in.good(), InputError, "{}: cannot determine the size",
                 path.string());
  bytes.resize(static_cast<size_t>(fileSize));
  in.read(reinterpret_cast<char*>(bytes.data()), fileSize);
  MURMUR_ENFORCE(in.gcount() == fileSize, InputError, "{}: read {} of {} bytes", path.string(),
                 in.gcount(), fileSize);
  MURMUR_ENFORCE(!in.bad(), InputError, "{}: read failed", path.string());
  return bytes;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed,
                            const std::filesystem::path& path) {
  z_stream zs{};
  // 16 + MAX_WBITS: accept the gzip wrapper only.
  MURMUR_ENFORCE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, BackendError,
                 "{}: zlib inflateInit2 failed", path.string());
  std::vector<uint8_t> out;
  out.resize(std::max<size_t>(compressed.size() * 4, 1 << 16));
  size_t inPos = 0;
  int rc = Z_OK;
  while (true) {
    if (zs.avail_in == 0 && inPos < compressed.size()) {
      const size_t chunk = std::min<size_t>(compressed.size() - inPos, 1u << 30);
      zs.next_in = const_cast<Bytef*>(compressed.data() + inPos);
      zs.avail_in = static_cast<uInt>(chunk);
      inPos += chunk;
    }
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    const size_t room = std::min<size_t>(out.size() - zs.total_out, 1u << 30);
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && inPos == compressed.size()) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  const size_t produced = zs.total_out;
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  MURMUR_ENFORCE(rc != Z_BUF_ERROR, InputError,
                 "{}: truncated gzip stream (ended after {} bytes of output)", path.string(),
                 produced);
  MURMUR_ENFORCE(rc == Z_STREAM_END, InputError, "{}: corrupt gzip data: {} (zlib code {})",
                 path.string(), msg.empty() ? "unknown error" : msg, rc);
  out.resize(produced);
  return out;
}

uint32_t bigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

struct Idx {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> dims;
  size_t dataOffset = 0;
};

Idx readIdx(const std::filesystem::path& path, uint32_t magic, size_t numDims, const char* kind) {
  Idx idx;
  idx.bytes = readMaybeGzip(path);
  const auto& b = idx.bytes;
  MURMUR_ENFORCE(b.size() >= 4, InputError, "{}: truncated: {} bytes, no IDX header", path.string(),
                 b.size());
  const uint32_t found = bigEndian32(b.data());
  MURMUR_ENFORCE(found == magic, InputError,
                 "{}: wrong magic number 0x{:08x} for an IDX {} file (expected 0x{:08x})",
                 path.string(), found, kind, magic);
  const size_t headerBytes = 4 + 4 * numDims;
  MURMUR_ENFORCE(b.size() >= headerBytes, InputError,
                 "{}: truncated: {} bytes, the header needs {}", path.string(), b.size(),
                 headerBytes);
  size_t expected = 1;
  for (size_t i = 0; i < numDims; ++i) {
    const uint32_t d = bigEndian32(b.data() + 4 + 4 * i);
    MURMUR_ENFORCE(i == 0 || d > 0, InputError, "{}: dimension {} is 0", path.string(), i);
    idx.dims.push_back(d);
    expected *= d;
  }
  MURMUR_ENFORCE(expected <= static_cast<size_t>(std::numeric_limits<int>::max()), InputError,
                 "{}: dimensions too large ({} bytes of data)", path.string(), expected);
  const size_t have = b.size() - headerBytes;
  MURMUR_ENFORCE(have >= expected, InputError,
                 "{}: truncated: dimensions need {} data bytes, the file has {}", path.string(),
                 expected, have);
  MURMUR_ENFORCE(have == expected, InputError,
                 "{}: {} unexpected bytes after the {} data bytes the dimensions describe",
                 path.string(), have - expected, expected);
  idx.dataOffset = headerBytes;
  return idx;
}

}  // namespace

std::vector<uint8_t> readMaybeGzip(const std::filesystem::path& path) {
  std::error_code ec;
  MURMUR_ENFORCE(std::filesystem::is_regular_file(path, ec), InputError, "{}: file not found",
                 path.string());
  auto bytes = readRaw(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(bytes, path);
  return bytes;
}

ByteDataset loadIdxBytes(const std::filesystem::path& imagesPath,
                         const std::filesystem::path& labelsPath, int classes) {
  MURMUR_ENFORCE(classes > 0 && classes <= 256, InputError, "IDX: bad class count {}", classes);
  const Idx images = readIdx(imagesPath, 0x00000803u, 3, "image");
  const Idx labels = readIdx(labelsPath, 0x00000801u, 1, "label");
  MURMUR_ENFORCE(images.dims[0] == labels.dims[0], InputError,
                 "{} holds {} images but {} holds {} labels", imagesPath.string(), images.dims[0],
                 labelsPath.string(), labels.dims[0]);
  ByteDataset d;
  d.n = static_cast<int>(images.dims[0]);
  d.c = 1;
  d.h = static_cast<int>(images.dims[1]);
  d.w = static_cast<int>(images.dims[2]);
  d.classes = classes;
  const size_t total = static_cast<size_t>(d.n) * d.sampleSize();
  const auto first = images.bytes.begin() + static_cast<std::ptrdiff_t>(images.dataOffset);
  d.pixels.assign(first, first + static_cast<std::ptrdiff_t>(total));
  d.labels.resize(static_cast<size_t>(d.n));
  const uint8_t* lab = labels.bytes.data() + labels.dataOffset;
  for (size_t i = 0; i < d.labels.size(); ++i) {
    MURMUR_ENFORCE(lab[i] < classes, InputError, "{}: label {} of item {} is outside [0, {})",
                   labelsPath.string(), lab[i], i, classes);
    d.labels[i] = lab[i];
  }
  return d;
}

Dataset loadIdx(const std::filesystem::path& imagesPath, const std::filesystem::path& labelsPath,
                int classes) {
  return toFloat(loadIdxBytes(imagesPath, labelsPath, classes));
}

namespace {
std::filesystem::path findVariant(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& candidate : {dir / name, dir / (name + ".gz")}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  MURMUR_ENFORCE(false, InputError, "{}: neither {} nor {}.gz found", dir.string(), name, name);
  return {};
}
}  // namespace

ByteDataset loadMnistLikeBytes(const std::filesystem::path& dir, bool train) {
  std::error_code ec;
  MURMUR_ENFORCE(std::filesystem::is_directory(dir, ec), InputError,
                 "{}: dataset directory not found", dir.string());
  const std::string prefix = train ? "train" : "t10k";
  return loadIdxBytes(findVariant(dir, prefix + "-images-idx3-ubyte"),
                      findVariant(dir, prefix + "-labels-idx1-ubyte"), 10);
}

Dataset loadMnistLike(const std::filesystem::path& dir, bool train) {
  return toFloat(loadMnistLikeBytes(dir, train));
}

ByteDataset loadCifarBinaryBytes(const std::vector<std::filesystem::path>& files, int classes) {
  constexpr int kSide = 32;
  constexpr size_t kPixels = 3 * kSide * kSide;
  constexpr size_t kRecord = 1 + kPixels;
  MURMUR_ENFORCE(classes > 0 && classes <= 256, InputError, "CIFAR: bad class count {}", classes);
  MURMUR_ENFORCE(!files.empty(), InputError, "CIFAR: no files given");
  ByteDataset d;
  d.c = 3;
  d.h = kSide;
  d.w = kSide;
  d.classes = classes;
  for (const auto& path : files) {
    const auto bytes = readMaybeGzip(path);
    MURMUR_ENFORCE(!bytes.empty() && bytes.size() % kRecord == 0, InputError,
                   "{}: {} bytes is not a whole number of {}-byte CIFAR records (truncated or "
                   "not CIFAR binary)",
                   path.string(), bytes.size(), kRecord);
    const size_t records = bytes.size() / kRecord;
    MURMUR_ENFORCE(
        static_cast<size_t>(d.n) + records <= static_cast<size_t>(std::numeric_limits<int>::max()),
        InputError, "{}: too many records", path.string());
    d.pixels.reserve(d.pixels.size() + records * kPixels);
    for (size_t r = 0; r < records; ++r) {
      const uint8_t* rec = bytes.data() + r * kRecord;
      MURMUR_ENFORCE(rec[0] < classes, InputError, "{}: record {} has label {}, outside [0, {})",
                     path.string(), r, rec[0], classes);
      d.labels.push_back(rec[0]);
      d.pixels.insert(d.pixels.end(), rec + 1, rec + 1 + kPixels);
    }
    d.n += static_cast<int>(records);
  }
  return d;
}

Dataset loadCifarBinary(const std::vector<std::filesystem::path>& files, int classes) {
  return toFloat(loadCifarBinaryBytes(files, classes));
}

ByteDataset loadCifar10Bytes(const std::filesystem::path& dir, bool train) {
  std::error_code ec;
  MURMUR_ENFORCE(std::filesystem::is_directory(dir, ec), InputError,
                 "{}: CIFAR-10 directory not found (convert it with "
                 "scripts/cifar10_from_jpeg.py)",
                 dir.string());
  std::vector<std::filesystem::path> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir / fmt::format("data_batch_{}.bin", i));
  } else {
    files.push_back(dir / "test_batch.bin");
  }
  return loadCifarBinaryBytes(files, 10);
}

Dataset loadCifar10(const std::filesystem::path& dir, bool train) {
  return toFloat(loadCifar10Bytes(dir, train));
}

}  // namespace murmur::nn::data
