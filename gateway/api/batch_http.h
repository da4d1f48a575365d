#pragma once
// What the Files and Batch routes share: OpenAI-shaped answers, query parameters and the JSON of
// files and batches (files_routes.cpp, batches_routes.cpp).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/error_reply.h"
#include "batch/batch_service.h"
#include "switchyard/backends/pricing.h"
#include "switchyard/gateway/http_server.h"
#include "switchyard/gateway/key_store.h"

namespace sy::gateway::batch_http {

inline void reply_error(ResponseWriter& writer, const backends::Error& error,
                        const std::string& request_id) {
  ErrorReply reply = openai_error_reply(error);
  reply.headers.emplace_back("x-request-id", request_id);
  writer.respond(reply.status, std::move(reply.headers), std::move(reply.body));
}

// A Files or Batch API target: "/v1/<collection>", "/v1/<collection>/{id}" or
// "/v1/<collection>/{id}<action>" (action e.g. "/content"), query ignored.
struct ResourcePath {
  std::string_view path;  // the target without its query (views the target)
  std::string id;         // "" = the collection itself
  bool action = false;    // the path ended with the action
  bool nested() const { return id.find('/') != std::string::npos; }  // no such resource
};

inline ResourcePath resource_path(std::string_view target, std::string_view collection,
                                  std::string_view action) {
  ResourcePath out;
  out.path = target.substr(0, target.find('?'));
  std::string_view rest = out.path.size() > collection.size()
                              ? out.path.substr(collection.size() + 1)
                              : std::string_view();
  out.action = rest.ends_with(action);
  if (out.action) rest.remove_suffix(action.size());
  out.id = std::string(rest);
  return out;
}

// 400 method_not_allowed naming the method and path (both cut short).
inline void reply_method_not_allowed(ResponseWriter& writer, const std::string& method,
                                     std::string_view path, const std::string& request_id) {
  reply_error(writer,
              backends::Error{.kind = backends::ErrorKind::invalid_request,
                              .message = "Unsupported method " + method.substr(0, 16) + " for " +
                                         std::string(path.substr(0, 200)),
                              .code = "method_not_allowed"},
              request_id);
}

// Where every Files and Batch request starts: the caller's key, the service enabled (`api`
// names it in the error), and a target naming `collection`, one of its resources or that
// resource's `action`. On failure the answer has been sent and nothing is returned.
struct BulkRoute {
  Principal principal;
  ResourcePath path;
};

inline std::optional<BulkRoute> open_bulk_route(const KeyStore& keys, const BatchService* service,
                                                std::string_view api, const ServerRequest& request,
                                                const std::string& request_id,
                                                ResponseWriter& writer, std::string_view collection,
                                                std::string_view action) {
  auto principal = keys.authenticate(request.headers);
  if (!principal) {
    reply_error(writer, principal.error(), request_id);
    return std::nullopt;
  }
  if (!service) {
    reply_error(writer,
                backends::Error{.kind = backends::ErrorKind::not_found,
                                .message = "The " + std::string(api) +
                                           " API needs a data directory (batch disabled)"},
                request_id);
    return std::nullopt;
  }
  ResourcePath path = resource_path(request.target, collection, action);
  if (path.nested()) {
    reply_error(writer,
                backends::Error{.kind = backends::ErrorKind::not_found, .message = "Unknown URL"},
                request_id);
    return std::nullopt;
  }
  return BulkRoute{.principal = std::move(*principal), .path = std::move(path)};
}

inline void reply_json(ResponseWriter& writer, const nlohmann::json& body,
                       const std::string& request_id, int status = 200) {
  writer.respond(status, {{"content-type", "application/json"}, {"x-request-id", request_id}},
                 body.dump());
}

// The value of `name` in the target's query string (no percent-decoding: ids and numbers only).
inline std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = item.find('=');
    if (item.substr(0, eq) == name) {
      return std::string(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
    }
  }
  return std::nullopt;
}

// `limit` between 1 and 100 (OpenAI's bounds), default 20.
inline size_t list_limit(std::string_view target, size_t fallback = 20) {
  auto text = query_param(target, "limit");
  if (!text || text->empty() || text->size() > 6) return fallback;
  size_t value = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return fallback;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return std::clamp<size_t>(value, 1, 100);
}

inline nlohmann::json seconds_or_null(int64_t at) {
  return at == 0 ? nlohmann::json(nullptr) : nlohmann::json(at);
}

inline nlohmann::json file_json(const FileRecord& f) {
  return {{"id", f.id},
          {"object", "file"},
          {"bytes", f.bytes},
          {"created_at", f.created_at},
          {"expires_at", nullptr},
          {"filename", f.filename},
          {"purpose", f.purpose},
          {"status", "processed"},
          {"status_details", nullptr}};
}

inline nlohmann::json batch_json(const BatchRecord& b, const BatchService& service) {
  auto parse = [](const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  };
  auto written = [&](const std::string& id) {
    return b.output_written && service.file_exists(id) ? nlohmann::json(id)
                                                       : nlohmann::json(nullptr);
  };
  return {
      {"id", b.id},
      {"object", "batch"},
      {"endpoint", b.endpoint},
      {"errors", parse(b.errors_json)},
      {"input_file_id", b.input_file_id},
      {"completion_window", b.completion_window},
      {"status", to_string(b.status)},
      {"output_file_id", written(b.output_file_id)},
      {"error_file_id", written(b.error_file_id)},
      {"created_at", b.created_at},
      {"in_progress_at", seconds_or_null(b.in_progress_at)},
      {"expires_at", seconds_or_null(b.expires_at)},
      {"finalizing_at", seconds_or_null(b.finalizing_at)},
      {"completed_at", seconds_or_null(b.completed_at)},
      {"failed_at", seconds_or_null(b.failed_at)},
      {"expired_at", seconds_or_null(b.expired_at)},
      {"cancelling_at", seconds_or_null(b.cancelling_at)},
      {"cancelled_at", seconds_or_null(b.cancelled_at)},
      {"request_counts", {{"total", b.total}, {"completed", b.completed}, {"failed", b.failed}}},
      {"metadata", parse(b.metadata_json)},
      // Not in OpenAI's schema (SDKs keep unknown members): progress for `batch submit`.
      {"x_switchyard",
       {{"prompt_tokens", b.tokens_in},
        {"completion_tokens", b.tokens_out},
        {"cost_micro_usd", b.cost_micro_usd},
        {"cost_usd", backends::format_usd(b.cost_micro_usd)}}}};
}

template <typename Record, typename ToJson>
nlohmann::json list_json(const std::vector<Record>& items, bool has_more, ToJson&& to_json) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& item : items) data.push_back(to_json(item));
  return {{"object", "list"},
          {"data", data},
          {"first_id", items.empty() ? nlohmann::json(nullptr) : nlohmann::json(items.front().id)},
          {"last_id", items.empty() ? nlohmann::json(nullptr) : nlohmann::json(items.back().id)},
          {"has_more", has_more}};
}

}  // namespace sy::gateway::batch_http
