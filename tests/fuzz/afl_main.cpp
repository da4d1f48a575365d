// AFL++ driver for one fuzz target, chosen at compile time with
// -DSY_FUZZ_ENTRY=sy::fuzz::fuzz_<target>. Built only with AFL++'s compilers; see run_fuzz.sh.

#include <unistd.h>

#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_targets.h"

#ifndef SY_FUZZ_ENTRY
#error "SY_FUZZ_ENTRY must name the fuzz target"
#endif

#if SY_AFL_PERSISTENT
// GCC-plugin mode (afl-g++-fast): many test cases per process, read from shared memory.
__AFL_FUZZ_INIT();

int main() {
  __AFL_INIT();
  const unsigned char* buffer = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP(10000)) {
    const int length = __AFL_FUZZ_TESTCASE_LEN;
    SY_FUZZ_ENTRY(std::span<const uint8_t>(buffer, static_cast<size_t>(length)));
  }
  return 0;
}
#else
// Classic GCC mode (afl-g++): its runtime has no persistent loop; one test case per process,
// from stdin.
int main() {
  constexpr size_t kMaxInput = 1 << 20;
  std::vector<uint8_t> input(kMaxInput);
  size_t length = 0;
  for (ssize_t n; length < kMaxInput &&
                  (n = ::read(STDIN_FILENO, input.data() + length, kMaxInput - length)) > 0;) {
    length += static_cast<size_t>(n);
  }
  SY_FUZZ_ENTRY(std::span<const uint8_t>(input.data(), length));
  return 0;
}
#endif
