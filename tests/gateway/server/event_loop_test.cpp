#include "switchyard/gateway/event_loop.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace sy::gateway {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, RunsEachContextOnItsOwnThreadUntilStopped) {
  EventLoop loop(3);
  EXPECT_EQ(loop.threads(), 3);
  ASSERT_EQ(loop.contexts().size(), 3u);
  EXPECT_EQ(loop.contexts()[0], &loop.io());
  std::mutex mutex;
  std::condition_variable all_in;
  std::set<std::thread::id> ids;
  // Each handler waits (bounded) until three distinct threads are inside: proof of 3 threads.
  for (boost::asio::io_context* context : loop.contexts()) {
    boost::asio::post(*context, [&, context] {
      EXPECT_TRUE(context->get_executor().running_in_this_thread());
      std::unique_lock lock(mutex);
      ids.insert(std::this_thread::get_id());
      all_in.notify_all();
      all_in.wait_for(lock, 2s, [&] { return ids.size() == 3; });
    });
  }
  boost::asio::post(loop.io(), [&] {
    std::unique_lock lock(mutex);
    all_in.wait_for(lock, 2s, [&] { return ids.size() == 3; });
    loop.stop();
  });
  auto runner = std::async(std::launch::async, [&] { loop.run(); });
  ASSERT_EQ(runner.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ids.size(), 3u);
}

// Handlers still queued when the loop goes away may own strands of another context (a
// connection's exchange on one thread, its upstream call on another). Every context is shut
// down before any is destroyed, so destroying those handlers never touches a freed strand
// service (it did before: a use-after-free under ASan, heap corruption without it).
TEST(EventLoop, DestroysQueuedHandlersThatHoldOtherContextsStrands) {
  namespace net = boost::asio;
  using Strand = net::strand<net::io_context::executor_type>;
  struct Holder {
    Strand strand;
    std::atomic<int>* destroyed;
    ~Holder() { destroyed->fetch_add(1); }
  };
  std::atomic<int> destroyed{0};
  {
    EventLoop loop(2);
    net::io_context& a = *loop.contexts()[0];
    net::io_context& b = *loop.contexts()[1];
    // Never run: both handlers are still queued, each holding a strand of the other context.
    for (int round = 0; round < 8; ++round) {
      auto on_b = std::make_shared<Holder>(Holder{net::make_strand(b), &destroyed});
      auto on_a = std::make_shared<Holder>(Holder{net::make_strand(a), &destroyed});
      net::post(net::make_strand(a), [on_b] { (void)on_b; });
      net::post(net::make_strand(b), [on_a] { (void)on_a; });
    }
  }
  // Each Holder is destroyed once as the temporary it was built from, once as the shared copy.
  EXPECT_EQ(destroyed.load(), 2 * 16);
}

// With busy polling, handlers posted from another thread while the loop polls, and while it has
// gone back to sleep after its poll window, all run, and stop() ends the run promptly.
TEST(EventLoop, BusyPollingRunsHandlersAndStops) {
  EventLoop loop(2, 200us);
  auto runner = std::async(std::launch::async, [&] { loop.run(); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 40; ++i) {
    boost::asio::post(*loop.contexts()[i % 2], [&] { ran.fetch_add(1); });
    // Half inside a poll window, half after one has ended (the threads are asleep again).
    std::this_thread::sleep_for(i % 2 == 0 ? 20us : 2ms);
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ran.load() < 40 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(ran.load(), 40);
  loop.stop();
  ASSERT_EQ(runner.wait_for(5s), std::future_status::ready);
}

TEST(EventLoop, DefaultsToOneThreadPerCore) {
  EventLoop loop;
  EXPECT_GE(loop.threads(), 1);
}

TEST(EventLoop, CallsSignalCallbackOnLoopThread) {
  EventLoop loop(1);
  std::atomic<int> seen{0};
  loop.on_signal({SIGUSR1, SIGUSR2}, [&](int signal) {
    seen = signal;
    loop.stop();
  });
  auto runner = std::async(std::launch::async, [&] { loop.run(); });
  std::raise(SIGUSR2);
  ASSERT_EQ(runner.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(seen.load(), SIGUSR2);
}

TEST(EventLoop, RaisesOpenFileLimitToHardLimit) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  uint64_t raised = raise_open_file_limit();
  EXPECT_EQ(raised, limit.rlim_max);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(limit.rlim_cur, limit.rlim_max);
}

}  // namespace
}  // namespace sy::gateway
