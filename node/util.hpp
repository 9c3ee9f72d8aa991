#pragma once

#include "common/file_io.hpp"  // writeFileAtomic, used throughout node/
// Small process-level helpers for the subcommands: atomic file writes, and a stop flag set by
// SIGINT/SIGTERM that training loops poll (a handler only stores to an atomic; all the work of
// saying goodbye and saving happens in the loop).

#include <filesystem>
#include <string>

namespace murmur::node {

// Writes `text` to `path` through a temporary file in the same directory, fsync and rename, so
// readers see the old file or the new one. Throws IoError naming the path.

// Reads a whole file; throws IoError naming the path.
std::string readFile(const std::filesystem::path& path);

// Installs SIGINT/SIGTERM handlers that set the stop flag (idempotent).
void installStopHandlers();
bool stopRequested();
// The signal that set the flag (0: none).
int stopSignal();
// For tests and for the launcher forwarding a stop: sets the flag as a signal would.
void requestStop(int signal);

// Seconds since an arbitrary fixed point (steady clock).
double monotonicSeconds();
// "2026-11-22T00:15:03Z"
std::string utcTimestamp();

}  // namespace murmur::node
