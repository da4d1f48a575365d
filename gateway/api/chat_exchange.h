#pragma once
// One chat or legacy-completions exchange on the OpenAI surface: runs the request along its
// candidates and writes the answer back, buffered or as SSE, in OpenAI's format.
//
// Streaming contract: nothing is sent until the first chunk with content arrives (the
// backend holds the preamble), so a failure before that falls back or becomes a plain JSON
// error with its status; a failure after that ends the stream with an SSE error event and no
// `[DONE]` — never a truncated stream that looks like success.
//
// Billing contract: the exchange is priced from the vendor's usage, identically streamed or
// not; a non-streaming answer carries `x-switchyard-cost-usd`, a stream with include_usage
// carries the cost in the `x_switchyard` object of its usage chunk. A stream that the client
// cancels, or that fails after content, is billed for what was generated: the vendor's usage
// if it reported any, else the documented estimate (backends/pricing.h), flagged as such.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/error_reply.h"
#include "ledger/request_pricer.h"
#include "switchyard/backends/fallback.h"
#include "switchyard/gateway/http_server.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

struct ExchangeContext {
  std::string request_id;
  std::string client_model;  // the model as the client named it
  std::string tenant;
  std::shared_ptr<const RequestPricer> pricer;  // null = nothing is priced
  std::chrono::sys_days day{};                  // the request's UTC day (effective prices)
  std::chrono::steady_clock::time_point started{};
  // The policy decision's x-switchyard-rule/-sensitivity/-volume/-difficulty: on every response.
  Headers policy_headers;
  // Which rules kept the other backends out ("" = none did): a failure of the allowed ones says
  // so (with_policy_note), since the client sees no reroute it might have expected.
  std::string policy_note;
};

// `error` with ctx.policy_note appended to its message when it is a backend's failure (down,
// overloaded, timed out, 5xx, rate limited), not the client's own mistake.
backends::Error with_policy_note(backends::Error error, const ExchangeContext& ctx);

// What one exchange came to: for the ledger row and the access log.
struct ExchangeSummary {
  int http_status = 0;
  size_t attempts = 0;  // upstream attempts made (the whole outcome would be a vector copy)
  std::string backend;  // the candidate that served, or failed last
  std::string model;
  backends::Usage usage;
  bool usage_estimated = false;
  PricedUsage price;
  backends::MicroDollars baseline_cost = 0;
  std::optional<std::chrono::steady_clock::duration> ttft;  // streams only
  LedgerStatus status = LedgerStatus::ok;
  std::string error_kind;
};

// Fills the summary's served-by fields from the outcome (the candidate that answered or failed
// last) and the status from the result.
void describe(ExchangeSummary& s, const backends::Result<backends::ChatResponse>& result,
              const backends::FallbackOutcome& outcome);
// Prices the summary's usage on the backend that served it (the upstream model's name when the
// served alias has no price), and the tenant's baseline.
void settle(ExchangeSummary& s, const ExchangeContext& ctx, const std::string& upstream_model);
// The headers of an answer served by `served_by`: request id, backend, model and the policy's
// x-switchyard-* headers. Every surface answers with them.
Headers served_headers(const ExchangeContext& ctx, const backends::Candidate& served_by);
// An error answer's request id and policy headers, and x-switchyard-backend naming the backend
// that failed last when one was tried (`backend` empty: none was).
void add_policy_headers(ErrorReply& reply, const ExchangeContext& ctx, std::string_view backend);

// `on_done` gets the exchange's summary once, just before the answer's last bytes are handed
// to the connection (the whole reply, or a stream's final event): the budget spend it settles
// is in the limits store before the client can see the end of the answer and send again.
void run_chat_exchange(backends::ChatRequest request, std::vector<backends::Candidate> candidates,
                       ExchangeContext context, std::shared_ptr<ResponseWriter> writer,
                       std::function<void(const ExchangeSummary&)> on_done);

}  // namespace sy::gateway
