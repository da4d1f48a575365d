// 5,000 idle connections from another process: the server stays responsive, and the memory
// they cost comes back once they are gone.

#include <malloc.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "test_http_client.h"
#include "test_server.h"

namespace sy::gateway {
namespace {

using namespace std::chrono_literals;
using testing::Clock;
using testing::get_request;
using testing::RunningServer;
using testing::TestHttpClient;

constexpr int kConnections = 5000;

// Resident memory after returning free heap pages: what the process still holds, not what
// the allocator keeps cached on its free lists.
size_t resident_bytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Child process: opens the connections with plain sockets, reports how many, holds them until
// released (at most ~3 s), then closes them. Only async-signal-safe calls: the parent has
// threads, so the child must not allocate.
[[noreturn]] void flood(uint16_t port, std::vector<int>& fds, int ready_fd, int release_fd) {
  int opened = 0;
  for (int& fd : fds) {
    fd = testing::connect_loopback(port);
    if (fd >= 0) ++opened;
  }
  (void)!::write(ready_fd, &opened, sizeof opened);
  pollfd release{release_fd, POLLIN, 0};
  ::poll(&release, 1, 3000);
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  ::_exit(0);
}

// Floods the server from a child process and checks it stays responsive; returns the RSS
// measured while the flood is held.
size_t flood_once(RunningServer& s) {
  int ready[2], release[2];
  if (::pipe(ready) != 0 || ::pipe(release) != 0) {
    ADD_FAILURE() << "pipe";
    return 0;
  }
  std::vector<int> fds(kConnections, -1);  // allocated before fork
  pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork";
    return 0;
  }
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    flood(s.port(), fds, ready[1], release[0]);
  }
  ::close(ready[1]);
  ::close(release[0]);

  int opened = 0;
  pollfd p{ready[0], POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 8000), 1) << "the flooding child did not report";
  EXPECT_EQ(::read(ready[0], &opened, sizeof opened), static_cast<ssize_t>(sizeof opened))
      << "the flooding child did not report";
  EXPECT_EQ(opened, kConnections);
  EXPECT_TRUE(s.wait_connections(kConnections, 5s)) << s.server().open_connections();
  size_t during = resident_bytes();

  // A normal client is served promptly while every flood connection is held open.
  auto start = Clock::now();
  {
    TestHttpClient client(s.port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.send(get_request("/echo/flooded")));
    auto response = client.read_response(2000ms);
    EXPECT_TRUE(response);
    if (response) {
      EXPECT_EQ(response->body, "GET /echo/flooded ");
    }
  }
  EXPECT_LT(Clock::now() - start, 1000ms);

  char go = 1;
  (void)!::write(release[1], &go, 1);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  ::close(ready[0]);
  ::close(release[1]);
  EXPECT_TRUE(s.wait_connections(0, 5s)) << s.server().open_connections();

  return during;
}

TEST(HttpServerFlood, StaysResponsiveUnderFiveThousandIdleConnectionsAndReturnsMemory) {
  ASSERT_GE(raise_open_file_limit(), static_cast<uint64_t>(kConnections + 200));
  auto limits = testing::test_limits();
  limits.header_timeout = 10s;  // the flood must outlive the test, not be timed out
  limits.idle_timeout = 10s;
  limits.max_connections = kConnections + 100;
  RunningServer s(limits);
  {
    TestHttpClient warm(s.port());
    ASSERT_TRUE(warm.send(get_request("/echo")));
    ASSERT_TRUE(warm.read_response());
  }
  ASSERT_TRUE(s.wait_connections(0));
  size_t cold = resident_bytes();

  // The first flood sizes what Asio keeps for reuse: its reactor pools one small state per
  // socket ever open at once (freed only with the io_context), and those live objects pin
  // the heap pages they share with freed connections. So the first flood bounds the cost per
  // connection; the second shows that a flood leaves nothing behind.
  size_t peak = flood_once(s);
  size_t baseline = resident_bytes();
  EXPECT_LT((peak - std::min(peak, cold)) / kConnections, 8u * 1024) << "bytes per idle connection";

  size_t during = flood_once(s);
  size_t after = resident_bytes();
  std::printf("rss KiB: cold %zu, first flood %zu, baseline %zu, second flood %zu, after %zu\n",
              cold / 1024, peak / 1024, baseline / 1024, during / 1024, after / 1024);
  EXPECT_LE(after, baseline + baseline / 10 + 2 * 1024 * 1024);
}

}  // namespace
}  // namespace sy::gateway
