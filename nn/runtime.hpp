#pragma once
// Threading of the compute backend (oneDNN on OpenMP). A node trains on ONE thread by default
// so that N nodes on one machine do not oversubscribe the cores.

namespace murmur::nn {

// Sets the number of OpenMP threads oneDNN uses in this process (>= 1).
void setNumThreads(int n);
int numThreads();

// Threads requested by the environment variable MURMUR_THREADS, or `fallback` when it is unset.
// Throws InputError when it is set but not a positive integer.
int threadsFromEnv(int fallback = 1);

}  // namespace murmur::nn
