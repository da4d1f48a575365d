#include "api/usage_routes.h"

#include <chrono>
#include <exception>
#include <functional>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/api_handler.h"
#include "api/error_reply.h"
#include "ledger/savings_report.h"
#include "switchyard/backends/text_codec.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

Error bad_param(std::string message, std::string param) {
  return Error{.kind = ErrorKind::invalid_request,
               .message = std::move(message),
               .param = std::move(param),
               .code = "invalid_parameter"};
}

using backends::hex_value;

// application/x-www-form-urlencoded value; nullopt when an escape is malformed.
std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

nlohmann::json totals_json(const UsageTotals& t) {
  return {{"requests", t.requests},
          {"ok", t.ok},
          {"errors", t.errors},
          {"denied", t.denied},
          {"cancelled", t.cancelled},
          {"error_rate", t.error_rate()},
          {"tokens",
           {{"input", t.tokens_in},
            {"output", t.tokens_out},
            {"cached", t.tokens_cached},
            {"reasoning", t.tokens_reasoning}}},
          {"cost_micro_usd", t.cost},
          {"baseline_cost_micro_usd", t.baseline_cost},
          {"savings_micro_usd", t.savings()},
          {"cost_usd", backends::format_usd(t.cost)},
          {"baseline_cost_usd", backends::format_usd(t.baseline_cost)},
          {"savings_usd", backends::format_usd(t.savings())}};
}

nlohmann::json group_list(const char* name, const std::vector<UsageTotals>& groups) {
  nlohmann::json list = nlohmann::json::array();
  for (const UsageTotals& g : groups) {
    nlohmann::json entry = {{name, g.group}};
    entry.update(totals_json(g));
    list.push_back(std::move(entry));
  }
  return list;
}

template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json usd_or_null(const std::optional<backends::MicroDollars>& value) {
  return value ? nlohmann::json(backends::format_usd(*value)) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json savings_json(const UsageParams& params, const SavingsReport& report) {
  nlohmann::json lines = nlohmann::json::array();
  for (const BreakEven& b : report.break_even) {
    lines.push_back({{"backend", b.backend},
                     {"hardware_cost_per_hour_usd", backends::format_usd(b.hardware_per_hour)},
                     {"capacity_tokens_per_hour", b.capacity_tokens_per_hour},
                     {"tokens_served", b.tokens_served},
                     {"cost_usd", backends::format_usd(b.cost)},
                     {"baseline_cost_usd", backends::format_usd(b.baseline_cost)},
                     {"break_even_tokens_per_hour", or_null(b.break_even_tokens_per_hour)},
                     {"break_even_utilization", or_null(b.break_even_utilization)},
                     {"period_hours", or_null(b.period_hours)},
                     {"hardware_cost_for_period_usd", usd_or_null(b.hardware_cost_for_period)},
                     {"net_saving_usd", usd_or_null(b.net_saving)}});
  }
  nlohmann::json out = {
      {"object", "usage.savings"},
      {"from", params.from.empty() ? nlohmann::json(nullptr) : nlohmann::json(params.from)},
      {"to", params.to.empty() ? nlohmann::json(nullptr) : nlohmann::json(params.to)},
      {"tenant", or_null(params.query.tenant)},
      {"spent_usd", backends::format_usd(report.total.cost)},
      {"baseline_usd", backends::format_usd(report.total.baseline_cost)},
      {"saving_usd", backends::format_usd(report.total.savings())},
      {"total", totals_json(report.total)},
      {"by_rule", group_list("rule", report.by_rule)},
      {"by_volume", group_list("volume", report.by_volume)},
      {"by_sensitivity", group_list("sensitivity", report.by_sensitivity)},
      {"break_even", lines}};
  return out;
}

backends::Result<UsageParams> parse_usage_params(std::string_view target) {
  UsageParams params;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view rest = target.substr(q + 1);
  bool seen[4] = {false, false, false, false};
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const auto name = url_decode(pair.substr(0, eq));
    const auto value = url_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!name || !value) return std::unexpected(bad_param("Malformed query string", ""));
    constexpr std::string_view kNames[] = {"group_by", "from", "to", "tenant"};
    size_t which = std::size(kNames);
    for (size_t i = 0; i < std::size(kNames); ++i) {
      if (*name == kNames[i]) which = i;
    }
    if (which == std::size(kNames)) {
      return std::unexpected(bad_param(
          "Unknown parameter '" + name->substr(0, 64) + "'; use group_by, from, to, tenant",
          name->substr(0, 64)));
    }
    if (seen[which]) {
      return std::unexpected(bad_param("Parameter '" + *name + "' given twice", *name));
    }
    seen[which] = true;
    if (*name == "group_by") {
      const auto group = usage_group_from(*value);
      if (!group) {
        return std::unexpected(
            bad_param("group_by must be one of tenant, key, backend, model, "
                      "rule, day, volume, sensitivity, none",
                      "group_by"));
      }
      params.query.group_by = *group;
    } else if (*name == "from") {
      params.from = *value;
    } else if (*name == "to") {
      params.to = *value;
    } else {
      params.query.tenant = *value;
    }
  }
  if (auto problem = set_usage_days(params.query, params.from, params.to)) {
    return std::unexpected(bad_param(*problem, problem->starts_with("to") ? "to" : "from"));
  }
  return params;
}

nlohmann::json usage_json(const UsageParams& params, const std::vector<UsageTotals>& groups) {
  UsageTotals total;
  nlohmann::json data = nlohmann::json::array();
  for (const UsageTotals& g : groups) {
    nlohmann::json entry = {{to_string(params.query.group_by), g.group}};
    entry.update(totals_json(g));
    data.push_back(std::move(entry));
    for (auto [sum, part] : {std::pair{&total.requests, g.requests},
                             {&total.ok, g.ok},
                             {&total.errors, g.errors},
                             {&total.denied, g.denied},
                             {&total.cancelled, g.cancelled},
                             {&total.tokens_in, g.tokens_in},
                             {&total.tokens_out, g.tokens_out},
                             {&total.tokens_cached, g.tokens_cached},
                             {&total.tokens_reasoning, g.tokens_reasoning},
                             {&total.cost, g.cost},
                             {&total.baseline_cost, g.baseline_cost}}) {
      *sum += part;
    }
  }
  auto day_or_null = [](const std::string& day) {
    return day.empty() ? nlohmann::json(nullptr) : nlohmann::json(day);
  };
  return {{"object", "usage"},
          {"group_by", to_string(params.query.group_by)},
          {"from", day_or_null(params.from)},
          {"to", day_or_null(params.to)},
          {"tenant", params.query.tenant ? nlohmann::json(*params.query.tenant) : nullptr},
          {"data", params.query.group_by == UsageGroup::none ? nlohmann::json::array() : data},
          {"total", totals_json(total)}};
}

void ApiHandler::usage(const ServerRequest& request, const std::string& request_id,
                       std::shared_ptr<ResponseWriter> writer) {
  const bool savings = request.target.starts_with("/v1/usage/savings");
  auto reply_error = [&](const Error& error) {
    ErrorReply reply = openai_error_reply(error);
    reply.headers.emplace_back("x-request-id", request_id);
    writer->respond(reply.status, std::move(reply.headers), std::move(reply.body));
  };
  if (request.method != "GET") {
    reply_error(
        Error{.kind = ErrorKind::invalid_request,
              .message = savings ? "Use GET for /v1/usage/savings" : "Use GET for /v1/usage",
              .code = "method_not_allowed"});
    return;
  }
  auto principal = keys_.authenticate(request.headers);
  if (!principal) {
    reply_error(principal.error());
    return;
  }
  auto params = parse_usage_params(request.target);
  if (!params) {
    reply_error(params.error());
    return;
  }
  if (savings && params->query.group_by != UsageGroup::none) {
    reply_error(Error{.kind = ErrorKind::invalid_request,
                      .message = "/v1/usage/savings groups by rule and class itself; drop group_by",
                      .param = "group_by",
                      .code = "invalid_parameter"});
    return;
  }
  if (principal->role != KeyRole::admin) {
    // A user key reads its own tenant only; naming another is refused, not silently narrowed.
    if (params->query.tenant && *params->query.tenant != principal->tenant) {
      reply_error(Error{.kind = ErrorKind::permission_denied,
                        .message = "This key may read only its own tenant's usage",
                        .param = "tenant",
                        .code = "tenant_not_allowed"});
      return;
    }
    params->query.tenant = principal->tenant;
  }
  if (!usage_query_) {
    reply_error(Error{.kind = ErrorKind::not_found,
                      .message = "No ledger is configured, so there is no usage to report",
                      .code = "no_ledger"});
    return;
  }
  // The store is read, and the answer encoded, on usage_pool_: a query over a big ledger takes
  // as long as it takes without stalling the connections this I/O thread serves. The writer
  // posts the answer back to the connection's strand (and drops it if the client left).
  BoundedWorkPool::Task task = [config = config_, store = usage_query_, params = std::move(*params),
                                savings, request_id, writer]() -> std::function<void()> {
    try {
      std::string body =
          savings ? savings_json(params, savings_report(*config, *store, params.query)).dump()
                  : usage_json(params, store->aggregate(params.query)).dump();
      return [writer, request_id, body = std::move(body)]() mutable {
        writer->respond(200, {{"content-type", "application/json"}, {"x-request-id", request_id}},
                        std::move(body));
      };
    } catch (const LedgerQueryInterrupted& e) {
      // Shutdown gave the read up: the client may ask another instance, or this one again.
      spdlog::info("request_id={} usage: {}", request_id, e.what());
      return [writer, request_id] {
        ErrorReply reply = openai_error_reply(
            Error{.kind = ErrorKind::overloaded,
                  .message = "The gateway is shutting down; the usage query was stopped. Retry",
                  .retry_after = std::chrono::seconds(1),
                  .code = "shutting_down"});
        reply.headers.emplace_back("x-request-id", request_id);
        writer->respond(reply.status, std::move(reply.headers), std::move(reply.body));
      };
    } catch (const std::exception& e) {
      spdlog::error("request_id={} usage: {}", request_id, e.what());
    }
    return [writer, request_id] {
      ErrorReply reply = openai_error_reply(
          Error{.kind = ErrorKind::internal, .message = "The ledger could not be read"});
      reply.headers.emplace_back("x-request-id", request_id);
      writer->respond(reply.status, std::move(reply.headers), std::move(reply.body));
    };
  };
  if (!usage_pool_->try_post(task)) {
    spdlog::warn("request_id={} usage: {} queries already running; refused", request_id,
                 usage_pool_->max_tasks());
    reply_error(Error{.kind = ErrorKind::overloaded,
                      .message = "Too many usage queries are running; retry shortly",
                      .retry_after = std::chrono::seconds(1),
                      .code = "usage_queries_busy"});
  }
}

}  // namespace sy::gateway
