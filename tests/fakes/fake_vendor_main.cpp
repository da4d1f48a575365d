// fake_vendor: the scripted fake vendor as a process, for tests outside this binary (the
// official SDKs in tests/e2e). Prints "listening on http://127.0.0.1:PORT" first, then serves
// until SIGTERM/SIGINT, until its stdin (a pipe, socket or terminal) closes, or until its
// maximum lifetime passes, so it can never outlive the test that started it.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <thread>

#include "fakes/fake_vendor.h"

namespace {

int usage() {
  std::cerr << "usage: fake_vendor [--port 0] [--key-openai K] [--key-anthropic K] "
               "[--key-gemini K] [--key-azure K] [--max-lifetime-ms N]\n";
  return 2;
}

// Only a pipe, socket or terminal can "close"; /dev/null (a background job's stdin) is EOF
// from the start and must not end the process.
bool stdin_can_close() {
  struct stat st {};
  if (fstat(STDIN_FILENO, &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(STDIN_FILENO);
}

}  // namespace

int main(int argc, char** argv) {
  sy::fakes::FakeVendorOptions options;
  long long max_lifetime_ms = 120000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string value = argv[++i];
    try {
      if (arg == "--port") {
        options.port = static_cast<uint16_t>(std::stoi(value));
      } else if (arg == "--key-openai") {
        options.keys[sy::fakes::Vendor::openai] = value;
      } else if (arg == "--key-anthropic") {
        options.keys[sy::fakes::Vendor::anthropic] = value;
      } else if (arg == "--key-gemini") {
        options.keys[sy::fakes::Vendor::gemini] = value;
      } else if (arg == "--key-azure") {
        options.keys[sy::fakes::Vendor::azure] = value;
      } else if (arg == "--max-lifetime-ms") {
        max_lifetime_ms = std::stoll(value);
      } else {
        return usage();
      }
    } catch (const std::exception&) {
      return usage();
    }
  }

  // Signals are taken synchronously by the main thread; every thread started below inherits
  // the mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    sy::fakes::FakeVendor fake(options);
    std::printf("listening on http://127.0.0.1:%u\n", static_cast<unsigned>(fake.port()));
    std::fflush(stdout);

    if (stdin_can_close()) {
      std::thread([] {
        char buffer[256];
        while (read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
        }
        kill(getpid(), SIGTERM);
      }).detach();
    }

    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(max_lifetime_ms);
    for (;;) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) {
        std::fprintf(stderr, "fake_vendor: maximum lifetime reached, exiting\n");
        break;
      }
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec wait{.tv_sec = static_cast<time_t>(ns / 1000000000),
                    .tv_nsec = static_cast<long>(ns % 1000000000)};
      if (sigtimedwait(&signals, nullptr, &wait) > 0) break;
    }
    fake.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake_vendor: %s\n", e.what());
    return 1;
  }
  return 0;
}
