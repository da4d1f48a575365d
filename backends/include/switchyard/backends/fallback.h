#pragma once
// Executes one request along an ordered list of candidate backends. A candidate is tried only
// if the previous one failed before delivering anything and its error allows fallback
// (Error::fallback_allowed); once a chunk has reached the client, a failure ends the call.
// The list is whatever the router allowed: fallback never leaves it.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/backends/backend.h"

namespace sy::backends {

struct Candidate {
  std::shared_ptr<Backend> backend;
  std::string model;  // the upstream model name to ask it for
};

struct Attempt {
  std::string backend;
  std::string model;
  std::optional<Error> error;  // nullopt: this attempt served the request
};

struct FallbackOutcome {
  std::vector<Attempt> attempts;
  int served = -1;  // index into the candidates of the one that answered (or failed last)
  bool delivered = false;
};

struct FallbackHandlers {
  // Streaming only; `served_by` is the candidate whose stream this chunk belongs to (the same
  // for every chunk of one call).
  std::function<void(const Candidate& served_by, const ChatChunk& chunk)> on_chunk;
  // Exactly once, last. On failure, the error of the last attempt (or the first error that
  // forbade fallback).
  std::function<void(Result<ChatResponse> result, const FallbackOutcome& outcome)> on_complete;
};

// A legacy completions request sent to a backend without a completions API is rewritten as a
// one-message chat (the prompt as the user message); the answer comes back as chat and is
// encoded as a text completion by the surface. A request from the Anthropic surface
// (ApiSurface::messages) sent to a backend that does not speak Anthropic natively loses its
// Anthropic-only top-level members (`extra`) and its thinking blocks.
ChatRequest adapt_for(const ChatRequest& request, const Backend& backend);
// The same, consuming `request` (its messages are moved, not copied).
ChatRequest adapt_for(ChatRequest&& request, const Backend& backend);

// Handlers run on the executors of the backends (serialized per call), never inside this
// function. Candidates must not be empty (the caller answers "no backend" itself).
std::shared_ptr<ChatCall> run_with_fallback(std::vector<Candidate> candidates, ChatRequest request,
                                            bool stream, FallbackHandlers handlers);

}  // namespace sy::backends
