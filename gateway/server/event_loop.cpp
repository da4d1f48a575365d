#include "switchyard/gateway/event_loop.h"

#include <sys/resource.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace sy::gateway {

namespace net = boost::asio;

// An io_context whose shutdown (protected in Asio) can run ahead of its destruction.
class LoopContext : public net::io_context {
 public:
  using net::io_context::io_context;
  using net::execution_context::shutdown;
};

class EventLoop::Impl {
 public:
  explicit Impl(int threads) {
    // Concurrency hint 1: each context is run by one thread (Asio keeps its locks, so other
    // threads may still post to it). With one thread this is exactly the former single loop.
    for (int i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<LoopContext>(1));
  }
  ~Impl() {
    // A handler still queued on one context may own objects bound to another context's strands
    // (a connection on one thread, its upstream call on another). Shutting every context down
    // first destroys all queued handlers while every context's services still exist; only then
    // is any context destroyed. Without this, destroying the first context's handlers touched
    // the strand service of one already freed (a use-after-free ASan found).
    signal_sets_.clear();
    for (auto& context : contexts_) context->shutdown();
  }

  std::vector<std::unique_ptr<LoopContext>> contexts_;
  // Signal sets must outlive their pending waits; they die with the loop.
  std::vector<std::unique_ptr<net::signal_set>> signal_sets_;
  std::mutex signals_mutex_;
};

namespace {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

void wait_for_signal(net::signal_set& set, std::shared_ptr<std::function<void(int)>> callback) {
  set.async_wait([&set, callback](const boost::system::error_code& ec, int signal) {
    if (ec) return;  // cancelled: the loop is going away
    (*callback)(signal);
    wait_for_signal(set, callback);
  });
}

// Runs `context` until it is stopped. With busy_poll, a thread that runs out of ready handlers
// polls the reactor (epoll with no timeout) for up to busy_poll before it blocks for the next
// handler: a request or an upstream answer that arrives within it is picked up by a running
// thread instead of waking a sleeping one (in a VM, an idle vCPU's halt and wake-up IPI were
// most of a proxied request's added latency at concurrency 1: bench/RESULTS.md, gateway_overhead,
// stop 20).
void drive(net::io_context& context, std::chrono::microseconds busy_poll) {
  if (busy_poll.count() <= 0) {
    context.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  while (!context.stopped()) {
    if (context.poll() > 0) continue;
    const Clock::time_point until = Clock::now() + busy_poll;
    bool ran = false;
    while (!ran && !context.stopped() && Clock::now() < until) ran = context.poll() > 0;
    if (!ran) context.run_one();
  }
}

}  // namespace

EventLoop::EventLoop(int threads, std::chrono::microseconds busy_poll)
    : threads_(resolve_threads(threads)),
      busy_poll_(busy_poll),
      impl_(std::make_unique<Impl>(threads_)) {
  for (auto& context : impl_->contexts_) contexts_.push_back(context.get());
}

EventLoop::~EventLoop() { stop(); }

net::io_context& EventLoop::io() { return *contexts_.front(); }

void EventLoop::run() {
  // The loop keeps running when it has nothing to do (between connections) until stop().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  work.reserve(contexts_.size());
  for (auto* context : contexts_) work.push_back(net::make_work_guard(*context));
  std::vector<std::jthread> extra;
  extra.reserve(threads_ - 1);
  for (int i = 1; i < threads_; ++i) {
    extra.emplace_back([this, context = contexts_[i]] { drive(*context, busy_poll_); });
  }
  drive(*contexts_.front(), busy_poll_);
  // jthreads join here: run() returns only when every loop thread has left.
}

void EventLoop::stop() {
  for (auto* context : contexts_) context->stop();
}

void EventLoop::on_signal(std::initializer_list<int> signals, std::function<void(int)> callback) {
  auto set = std::make_unique<net::signal_set>(io());
  for (int s : signals) set->add(s);
  wait_for_signal(*set, std::make_shared<std::function<void(int)>>(std::move(callback)));
  std::lock_guard lock(impl_->signals_mutex_);
  impl_->signal_sets_.push_back(std::move(set));
}

uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return limit.rlim_cur;
}

}  // namespace sy::gateway
