#include "nn/runtime.hpp"

#include <omp.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/error.hpp"

namespace murmur::nn {

void setNumThreads(int n) {
  MURMUR_ENFORCE(n >= 1, InputError, "thread count must be >= 1, got {}", n);
  omp_set_num_threads(n);
}

int numThreads() { return omp_get_max_threads(); }

int threadsFromEnv(int fallback) {
  const char* v = std::getenv("MURMUR_THREADS");
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  MURMUR_ENFORCE(errno == 0 && end != v && *end == '\0' && n >= 1 && n <= 4096, InputError,
                 "MURMUR_THREADS='{}' is not a positive integer", v);
  return static_cast<int>(n);
}

}  // namespace murmur::nn
