#include "api/chat_exchange.h"

#include <chrono>
#include <mutex>

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

Headers served_headers(const ExchangeContext& ctx, const Candidate& served_by) {
  return {{"x-request-id", ctx.request_id},
          {"x-switchyard-backend", served_by.backend->info().name},
          {"x-switchyard-model", served_by.model}};
}

// State of one streamed exchange; handlers of one call are serialized by the backend.
class StreamState {
 public:
  StreamState(const backends::ChatRequest& request, ExchangeContext ctx,
              std::shared_ptr<ResponseWriter> writer)
      : legacy_(request.surface == backends::ApiSurface::completions),
        include_usage_(request.include_usage),
        ctx_(std::move(ctx)),
        writer_(std::move(writer)) {
    who_.id = (legacy_ ? "cmpl-" : "chatcmpl-") + ctx_.request_id;
    who_.created = unix_now();
  }

  void on_chunk(const Candidate& served_by, const ChatChunk& chunk) {
    if (!started_) start(served_by, chunk.model);
    if (chunk.usage && !chunk.has_content() && !chunk.role &&
        chunk.finish_reason == backends::FinishReason::none) {
      if (include_usage_) usage_chunk_ = chunk;  // sent last, with our extra object
      return;
    }
    send(chunk);
  }

  int on_complete(const Result<ChatResponse>& result, const FallbackOutcome& outcome,
                  const std::vector<Candidate>& candidates) {
    if (!result) {
      if (!started_) {
        ErrorReply reply = openai_error_reply(result.error());
        reply.headers.emplace_back("x-request-id", ctx_.request_id);
        writer_->respond(reply.status, std::move(reply.headers), std::move(reply.body));
        return reply.status;
      }
      writer_->write("data: " + openai_stream_error(result.error()) + "\n\n");
      writer_->finish();
      return 200;
    }
    const Candidate& served_by = candidates[outcome.served];
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
                              {"request_id", ctx_.request_id}};
      std::string dumped = extra.dump();
      writer_->write("data: " +
                     (legacy_ ? openai::encode_completion_chunk(usage, who_, dumped)
                              : openai::encode_chunk(usage, who_, dumped)) +
                     "\n\n");
    }
    writer_->write("data: [DONE]\n\n");
    writer_->finish();
    return 200;
  }

 private:
  void start(const Candidate& served_by, const std::string& upstream_model) {
    started_ = true;
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
  ExchangeContext ctx_;
  std::shared_ptr<ResponseWriter> writer_;
  openai::ResponseIdentity who_;
  bool started_ = false;
  std::optional<ChatChunk> usage_chunk_;
};

}  // namespace

void run_chat_exchange(backends::ChatRequest request, std::vector<Candidate> candidates,
                       ExchangeContext ctx, std::shared_ptr<ResponseWriter> writer,
                       std::function<void(int, const FallbackOutcome&)> on_done) {
  bool stream = request.stream;
  bool legacy = request.surface == backends::ApiSurface::completions;
  auto shared_candidates = std::make_shared<std::vector<Candidate>>(candidates);
  backends::FallbackHandlers handlers;

  if (stream) {
    auto state = std::make_shared<StreamState>(request, ctx, writer);
    handlers.on_chunk = [state](const Candidate& served_by, const ChatChunk& chunk) {
      state->on_chunk(served_by, chunk);
    };
    handlers.on_complete = [state, shared_candidates, on_done](Result<ChatResponse> result,
                                                               const FallbackOutcome& outcome) {
      int status = state->on_complete(result, outcome, *shared_candidates);
      if (on_done) on_done(status, outcome);
    };
  } else {
    handlers.on_complete = [writer, ctx, legacy, shared_candidates, on_done](
                               Result<ChatResponse> result, const FallbackOutcome& outcome) {
      int status;
      if (!result) {
        ErrorReply reply = openai_error_reply(result.error());
        reply.headers.emplace_back("x-request-id", ctx.request_id);
        status = reply.status;
        writer->respond(reply.status, std::move(reply.headers), std::move(reply.body));
      } else {
        const Candidate& served_by = (*shared_candidates)[outcome.served];
        openai::ResponseIdentity who{
            .id = (legacy ? "cmpl-" : "chatcmpl-") + ctx.request_id,
            .model = result->model.empty() ? served_by.model : result->model,
            .created = unix_now()};
        Headers headers = served_headers(ctx, served_by);
        headers.emplace_back("content-type", "application/json");
        status = 200;
        writer->respond(200, std::move(headers),
                        legacy ? openai::encode_completion_response(*result, who)
                               : openai::encode_chat_response(*result, who));
      }
      if (on_done) on_done(status, outcome);
    };
  }

  auto call = backends::run_with_fallback(std::move(candidates), std::move(request), stream,
                                          std::move(handlers));
  writer->on_cancel([call] { call->cancel(); });
}

}  // namespace sy::gateway
