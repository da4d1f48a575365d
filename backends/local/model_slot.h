#pragma once
// One configured local model: its weights and its ServingEngine, loaded at start or on the
// first request (`lazy`). Thread-safe; every use of the engine holds the slot's lock, so that
// shutdown() cannot pull the engine from under a submit() or cancel(). A lazy load runs outside
// the lock (requests for the model wait for it; stats and cancels do not).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "switchyard/backends/error.h"
#include "switchyard/backends/local_backend.h"

namespace sy::backends::local {

class ModelSlot {
 public:
  // Loads the model and starts its engine unless spec.lazy, in which case only the file's
  // header is read (for its context length). Throws std::runtime_error naming model and file.
  explicit ModelSlot(LocalModelSpec spec);
  ~ModelSlot();
  ModelSlot(const ModelSlot&) = delete;
  ModelSlot& operator=(const ModelSlot&) = delete;

  const LocalModelSpec& spec() const { return spec_; }
  size_t context_length() const { return context_length_.load(std::memory_order_relaxed); }

  // The loaded model, loading it (and starting its engine) first if needed.
  // upstream_unavailable when loading fails (the message names the model, never its file: the
  // detail is logged) or the slot was shut down.
  Result<std::shared_ptr<const engine::Model>> model();
  // The model if it is loaded already (never loads); null otherwise.
  std::shared_ptr<const engine::Model> loaded_model() const;
  // Whether a request now could be served or tried: not shut down, and not inside the
  // retry_load_after pause that follows a failed load. Lock-free: the router asks every
  // backend per request, and must not wait while a lazy load holds the slot.
  bool may_serve(std::chrono::steady_clock::time_point now) const;

  // ServingEngine::submit, with its refusals as Errors: queue_full -> overloaded with
  // retry_after, prompt_too_long -> context_length_exceeded, invalid -> invalid_request,
  // shutting_down -> upstream_unavailable.
  Result<std::shared_ptr<engine::SequenceHandle>> submit(engine::SequenceRequest request,
                                                         engine::SequenceCallbacks callbacks);
  // Cancels a sequence of this slot's engine; nothing once the engine is gone.
  void cancel(const std::shared_ptr<engine::SequenceHandle>& handle);

  std::optional<engine::ServingStats> stats() const;

  // Ends every sequence (their on_end runs with `cancelled`) and joins the engine's thread.
  void shutdown();

  // True the first time it is called: the chat-template notice is logged once per model.
  bool first_notice() { return !notice_logged_.exchange(true); }

 private:
  // The model and its started engine; throws std::runtime_error naming model and file.
  std::pair<std::shared_ptr<const engine::Model>, std::unique_ptr<engine::ServingEngine>> load()
      const;
  void install_locked(std::shared_ptr<const engine::Model> model,
                      std::unique_ptr<engine::ServingEngine> engine);

  const LocalModelSpec spec_;
  std::atomic<size_t> context_length_{0};
  mutable std::mutex mutex_;
  std::condition_variable loaded_;  // a lazy load ended (loading_ false again)
  bool loading_ = false;            // a request is loading the model, outside the lock
  std::shared_ptr<const engine::Model> model_;
  std::unique_ptr<engine::ServingEngine> engine_;  // destroyed before model_
  std::atomic<bool> stopped_{false};  // shut down (written under mutex_, read anywhere)
  // Until when (steady_clock ticks) a failed load pauses the slot; 0: never failed.
  std::atomic<std::chrono::steady_clock::rep> paused_until_{0};
  std::atomic<bool> notice_logged_{false};
};

}  // namespace sy::backends::local
