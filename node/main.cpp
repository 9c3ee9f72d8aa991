#include <malloc.h>

#include "node/commands.hpp"

int main(int argc, char** argv) {
  // Dense updates are megabyte buffers allocated and freed every step. With glibc's defaults
  // each one is a fresh mmap (and a trim on free), so every encode/decode faults its pages in
  // again: measured 17x slower round trips (docs/BENCHMARKS.md). Keep them on the heap.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  return murmur::node::runMain(argc, argv);
}
