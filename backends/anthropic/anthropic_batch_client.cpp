#include "anthropic/anthropic_batch_client.h"

#include <nlohmann/json.hpp>

#include "anthropic/anthropic_translator.h"
#include "common/vendor_batch_support.h"

namespace sy::backends::anthropic {

namespace {

using nlohmann::json;
using vendor_batch::call;

// The status Anthropic answers an error type with, so a batched error decodes like a
// synchronous one.
int status_of(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "overloaded_error") return 529;
  return 500;
}

class AnthropicBatchClient final : public VendorBatchClient {
 public:
  AnthropicBatchClient(HttpClient& client, VendorBatchClientOptions options,
                       std::unique_ptr<Translator> translator)
      : client_(client), options_(std::move(options)), translator_(std::move(translator)) {
    std::string base = options_.endpoint.base_url;
    while (base.ends_with('/')) base.pop_back();
    if (!base.ends_with("/v1")) base += "/v1";
    batches_url_ = base + "/messages/batches";
  }

  std::string_view protocol() const override { return "anthropic"; }

  Result<std::string> submit(const std::vector<VendorBatchItem>& items) override {
    if (items.empty()) return fail(ErrorKind::invalid_request, "anthropic batch: no requests");
    json requests = json::array();
    for (const VendorBatchItem& item : items) {
      auto encoded = translator_->encode_request(item.request, options_.endpoint, false);
      if (!encoded) return std::unexpected(encoded.error());
      json params = json::parse(encoded->body, nullptr, false);
      if (!params.is_object()) {
        return fail(ErrorKind::internal, "anthropic batch: unencodable request");
      }
      params.erase("stream");
      requests.push_back({{"custom_id", item.custom_id}, {"params", std::move(params)}});
    }
    HttpRequest create = request("POST", batches_url_);
    create.headers.emplace_back("content-type", "application/json");
    create.body = json{{"requests", std::move(requests)}}.dump();
    auto created = call(client_, *translator_, options_, std::move(create));
    if (!created) return std::unexpected(created.error());
    const json batch = json::parse(*created, nullptr, false);
    if (!batch.is_object() || !batch.contains("id") || !batch["id"].is_string()) {
      return fail(ErrorKind::upstream_error, "anthropic batch: the create answer has no id");
    }
    return batch["id"].get<std::string>();
  }

  Result<VendorBatchStatus> poll(const std::string& batch_id) override {
    auto batch = get_batch(batch_id);
    if (!batch) return std::unexpected(batch.error());
    VendorBatchStatus status;
    status.vendor_status = batch->value("processing_status", "");
    if (status.vendor_status == "ended") {
      status.state = VendorBatchState::ended;
    } else if (status.vendor_status == "in_progress" || status.vendor_status == "canceling") {
      status.state = VendorBatchState::in_progress;
    } else {
      return fail(ErrorKind::upstream_error, "anthropic batch: unknown processing_status '" +
                                                 status.vendor_status.substr(0, 40) + "'");
    }
    return status;
  }

  Result<std::vector<VendorBatchResult>> results(const std::string& batch_id) override {
    auto batch = get_batch(batch_id);
    if (!batch) return std::unexpected(batch.error());
    std::string url = batches_url_ + "/" + batch_id + "/results";
    if (auto it = batch->find("results_url"); it != batch->end() && it->is_string()) {
      url = it->get<std::string>();
    }
    if (vendor_batch::origin_of(url) != vendor_batch::origin_of(batches_url_)) {
      return fail(ErrorKind::upstream_error,
                  "anthropic batch: results_url is not on the configured base URL");
    }
    auto content = call(client_, *translator_, options_, request("GET", url));
    if (!content) return std::unexpected(content.error());
    std::vector<VendorBatchResult> out;
    for (std::string_view text : vendor_batch::jsonl_lines(*content)) {
      const json line = json::parse(text, nullptr, false);
      if (!line.is_object() || !line.contains("custom_id") || !line["custom_id"].is_string() ||
          !line.contains("result") || !line["result"].is_object()) {
        continue;
      }
      out.push_back({.custom_id = line["custom_id"], .response = decode_result(line["result"])});
    }
    return out;
  }

  Status cancel(const std::string& batch_id) override {
    HttpRequest r = request("POST", batches_url_ + "/" + batch_id + "/cancel");
    auto answer = call(client_, *translator_, options_, std::move(r));
    if (!answer) return std::unexpected(answer.error());
    return {};
  }

 private:
  HttpRequest request(std::string method, std::string url) const {
    HttpRequest r{.method = std::move(method), .url = std::move(url), .headers = {}, .body = {}};
    r.headers.emplace_back("x-api-key", options_.endpoint.api_key);
    r.headers.emplace_back("anthropic-version", options_.endpoint.api_version.empty()
                                                    ? std::string(kDefaultVersion)
                                                    : options_.endpoint.api_version);
    for (const auto& header : options_.endpoint.headers) r.headers.push_back(header);
    return r;
  }

  Result<json> get_batch(const std::string& batch_id) {
    auto body =
        call(client_, *translator_, options_, request("GET", batches_url_ + "/" + batch_id));
    if (!body) return std::unexpected(body.error());
    json batch = json::parse(*body, nullptr, false);
    if (!batch.is_object())
      return fail(ErrorKind::upstream_error, "anthropic batch: malformed batch");
    return batch;
  }

  Result<ChatResponse> decode_result(const json& result) const {
    const std::string type = result.value("type", "");
    if (type == "succeeded" && result.contains("message")) {
      return translator_->decode_response(result["message"].dump());
    }
    if (type == "errored" && result.contains("error") && result["error"].is_object()) {
      const json& body = result["error"];
      std::string error_type = "api_error";
      if (body.contains("error") && body["error"].is_object()) {
        error_type = body["error"].value("type", error_type);
      }
      return std::unexpected(translator_->decode_error(status_of(error_type), {}, body.dump()));
    }
    Error error{.kind = type == "canceled"  ? ErrorKind::upstream_unavailable
                        : type == "expired" ? ErrorKind::upstream_timeout
                                            : ErrorKind::upstream_error,
                .message = type == "canceled" ? "anthropic: the request was canceled in its batch"
                           : type == "expired"
                               ? "anthropic: the batch expired before the request ran"
                               : "anthropic: the batch reported no answer",
                .code = type == "canceled"  ? "batch_cancelled"
                        : type == "expired" ? "batch_expired"
                                            : "batch_error"};
    return std::unexpected(std::move(error));
  }

  HttpClient& client_;
  VendorBatchClientOptions options_;
  std::unique_ptr<Translator> translator_;
  std::string batches_url_;
};

}  // namespace

std::unique_ptr<VendorBatchClient> make_anthropic_batch_client(HttpClient& client,
                                                               VendorBatchClientOptions options) {
  auto translator = make_translator("anthropic");
  return std::make_unique<AnthropicBatchClient>(client, std::move(options), std::move(*translator));
}

}  // namespace sy::backends::anthropic
