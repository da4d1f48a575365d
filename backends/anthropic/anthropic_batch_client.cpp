#include "anthropic/anthropic_batch_client.h"

#include <ctime>
#include <set>

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

// "2024-08-20T18:37:24.100435Z" -> Unix seconds; nullopt when it is not that shape.
std::optional<int64_t> unix_seconds(const std::string& rfc3339) {
  std::tm tm{};
  const char* end = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));  // fractions and a "Z" suffix do not matter here
}

// Listing pages find_submitted reads at most (100 batches each) before it gives up deciding.
constexpr int kMaxListPages = 50;

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

  // Message Batches keep no metadata, so `tag` goes nowhere: find_submitted matches by
  // custom_ids, which are ours and unique per request.
  Result<std::string> submit(const std::vector<VendorBatchItem>& items,
                             const std::string& tag) override {
    (void)tag;
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

  // Anthropic's documented API gives no way to tag a batch nor to read an unfinished batch's
  // custom_ids: a batch lists its request_counts, and its results (custom_id per line) only
  // once it has ended. So: walk GET /v1/messages/batches (newest first) back to the window's
  // start, skip batches the caller knows and those whose request count differs, and read the
  // results of ended candidates: one whose custom_ids are exactly ours is it (custom_ids are
  // deterministic per job line, so this is certain). A candidate still in progress cannot be
  // told apart from another client's batch of the same size on the same workspace: undecided,
  // and the caller asks again (it ends within the 24 h window, then its results decide).
  // Residual risk: a batch listed late by the vendor (the list is not documented as
  // read-after-write consistent) would be taken as absent and the lines submitted twice.
  Result<VendorBatchFound> find_submitted(const VendorBatchSearch& search) override {
    const std::set<std::string> ours(search.custom_ids.begin(), search.custom_ids.end());
    bool undecided = false;
    std::string after;
    for (int page = 0; page < kMaxListPages; ++page) {
      std::string url = batches_url_ + "?limit=100";
      if (!after.empty()) url += "&after_id=" + after;
      auto body = call(client_, *translator_, options_, request("GET", url));
      if (!body) return std::unexpected(body.error());
      const json list = json::parse(*body, nullptr, false);
      if (!list.is_object() || !list.contains("data") || !list["data"].is_array()) {
        return fail(ErrorKind::upstream_error, "anthropic batch: malformed batch list");
      }
      bool older = false;
      for (const json& batch : list["data"]) {
        if (!batch.is_object() || !batch.contains("id") || !batch["id"].is_string()) continue;
        const std::string id = batch["id"];
        const auto created = unix_seconds(batch.value("created_at", ""));
        if (created && *created < search.since_unix_s) {
          older = true;
          continue;
        }
        if (search.known_ids.contains(id)) continue;
        int64_t total = 0;
        if (batch.contains("request_counts") && batch["request_counts"].is_object()) {
          for (const auto& [name, count] : batch["request_counts"].items()) {
            if (count.is_number_integer()) total += count.get<int64_t>();
          }
        }
        if (total != static_cast<int64_t>(ours.size())) continue;
        if (batch.value("processing_status", "") != "ended") {
          undecided = true;
          continue;
        }
        auto results = this->results(id);
        if (!results) return std::unexpected(results.error());
        std::set<std::string> theirs;
        for (const VendorBatchResult& r : *results) theirs.insert(r.custom_id);
        if (theirs == ours) {
          return VendorBatchFound{.match = VendorBatchMatch::found, .batch_id = id};
        }
      }
      const json& data = list["data"];
      if (older || !list.value("has_more", false) || !list.contains("last_id") ||
          !list["last_id"].is_string() || data.empty()) {
        return VendorBatchFound{
            .match = undecided ? VendorBatchMatch::undecided : VendorBatchMatch::absent,
            .batch_id = {}};
      }
      after = list["last_id"].get<std::string>();
    }
    return VendorBatchFound{.match = VendorBatchMatch::undecided, .batch_id = {}};
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
