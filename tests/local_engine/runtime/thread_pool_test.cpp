#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sy::engine {
namespace {

TEST(ThreadPool, RunsEveryIndexExactlyOnceAcrossManyCalls) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3u);
  for (size_t n : {0, 1, 2, 3, 7, 100, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << n << " " << i;
  }
}

TEST(ThreadPool, RethrowsTheFirstExceptionAndStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(10,
                                 [](size_t i) {
                                   if (i == 5) throw std::runtime_error("boom");
                                 }),
               std::runtime_error);
  std::atomic<int> sum{0};
  pool.parallel_for(10, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 45);
}

TEST(ThreadPool, WorkersThatWentToSleepStillRunEveryIndex) {
  // No spinning: between calls every worker is asleep on the atomic wait, so each call has to
  // wake them (and the caller sleeps until the last one checks out).
  for (size_t threads : {2, 3, 5}) {
    ThreadPool pool(threads, std::chrono::microseconds(0));
    for (int call = 0; call < 300; ++call) {
      const size_t n = 1 + call % 9;
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << call;
    }
  }
}

TEST(ThreadPool, SpinningWorkersSeeEveryCallAndStopOnDestruction) {
  // A spin far longer than the test: workers never sleep, and the destructor must still end
  // them.
  ThreadPool pool(2, std::chrono::seconds(30));
  std::atomic<size_t> sum{0};
  for (size_t call = 0; call < 100; ++call) {
    pool.parallel_for(3, [&](size_t i) { sum += i + 1; });
  }
  EXPECT_EQ(sum.load(), 100u * 6);
}

TEST(ThreadPool, BackToBackCallsNeverLoseOrRepeatAnIndex) {
  // Calls follow each other faster than workers wake: some join late or not at all, and a
  // worker that missed a call must not touch the next one's indices twice.
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(5);
  for (int call = 0; call < 3000; ++call) {
    pool.parallel_for(5, [&](size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
  }
  for (auto& h : hits) EXPECT_EQ(h.load(), 3000);
}

TEST(ThreadPool, SleepingWorkersWakeAndShareLongJobs) {
  // Indices that take a while: the caller cannot finish them all before woken workers join.
  ThreadPool pool(3, std::chrono::microseconds(0));
  const auto caller = std::this_thread::get_id();
  bool shared = false;
  for (int call = 0; call < 50 && !shared; ++call) {
    std::vector<std::thread::id> ran_on(8);
    pool.parallel_for(8, [&](size_t i) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (std::chrono::steady_clock::now() < until) {
      }
      ran_on[i] = std::this_thread::get_id();
    });
    for (auto id : ran_on) shared = shared || id != caller;
  }
  EXPECT_TRUE(shared);
}

TEST(ThreadPool, ZeroMeansOnePerHardwareThread) {
  ThreadPool pool(0);
  EXPECT_GE(pool.size(), 1u);
}

}  // namespace
}  // namespace sy::engine
