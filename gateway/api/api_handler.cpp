#include "api/api_handler.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/anthropic_error_reply.h"
#include "api/chat_exchange.h"
#include "api/error_reply.h"
#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

// A client-supplied id is echoed only if it is short and plain (it ends up in logs).
std::string request_id_for(const ServerRequest& request) {
  if (auto given = backends::find_header(request.headers, "x-request-id")) {
    bool plain =
        !given->empty() && given->size() <= 128 &&
        std::all_of(given->begin(), given->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    if (plain) return std::string(*given);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(24, '0');
  // Each draw gives 16 random nibbles: two draws per id, not one per character.
  uint64_t bits = rng();
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 16) bits = rng();
    id[i] = kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// The Anthropic surface's paths answer errors in Anthropic's format.
bool is_anthropic_path(std::string_view path) {
  return path == "/v1/messages" || path.starts_with("/v1/messages/");
}

int send_error(ResponseWriter& writer, const Error& error, const std::string& request_id,
               backends::Headers extra = {}, bool anthropic = false) {
  ErrorReply reply =
      anthropic ? anthropic_error_reply(error, request_id) : openai_error_reply(error);
  const int status = reply.status;
  reply.headers.emplace_back("x-request-id", request_id);
  for (auto& header : extra) reply.headers.push_back(std::move(header));
  writer.respond(reply.status, std::move(reply.headers), std::move(reply.body));
  return status;
}

void send_json(ResponseWriter& writer, int status, const nlohmann::json& body,
               const std::string& request_id) {
  writer.respond(status, {{"content-type", "application/json"}, {"x-request-id", request_id}},
                 body.dump());
}

}  // namespace

ApiHandler::ApiHandler(ConfigPtr config, std::shared_ptr<const ModelCatalog> catalog,
                       std::shared_ptr<const RequestPricer> pricer,
                       std::shared_ptr<LedgerWriter> ledger, std::shared_ptr<Limiter> limiter)
    : config_(std::move(config)),
      catalog_(std::move(catalog)),
      keys_(*config_),
      pricer_(std::move(pricer)),
      ledger_(std::move(ledger)),
      limiter_(std::move(limiter)),
      usage_query_(open_ledger_query(*config_)),
      usage_pool_(std::make_unique<BoundedWorkPool>(config_->usage.max_concurrent_queries)),
      gate_(*config_, catalog_) {}

bool ApiHandler::wait_for_exchanges(std::chrono::milliseconds timeout) {
  std::unique_lock lock(open_->mutex);
  return open_->idle.wait_for(lock, timeout, [&] { return open_->count == 0; });
}

void ApiHandler::record(LedgerRow row) {
  if (auto ledger = ledger_for(row)) ledger->write(std::move(row));
}

void ApiHandler::refuse(ResponseWriter& writer, const Error& error, LedgerRow row,
                        LedgerStatus status, backends::Headers extra) {
  const bool classified = std::any_of(extra.begin(), extra.end(), [](const auto& header) {
    return header.first == "x-switchyard-rule";
  });
  if (!classified) {
    for (auto& header : unclassified_headers()) extra.push_back(std::move(header));
  }
  row.http_status =
      send_error(writer, error, row.request_id, std::move(extra), row.surface == "anthropic");
  row.status = status;
  row.error_kind = std::string(backends::to_string(error.kind));
  if (metrics_) metrics_->record_request(row, std::nullopt, std::nullopt);
  record(std::move(row));
}

void ApiHandler::reject(const ServerRequest& request, const Error& error, ResponseWriter& writer) {
  const std::string_view path = path_of(request.target);
  const bool model_request =
      path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/messages";
  send_error(writer, error, request_id_for(request),
             model_request ? unclassified_headers() : backends::Headers{}, is_anthropic_path(path));
}

void ApiHandler::handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) {
  std::string request_id = request_id_for(request);
  std::string_view path = path_of(request.target);

  if (path == "/healthz" || path == "/readyz") {
    if (request.method != "GET" && request.method != "HEAD") {
      send_error(
          *writer,
          Error{.kind = ErrorKind::invalid_request, .message = "Use GET for " + std::string(path)},
          request_id);
      return;
    }
    if (path == "/healthz") {
      send_json(*writer, 200, {{"status", "ok"}}, request_id);
    } else if (draining_) {
      send_json(*writer, 503, {{"status", "draining"}}, request_id);
    } else if (catalog_->backend_count() == 0) {
      send_json(*writer, 503, {{"status", "no backend configured"}, {"backends", 0}}, request_id);
    } else {
      send_json(*writer, 200, {{"status", "ready"}, {"backends", catalog_->backend_count()}},
                request_id);
    }
    return;
  }
  if (path == "/metrics") return serve_metrics(request, request_id, *writer);

  bool is_chat = path == "/v1/chat/completions";
  bool is_completions = path == "/v1/completions";
  bool is_models = path == "/v1/models";
  bool is_explain = path == "/v1/route/explain";
  if (is_explain) {
    // No ledger row: nothing is sent anywhere and nothing is billed.
    if (request.method != "POST") {
      send_error(*writer,
                 Error{.kind = ErrorKind::invalid_request,
                       .message = "Use POST for /v1/route/explain",
                       .code = "method_not_allowed"},
                 request_id);
      return;
    }
    auto principal = keys_.authenticate(request.headers);
    if (!principal) {
      send_error(*writer, principal.error(), request_id);
      return;
    }
    explain(request, *principal, request_id, *writer);
    return;
  }
  if (path == "/v1/files" || path.starts_with("/v1/files/")) {
    return files(request, request_id, *writer);
  }
  if (path == "/v1/batches" || path.starts_with("/v1/batches/")) {
    return batches(request, request_id, *writer);
  }
  if (path == "/v1/usage" || path == "/v1/usage/savings") {
    return usage(request, request_id, std::move(writer));  // usage_routes.cpp
  }
  bool is_messages = path == "/v1/messages";
  bool is_count_tokens = path == "/v1/messages/count_tokens";
  if (!is_chat && !is_completions && !is_models && !is_messages && !is_count_tokens) {
    send_error(*writer,
               Error{.kind = ErrorKind::not_found,
                     .message = "Unknown request URL: " + request.method + " " +
                                std::string(path.substr(0, 200)),
                     .code = "unknown_url"},
               request_id, {}, is_anthropic_path(path));
    return;
  }
  // Every model request gets exactly one ledger row, whatever becomes of it.
  LedgerRow row;
  row.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  row.surface = is_messages || is_count_tokens ? "anthropic" : "openai";
  row.endpoint = std::string(path);
  // count_tokens, like /v1/models, runs no model: no ledger row.
  const bool unrecorded = is_models || is_count_tokens;
  // A recorded request's id moves to its row (not copied); only unrecorded ones use
  // `request_id` below.
  if (!unrecorded) row.request_id = std::move(request_id);
  auto fail = [&](const Error& error, LedgerStatus status = LedgerStatus::error) {
    if (unrecorded) {
      send_error(*writer, error, request_id, {}, is_count_tokens);
    } else {
      refuse(*writer, error, std::move(row), status);
    }
  };

  std::string_view expected_method = is_models ? "GET" : "POST";
  if (request.method != expected_method) {
    fail(Error{.kind = ErrorKind::invalid_request,
               .message = "Use " + std::string(expected_method) + " for " + std::string(path),
               .code = "method_not_allowed"});
    return;
  }
  if (draining_) {
    fail(Error{.kind = ErrorKind::overloaded,
               .message = "The server is shutting down; retry on another replica",
               .retry_after = std::chrono::seconds(1)});
    return;
  }
  auto principal = keys_.authenticate(request.headers);
  if (!principal) {
    fail(principal.error(), LedgerStatus::denied);
    return;
  }
  if (is_models) {
    models(request_id, *writer);
    return;
  }
  if (is_count_tokens) {
    count_tokens(request, *principal, request_id, *writer);
    return;
  }
  row.tenant = principal->tenant;
  row.key_id = principal->key_id;
  if (is_messages) {
    messages(request, *principal, std::move(row), std::move(writer));
    return;
  }
  chat(request, *principal, is_completions, std::move(row), std::move(writer));
}

void ApiHandler::models(const std::string& request_id, ResponseWriter& writer) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& model : catalog_->list()) {
    nlohmann::json entry = {
        {"id", model.id}, {"object", "model"}, {"created", 0}, {"owned_by", model.owned_by}};
    // Not in OpenAI's schema; SDKs keep unknown members.
    if (model.context_length) entry["context_length"] = *model.context_length;
    data.push_back(std::move(entry));
  }
  send_json(writer, 200, {{"object", "list"}, {"data", data}}, request_id);
}

void ApiHandler::chat(const ServerRequest& request, const Principal& principal, bool legacy,
                      LedgerRow&& row, std::shared_ptr<ResponseWriter> writer) {
  const auto started = std::chrono::steady_clock::now();
  auto parsed = legacy ? backends::openai::parse_completion_request(request.body)
                       : backends::openai::parse_chat_request(request.body);
  if (!parsed) {
    refuse(*writer, parsed.error(), std::move(row));
    return;
  }
  backends::ChatRequest& chat_request = *parsed;  // used in place: no move of the request
  row.stream = chat_request.stream;
  if (!keys_.model_allowed(principal, chat_request.model)) {
    refuse(
        *writer,
        Error{.kind = ErrorKind::permission_denied,
              .message = "This key may not use model '" + chat_request.model.substr(0, 200) + "'",
              .param = "model",
              .code = "model_not_allowed"},
        std::move(row), LedgerStatus::denied);
    return;
  }
  auto admission = admit_or_refuse(chat_request, principal, row, *writer);
  if (!admission) return;
  // Classified and decided before any backend is called; fallback walks only what it allows.
  auto routed = route_or_refuse(chat_request, request, principal, row, *writer);
  if (!routed) return release(*admission);
  if (!preflight_or_refuse(*admission, chat_request, *routed, row, *writer)) return;
  ExchangeContext ctx = exchange_context(row, chat_request, principal, started, routed->decision);
  const auto& limit_headers = admission->headers();
  ctx.policy_headers.insert(ctx.policy_headers.end(), limit_headers.begin(), limit_headers.end());
  run_chat_exchange(std::move(chat_request), std::move(routed->candidates), std::move(ctx),
                    std::move(writer),
                    settle_exchange(std::move(row), started, std::move(*admission)));
}

std::optional<Routed> ApiHandler::route_or_refuse(backends::ChatRequest& chat_request,
                                                  const ServerRequest& request,
                                                  const Principal& principal, LedgerRow& row,
                                                  ResponseWriter& writer) {
  auto routed = gate_.route(chat_request, request.headers,
                            RouteOptions{.endpoint = row.endpoint,
                                         .tenant = principal.tenant,
                                         .batch_origin = row.surface == "batch"});
  if (!routed) {
    refuse(writer, routed.error(), std::move(row));
    return std::nullopt;
  }
  const policies::Decision& decision = routed->decision;
  row.rule = decision.rule_header();
  row.sensitivity = std::string(to_string(decision.sensitivity.level));
  row.volume = std::string(to_string(decision.volume.volume));
  row.difficulty = std::string(to_string(decision.difficulty.difficulty));
  if (decision.verdict != policies::Decision::Verdict::route) {
    // Reasons name rules and finding types only, never values: safe for the log.
    spdlog::info("request_id={} tenant={} policy {}: {}", row.request_id, row.tenant,
                 to_string(decision.verdict), decision.message);
    refuse(writer, decision.error(), std::move(row),
           decision.verdict == policies::Decision::Verdict::deny ? LedgerStatus::denied
                                                                 : LedgerStatus::error,
           decision_headers(decision));
    return std::nullopt;
  }
  // Backends that schedule requests themselves (the local engine) let bulk work yield.
  chat_request.bulk = decision.volume.volume == policies::VolumeClass::bulk;
  return std::move(*routed);
}

ExchangeContext ApiHandler::exchange_context(const LedgerRow& row,
                                             const backends::ChatRequest& chat_request,
                                             const Principal& principal,
                                             std::chrono::steady_clock::time_point started,
                                             const policies::Decision& decision) const {
  return ExchangeContext{
      .request_id = row.request_id,
      .client_model = chat_request.model,
      .tenant = principal.tenant,
      .pricer = pricer_,
      .day = std::chrono::floor<std::chrono::days>(
          std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(row.time_ms))),
      .started = started,
      .policy_headers = decision_headers(decision),
      .policy_note = policy_note(decision)};
}

std::function<void(const ExchangeSummary&)> ApiHandler::settle_exchange(
    LedgerRow&& row_in, std::chrono::steady_clock::time_point started, Admission admission) {
  {
    std::lock_guard lock(open_->mutex);
    ++open_->count;
  }
  auto sink = ledger_for(row_in);  // batch lines' rows go to their job, not the ledger
  return [ledger = std::move(sink), metrics = metrics_, open = open_, limiter = limiter_,
          admission = std::move(admission),
          // Shared, not captured by value: std::function moves its callable once more into
          // its own storage, and a row's move (16 strings) costs more than this allocation.
          shared_row = std::make_shared<LedgerRow>(std::move(row_in)),
          started](const ExchangeSummary& s) mutable {
    LedgerRow& row = *shared_row;
    const auto latency = std::chrono::steady_clock::now() - started;
    row.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(latency).count();
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
    // Access log: ids, route and outcome only; never prompt text or keys. Its arguments are
    // formatted only when the level is on.
    if (spdlog::should_log(spdlog::level::info)) {
      spdlog::info(
          "request_id={} tenant={} key={} path={} status={} backend={} model={} "
          "attempts={} ms={} cost_usd={}",
          row.request_id, row.tenant, row.key_id, row.endpoint, row.http_status, row.backend,
          row.model, s.attempts, row.latency_ms, backends::format_usd(row.cost));
    }
    if (metrics) metrics->record_request(row, latency, s.ttft);
    // Budgets count what the ledger bills (a cancelled stream included); token buckets move
    // from the admission's estimate to the real count.
    const int64_t tokens = row.usage.prompt_tokens + row.usage.completion_tokens;
    const backends::MicroDollars cost = row.cost;
    if (ledger) ledger->write(std::move(row));
    if (limiter) limiter->settle(admission, tokens, cost);
    std::lock_guard lock(open->mutex);
    if (--open->count == 0) open->idle.notify_all();
  };
}

void ApiHandler::explain(const ServerRequest& request, const Principal& principal,
                         const std::string& request_id, ResponseWriter& writer) {
  auto parsed = backends::openai::parse_chat_request(request.body);
  if (!parsed) {
    send_error(writer, parsed.error(), request_id);
    return;
  }
  if (!keys_.model_allowed(principal, parsed->model)) {
    send_error(writer,
               Error{.kind = ErrorKind::permission_denied,
                     .message = "This key may not use model '" + parsed->model.substr(0, 200) + "'",
                     .param = "model",
                     .code = "model_not_allowed"},
               request_id);
    return;
  }
  auto routed = gate_.route(
      *parsed, request.headers,
      RouteOptions{.endpoint = "/v1/chat/completions",
                   .tenant = principal.tenant,
                   .count = false,
                   .explain = true});
  if (!routed) {
    send_error(writer, routed.error(), request_id);
    return;
  }
  backends::Headers headers = decision_headers(routed->decision);
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("x-request-id", request_id);
  writer.respond(200, std::move(headers), decision_json(routed->decision).dump());
}

}  // namespace sy::gateway
