#pragma once
// How many CPUs the engine's threads may use by default.

#include <cstddef>

namespace sy::engine {

// The CPUs this process may run on: its affinity mask's count, so that `taskset` and a
// container's cpuset are respected (std::thread::hardware_concurrency counts every CPU of the
// machine); hardware_concurrency where the mask cannot be read; at least 1.
size_t usable_cpu_count();

}  // namespace sy::engine
