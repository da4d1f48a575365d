// usable_cpu_count follows the affinity mask (taskset, a container's cpuset), not the
// machine's CPU count.

#include "switchyard/local_engine/cpu_count.h"

#include <gtest/gtest.h>

#include <sched.h>

#include <thread>

namespace sy::engine {
namespace {

TEST(UsableCpuCount, FollowsTheAffinityMask) {
  cpu_set_t saved;
  CPU_ZERO(&saved);
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  const size_t all = usable_cpu_count();
  EXPECT_EQ(all, static_cast<size_t>(CPU_COUNT(&saved)));
  EXPECT_LE(all, std::thread::hardware_concurrency());
  // This thread limited to its first allowed CPU: one.
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(usable_cpu_count(), 1u);
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(usable_cpu_count(), all);
}

}  // namespace
}  // namespace sy::engine
