// BoundedWorkPool: at most max_tasks accepted at once, refusals over that, the slot freed before
// a task's completion runs, and close() letting accepted tasks finish.

#include "api/bounded_work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace sy::gateway {
namespace {

TEST(BoundedWorkPool, RefusesOverTheLimitAndFreesTheSlotBeforeTheCompletion) {
  BoundedWorkPool pool(2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<int> seen_in_completion;
  BoundedWorkPool::Task first = [gate, &pool, &seen_in_completion]() -> std::function<void()> {
    gate.wait();
    return [&pool, &seen_in_completion] { seen_in_completion.set_value(pool.in_flight()); };
  };
  BoundedWorkPool::Task second = [gate]() -> std::function<void()> {
    gate.wait();
    return nullptr;
  };
  ASSERT_TRUE(pool.try_post(first));
  ASSERT_TRUE(pool.try_post(second));
  bool ran = false;
  BoundedWorkPool::Task third = [&ran]() -> std::function<void()> {
    ran = true;
    return nullptr;
  };
  EXPECT_FALSE(pool.try_post(third));
  EXPECT_TRUE(third);  // untouched: the caller still has it
  EXPECT_EQ(pool.in_flight(), 2);
  release.set_value();
  auto completion = seen_in_completion.get_future();
  ASSERT_EQ(completion.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LE(completion.get(), 1);  // its own slot was already given back
  pool.close();
  EXPECT_EQ(pool.in_flight(), 0);
  EXPECT_FALSE(ran);
}

TEST(BoundedWorkPool, CloseFinishesAcceptedTasksAndRefusesNewOnes) {
  BoundedWorkPool pool(1);
  std::atomic<bool> finished{false};
  BoundedWorkPool::Task slow = [&finished]() -> std::function<void()> {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return [&finished] { finished = true; };
  };
  ASSERT_TRUE(pool.try_post(slow));
  pool.close();
  EXPECT_TRUE(finished);
  BoundedWorkPool::Task late = []() -> std::function<void()> { return nullptr; };
  EXPECT_FALSE(pool.try_post(late));
}

TEST(BoundedWorkPool, ATaskThatThrowsIsLoggedAndItsSlotFreed) {
  BoundedWorkPool pool(1);
  BoundedWorkPool::Task bad = []() -> std::function<void()> { throw std::runtime_error("x"); };
  ASSERT_TRUE(pool.try_post(bad));
  pool.close();
  EXPECT_EQ(pool.in_flight(), 0);
}

}  // namespace
}  // namespace sy::gateway
