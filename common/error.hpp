#pragma once
// murmur's small exception hierarchy. Errors are thrown at module edges (files, flags, frames,
// third-party calls) and carry a message that names what is wrong and where. Third-party
// exceptions (kj::Exception, dnnl::error) are caught once, where they enter, and rethrown as
// one of these.

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace murmur {

// Base of everything murmur throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad input from outside the process: files, flags, configs, topology and data files.
class InputError : public Error {
 public:
  using Error::Error;
};

// A peer sent something that is not a valid message (malformed, oversized, unauthenticated).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// The operating system refused something (open, write, rename, socket).
class IoError : public Error {
 public:
  using Error::Error;
};

// A third-party library failed (oneDNN, Cap'n Proto, OpenSSL) where murmur's input was valid.
class BackendError : public Error {
 public:
  using Error::Error;
};

// murmur broke its own invariant: a bug, not bad input.
class InternalError : public Error {
 public:
  using Error::Error;
};

namespace detail {
[[noreturn]] void throwEnforce(const char* kind, const char* file, int line, const char* cond,
                               const std::string& message);
}  // namespace detail

}  // namespace murmur

// MURMUR_ENFORCE(cond, ErrorType, "format {}", args...): throws ErrorType with the formatted
// message when cond is false. The message is the user-facing text; it must say what and where.
#define MURMUR_ENFORCE(cond, ErrorType, ...)     \
  do {                                           \
    if (!(cond)) [[unlikely]] {                  \
      throw ErrorType(fmt::format(__VA_ARGS__)); \
    }                                            \
  } while (0)

// MURMUR_CHECK(cond, "format", args...): an internal invariant; throws InternalError with the
// source location, since reaching it is a bug.
#define MURMUR_CHECK(cond, ...)                                             \
  do {                                                                      \
    if (!(cond)) [[unlikely]] {                                             \
      ::murmur::detail::throwEnforce("internal", __FILE__, __LINE__, #cond, \
                                     fmt::format(__VA_ARGS__));             \
    }                                                                       \
  } while (0)
