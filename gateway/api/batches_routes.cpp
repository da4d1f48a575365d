// ApiHandler's Batch API (OpenAI's shapes): POST /v1/batches, GET /v1/batches (limit/after),
// GET /v1/batches/{id}, POST /v1/batches/{id}/cancel; and run_batch_line, which runs one line
// of a job through the same path as POST /v1/chat/completions (parse, model check, policy gate
// as batch origin, fallback, pricing) with a ResponseWriter that collects the answer and a
// ledger sink that hands the line's row to the job store instead of the ledger.

#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "api/api_handler.h"
#include "api/batch_http.h"
#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;
using namespace batch_http;

namespace {

// One running line: complete once both its answer and its ledger row have arrived (an
// exchange answers first and records after, a refusal too; neither order is relied upon).
class PendingLine {
 public:
  explicit PendingLine(std::function<void(BatchLineOutcome)> done) : done_(std::move(done)) {}

  void answer(int status, std::string body,
              std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
    std::unique_lock lock(mutex_);
    outcome_.status_code = status;
    outcome_.body = std::move(body);
    outcome_.retry_after = retry_after;
    answered_ = true;
    maybe_finish(lock);
  }
  void bill(LedgerRow row) {
    std::unique_lock lock(mutex_);
    outcome_.row = std::move(row);
    maybe_finish(lock);
  }

 private:
  void maybe_finish(std::unique_lock<std::mutex>& lock) {
    if (!answered_ || !outcome_.row || !done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    BatchLineOutcome outcome = std::move(outcome_);
    lock.unlock();
    done(std::move(outcome));
  }

  std::mutex mutex_;
  std::function<void(BatchLineOutcome)> done_;
  BatchLineOutcome outcome_;
  bool answered_ = false;
};

// How long a rate limit asks the line to wait: only a 429 with Retry-After (a rate limit that
// frees up; a spent budget or a request larger than the limit carries none).
std::optional<std::chrono::milliseconds> rate_limit_retry_after(int status,
                                                                const Headers& headers) {
  if (status != 429) return std::nullopt;
  for (const auto& [name, value] : headers) {
    if (name != "retry-after") continue;
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) break;
    return std::chrono::milliseconds(seconds * 1000);
  }
  return std::nullopt;
}

// The ResponseWriter of a batch line: keeps the body instead of sending it anywhere.
class CollectingWriter final : public ResponseWriter {
 public:
  explicit CollectingWriter(std::shared_ptr<PendingLine> line) : line_(std::move(line)) {}
  void respond(int status, Headers headers, std::string body) override {
    line_->answer(status, std::move(body), rate_limit_retry_after(status, headers));
  }
  void start_stream(int status, Headers) override { status_ = status; }
  void write(std::string data) override { streamed_ += data; }
  void finish() override { line_->answer(status_, std::move(streamed_)); }
  void on_cancel(std::function<void()>) override {}  // a batch line has no client to lose

 private:
  std::shared_ptr<PendingLine> line_;
  int status_ = 200;
  std::string streamed_;
};

// The ledger of batch lines: rows go to the line they belong to (by request id), which hands
// them to the job store with the line's result; BatchService writes them to the real ledger.
class BatchRowSink final : public LedgerWriter {
 public:
  void expect(const std::string& request_id, std::shared_ptr<PendingLine> line) {
    std::lock_guard lock(mutex_);
    lines_[request_id] = std::move(line);
  }
  bool write(LedgerRow row) override {
    std::shared_ptr<PendingLine> line;
    {
      std::lock_guard lock(mutex_);
      auto it = lines_.find(row.request_id);
      if (it == lines_.end()) return false;
      line = std::move(it->second);
      lines_.erase(it);
    }
    line->bill(std::move(row));
    return true;
  }
  void flush() override {}
  void close() override {}
  LedgerStats stats() const override { return {}; }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<PendingLine>> lines_;
};

}  // namespace

std::shared_ptr<LedgerWriter> ApiHandler::ledger_for(const LedgerRow& row) const {
  return row.surface == "batch" && batch_rows_ ? batch_rows_ : ledger_;
}

void ApiHandler::set_batch_service(std::shared_ptr<BatchService> batch) {
  batch_ = std::move(batch);
  if (!batch_rows_) batch_rows_ = std::make_shared<BatchRowSink>();
}

void ApiHandler::run_batch_line(BatchLineRequest line, std::function<void(BatchLineOutcome)> done) {
  auto pending = std::make_shared<PendingLine>(std::move(done));
  std::static_pointer_cast<BatchRowSink>(batch_rows_)->expect(line.request_id, pending);
  ServerRequest request{.method = "POST", .target = line.url, .body = std::move(line.body)};
  Principal principal{.tenant = line.tenant, .key_id = line.key_id};
  LedgerRow row;
  row.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  row.request_id = line.request_id;
  row.surface = "batch";
  row.endpoint = line.url;
  row.tenant = line.tenant;
  row.key_id = line.key_id;
  chat(request, principal, line.url == "/v1/completions", std::move(row),
       std::make_shared<CollectingWriter>(std::move(pending)));
}

void ApiHandler::fall_back_batch_line(BatchLineRequest line, std::string failed_backend,
                                      BatchLineOutcome vendor_outcome,
                                      std::function<void(BatchLineOutcome)> done) {
  const auto started = std::chrono::steady_clock::now();
  // The admission taken when the line was planned (its request counted, its estimate reserved)
  // is the one this run settles: the line is still one request.
  std::optional<Admission> admission = take_batch_admission(line.request_id);
  const bool admitted_here = admission.has_value();
  if (!admission) admission.emplace();
  // Planned before a restart: the budgets still count what the ledger bills.
  auto settled = [this, admitted_here, done = std::move(done)](BatchLineOutcome outcome) {
    if (!admitted_here && limiter_ && outcome.row) {
      if (const LimitSet* rules = limiter_->rules_for(outcome.row->tenant, outcome.row->key_id)) {
        limiter_->charge(*rules, outcome.row->cost);
      }
    }
    done(std::move(outcome));
  };
  auto keep_vendor_outcome = [&] {
    if (admitted_here) {
      const LedgerRow* row = vendor_outcome.row ? &*vendor_outcome.row : nullptr;
      limiter_->settle(*admission,
                       row ? row->usage.prompt_tokens + row->usage.completion_tokens : 0,
                       row ? row->cost : 0);
    }
    settled(std::move(vendor_outcome));
  };
  auto parsed = backends::openai::parse_chat_request(line.body);
  Principal principal{.tenant = line.tenant, .key_id = line.key_id};
  if (!parsed || !keys_.model_allowed(principal, parsed->model)) return keep_vendor_outcome();
  backends::ChatRequest chat_request = std::move(*parsed);
  // Decided again, exactly as a synchronous line: the sensitivity and residency constraints
  // remove every backend the line may not reach, so what is left after the failed one is only
  // ever an allowed backend.
  auto routed =
      gate_.route(chat_request, {},
                  RouteOptions{.endpoint = line.url, .tenant = line.tenant, .batch_origin = true});
  if (!routed || routed->decision.verdict != policies::Decision::Verdict::route) {
    return keep_vendor_outcome();
  }
  std::erase_if(routed->candidates, [&](const backends::Candidate& c) {
    return c.backend->info().name == failed_backend;
  });
  if (routed->candidates.empty()) return keep_vendor_outcome();
  spdlog::info("request_id={} tenant={} vendor batch on {} failed; falling back to {}",
               line.request_id, line.tenant, failed_backend,
               routed->candidates.front().backend->info().name);

  auto pending = std::make_shared<PendingLine>(std::move(settled));
  std::static_pointer_cast<BatchRowSink>(batch_rows_)->expect(line.request_id, pending);
  LedgerRow row;
  row.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  row.request_id = line.request_id;
  row.surface = "batch";
  row.endpoint = line.url;
  row.tenant = line.tenant;
  row.key_id = line.key_id;
  row.stream = false;
  const policies::Decision& decision = routed->decision;
  row.rule = decision.rule_header();
  row.sensitivity = std::string(to_string(decision.sensitivity.level));
  row.volume = std::string(to_string(decision.volume.volume));
  row.difficulty = std::string(to_string(decision.difficulty.difficulty));
  chat_request.bulk = decision.volume.volume == policies::VolumeClass::bulk;
  chat_request.stream = false;
  ExchangeContext ctx = exchange_context(row, chat_request, principal, started, decision);
  run_chat_exchange(std::move(chat_request), std::move(routed->candidates), std::move(ctx),
                    std::make_shared<CollectingWriter>(std::move(pending)),
                    settle_exchange(std::move(row), started, std::move(*admission)));
}

void ApiHandler::batches(const ServerRequest& request, const std::string& request_id,
                         ResponseWriter& writer) {
  // "/v1/batches", "/v1/batches/{id}" or "/v1/batches/{id}/cancel".
  const auto route = open_bulk_route(keys_, batch_.get(), "Batch", request, request_id, writer,
                                     "/v1/batches", "/cancel");
  if (!route) return;
  const std::string& tenant = route->principal.tenant;
  const std::string_view target = request.target;
  const std::string& id = route->path.id;
  const bool cancel = route->path.action;
  auto method_not_allowed = [&] {
    reply_method_not_allowed(writer, request.method, route->path.path, request_id);
  };
  auto to_json = [&](const BatchRecord& b) { return batch_json(b, *batch_); };

  if (id.empty()) {
    if (request.method == "GET") {
      const size_t limit = list_limit(target);
      auto items =
          batch_->list_batches(tenant, limit + 1, query_param(target, "after").value_or(""));
      const bool more = items.size() > limit;
      if (more) items.pop_back();
      return reply_json(writer, list_json(items, more, to_json), request_id);
    }
    if (request.method != "POST") return method_not_allowed();
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) {
      return reply_error(
          writer,
          Error{.kind = ErrorKind::invalid_request, .message = "The body must be a JSON object"},
          request_id);
    }
    auto string_field = [&](const char* name, std::string fallback) -> std::optional<std::string> {
      auto it = body.find(name);
      if (it == body.end() || it->is_null()) return fallback;
      if (!it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    auto input = string_field("input_file_id", "");
    auto endpoint = string_field("endpoint", "");
    auto window = string_field("completion_window", "24h");
    if (!input || input->empty() || !endpoint || !window) {
      const char* param = !input || input->empty() ? "input_file_id"
                          : !endpoint              ? "endpoint"
                                                   : "completion_window";
      return reply_error(writer,
                         Error{.kind = ErrorKind::invalid_request,
                               .message = std::string("'") + param + "' must be a string",
                               .param = param},
                         request_id);
    }
    std::string metadata = "null";
    if (auto it = body.find("metadata"); it != body.end() && !it->is_null()) {
      bool valid = it->is_object() && it->size() <= 16;
      for (const auto& [key, value] : it->items()) {
        valid = valid && key.size() <= 64 && value.is_string() &&
                value.get_ref<const std::string&>().size() <= 512;
      }
      if (!valid) {
        return reply_error(writer,
                           Error{.kind = ErrorKind::invalid_request,
                                 .message = "metadata must be an object of at most 16 string "
                                            "values (keys up to 64, values up to 512 characters)",
                                 .param = "metadata"},
                           request_id);
      }
      metadata = it->dump();
    }
    auto created =
        batch_->create(tenant, route->principal.key_id, *input, *endpoint, *window, metadata);
    if (!created) return reply_error(writer, created.error(), request_id);
    return reply_json(writer, to_json(*created), request_id);
  }

  if (cancel) {
    if (request.method != "POST") return method_not_allowed();
    auto cancelled = batch_->cancel(tenant, id);
    if (!cancelled) return reply_error(writer, cancelled.error(), request_id);
    return reply_json(writer, to_json(*cancelled), request_id);
  }
  if (request.method != "GET") return method_not_allowed();
  auto record = batch_->batch(tenant, id);
  if (!record) return reply_error(writer, record.error(), request_id);
  reply_json(writer, to_json(*record), request_id);
}

}  // namespace sy::gateway
