// GET /metrics: the Prometheus text exposition (gateway/metrics/README.md lists the metrics).
//
// Access: when the config requires keys, only an admin key may scrape — the figures name
// tenants, models and spend — unless `metrics: {public: true}` opens it to anyone who can reach
// the port (for a scraper on a private network). With no keys configured it is open, like
// every other route.

#include <string>

#include "api/api_handler.h"
#include "api/error_reply.h"
#include "metrics/exposition_writer.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

void ApiHandler::serve_metrics(const ServerRequest& request, const std::string& request_id,
                               ResponseWriter& writer) {
  auto fail = [&](const Error& error) {
    ErrorReply reply = openai_error_reply(error);
    reply.headers.emplace_back("x-request-id", request_id);
    writer.respond(reply.status, std::move(reply.headers), std::move(reply.body));
  };
  if (request.method != "GET" && request.method != "HEAD") {
    fail(Error{.kind = ErrorKind::invalid_request,
               .message = "Use GET for /metrics",
               .code = "method_not_allowed"});
    return;
  }
  if (!metrics_) {
    fail(Error{.kind = ErrorKind::not_found,
               .message = "Metrics are not enabled on this server",
               .code = "unknown_url"});
    return;
  }
  if (keys_.requires_keys() && !config_->metrics.public_access) {
    auto principal = keys_.authenticate(request.headers);
    if (!principal) {
      fail(principal.error());
      return;
    }
    if (principal->role != KeyRole::admin) {
      fail(
          Error{.kind = ErrorKind::permission_denied,
                .message = "/metrics needs an admin key (or metrics: {public: true} in the config)",
                .code = "admin_key_required"});
      return;
    }
  }
  writer.respond(200,
                 {{"content-type", std::string(metrics::ExpositionWriter::kContentType)},
                  {"cache-control", "no-store"},
                  {"x-request-id", request_id}},
                 metrics_->render());
}

}  // namespace sy::gateway
