// ApiHandler::plan_batch_line: which bulk-job lines go to a vendor's batch API. The decision is
// the policy gate's, made exactly as for a synchronous line (batch origin: bulk); only its
// first candidate matters, and only when that backend has `batch_api` on. Sensitivity and
// residency rules have already removed every backend a line may not reach, so a line the rules
// keep in the perimeter never has a vendor candidate to batch.
//
// Left to the synchronous path (which answers them, refusals included): legacy completions,
// unparsable lines, models the key may not use, refusals, and lines whose decision masks PII
// (the masking decorator restores values per synchronous call; a vendor batch would bypass it).
// Budgets and rate limits apply as on the synchronous path, with the same errors
// (admit_batch_line): a refused line's answer and denied row are its result, nothing is
// submitted; except a rate limit that frees up, which leaves the line to the synchronous path,
// where the job waits for it. A line is counted in the rate limits when it is submitted (planned),
// as a synchronous request is when it starts, and its pre-flight estimate is reserved in its
// budgets until the vendor's answer settles the real cost (settle_batch_line). A spent downgrade
// budget leaves the line to the synchronous path, which serves the cheaper model. Fallback: a line
// the vendor batch fails (refused batch, failed batch, expired line, a retryable error) runs
// synchronously over the decision's other candidates, decided again (fall_back_batch_line in
// batches_routes.cpp); with none left it keeps the vendor's error.

#include <chrono>

#include "api/api_handler.h"
#include "api/error_reply.h"
#include "batch/vendor_batch_runner.h"
#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

std::optional<VendorLinePlan> ApiHandler::plan_batch_line(const BatchLineRequest& line) const {
  if (line.url != "/v1/chat/completions") return std::nullopt;
  auto parsed = backends::openai::parse_chat_request(line.body);
  if (!parsed) return std::nullopt;
  Principal principal{.tenant = line.tenant, .key_id = line.key_id};
  if (!keys_.model_allowed(principal, parsed->model)) return std::nullopt;
  // Not counted in the volume window: the synchronous path counts the lines it runs, and a
  // batch is bulk by origin whatever the window says.
  auto routed = gate_.route(
      *parsed, {},
      RouteOptions{
          .endpoint = line.url, .tenant = line.tenant, .batch_origin = true, .count = false});
  if (!routed || routed->decision.verdict != policies::Decision::Verdict::route ||
      routed->candidates.empty()) {
    return std::nullopt;
  }
  const policies::Decision& decision = routed->decision;
  if (decision.mask && decision.mask->applies()) return std::nullopt;
  const backends::Candidate& first = routed->candidates.front();
  const backends::BackendInfo& info = first.backend->info();
  const BackendConfig* config = nullptr;
  for (const BackendConfig& b : config_->backends) {
    if (b.name == info.name) config = &b;
  }
  if (config == nullptr || !config->batch_api.enabled ||
      info.kind != backends::BackendKind::closed) {
    return std::nullopt;
  }
  VendorLinePlan plan;
  const auto admit = admit_batch_line(line.request_id, *parsed, principal, *routed,
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  if (admit.verdict == BatchLineAdmit::Verdict::synchronous) return std::nullopt;
  // A rate limit that frees up paces the line instead of failing it: the synchronous path
  // waits and runs it again (BatchService), so a job larger than a minute's worth of requests
  // still completes, its excess run synchronously.
  if (admit.verdict == BatchLineAdmit::Verdict::refused &&
      admit.refusal.error.kind == backends::ErrorKind::rate_limited &&
      admit.refusal.error.retry_after) {
    return std::nullopt;
  }
  plan.backend = info.name;
  plan.request = backends::adapt_for(*parsed, *first.backend);
  plan.request.model = first.model;
  plan.request.stream = false;
  plan.request.bulk = true;
  LedgerRow& row = plan.row;
  row.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  row.request_id = line.request_id;
  row.surface = "batch";
  row.endpoint = line.url;
  row.tenant = line.tenant;
  row.key_id = line.key_id;
  row.backend = info.name;
  row.model = first.model;
  row.rule = decision.rule_header();
  row.sensitivity = std::string(to_string(decision.sensitivity.level));
  row.volume = std::string(to_string(decision.volume.volume));
  row.difficulty = std::string(to_string(decision.difficulty.difficulty));
  if (admit.verdict == BatchLineAdmit::Verdict::refused) {
    // What refuse() answers and records on the synchronous path.
    const backends::Error& error = admit.refusal.error;
    ErrorReply reply = openai_error_reply(error);
    row.http_status = reply.status;
    row.status =
        error.kind == backends::ErrorKind::overloaded ? LedgerStatus::error : LedgerStatus::denied;
    row.error_kind = std::string(backends::to_string(error.kind));
    plan.refused = BatchLineOutcome{
        .status_code = reply.status, .body = std::move(reply.body), .row = std::move(row)};
  }
  return plan;
}

}  // namespace sy::gateway
