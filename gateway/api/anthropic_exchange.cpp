#include "api/anthropic_exchange.h"

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/anthropic_error_reply.h"
#include "api/anthropic_response_encoder.h"

namespace sy::gateway {

using backends::Candidate;
using backends::ChatChunk;
using backends::ChatResponse;
using backends::FallbackOutcome;
using backends::Result;

namespace {

std::string cost_extra(const ExchangeContext& ctx, const Candidate& served_by,
                       const ExchangeSummary& s) {
  return nlohmann::json{{"backend", served_by.backend->info().name},
                        {"model", served_by.model},
                        {"request_id", ctx.request_id},
                        {"cost_usd", backends::format_usd(s.price.cost)},
                        {"cost_micro_usd", s.price.cost},
                        {"baseline_cost_usd", backends::format_usd(s.baseline_cost)},
                        {"price_source", s.price.source}}
      .dump();
}

// `on_done` gets the summary before the reply goes out (see run_chat_exchange).
void send_error(ResponseWriter& writer, const backends::Error& error, const ExchangeContext& ctx,
                ExchangeSummary& summary,
                const std::function<void(const ExchangeSummary&)>& on_done) {
  ErrorReply reply = anthropic_error_reply(with_policy_note(error, ctx), ctx.request_id);
  add_policy_headers(reply, ctx, summary.backend);
  summary.http_status = reply.status;
  if (on_done) on_done(summary);
  writer.respond(reply.status, std::move(reply.headers), std::move(reply.body));
}

// One streamed exchange; handlers of one call are serialized by the backend.
class MessagesStream {
 public:
  MessagesStream(const backends::ChatRequest& request, ExchangeContext ctx,
                 std::shared_ptr<ResponseWriter> writer)
      : request_native_(request.native != nullptr),
        prompt_tokens_(backends::estimate_prompt_tokens(request)),
        ctx_(std::move(ctx)),
        writer_(std::move(writer)),
        encoder_(MessageIdentity{}) {}

  void on_chunk(const Candidate& served_by, const ChatChunk& chunk) {
    if (chunk.usage) seen_usage_ = *chunk.usage;
    if (!started_) start(served_by, chunk);
    generated_bytes_ += chunk.content.size() + chunk.refusal.size();
    for (const auto& call : chunk.tool_calls) {
      generated_bytes_ += call.name.size() + call.arguments.size();
    }
    if (native_) {
      if (!chunk.native.empty()) writer_->write(chunk.native);
      return;
    }
    std::string bytes = encoder_.add(chunk);
    if (!bytes.empty()) writer_->write(std::move(bytes));
  }

  // `on_done` gets the summary before the stream's last bytes go out.
  void on_complete(const Result<ChatResponse>& result, const FallbackOutcome& outcome,
                   const std::vector<Candidate>& candidates,
                   const std::function<void(const ExchangeSummary&)>& on_done) {
    ExchangeSummary summary;
    describe(summary, result, outcome);
    summary.ttft = ttft_;
    if (!result) {
      if (started_ || summary.status == LedgerStatus::cancelled) {
        bill_partial(summary);
        settle(summary, ctx_, model_);
      }
      if (!started_) {
        send_error(*writer_, result.error(), ctx_, summary, on_done);
        return;
      }
      summary.http_status = 200;
      if (on_done) on_done(summary);
      writer_->write(
          AnthropicStreamEncoder::error(anthropic_error_json(result.error(), ctx_.request_id)));
      writer_->finish();
      return;
    }
    const Candidate& served_by = candidates[outcome.served];
    summary.usage = result->usage;
    settle(summary, ctx_, result->model);
    summary.http_status = 200;
    if (on_done) on_done(summary);
    if (!started_) start(served_by, ChatChunk{.model = result->model});
    if (!native_) {
      backends::FinishReason finish = result->choices.empty()
                                          ? backends::FinishReason::stop
                                          : result->choices.front().finish_reason;
      writer_->write(encoder_.finish(finish, result->usage, cost_extra(ctx_, served_by, summary)));
    }
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

  void start(const Candidate& served_by, const ChatChunk& first) {
    started_ = true;
    ttft_ = std::chrono::steady_clock::now() - ctx_.started;
    native_ = request_native_ && served_by.backend->capabilities().native_protocol == "anthropic";
    model_ = first.model.empty() ? served_by.model : first.model;
    Headers headers = served_headers(ctx_, served_by);
    headers.emplace_back("content-type", "text/event-stream");
    headers.emplace_back("cache-control", "no-cache");
    writer_->start_stream(200, std::move(headers));
    if (!native_) {
      encoder_ =
          AnthropicStreamEncoder(MessageIdentity{.id = "msg_" + ctx_.request_id, .model = model_});
      writer_->write(encoder_.start(seen_usage_.value_or(backends::Usage{})));
    }
  }

  bool request_native_;
  int64_t prompt_tokens_;  // estimated, for a stream that ends without usage
  ExchangeContext ctx_;
  std::shared_ptr<ResponseWriter> writer_;
  AnthropicStreamEncoder encoder_;
  bool started_ = false;
  bool native_ = false;
  std::string model_;
  std::optional<std::chrono::steady_clock::duration> ttft_;
  std::optional<backends::Usage> seen_usage_;
  size_t generated_bytes_ = 0;
};

}  // namespace

void run_messages_exchange(backends::ChatRequest request, std::vector<Candidate> candidates,
                           ExchangeContext ctx, std::shared_ptr<ResponseWriter> writer,
                           std::function<void(const ExchangeSummary&)> on_done) {
  const bool stream = request.stream;
  auto shared_candidates = std::make_shared<std::vector<Candidate>>(candidates);
  backends::FallbackHandlers handlers;

  if (stream) {
    auto state = std::make_shared<MessagesStream>(request, ctx, writer);
    handlers.on_chunk = [state](const Candidate& served_by, const ChatChunk& chunk) {
      state->on_chunk(served_by, chunk);
    };
    handlers.on_complete = [state, shared_candidates, on_done](Result<ChatResponse> result,
                                                               const FallbackOutcome& outcome) {
      state->on_complete(result, outcome, *shared_candidates, on_done);
    };
  } else {
    const int64_t prompt_tokens = backends::estimate_prompt_tokens(request);
    const bool request_native = request.native != nullptr;
    handlers.on_complete = [writer, ctx, shared_candidates, on_done, prompt_tokens, request_native](
                               Result<ChatResponse> result, const FallbackOutcome& outcome) {
      ExchangeSummary summary;
      describe(summary, result, outcome);
      if (!result) {
        if (result.error().kind == backends::ErrorKind::cancelled) {
          summary.usage_estimated = true;
          summary.usage.prompt_tokens = prompt_tokens;
          settle(summary, ctx, "");
        }
        send_error(*writer, result.error(), ctx, summary, on_done);
      } else {
        const Candidate& served_by = (*shared_candidates)[outcome.served];
        summary.usage = result->usage;
        settle(summary, ctx, result->model);
        Headers headers = served_headers(ctx, served_by);
        headers.emplace_back("content-type", "application/json");
        headers.emplace_back("x-switchyard-cost-usd", backends::format_usd(summary.price.cost));
        summary.http_status = 200;
        std::string body;
        if (request_native && served_by.backend->capabilities().native_protocol == "anthropic" &&
            !result->native_body.empty()) {
          body = std::move(result->native_body);
        } else {
          MessageIdentity who{.id = "msg_" + ctx.request_id,
                              .model = result->model.empty() ? served_by.model : result->model};
          body = encode_anthropic_message(*result, who);
        }
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
