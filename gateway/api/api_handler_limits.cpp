// ApiHandler's budgets and rate limits (gateway/limits/limiter.h), shared by the OpenAI and
// Anthropic surfaces: admission before routing, the pre-flight estimate after it, and the
// release of an admission whose request was refused in between. Refusals are answered in the
// surface's format (refuse()) and recorded in the ledger: status denied with error_kind
// budget_exceeded or rate_limited; a budget that cannot be checked (store down) is an error
// (overloaded).

#include <algorithm>

#include <spdlog/spdlog.h>

#include "api/api_handler.h"
#include "switchyard/backends/pricing.h"

namespace sy::gateway {

namespace {

// What the pre-flight prices: the prompt (the candidate's own tokenizer when it has one, the
// documented estimate otherwise) plus max_tokens for each of the n choices. Without
// max_tokens the output is unbounded and only the prompt is priced: such a request is
// refused only when even its prompt does not fit.
backends::MicroDollars max_cost_on(const backends::Candidate& candidate,
                                   const backends::ChatRequest& request, int64_t estimated_prompt,
                                   const RequestPricer& pricer, std::chrono::sys_days day) {
  const backends::PriceTerms* terms =
      pricer.terms(candidate.backend->info().name, candidate.model, day);
  if (terms == nullptr) return 0;  // unpriced: the ledger records it at zero too
  int64_t prompt = estimated_prompt;
  if (candidate.backend->info().kind == backends::BackendKind::local) {
    backends::ChatRequest counted = backends::adapt_for(request, *candidate.backend);
    counted.model = candidate.model;
    prompt = candidate.backend->count_prompt_tokens(counted).value_or(estimated_prompt);
  }
  const int64_t completions =
      request.max_tokens.value_or(0) * std::max<int64_t>(1, request.n.value_or(1));
  return backends::price_usage({.prompt_tokens = prompt, .completion_tokens = completions}, *terms);
}

}  // namespace

std::optional<Admission> ApiHandler::admit_or_refuse(backends::ChatRequest& chat_request,
                                                     const Principal& principal, LedgerRow& row,
                                                     ResponseWriter& writer) {
  if (!limiter_) return Admission{};
  const LimitSet* rules = limiter_->rules_for(principal.tenant, principal.key_id);
  if (rules == nullptr) return Admission{};
  int64_t tokens = 0;
  if (rules->counts_tokens) {
    tokens = backends::estimate_prompt_tokens(chat_request) +
             chat_request.max_tokens.value_or(0) * std::max<int64_t>(1, chat_request.n.value_or(1));
  }
  auto admitted = limiter_->admit(
      *rules, tokens, chat_request.model,
      row.surface == "anthropic" ? RateLimitHeaders::anthropic : RateLimitHeaders::openai);
  if (!admitted) {
    LimitRefusal& refusal = admitted.error();
    spdlog::info("request_id={} tenant={} key={} limits: {}", row.request_id, row.tenant,
                 row.key_id, backends::to_string(refusal.error.kind));
    const LedgerStatus status = refusal.error.kind == backends::ErrorKind::overloaded
                                    ? LedgerStatus::error
                                    : LedgerStatus::denied;
    refuse(writer, refusal.error, std::move(row), status, std::move(refusal.headers));
    return std::nullopt;
  }
  if (!admitted->downgrade_to().empty()) {
    spdlog::info("request_id={} tenant={} key={} budget spent: model {} downgraded to {}",
                 row.request_id, row.tenant, row.key_id, chat_request.model.substr(0, 200),
                 admitted->downgrade_to());
    chat_request.model = admitted->downgrade_to();
  }
  return std::move(*admitted);
}

bool ApiHandler::preflight_or_refuse(Admission& admission,
                                     const backends::ChatRequest& chat_request,
                                     const Routed& routed, LedgerRow& row, ResponseWriter& writer) {
  if (!limiter_ || !admission.needs_preflight() || !pricer_) return true;
  const auto day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(row.time_ms)));
  const int64_t estimated_prompt = backends::estimate_prompt_tokens(chat_request);
  backends::MicroDollars max_cost = 0;
  // Fallback may land on any candidate: the most expensive one bounds the cost.
  for (const backends::Candidate& candidate : routed.candidates) {
    max_cost =
        std::max(max_cost, max_cost_on(candidate, chat_request, estimated_prompt, *pricer_, day));
  }
  auto refusal = limiter_->preflight(admission, max_cost);
  if (!refusal) return true;
  spdlog::info("request_id={} tenant={} key={} limits: pre-flight estimate {} refused",
               row.request_id, row.tenant, row.key_id, backends::format_usd(max_cost));
  backends::Headers headers = std::move(refusal->headers);
  for (auto& header : decision_headers(routed.decision)) headers.push_back(std::move(header));
  refuse(writer, refusal->error, std::move(row), LedgerStatus::denied, std::move(headers));
  return false;
}

void ApiHandler::release(Admission& admission) {
  if (limiter_) limiter_->release(admission);
}

}  // namespace sy::gateway
