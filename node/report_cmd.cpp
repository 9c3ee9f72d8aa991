// `murmur report`: hands the run directories to scripts/report.py (python3 + matplotlib), which
// reads only the run directories and writes report.md and PNG plots.

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/error.hpp"
#include "node/commands.hpp"

extern char** environ;

namespace murmur::node {

std::filesystem::path findReportScript() {
  if (const char* env = std::getenv("MURMUR_REPORT_SCRIPT"); env != nullptr && *env != 0) {
    return env;
  }
  std::vector<std::filesystem::path> candidates;
#ifdef MURMUR_SOURCE_DIR
  candidates.emplace_back(std::filesystem::path(MURMUR_SOURCE_DIR) / "scripts" / "report.py");
#endif
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "report.py");
    candidates.push_back(exe.parent_path().parent_path() / "share" / "murmur" / "report.py");
  }
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c)) return c;
  }
  throw IoError("scripts/report.py not found (set MURMUR_REPORT_SCRIPT to its path)");
}

int reportCommand(const std::vector<std::string>& runDirs, const std::string& out) {
  for (const auto& d : runDirs) {
    MURMUR_ENFORCE(std::filesystem::is_directory(d), InputError, "{}: not a run directory", d);
  }
  const auto script = findReportScript();
  // The system interpreter carries Debian's matplotlib; a PATH python3 (pyenv, venv) may not.
  std::string python = "python3";
  if (const char* env = std::getenv("MURMUR_PYTHON"); env != nullptr && *env != 0) {
    python = env;
  } else if (std::filesystem::is_regular_file("/usr/bin/python3")) {
    python = "/usr/bin/python3";
  }
  std::vector<std::string> args = {python, script.string()};
  if (!out.empty()) {
    args.push_back("--out");
    args.push_back(out);
  }
  for (const auto& d : runDirs) args.push_back(d);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ);
  MURMUR_ENFORCE(rc == 0, IoError, "cannot run {}: {}", python, std::strerror(rc));
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    MURMUR_ENFORCE(errno == EINTR, IoError, "waiting for report.py: {}", std::strerror(errno));
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return kExitOk;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 2) return kExitUsage;
  return kExitRuntime;
}

}  // namespace murmur::node
