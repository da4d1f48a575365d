#include "common/blocking_fetch.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

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
  bool cancelled = false;
  while (!state->done) {
    state->done_cv.wait_for(lock, std::chrono::milliseconds(50));
    if (!cancelled && !state->done && stop && stop()) {
      cancelled = true;
      lock.unlock();
      call->cancel();
      lock.lock();
    }
  }
  if (!state->result) return std::unexpected(state->result.error());
  return std::move(state->response);
}

}  // namespace sy::backends
