#pragma once
// One chat or legacy-completions exchange on the OpenAI surface: runs the request along its
// candidates and writes the answer back, buffered or as SSE, in OpenAI's format.
//
// Streaming contract: nothing is sent until the first chunk with content arrives (the
// backend holds the preamble), so a failure before that falls back or becomes a plain JSON
// error with its status; a failure after that ends the stream with an SSE error event and no
// `[DONE]` — never a truncated stream that looks like success.

#include <memory>
#include <string>
#include <vector>

#include "switchyard/backends/fallback.h"
#include "switchyard/gateway/http_server.h"

namespace sy::gateway {

struct ExchangeContext {
  std::string request_id;
  std::string client_model;  // the model as the client named it
};

void run_chat_exchange(backends::ChatRequest request, std::vector<backends::Candidate> candidates,
                       ExchangeContext context, std::shared_ptr<ResponseWriter> writer,
                       std::function<void(int status, const backends::FallbackOutcome&)> on_done);

}  // namespace sy::gateway
