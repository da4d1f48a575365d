#pragma once
// One exchange on the Anthropic surface (POST /v1/messages): runs the request along its
// candidates and answers in Anthropic's format, buffered or as SSE.
//
// Two ways an answer comes back:
// - native: the candidate speaks Anthropic itself (Capabilities::native_protocol) and the
//   request still carries its NativeRequest: the vendor's body, or its SSE bytes, reach the
//   client unchanged (thinking blocks and their signatures included);
// - translated: any other backend; the ChatResponse / ChatChunks are encoded as a `message`
//   object or as Anthropic's event sequence (anthropic_response_encoder.h).
//
// Streaming and billing contracts are those of the OpenAI surface (chat_exchange.h): nothing is
// sent before the first content, so an earlier failure falls back or becomes a JSON error with
// its status; a failure after content ends the stream with an `error` event and no
// message_stop; streamed and buffered answers are priced alike, a cut stream from the vendor's
// usage or the documented estimate. A non-streaming answer carries x-switchyard-cost-usd; a
// translated stream carries the cost in an `x_switchyard` object of its message_delta (a native
// stream is left byte for byte as the vendor sent it).

#include <functional>
#include <memory>
#include <vector>

#include "api/chat_exchange.h"

namespace sy::gateway {

// `on_done`: as run_chat_exchange's (before the answer's last bytes).
void run_messages_exchange(backends::ChatRequest request,
                           std::vector<backends::Candidate> candidates, ExchangeContext context,
                           std::shared_ptr<ResponseWriter> writer,
                           std::function<void(const ExchangeSummary&)> on_done);

}  // namespace sy::gateway
