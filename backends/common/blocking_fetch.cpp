#include "common/blocking_fetch.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

namespace sy::backends {

Result<FetchedResponse> blocking_fetch(HttpClient& client, HttpRequest request,
                                       const HttpTimeouts& timeouts,
                                       const std::function<bool()>& stop) {
  // Shared with the handlers, which may outlive this frame by a moment after a cancel.
  struct State {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    FetchedResponse response;
    Status result;
  };
  auto state = std::make_shared<State>();
  HttpHandlers handlers;
  handlers.on_head = [state](int status, const Headers& headers) {
    std::lock_guard lock(state->mutex);
    state->response.status = status;
    state->response.headers = headers;
  };
  handlers.on_body = [state](std::string_view bytes) {
    std::lock_guard lock(state->mutex);
    state->response.body.append(bytes);
  };
  handlers.on_complete = [state](Status result) {
    {
      std::lock_guard lock(state->mutex);
      state->result = std::move(result);
      state->done = true;
    }
    state->done_cv.notify_all();
  };
  auto call = client.start(std::move(request), timeouts, std::move(handlers));
  std::unique_lock lock(state->mutex);
  std::optional<std::chrono::steady_clock::time_point> cancelled_at;
  while (!state->done) {
    state->done_cv.wait_for(lock, std::chrono::milliseconds(50));
    if (state->done) break;
    if (!cancelled_at && stop && stop()) {
      cancelled_at = std::chrono::steady_clock::now();
      lock.unlock();
      call->cancel();
      lock.lock();
    } else if (cancelled_at &&
               std::chrono::steady_clock::now() - *cancelled_at > std::chrono::seconds(1)) {
      // The client's loop no longer runs (shutdown): its completion will never come.
      return fail(ErrorKind::cancelled, "the call was cancelled");
    }
  }
  if (!state->result) return std::unexpected(state->result.error());
  return std::move(state->response);
}

}  // namespace sy::backends
