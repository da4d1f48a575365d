#include "openai/openai_batch_client.h"

#include <random>

#include <nlohmann/json.hpp>

#include "common/vendor_batch_support.h"

namespace sy::backends::openai {

namespace {

using nlohmann::json;
using vendor_batch::call;

constexpr std::string_view kChatEndpoint = "/v1/chat/completions";
// The metadata key that carries a submit's tag (find_submitted matches on it).
constexpr const char* kTagKey = "switchyard_tag";
// Listing pages find_submitted reads at most (100 batches each) before it gives up deciding.
constexpr int kMaxListPages = 50;

std::string boundary() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "----switchyard";
  for (int i = 0; i < 24; ++i) out += kHex[rng() & 15];
  return out;
}

class OpenAiBatchClient final : public VendorBatchClient {
 public:
  OpenAiBatchClient(HttpClient& client, VendorBatchClientOptions options,
                    std::unique_ptr<Translator> translator)
      : client_(client), options_(std::move(options)), translator_(std::move(translator)) {
    base_ = options_.endpoint.base_url;
    while (base_.ends_with('/')) base_.pop_back();
  }

  std::string_view protocol() const override { return "openai"; }

  Result<std::string> submit(const std::vector<VendorBatchItem>& items,
                             const std::string& tag) override {
    if (items.empty()) return fail(ErrorKind::invalid_request, "openai batch: no requests");
    // The file: one line per request, its body exactly what a synchronous call would send.
    std::string jsonl;
    for (const VendorBatchItem& item : items) {
      if (item.request.surface == ApiSurface::completions) {
        return fail(ErrorKind::invalid_request, "openai batch: chat requests only");
      }
      auto encoded = translator_->encode_request(item.request, options_.endpoint, false);
      if (!encoded) return std::unexpected(encoded.error());
      json body = json::parse(encoded->body, nullptr, false);
      if (!body.is_object()) return fail(ErrorKind::internal, "openai batch: unencodable request");
      jsonl += json{{"custom_id", item.custom_id},
                    {"method", "POST"},
                    {"url", kChatEndpoint},
                    {"body", std::move(body)}}
                   .dump();
      jsonl += '\n';
    }
    const std::string b = boundary();
    std::string form = "--" + b + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" +
                       "batch\r\n--" + b +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
                       (tag.empty() ? std::string("switchyard_batch") : "switchyard_" + tag) +
                       ".jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n";
    form += jsonl;
    form += "\r\n--" + b + "--\r\n";
    HttpRequest upload = request("POST", base_ + "/files");
    upload.headers.emplace_back("content-type", "multipart/form-data; boundary=" + b);
    upload.body = std::move(form);
    auto uploaded = call(client_, *translator_, options_, std::move(upload));
    if (!uploaded) return std::unexpected(uploaded.error());
    const json file = json::parse(*uploaded, nullptr, false);
    if (!file.is_object() || !file.contains("id") || !file["id"].is_string()) {
      return fail(ErrorKind::upstream_error, "openai batch: the file upload answer has no id");
    }
    HttpRequest create = request("POST", base_ + "/batches");
    create.headers.emplace_back("content-type", "application/json");
    json create_body = {
        {"input_file_id", file["id"]}, {"endpoint", kChatEndpoint}, {"completion_window", "24h"}};
    if (!tag.empty()) create_body["metadata"] = {{kTagKey, tag}};
    create.body = create_body.dump();
    auto created = call(client_, *translator_, options_, std::move(create));
    if (!created) return std::unexpected(created.error());
    const json batch = json::parse(*created, nullptr, false);
    if (!batch.is_object() || !batch.contains("id") || !batch["id"].is_string()) {
      return fail(ErrorKind::upstream_error, "openai batch: the create answer has no id");
    }
    return batch["id"].get<std::string>();
  }

  // GET /batches lists the organisation's batches newest first, 100 a page: the walk stops at
  // the first one created before the window. The tag in the metadata is ours and unique per
  // (job, chunk), so a match is certain and no match (the whole window read) is absence.
  Result<VendorBatchFound> find_submitted(const VendorBatchSearch& search) override {
    if (search.tag.empty()) return fail(ErrorKind::invalid_request, "openai batch: no tag");
    std::string after;
    for (int page = 0; page < kMaxListPages; ++page) {
      std::string url = base_ + "/batches?limit=100";
      if (!after.empty()) url += "&after=" + after;
      auto body = call(client_, *translator_, options_, request("GET", url));
      if (!body) return std::unexpected(body.error());
      const json list = json::parse(*body, nullptr, false);
      if (!list.is_object() || !list.contains("data") || !list["data"].is_array()) {
        return fail(ErrorKind::upstream_error, "openai batch: malformed batch list");
      }
      bool older = false;
      for (const json& batch : list["data"]) {
        if (!batch.is_object() || !batch.contains("id") || !batch["id"].is_string()) continue;
        const int64_t created = batch.value("created_at", int64_t{0});
        if (created < search.since_unix_s) {
          older = true;
          continue;
        }
        const json* metadata = batch.contains("metadata") ? &batch["metadata"] : nullptr;
        if (metadata && metadata->is_object() && metadata->value(kTagKey, "") == search.tag) {
          return VendorBatchFound{.match = VendorBatchMatch::found,
                                  .batch_id = batch["id"].get<std::string>()};
        }
      }
      const json& data = list["data"];
      if (older || !list.value("has_more", false) || data.empty() || !data.back().is_object() ||
          !data.back().contains("id") || !data.back()["id"].is_string()) {
        return VendorBatchFound{.match = VendorBatchMatch::absent, .batch_id = {}};
      }
      after = data.back()["id"].get<std::string>();
    }
    // More batches in the window than we read: it may be further on.
    return VendorBatchFound{.match = VendorBatchMatch::undecided, .batch_id = {}};
  }

  Result<VendorBatchStatus> poll(const std::string& batch_id) override {
    auto batch = get_batch(batch_id);
    if (!batch) return std::unexpected(batch.error());
    VendorBatchStatus status;
    status.vendor_status = batch->value("status", "");
    const std::string& s = status.vendor_status;
    if (s == "completed" || s == "expired" || s == "cancelled") {
      status.state = VendorBatchState::ended;
    } else if (s == "failed") {
      status.state = VendorBatchState::failed;
      status.detail = "the vendor refused the batch";
      const json* errors = batch->contains("errors") ? &(*batch)["errors"] : nullptr;
      if (errors && errors->is_object() && errors->contains("data") &&
          (*errors)["data"].is_array() && !(*errors)["data"].empty() &&
          (*errors)["data"][0].is_object()) {
        status.detail = (*errors)["data"][0].value("message", status.detail);
      }
    } else if (s == "validating" || s == "in_progress" || s == "finalizing" || s == "cancelling") {
      status.state = VendorBatchState::in_progress;
    } else {
      return fail(ErrorKind::upstream_error,
                  "openai batch: unknown status '" + s.substr(0, 40) + "'");
    }
    return status;
  }

  Result<std::vector<VendorBatchResult>> results(const std::string& batch_id) override {
    auto batch = get_batch(batch_id);
    if (!batch) return std::unexpected(batch.error());
    std::vector<VendorBatchResult> out;
    for (const char* field : {"output_file_id", "error_file_id"}) {
      auto it = batch->find(field);
      if (it == batch->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        continue;
      }
      auto content = call(client_, *translator_, options_,
                          request("GET", base_ + "/files/" + it->get<std::string>() + "/content"));
      if (!content) return std::unexpected(content.error());
      for (std::string_view text : vendor_batch::jsonl_lines(*content)) {
        const json line = json::parse(text, nullptr, false);
        if (!line.is_object() || !line.contains("custom_id") || !line["custom_id"].is_string()) {
          continue;  // not a result line: nothing to map it to
        }
        out.push_back({.custom_id = line["custom_id"], .response = decode_line(line)});
      }
    }
    return out;
  }

  Status cancel(const std::string& batch_id) override {
    auto answer = call(client_, *translator_, options_,
                       request("POST", base_ + "/batches/" + batch_id + "/cancel"));
    if (!answer) return std::unexpected(answer.error());
    return {};
  }

 private:
  HttpRequest request(std::string method, std::string url) const {
    HttpRequest r{.method = std::move(method), .url = std::move(url), .headers = {}, .body = {}};
    r.headers.emplace_back("authorization", "Bearer " + options_.endpoint.api_key);
    for (const auto& header : options_.endpoint.headers) r.headers.push_back(header);
    return r;
  }

  Result<json> get_batch(const std::string& batch_id) {
    auto body =
        call(client_, *translator_, options_, request("GET", base_ + "/batches/" + batch_id));
    if (!body) return std::unexpected(body.error());
    json batch = json::parse(*body, nullptr, false);
    if (!batch.is_object()) return fail(ErrorKind::upstream_error, "openai batch: malformed batch");
    return batch;
  }

  // An output or error file line -> the answer it carries, or its error.
  Result<ChatResponse> decode_line(const json& line) const {
    const json* response = line.contains("response") ? &line["response"] : nullptr;
    if (response && response->is_object()) {
      const int status = response->value("status_code", 0);
      const std::string body =
          response->contains("body") ? (*response)["body"].dump() : std::string("{}");
      if (status >= 200 && status < 300) return translator_->decode_response(body);
      Error error = translator_->decode_error(status, {}, body);
      return std::unexpected(std::move(error));
    }
    std::string code = "batch_error", message = "the vendor reported no answer";
    if (line.contains("error") && line["error"].is_object()) {
      code = line["error"].value("code", code);
      message = line["error"].value("message", message);
    }
    Error error{.kind = code == "batch_expired"     ? ErrorKind::upstream_timeout
                        : code == "batch_cancelled" ? ErrorKind::upstream_unavailable
                                                    : ErrorKind::upstream_error,
                .message = "openai: " + message.substr(0, 300),
                .code = code};
    return std::unexpected(std::move(error));
  }

  HttpClient& client_;
  VendorBatchClientOptions options_;
  std::unique_ptr<Translator> translator_;
  std::string base_;
};

}  // namespace

std::unique_ptr<VendorBatchClient> make_openai_batch_client(HttpClient& client,
                                                            VendorBatchClientOptions options) {
  auto translator = make_translator("openai");
  return std::make_unique<OpenAiBatchClient>(client, std::move(options), std::move(*translator));
}

}  // namespace sy::backends::openai
