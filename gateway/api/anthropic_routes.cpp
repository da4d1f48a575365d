// ApiHandler's Anthropic surface: POST /v1/messages and POST /v1/messages/count_tokens.
// Routing is the OpenAI surface's (the policy gate, model aliases, listed models, fallback);
// only the parsing, the answer's format and the errors' format differ.

#include <chrono>

#include <nlohmann/json.hpp>

#include "api/anthropic_error_reply.h"
#include "api/anthropic_exchange.h"
#include "api/anthropic_request_parser.h"
#include "api/api_handler.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

Error model_not_allowed(const std::string& model) {
  return Error{.kind = ErrorKind::permission_denied,
               .message = "This key may not use model '" + model.substr(0, 200) + "'",
               .param = "model",
               .code = "model_not_allowed"};
}

}  // namespace

void ApiHandler::messages(const ServerRequest& request, const Principal& principal, LedgerRow row,
                          std::shared_ptr<ResponseWriter> writer) {
  const auto started = std::chrono::steady_clock::now();
  auto parsed = parse_messages_request(request.body, request.headers);
  if (!parsed) {
    refuse(*writer, parsed.error(), std::move(row));
    return;
  }
  backends::ChatRequest chat_request = std::move(*parsed);
  row.stream = chat_request.stream;
  if (!keys_.model_allowed(principal, chat_request.model)) {
    refuse(*writer, model_not_allowed(chat_request.model), std::move(row), LedgerStatus::denied);
    return;
  }
  // Budgets and rate limits as on the OpenAI surface (errors in Anthropic's format).
  auto admission = admit_or_refuse(chat_request, principal, row, *writer);
  if (!admission) return;
  // The same policy gate as the OpenAI surface: classified (the native body included, since it
  // may be forwarded verbatim) and decided before any backend is called.
  auto routed = route_or_refuse(chat_request, request, principal, row, *writer);
  if (!routed) return release(*admission);
  if (!preflight_or_refuse(*admission, chat_request, *routed, row, *writer)) return;
  ExchangeContext ctx = exchange_context(row, chat_request, principal, started, routed->decision);
  const auto& limit_headers = admission->headers();
  ctx.policy_headers.insert(ctx.policy_headers.end(), limit_headers.begin(), limit_headers.end());
  run_messages_exchange(std::move(chat_request), std::move(routed->candidates), std::move(ctx),
                        std::move(writer),
                        settle_exchange(std::move(row), started, std::move(*admission)));
}

// Counted by the first candidate's own tokenizer where it has one (Backend::
// count_prompt_tokens: the local engine), else by the documented approximation the pricing
// pre-flight uses (backends/pricing.h estimate_prompt_tokens: one token per 4 bytes of UTF-8
// over every text, plus 4 per message). Nothing is sent upstream and no ledger row is written.
void ApiHandler::count_tokens(const ServerRequest& request, const Principal& principal,
                              const std::string& request_id, ResponseWriter& writer) {
  auto send = [&](const Error& error) {
    ErrorReply reply = anthropic_error_reply(error, request_id);
    reply.headers.emplace_back("x-request-id", request_id);
    writer.respond(reply.status, std::move(reply.headers), std::move(reply.body));
  };
  auto parsed = parse_messages_request(request.body, request.headers, /*count_tokens=*/true);
  if (!parsed) return send(parsed.error());
  if (!keys_.model_allowed(principal, parsed->model)) return send(model_not_allowed(parsed->model));
  auto candidates = catalog_->resolve(parsed->model);
  if (!candidates) return send(candidates.error());
  const backends::Candidate& target = candidates->front();
  backends::ChatRequest counted = backends::adapt_for(*parsed, *target.backend);
  counted.model = target.model;
  std::optional<int64_t> exact = target.backend->count_prompt_tokens(counted);
  int64_t tokens = exact.value_or(backends::estimate_prompt_tokens(counted));
  writer.respond(200,
                 {{"content-type", "application/json"},
                  {"x-request-id", request_id},
                  {"x-switchyard-backend", target.backend->info().name},
                  {"x-switchyard-model", target.model},
                  {"x-switchyard-token-count", exact ? "exact" : "estimate"}},
                 nlohmann::json{{"input_tokens", tokens}}.dump());
}

}  // namespace sy::gateway
