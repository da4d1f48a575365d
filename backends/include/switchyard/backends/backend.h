#pragma once
// The narrow interface every backend implements, closed vendors and the local engine alike:
// one call that streams chunks or returns one response, plus what it is and can do.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/translator.h"

namespace sy::backends {

enum class BackendKind { closed, local };

// A circuit breaker's state (see http/circuit_breaker.h), as metrics show it.
enum class CircuitState { closed, open, half_open };

// Prices in integer micro-dollars per million tokens (see backends/pricing/).
struct Prices {
  int64_t input_per_mtok = 0;
  int64_t output_per_mtok = 0;
  int64_t cached_input_per_mtok = 0;
  int64_t cache_write_per_mtok = 0;
};

struct BackendInfo {
  std::string name;      // from the config, unique
  std::string protocol;  // "openai", "anthropic", "gemini", "azure", "openai_compat", "local"
  BackendKind kind = BackendKind::closed;
  std::string region;          // where the data goes, e.g. "us", "eu", "local"
  bool retains_data = false;   // the vendor keeps prompts (logging, training, abuse review)
  int capability_tier = 0;     // higher = stronger models; used by routing preferences
  Prices prices;
};

struct ChatHandlers {
  // Streaming only: every chunk in order. Nothing is delivered until the backend has
  // content (or a finish/usage), so a failure before that is a clean, retryable failure.
  std::function<void(const ChatChunk& chunk)> on_chunk;
  // Exactly once, last. Streaming: the accumulated response (usage included) or the error
  // that ended the stream. `delivered` says whether any chunk reached on_chunk.
  std::function<void(Result<ChatResponse> result, bool delivered)> on_complete;
};

class ChatCall {
 public:
  virtual ~ChatCall() = default;
  virtual void cancel() = 0;  // idempotent, thread-safe; on_complete(cancelled) follows
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendInfo& info() const = 0;
  virtual Capabilities capabilities() const = 0;
  // The context window of `model` in tokens, when the backend knows it (local models).
  virtual std::optional<int64_t> context_length(std::string_view model) const {
    return std::nullopt;
  }
  // `request.model` is the upstream model name. Handlers run serialized on the backend's
  // executor, never inside chat(). Retries on this backend happen inside the call.
  virtual std::shared_ptr<ChatCall> chat(ChatRequest request, bool stream,
                                         ChatHandlers handlers) = 0;
  // Whether a call now would be tried at all (false while a circuit breaker is open). The
  // router leaves unavailable backends out; when every allowed one is, it answers 503.
  virtual bool available() const { return true; }
  // The circuit breaker's state; nullopt for a backend without one (the local engine).
  virtual std::optional<CircuitState> circuit_state() const { return std::nullopt; }
  // The exact prompt token count of `request` as this backend would bill it, where the
  // backend runs its own tokenizer (the local engine); nullopt = unknown, and callers use the
  // documented estimate (pricing.h estimate_prompt_tokens). Thread-safe, no I/O.
  virtual std::optional<int64_t> count_prompt_tokens(const ChatRequest& request) const {
    (void)request;
    return std::nullopt;
  }
};

}  // namespace sy::backends
