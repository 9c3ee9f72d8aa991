#include "common/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace murmur {
namespace {

// Owns the temp file until the rename: every failure path closes it and removes it.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path p) : path_(std::move(p)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int& fd() { return fd_; }
  void release() { released_ = true; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool released_ = false;
};

// Unique per process and call, hidden (leading dot), in the target's directory so the rename
// stays within one file system.
std::filesystem::path tempPathFor(const std::filesystem::path& path) {
  static std::atomic<uint64_t> counter{0};
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  return path.parent_path() / fmt::format(".{}.tmp.{}.{}.{}", path.filename().string(), ::getpid(),
                                          counter.fetch_add(1), ticks);
}

std::string errnoText(int err) { return std::strerror(err); }

}  // namespace

void writeFileAtomic(const std::filesystem::path& path,
                     std::initializer_list<std::span<const uint8_t>> chunks) {
  const std::filesystem::path dir =
      path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  TempFile tmp(tempPathFor(path));
  tmp.fd() = ::open(tmp.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  MURMUR_ENFORCE(tmp.fd() >= 0, IoError, "{}: cannot create temp file {}: {}", path.string(),
                 tmp.path().string(), errnoText(errno));
  size_t total = 0;
  for (const auto chunk : chunks) {
    size_t done = 0;
    while (done < chunk.size()) {
      const ssize_t n = ::write(tmp.fd(), chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      MURMUR_ENFORCE(n > 0, IoError, "{}: writing {} failed after {} bytes: {}", path.string(),
                     tmp.path().string(), total + done,
                     n < 0 ? errnoText(errno) : std::string("no progress"));
      done += static_cast<size_t>(n);
    }
    total += done;
  }
  MURMUR_ENFORCE(::fsync(tmp.fd()) == 0, IoError, "{}: fsync of {} failed: {}", path.string(),
                 tmp.path().string(), errnoText(errno));
  const int fd = tmp.fd();
  tmp.fd() = -1;
  MURMUR_ENFORCE(::close(fd) == 0, IoError, "{}: closing {} failed: {}", path.string(),
                 tmp.path().string(), errnoText(errno));
  MURMUR_ENFORCE(::rename(tmp.path().c_str(), path.c_str()) == 0, IoError,
                 "{}: renaming {} over it failed: {}", path.string(), tmp.path().string(),
                 errnoText(errno));
  tmp.release();
  // The rename is durable only once the directory entry is on disk.
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MURMUR_ENFORCE(dirFd >= 0, IoError, "{}: cannot open directory {} to fsync it: {}", path.string(),
                 dir.string(), errnoText(errno));
  const int rc = ::fsync(dirFd);
  const int err = errno;
  ::close(dirFd);
  MURMUR_ENFORCE(rc == 0, IoError, "{}: fsync of directory {} failed: {}", path.string(),
                 dir.string(), errnoText(err));
}

}  // namespace murmur
