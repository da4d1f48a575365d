#include "fakes/fake_batch_api.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace sy::fakes {

using nlohmann::json;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

wire::HttpAnswer json_answer(int status, const json& body) {
  return {.status = status, .headers = {{"content-type", "application/json"}}, .body = body.dump()};
}

wire::HttpAnswer error(Vendor vendor, int status, const std::string& message) {
  if (vendor == Vendor::anthropic) {
    return json_answer(status,
                       {{"type", "error"},
                        {"error",
                         {{"type", status == 404 ? "not_found_error" : "invalid_request_error"},
                          {"message", message}}}});
  }
  return json_answer(status, {{"error",
                               {{"message", message},
                                {"type", "invalid_request_error"},
                                {"param", nullptr},
                                {"code", status == 404 ? json("not_found") : json(nullptr)}}}});
}

// "multipart/form-data; boundary=X" -> the parts' names, filenames and contents.
struct Part {
  std::string name, filename, content;
};

std::vector<Part> parse_multipart(std::string_view content_type, const std::string& body) {
  std::vector<Part> parts;
  const auto at = content_type.find("boundary=");
  if (at == std::string_view::npos) return parts;
  std::string boundary(content_type.substr(at + 9));
  if (const auto semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    pos += delimiter.size();
    if (body.compare(pos, 2, "--") == 0) break;
    if (body.compare(pos, 2, "\r\n") == 0) pos += 2;
    const size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) break;
    const std::string head = body.substr(pos, head_end - pos);
    const size_t next = body.find("\r\n" + delimiter, head_end + 4);
    if (next == std::string::npos) break;
    auto attribute = [&](const std::string& key) -> std::string {
      const auto k = head.find(key + "=\"");
      if (k == std::string::npos) return {};
      const auto start = k + key.size() + 2;
      return head.substr(start, head.find('"', start) - start);
    };
    parts.push_back({.name = attribute("name"),
                     .filename = attribute("filename"),
                     .content = body.substr(head_end + 4, next - head_end - 4)});
    pos = next + 2;
  }
  return parts;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool is_create(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return method == "POST" && (path == "/v1/batches" || path == "/v1/messages/batches");
}

// The value of `key` in a query string ("" when absent); values here never need decoding.
std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

std::optional<Vendor> FakeBatchApi::route_vendor(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/v1/messages/batches")) return Vendor::anthropic;
  if (path == "/v1/files" || path.starts_with("/v1/files/")) return Vendor::openai;
  if (path == "/v1/batches" || path.starts_with("/v1/batches/")) return Vendor::openai;
  (void)method;
  return std::nullopt;
}

std::optional<wire::HttpAnswer> FakeBatchApi::handle(Vendor vendor, std::string_view method,
                                                     std::string_view target,
                                                     std::string_view content_type,
                                                     std::string_view host,
                                                     const std::string& body) {
  const size_t mark = target.find('?');
  const std::string_view path = target.substr(0, mark);
  const std::string_view query =
      mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
  std::lock_guard lock(mutex_);
  if (failures_ > 0 && is_create(method, target)) {
    --failures_;
    return error(vendor, 500, "the fake vendor failed this batch create");
  }
  if (vendor == Vendor::anthropic) return anthropic(method, path, query, host, body);
  return openai(method, path, query, content_type, body);
}

void FakeBatchApi::hold_create_answers(std::size_t count, bool made) {
  std::lock_guard lock(mutex_);
  holds_ = count;
  hold_made_ = made;
}

void FakeBatchApi::fail_creates(std::size_t count) {
  std::lock_guard lock(mutex_);
  failures_ = count;
}

bool FakeBatchApi::take_hold_before(std::string_view method, std::string_view target) {
  if (!is_create(method, target)) return false;
  std::lock_guard lock(mutex_);
  if (holds_ == 0 || hold_made_) return false;
  --holds_;
  return true;
}

bool FakeBatchApi::take_create_hold(std::string_view method, std::string_view target, int status) {
  if (status != 200 || !is_create(method, target)) return false;
  std::lock_guard lock(mutex_);
  if (holds_ == 0 || !hold_made_) return false;
  --holds_;
  return true;
}

wire::HttpAnswer FakeBatchApi::list(Vendor vendor, std::string_view query, std::string_view host) {
  std::vector<Batch*> mine;
  for (auto& [id, b] : batches_) {
    if (b.vendor == vendor) mine.push_back(&b);
  }
  std::sort(mine.begin(), mine.end(),
            [](const Batch* a, const Batch* b) { return a->seq > b->seq; });
  const std::string after = query_value(query, vendor == Vendor::anthropic ? "after_id" : "after");
  const std::string limit_text = query_value(query, "limit");
  const size_t limit =
      limit_text.empty() ? 20 : std::clamp<size_t>(std::stoul(limit_text), 1, 1000);
  size_t at = 0;
  if (!after.empty()) {
    while (at < mine.size() && mine[at]->id != after) ++at;
    if (at < mine.size()) ++at;
  }
  json data = json::array();
  const size_t end = std::min(mine.size(), at + limit);
  for (size_t i = at; i < end; ++i) {
    Batch& b = *mine[i];
    if (vendor == Vendor::anthropic) {
      if (!b.ended &&
          (b.cancel || std::chrono::steady_clock::now() - b.created >= complete_after_)) {
        finish(b);
      }
      data.push_back(anthropic_batch_json(b, host));
    } else {
      // A listing does not move a batch along (its GET does): the status it would show now.
      const std::string status = b.ended    ? (b.cancel ? "cancelled" : "completed")
                                 : b.cancel ? "cancelling"
                                 : b.polls  ? "in_progress"
                                            : "validating";
      data.push_back(openai_batch_json(b, status));
    }
  }
  json page = {{"data", data},
               {"has_more", end < mine.size()},
               {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
               {"last_id", data.empty() ? json(nullptr) : data.back()["id"]}};
  if (vendor == Vendor::openai) page["object"] = "list";
  return json_answer(200, page);
}

void FakeBatchApi::finish(Batch& batch) {
  if (batch.ended) return;
  batch.ended = true;
  batch.ended_at = unix_now();
  std::string output, errors;
  for (const Line& line : batch.lines) {
    BatchLineFault fault = BatchLineFault::none;
    if (fault_) fault = fault_(line.custom_id, line.body.dump());
    const std::string request_id = "req_fake" + std::to_string(++serial_);
    if (batch.cancel && fault == BatchLineFault::none) {
      // A cancel that arrives before the delay: no line was processed.
      ++batch.canceled;
      if (batch.vendor == Vendor::anthropic) {
        batch.results +=
            json{{"custom_id", line.custom_id}, {"result", {{"type", "canceled"}}}}.dump() + "\n";
      } else {
        errors += json{{"id", "batch_req_" + request_id},
                       {"custom_id", line.custom_id},
                       {"response", nullptr},
                       {"error",
                        {{"code", "batch_cancelled"},
                         {"message", "This request was cancelled before it ran."}}}}
                      .dump() +
                  "\n";
      }
      continue;
    }
    if (fault == BatchLineFault::expired) {
      ++batch.expired;
      if (batch.vendor == Vendor::anthropic) {
        batch.results +=
            json{{"custom_id", line.custom_id}, {"result", {{"type", "expired"}}}}.dump() + "\n";
      } else {
        errors += json{{"id", "batch_req_" + request_id},
                       {"custom_id", line.custom_id},
                       {"response", nullptr},
                       {"error",
                        {{"code", "batch_expired"},
                         {"message",
                          "This request could not be executed before the "
                          "completion window expired."}}}}
                      .dump() +
                  "\n";
      }
      continue;
    }
    if (fault == BatchLineFault::errored) {
      ++batch.errored;
      const wire::HttpAnswer answer =
          wire::error_answer(batch.vendor, wire::ErrorCase::bad_request, 400);
      if (batch.vendor == Vendor::anthropic) {
        batch.results +=
            json{{"custom_id", line.custom_id},
                 {"result", {{"type", "errored"}, {"error", json::parse(answer.body)}}}}
                .dump() +
            "\n";
      } else {
        errors += json{{"id", "batch_req_" + request_id},
                       {"custom_id", line.custom_id},
                       {"response",
                        {{"status_code", 400},
                         {"request_id", request_id},
                         {"body", json::parse(answer.body)}}},
                       {"error", nullptr}}
                      .dump() +
                  "\n";
      }
      continue;
    }
    ++batch.succeeded;
    wire::Exchange ex{.vendor = batch.vendor,
                      .endpoint = batch.vendor == Vendor::anthropic ? wire::Endpoint::messages
                                                                    : wire::Endpoint::chat,
                      .request = line.body};
    ex.model = line.body.is_object() ? line.body.value("model", "fake-model") : "fake-model";
    ex.prompt_tokens = wire::count_prompt_tokens(ex.endpoint, ex.request);
    ex.serial = ++serial_;
    ex.created = unix_now();
    const Reply reply = reply_ ? *reply_ : wire::default_reply(ex);
    const wire::HttpAnswer answer = wire::full_answer(ex, reply);
    if (batch.vendor == Vendor::anthropic) {
      batch.results +=
          json{{"custom_id", line.custom_id},
               {"result", {{"type", "succeeded"}, {"message", json::parse(answer.body)}}}}
              .dump() +
          "\n";
    } else {
      output += json{{"id", "batch_req_" + request_id},
                     {"custom_id", line.custom_id},
                     {"response",
                      {{"status_code", 200},
                       {"request_id", request_id},
                       {"body", json::parse(answer.body)}}},
                     {"error", nullptr}}
                    .dump() +
                "\n";
    }
  }
  if (batch.vendor == Vendor::openai) {
    auto store = [&](std::string& id, std::string content, const char* suffix) {
      if (content.empty()) return;
      id = "file-fake" + std::to_string(++serial_);
      files_[id] = File{.id = id,
                        .filename = batch.id + suffix,
                        .purpose = "batch_output",
                        .content = std::move(content),
                        .created_at = unix_now()};
    };
    store(batch.output_file_id, std::move(output), "_output.jsonl");
    store(batch.error_file_id, std::move(errors), "_error.jsonl");
  }
}

json FakeBatchApi::openai_batch_json(const Batch& b, std::string_view status) const {
  auto at_or_null = [](int64_t t) { return t ? json(t) : json(nullptr); };
  return {{"id", b.id},
          {"object", "batch"},
          {"endpoint", b.endpoint},
          {"errors", nullptr},
          {"input_file_id", b.input_file_id},
          {"completion_window", "24h"},
          {"status", status},
          {"output_file_id", b.output_file_id.empty() ? json(nullptr) : json(b.output_file_id)},
          {"error_file_id", b.error_file_id.empty() ? json(nullptr) : json(b.error_file_id)},
          {"created_at", b.created_at},
          {"in_progress_at", b.polls > 0 ? json(b.created_at) : json(nullptr)},
          {"expires_at", b.created_at + 24 * 3600},
          {"completed_at", status == "completed" ? at_or_null(b.ended_at) : json(nullptr)},
          {"cancelled_at", status == "cancelled" ? at_or_null(b.ended_at) : json(nullptr)},
          {"request_counts",
           {{"total", b.lines.size()},
            {"completed", b.ended ? b.succeeded : 0},
            {"failed", b.ended ? b.errored + b.expired + b.canceled : 0}}},
          {"metadata", b.metadata.is_object() ? b.metadata : json(nullptr)}};
}

wire::HttpAnswer FakeBatchApi::openai(std::string_view method, std::string_view path,
                                      std::string_view query, std::string_view content_type,
                                      const std::string& body) {
  const Vendor v = Vendor::openai;
  if (path == "/v1/batches" && method == "GET") return list(v, query, "");
  if (path == "/v1/files" && method == "POST") {
    File file;
    for (Part& part : parse_multipart(content_type, body)) {
      if (part.name == "purpose") file.purpose = part.content;
      if (part.name == "file") {
        file.filename = part.filename;
        file.content = std::move(part.content);
      }
    }
    if (file.purpose != "batch" || file.filename.empty()) {
      return error(v, 400, "a multipart body with purpose=batch and a file is required");
    }
    file.id = "file-fake" + std::to_string(++serial_);
    file.created_at = unix_now();
    json answer = {{"id", file.id},
                   {"object", "file"},
                   {"bytes", file.content.size()},
                   {"created_at", file.created_at},
                   {"filename", file.filename},
                   {"purpose", file.purpose}};
    files_[file.id] = std::move(file);
    return json_answer(200, answer);
  }
  if (path.starts_with("/v1/files/") && method == "GET") {
    std::string_view rest = path.substr(10);
    const bool content = rest.ends_with("/content");
    if (content) rest.remove_suffix(8);
    auto it = files_.find(std::string(rest));
    if (it == files_.end()) return error(v, 404, "No such File object: " + std::string(rest));
    if (content) {
      return {.status = 200,
              .headers = {{"content-type", "application/octet-stream"}},
              .body = it->second.content};
    }
    return json_answer(200, {{"id", it->second.id},
                             {"object", "file"},
                             {"bytes", it->second.content.size()},
                             {"created_at", it->second.created_at},
                             {"filename", it->second.filename},
                             {"purpose", it->second.purpose}});
  }
  if (path == "/v1/batches" && method == "POST") {
    json request = json::parse(body, nullptr, false);
    if (!request.is_object()) return error(v, 400, "the body must be a JSON object");
    const std::string input = request.value("input_file_id", "");
    const std::string endpoint = request.value("endpoint", "");
    auto file = files_.find(input);
    if (file == files_.end()) return error(v, 400, "No such File object: " + input);
    if (endpoint != "/v1/chat/completions" && endpoint != "/v1/completions" &&
        endpoint != "/v1/embeddings" && endpoint != "/v1/responses") {
      return error(v, 400, "unsupported endpoint");
    }
    if (request.value("completion_window", "") != "24h") {
      return error(v, 400, "completion_window must be 24h");
    }
    Batch batch{.vendor = v,
                .id = "batch_fake" + std::to_string(++serial_),
                .input_file_id = input,
                .endpoint = endpoint,
                .seq = serial_,
                .metadata = request.contains("metadata") ? request["metadata"] : json(nullptr)};
    for (const std::string& text : split_lines(file->second.content)) {
      json line = json::parse(text, nullptr, false);
      if (!line.is_object() || !line.contains("custom_id") || line.value("url", "") != endpoint) {
        return error(v, 400, "invalid line in the input file");
      }
      batch.lines.push_back({.custom_id = line["custom_id"].get<std::string>(),
                             .body = line.value("body", json::object())});
    }
    batch.created = std::chrono::steady_clock::now();
    batch.created_at = unix_now();
    json answer = openai_batch_json(batch, "validating");
    batches_[batch.id] = std::move(batch);
    return json_answer(200, answer);
  }
  if (path.starts_with("/v1/batches/")) {
    std::string_view rest = path.substr(12);
    const bool cancel = rest.ends_with("/cancel");
    if (cancel) rest.remove_suffix(7);
    auto it = batches_.find(std::string(rest));
    if (it == batches_.end() || it->second.vendor != v) {
      return error(v, 404, "No batch found with id '" + std::string(rest) + "'.");
    }
    Batch& b = it->second;
    if (cancel && method == "POST") {
      if (!b.ended) b.cancel = true;
      return json_answer(200, openai_batch_json(b, b.ended ? "completed" : "cancelling"));
    }
    if (method != "GET") return error(v, 405, "method not allowed");
    const bool due = std::chrono::steady_clock::now() - b.created >= complete_after_;
    std::string status;
    if (b.cancel) {
      finish(b);
      status = "cancelled";
    } else if (!due && b.polls == 0) {
      status = "validating";
    } else if (!due) {
      status = "in_progress";
    } else if (!b.finalizing_seen) {
      b.finalizing_seen = true;  // one poll sees finalizing, as a real batch's does
      status = "finalizing";
    } else {
      finish(b);
      status = "completed";
    }
    ++b.polls;
    return json_answer(200, openai_batch_json(b, status));
  }
  return error(v, 404, "no such batch route in the fake vendor");
}

json FakeBatchApi::anthropic_batch_json(const Batch& b, std::string_view host) const {
  const std::string status = b.ended ? "ended" : b.cancel ? "canceling" : "in_progress";
  const int64_t processing = b.ended ? 0 : static_cast<int64_t>(b.lines.size());
  return {{"id", b.id},
          {"type", "message_batch"},
          {"processing_status", status},
          {"request_counts",
           {{"processing", processing},
            {"succeeded", b.succeeded},
            {"errored", b.errored},
            {"canceled", b.canceled},
            {"expired", b.expired}}},
          {"ended_at", b.ended ? json(rfc3339(b.ended_at)) : json(nullptr)},
          {"created_at", rfc3339(b.created_at)},
          {"expires_at", rfc3339(b.created_at + 24 * 3600)},
          {"archived_at", nullptr},
          {"cancel_initiated_at", b.cancel ? json(rfc3339(b.created_at)) : json(nullptr)},
          {"results_url", b.ended ? json("http://" + std::string(host) + "/v1/messages/batches/" +
                                         b.id + "/results")
                                  : json(nullptr)}};
}

wire::HttpAnswer FakeBatchApi::anthropic(std::string_view method, std::string_view path,
                                         std::string_view query, std::string_view host,
                                         const std::string& body) {
  const Vendor v = Vendor::anthropic;
  if (path == "/v1/messages/batches" && method == "GET") return list(v, query, host);
  if (path == "/v1/messages/batches" && method == "POST") {
    json request = json::parse(body, nullptr, false);
    if (!request.is_object() || !request.contains("requests") || !request["requests"].is_array() ||
        request["requests"].empty()) {
      return error(v, 400, "requests: a non-empty list is required");
    }
    Batch batch{.vendor = v, .id = "msgbatch_fake" + std::to_string(++serial_), .seq = serial_};
    for (const json& r : request["requests"]) {
      if (!r.is_object() || !r.contains("custom_id") || !r["custom_id"].is_string() ||
          !r.contains("params") || !r["params"].is_object()) {
        return error(v, 400, "requests: each needs custom_id and params");
      }
      batch.lines.push_back({.custom_id = r["custom_id"], .body = r["params"]});
    }
    batch.created = std::chrono::steady_clock::now();
    batch.created_at = unix_now();
    json answer = anthropic_batch_json(batch, host);
    batches_[batch.id] = std::move(batch);
    return json_answer(200, answer);
  }
  if (!path.starts_with("/v1/messages/batches/")) return error(v, 404, "no such route");
  std::string_view rest = path.substr(21);
  const bool cancel = rest.ends_with("/cancel");
  const bool results = rest.ends_with("/results");
  if (cancel) rest.remove_suffix(7);
  if (results) rest.remove_suffix(8);
  auto it = batches_.find(std::string(rest));
  if (it == batches_.end() || it->second.vendor != v) {
    return error(v, 404, "No message batch with id " + std::string(rest));
  }
  Batch& b = it->second;
  if (cancel && method == "POST") {
    if (!b.ended) b.cancel = true;
    return json_answer(200, anthropic_batch_json(b, host));
  }
  if (method != "GET") return error(v, 405, "method not allowed");
  if (!b.ended && (b.cancel || std::chrono::steady_clock::now() - b.created >= complete_after_)) {
    finish(b);
  }
  if (results) {
    if (!b.ended) return error(v, 400, "the batch is still processing: no results yet");
    return {.status = 200, .headers = {{"content-type", "application/binary"}}, .body = b.results};
  }
  ++b.polls;
  return json_answer(200, anthropic_batch_json(b, host));
}

void FakeBatchApi::set_complete_after(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  complete_after_ = delay;
}

void FakeBatchApi::set_line_fault(BatchLineFaultFn fault) {
  std::lock_guard lock(mutex_);
  fault_ = std::move(fault);
}

void FakeBatchApi::set_reply(std::optional<Reply> reply) {
  std::lock_guard lock(mutex_);
  reply_ = std::move(reply);
}

std::size_t FakeBatchApi::batch_count(Vendor vendor) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, b] : batches_) n += b.vendor == vendor;
  return n;
}

std::size_t FakeBatchApi::batched_request_count(Vendor vendor) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, b] : batches_) n += b.vendor == vendor ? b.lines.size() : 0;
  return n;
}

void FakeBatchApi::reset() {
  std::lock_guard lock(mutex_);
  files_.clear();
  batches_.clear();
  fault_ = nullptr;
  reply_.reset();
  holds_ = 0;
  failures_ = 0;
  complete_after_ = std::chrono::milliseconds(50);
}

}  // namespace sy::fakes
