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

// What admission takes from the token buckets: the estimated prompt plus max_tokens for each
// of the n choices (0 when no bucket counts tokens).
int64_t admission_tokens(const LimitSet& rules, const backends::ChatRequest& request) {
  if (!rules.counts_tokens) return 0;
  return backends::estimate_prompt_tokens(request) +
         request.max_tokens.value_or(0) * std::max<int64_t>(1, request.n.value_or(1));
}

// The most a routed request can cost: fallback may land on any candidate.
backends::MicroDollars max_cost_over(const Routed& routed, const backends::ChatRequest& request,
                                     const RequestPricer& pricer, int64_t time_ms) {
  const auto day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(time_ms)));
  const int64_t estimated_prompt = backends::estimate_prompt_tokens(request);
  backends::MicroDollars max_cost = 0;
  for (const backends::Candidate& candidate : routed.candidates) {
    max_cost = std::max(max_cost, max_cost_on(candidate, request, estimated_prompt, pricer, day));
  }
  return max_cost;
}

}  // namespace

std::optional<Admission> ApiHandler::admit_or_refuse(backends::ChatRequest& chat_request,
                                                     const Principal& principal, LedgerRow& row,
                                                     ResponseWriter& writer) {
  if (!limiter_) return Admission{};
  const LimitSet* rules = limiter_->rules_for(principal.tenant, principal.key_id);
  if (rules == nullptr) return Admission{};
  auto admitted = limiter_->admit(
      *rules, admission_tokens(*rules, chat_request), chat_request.model,
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
  const backends::MicroDollars max_cost =
      max_cost_over(routed, chat_request, *pricer_, row.time_ms);
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

namespace sy::gateway {

// A vendor-batched line stays in flight for as long as the vendor takes (hours), so where the
// synchronous path only reads the spend at admission and adds the cost at settlement, this
// reserves the pre-flight estimate at once: the job's next line (and every other request of
// the tenant) is admitted against it. Rate limits count the line when it is submitted, as a
// synchronous request counts when it starts: one request and the estimated tokens, corrected
// to the real tokens when the vendor's answer settles it.
ApiHandler::BatchLineAdmit ApiHandler::admit_batch_line(const std::string& request_id,
                                                        const backends::ChatRequest& chat_request,
                                                        const Principal& principal,
                                                        const Routed& routed,
                                                        int64_t time_ms) const {
  using Verdict = BatchLineAdmit::Verdict;
  if (!limiter_) return {};
  const LimitSet* rules = limiter_->rules_for(principal.tenant, principal.key_id);
  if (rules == nullptr) return {};
  auto admitted =
      limiter_->admit(*rules, admission_tokens(*rules, chat_request), chat_request.model);
  if (!admitted) {
    spdlog::info("request_id={} tenant={} key={} limits: {}", request_id, principal.tenant,
                 principal.key_id, backends::to_string(admitted.error().error.kind));
    return {.verdict = Verdict::refused, .refusal = std::move(admitted.error())};
  }
  if (!admitted->downgrade_to().empty()) {
    limiter_->release(*admitted);
    return {.verdict = Verdict::synchronous};
  }
  if (pricer_) {
    const backends::MicroDollars max_cost = max_cost_over(routed, chat_request, *pricer_, time_ms);
    if (auto refusal = limiter_->preflight(*admitted, max_cost)) {
      spdlog::info("request_id={} tenant={} key={} limits: pre-flight estimate {} refused",
                   request_id, principal.tenant, principal.key_id, backends::format_usd(max_cost));
      return {.verdict = Verdict::refused, .refusal = std::move(*refusal)};
    }
    limiter_->reserve(*admitted, max_cost);
  }
  std::lock_guard lock(batch_admissions_->mutex);
  batch_admissions_->by_request[request_id] = std::move(*admitted);
  return {};
}

std::optional<Admission> ApiHandler::take_batch_admission(const std::string& request_id) const {
  std::lock_guard lock(batch_admissions_->mutex);
  auto it = batch_admissions_->by_request.find(request_id);
  if (it == batch_admissions_->by_request.end()) return std::nullopt;
  Admission admission = std::move(it->second);
  batch_admissions_->by_request.erase(it);
  return admission;
}

void ApiHandler::settle_batch_line(const std::string& request_id,
                                   const BatchLineOutcome* outcome) const {
  if (!limiter_) return;
  auto admission = take_batch_admission(request_id);
  if (outcome == nullptr) {
    if (admission) limiter_->release(*admission);
    return;
  }
  if (!outcome->row) {
    if (admission) limiter_->release(*admission);
    return;
  }
  const LedgerRow& row = *outcome->row;
  if (admission) {
    limiter_->settle(*admission, row.usage.prompt_tokens + row.usage.completion_tokens, row.cost);
    return;
  }
  // Planned before a restart: its admission (and reservation) did not survive; the budgets
  // still count what the ledger bills.
  if (const LimitSet* rules = limiter_->rules_for(row.tenant, row.key_id)) {
    limiter_->charge(*rules, row.cost);
  }
}

}  // namespace sy::gateway
