// ApiHandler's Anthropic surface: POST /v1/messages and POST /v1/messages/count_tokens.
// Routing is the OpenAI surface's (the policy gate, model aliases, listed models, fallback);
// only the parsing, the answer's format and the errors' format differ.

#include <chrono>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/anthropic_error_reply.h"
#include "api/anthropic_exchange.h"
#include "api/anthropic_request_parser.h"
#include "api/api_handler.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

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
  // The same policy gate as the OpenAI surface: classified (the native body included, since it
  // may be forwarded verbatim) and decided before any backend is called.
  auto routed = gate_.route(chat_request, request.headers,
                            RouteOptions{.endpoint = row.endpoint, .tenant = principal.tenant});
  if (!routed) {
    refuse(*writer, routed.error(), std::move(row));
    return;
  }
  const policies::Decision& decision = routed->decision;
  row.rule = decision.rule_header();
  row.sensitivity = std::string(to_string(decision.sensitivity.level));
  row.volume = std::string(to_string(decision.volume.volume));
  backends::Headers policy_headers = decision_headers(decision);
  if (decision.verdict != policies::Decision::Verdict::route) {
    // Reasons name rules and finding types only, never values: safe for the log.
    spdlog::info("request_id={} tenant={} policy {}: {}", row.request_id, row.tenant,
                 to_string(decision.verdict), decision.message);
    refuse(*writer, decision.error(), std::move(row),
           decision.verdict == policies::Decision::Verdict::deny ? LedgerStatus::denied
                                                                 : LedgerStatus::error,
           std::move(policy_headers));
    return;
  }

  ExchangeContext ctx{.request_id = row.request_id,
                      .client_model = chat_request.model,
                      .tenant = principal.tenant,
                      .pricer = pricer_,
                      .day = std::chrono::floor<std::chrono::days>(
                          std::chrono::sys_time<std::chrono::milliseconds>(
                              std::chrono::milliseconds(row.time_ms))),
                      .started = started,
                      .policy_headers = std::move(policy_headers)};
  {
    std::lock_guard lock(open_->mutex);
    ++open_->count;
  }
  run_messages_exchange(
      std::move(chat_request), std::move(routed->candidates), std::move(ctx), std::move(writer),
      [ledger = ledger_, open = open_, row = std::move(row),
       started](const ExchangeSummary& s) mutable {
        row.latency_ms = elapsed_ms(started);
        row.backend = s.backend;
        row.model = s.model;
        row.usage = s.usage;
        row.usage_estimated = s.usage_estimated;
        row.cost = s.price.cost;
        row.baseline_cost = s.baseline_cost;
        row.price_source = s.price.source;
        if (s.ttft) {
          row.ttft_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*s.ttft).count();
        }
        row.status = s.status;
        row.error_kind = s.error_kind;
        row.http_status = s.http_status;
        // Access log: ids, route and outcome only; never prompt text or keys.
        spdlog::info("request_id={} tenant={} key={} path={} status={} backend={} model={} "
                     "attempts={} ms={} cost_usd={}",
                     row.request_id, row.tenant, row.key_id, row.endpoint, row.http_status,
                     row.backend, row.model, s.outcome.attempts.size(), row.latency_ms,
                     backends::format_usd(row.cost));
        if (ledger) ledger->write(std::move(row));
        std::lock_guard lock(open->mutex);
        if (--open->count == 0) open->idle.notify_all();
      });
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
