#include "api/chat_exchange.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/error_reply.h"
#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

using backends::Candidate;
using backends::ChatChunk;
using backends::ChatResponse;
using backends::FallbackOutcome;
using backends::Result;
namespace openai = backends::openai;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// State of one streamed exchange; handlers of one call are serialized by the backend.
class StreamState {
 public:
  StreamState(const backends::ChatRequest& request, ExchangeContext ctx,
              std::shared_ptr<ResponseWriter> writer)
      : legacy_(request.surface == backends::ApiSurface::completions),
        include_usage_(request.include_usage),
        prompt_tokens_(backends::estimate_prompt_tokens(request)),
        ctx_(std::move(ctx)),
        writer_(std::move(writer)) {
    who_.id = (legacy_ ? "cmpl-" : "chatcmpl-") + ctx_.request_id;
    who_.created = unix_now();
  }

  void on_chunk(const Candidate& served_by, const ChatChunk& chunk) {
    if (chunk.usage) seen_usage_ = *chunk.usage;
    if (!started_) start(served_by, chunk.model);
    generated_bytes_ += chunk.content.size() + chunk.refusal.size();
    for (const auto& call : chunk.tool_calls) {
      generated_bytes_ += call.name.size() + call.arguments.size();
    }
    if (chunk.usage && !chunk.has_content() && !chunk.role &&
        chunk.finish_reason == backends::FinishReason::none) {
      if (include_usage_) usage_chunk_ = chunk;  // sent last, with our extra object
      return;
    }
    send(chunk);
  }

  // `on_done` gets the summary before the stream's last bytes go out (see run_chat_exchange).
  void on_complete(const Result<ChatResponse>& result, const FallbackOutcome& outcome,
                   const std::vector<Candidate>& candidates,
                   const std::function<void(const ExchangeSummary&)>& on_done) {
    ExchangeSummary summary;
    describe(summary, result, outcome);
    summary.ttft = ttft_;
    const auto done = [&] {
      if (on_done) on_done(summary);
    };
    if (!result) {
      if (started_ || summary.status == LedgerStatus::cancelled) {
        // The vendor had the prompt and generated until the end: bill what it reported, or
        // an estimate of what it processed.
        bill_partial(summary);
        settle(summary, ctx_, who_.model);
      }
      if (!started_) {
        ErrorReply reply = openai_error_reply(with_policy_note(result.error(), ctx_));
        add_policy_headers(reply, ctx_, summary.backend);
        summary.http_status = reply.status;
        done();
        writer_->respond(reply.status, std::move(reply.headers), std::move(reply.body));
        return;
      }
      summary.http_status = 200;
      done();
      writer_->write("data: " + openai_stream_error(result.error()) + "\n\n");
      writer_->finish();
      return;
    }
    const Candidate& served_by = candidates[outcome.served];
    summary.usage = result->usage;
    settle(summary, ctx_, result->model);
    summary.http_status = 200;
    done();
    if (!started_) {
      // The upstream answered without a single content chunk: replay the (empty) answer.
      start(served_by, result->model);
      for (const auto& choice : result->choices) {
        ChatChunk c{.choice_index = choice.index, .role = backends::Role::assistant};
        c.finish_reason = choice.finish_reason;
        send(c);
      }
    }
    if (include_usage_) {
      ChatChunk usage = usage_chunk_.value_or(ChatChunk{});
      usage.usage = result->usage;
      nlohmann::json extra = {{"backend", served_by.backend->info().name},
                              {"model", served_by.model},
                              {"request_id", ctx_.request_id},
                              {"cost_usd", backends::format_usd(summary.price.cost)},
                              {"cost_micro_usd", summary.price.cost},
                              {"baseline_cost_usd", backends::format_usd(summary.baseline_cost)},
                              {"price_source", summary.price.source}};
      std::string dumped = extra.dump();
      writer_->write("data: " +
                     (legacy_ ? openai::encode_completion_chunk(usage, who_, dumped)
                              : openai::encode_chunk(usage, who_, dumped)) +
                     "\n\n");
    }
    writer_->write("data: [DONE]\n\n");
    writer_->finish();
  }

 private:
  void bill_partial(ExchangeSummary& summary) const {
    if (seen_usage_) {
      summary.usage = *seen_usage_;
      return;
    }
    summary.usage_estimated = true;
    summary.usage.prompt_tokens = prompt_tokens_;
    summary.usage.completion_tokens = backends::estimate_tokens(generated_bytes_);
  }

  void start(const Candidate& served_by, const std::string& upstream_model) {
    started_ = true;
    ttft_ = std::chrono::steady_clock::now() - ctx_.started;
    who_.model = upstream_model.empty() ? served_by.model : upstream_model;
    Headers headers = served_headers(ctx_, served_by);
    headers.emplace_back("content-type", "text/event-stream");
    headers.emplace_back("cache-control", "no-cache");
    writer_->start_stream(200, std::move(headers));
  }

  void send(const ChatChunk& chunk) {
    writer_->write("data: " +
                   (legacy_ ? openai::encode_completion_chunk(chunk, who_)
                            : openai::encode_chunk(chunk, who_)) +
                   "\n\n");
  }

  bool legacy_;
  bool include_usage_;
  int64_t prompt_tokens_;  // estimated, for a stream that ends without usage
  ExchangeContext ctx_;
  std::shared_ptr<ResponseWriter> writer_;
  openai::ResponseIdentity who_;
  bool started_ = false;
  std::optional<std::chrono::steady_clock::duration> ttft_;
  std::optional<ChatChunk> usage_chunk_;
  std::optional<backends::Usage> seen_usage_;
  size_t generated_bytes_ = 0;
};

}  // namespace

// Fills the summary's served-by fields from the outcome (the candidate that answered or failed
// last) and the status from the result.
void describe(ExchangeSummary& s, const Result<ChatResponse>& result,
              const FallbackOutcome& outcome) {
  s.attempts = outcome.attempts.size();
  if (!outcome.attempts.empty()) {
    s.backend = outcome.attempts.back().backend;
    s.model = outcome.attempts.back().model;
  }
  if (result) {
    s.status = LedgerStatus::ok;
  } else {
    s.error_kind = std::string(backends::to_string(result.error().kind));
    s.status = result.error().kind == backends::ErrorKind::cancelled ? LedgerStatus::cancelled
                                                                     : LedgerStatus::error;
  }
}

// Prices the summary's usage on the backend that served it, and the tenant's baseline.
void settle(ExchangeSummary& s, const ExchangeContext& ctx, const std::string& upstream_model) {
  if (!ctx.pricer) return;
  s.price = ctx.pricer->price(s.backend, s.model, s.usage, ctx.day);
  if (s.price.source == "none" && !upstream_model.empty() && upstream_model != s.model) {
    s.price = ctx.pricer->price(s.backend, upstream_model, s.usage, ctx.day);
  }
  s.baseline_cost = ctx.pricer->baseline(ctx.tenant, s.usage, ctx.day, s.price.cost);
}

namespace {

// `headers` holds the policy's headers; the served-by three are put in front of them in
// place: no second vector, and no regrowth where the vector has room (decision_headers leaves
// some for these and the surface's own few).
Headers served_headers_with(std::string request_id, std::string_view backend,
                            std::string_view model, Headers headers) {
  const size_t policy = headers.size();
  headers.reserve(policy + 3 + 3);
  headers.emplace_back("x-request-id", std::move(request_id));
  headers.emplace_back("x-switchyard-backend", backend);
  headers.emplace_back("x-switchyard-model", model);
  std::rotate(headers.begin(), headers.begin() + static_cast<std::ptrdiff_t>(policy),
              headers.end());
  return headers;
}

// served_headers for the exchange's one and only answer: the request id and the policy
// headers are moved out of the context, not copied (heap strings, one each), so the context
// has neither afterwards. `served` is the outcome's last attempt, which names the candidate
// that answered.
Headers take_served_headers(ExchangeContext& ctx, const backends::Attempt& served) {
  return served_headers_with(std::exchange(ctx.request_id, {}), served.backend, served.model,
                             std::exchange(ctx.policy_headers, {}));
}

}  // namespace

Headers served_headers(const ExchangeContext& ctx, const Candidate& served_by) {
  Headers headers;
  headers.reserve(ctx.policy_headers.size() + 3 + 3);
  headers.insert(headers.end(), ctx.policy_headers.begin(), ctx.policy_headers.end());
  return served_headers_with(ctx.request_id, served_by.backend->info().name, served_by.model,
                             std::move(headers));
}

backends::Error with_policy_note(backends::Error error, const ExchangeContext& ctx) {
  using backends::ErrorKind;
  switch (error.kind) {
    case ErrorKind::upstream_unavailable:
    case ErrorKind::upstream_error:
    case ErrorKind::upstream_timeout:
    case ErrorKind::overloaded:
    case ErrorKind::rate_limited:
      if (!ctx.policy_note.empty()) error.message += " (" + ctx.policy_note + ")";
      break;
    default:
      break;
  }
  return error;
}

void add_policy_headers(ErrorReply& reply, const ExchangeContext& ctx, std::string_view backend) {
  reply.headers.emplace_back("x-request-id", ctx.request_id);
  if (!backend.empty()) reply.headers.emplace_back("x-switchyard-backend", std::string(backend));
  reply.headers.insert(reply.headers.end(), ctx.policy_headers.begin(), ctx.policy_headers.end());
}

void run_chat_exchange(backends::ChatRequest request, std::vector<Candidate> candidates,
                       ExchangeContext ctx, std::shared_ptr<ResponseWriter> writer,
                       std::function<void(const ExchangeSummary&)> on_done) {
  bool stream = request.stream;
  bool legacy = request.surface == backends::ApiSurface::completions;
  backends::FallbackHandlers handlers;

  if (stream) {
    auto shared_candidates = std::make_shared<std::vector<Candidate>>(candidates);
    auto state = std::make_shared<StreamState>(request, std::move(ctx), writer);
    handlers.on_chunk = [state](const Candidate& served_by, const ChatChunk& chunk) {
      state->on_chunk(served_by, chunk);
    };
    handlers.on_complete = [state, shared_candidates, on_done = std::move(on_done)](
                               Result<ChatResponse>&& result, const FallbackOutcome& outcome) {
      state->on_complete(result, outcome, *shared_candidates, on_done);
    };
  } else {
    const int64_t prompt_tokens = backends::estimate_prompt_tokens(request);
    // Moved in, not copied: on_done holds the request's whole ledger row.
    // Mutable: called once, so the answer may take the context's policy headers. No copy of
    // the candidates: the outcome's last attempt names the one that answered.
    handlers.on_complete = [writer, ctx = std::move(ctx), legacy, on_done = std::move(on_done),
                            prompt_tokens](Result<ChatResponse>&& result,
                                           const FallbackOutcome& outcome) mutable {
      ExchangeSummary summary;
      describe(summary, result, outcome);
      if (!result) {
        if (result.error().kind == backends::ErrorKind::cancelled) {
          // The upstream had the prompt when the client left; no usage came back.
          summary.usage_estimated = true;
          summary.usage.prompt_tokens = prompt_tokens;
          settle(summary, ctx, "");
        }
        ErrorReply reply = openai_error_reply(with_policy_note(result.error(), ctx));
        add_policy_headers(reply, ctx, summary.backend);
        summary.http_status = reply.status;
        if (on_done) on_done(summary);
        writer->respond(reply.status, std::move(reply.headers), std::move(reply.body));
      } else {
        const backends::Attempt& served = outcome.attempts.back();
        summary.usage = result->usage;
        settle(summary, ctx, result->model);
        openai::ResponseIdentity who{.id = (legacy ? "cmpl-" : "chatcmpl-") + ctx.request_id,
                                     .model = result->model.empty() ? served.model : result->model,
                                     .created = unix_now()};
        Headers headers = take_served_headers(ctx, served);
        headers.emplace_back("content-type", "application/json");
        headers.emplace_back("x-switchyard-cost-usd", backends::format_usd(summary.price.cost));
        summary.http_status = 200;
        std::string body = legacy ? openai::encode_completion_response(*result, who)
                                  : openai::encode_chat_response(*result, who);
        if (on_done) on_done(summary);
        writer->respond(200, std::move(headers), std::move(body));
      }
    };
  }

  auto call = backends::run_with_fallback(std::move(candidates), std::move(request), stream,
                                          std::move(handlers));
  writer->on_cancel([call] { call->cancel(); });
}

}  // namespace sy::gateway
