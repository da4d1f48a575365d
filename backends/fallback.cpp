#include "switchyard/backends/fallback.h"

#include <algorithm>
#include <mutex>

#include "common/vendor_json.h"

namespace sy::backends {

namespace {

// An Anthropic thinking block: the model's own earlier reasoning, signed for Anthropic only.
bool is_thinking_block(const ContentPart& part) {
  if (part.kind != ContentPart::Kind::other) return false;
  auto block = detail::parse_json(part.raw_json);
  if (!block || !block->is_object()) return false;
  std::string type = detail::get_string(*block, "type");
  return type == "thinking" || type == "redacted_thinking";
}

}  // namespace

ChatRequest adapt_for(const ChatRequest& request, const Backend& backend) {
  return adapt_for(ChatRequest(request), backend);
}

ChatRequest adapt_for(ChatRequest&& request, const Backend& backend) {
  ChatRequest out = std::move(request);
  if (out.surface == ApiSurface::messages &&
      backend.capabilities().native_protocol != "anthropic") {
    // Anthropic-only members would be refused by another vendor (OpenAI-shaped translators
    // forward `extra` verbatim), and thinking blocks mean nothing to it.
    out.extra.clear();
    out.native.reset();
    for (Message& message : out.messages) {
      if (std::erase_if(message.content, is_thinking_block) > 0 && message.content.empty() &&
          !message.tool_calls.empty()) {
        message.content_is_null = true;
      }
    }
  }
  if (out.surface == ApiSurface::completions && !backend.capabilities().completions_api) {
    out.surface = ApiSurface::chat_completions;
    Message user;
    user.role = Role::user;
    user.content.push_back(
        ContentPart{.kind = ContentPart::Kind::text, .text = std::move(out.prompt)});
    out.messages = {std::move(user)};
    out.prompt.clear();
  }
  return out;
}

namespace {

class FallbackCall : public ChatCall, public std::enable_shared_from_this<FallbackCall> {
 public:
  // Rvalue references, as the results below: a ChatRequest or ChatResponse is moved member by
  // member, so every hop by value costs a move of each of its strings.
  FallbackCall(std::vector<Candidate>&& candidates, ChatRequest&& request, bool stream,
               FallbackHandlers&& handlers)
      : candidates_(std::move(candidates)),
        request_(std::move(request)),
        stream_(stream),
        handlers_(std::move(handlers)) {}

  void start_next() {
    const Candidate& candidate = candidates_[next_];
    outcome_.served = static_cast<int>(next_);
    if (outcome_.attempts.empty()) outcome_.attempts.reserve(candidates_.size());
    outcome_.attempts.push_back(Attempt{.backend = candidate.backend->info().name,
                                        .model = candidate.model});
    // The last candidate takes the request itself: no copy of its messages.
    ChatRequest request = next_ + 1 == candidates_.size()
                              ? adapt_for(std::move(request_), *candidate.backend)
                              : adapt_for(request_, *candidate.backend);
    request.model = candidate.model;
    size_t attempt = next_++;

    ChatHandlers handlers;
    // A call that is not streamed delivers no chunk (ChatHandlers), so none is asked for unless
    // the caller wants them: the wrapper would cost an allocation a call.
    if (stream_ || handlers_.on_chunk) {
      handlers.on_chunk = [weak = weak_from_this(), &candidate](const ChatChunk& chunk) {
        if (auto self = weak.lock()) {
          self->outcome_.delivered = true;
          if (self->handlers_.on_chunk) self->handlers_.on_chunk(candidate, chunk);
        }
      };
    }
    // The completion handler keeps the call alive until the last attempt has finished.
    auto self = shared_from_this();
    handlers.on_complete = [self](Result<ChatResponse>&& result, bool delivered) {
      self->on_attempt_done(std::move(result), delivered);
    };
    auto call = candidate.backend->chat(std::move(request), stream_, std::move(handlers));
    std::lock_guard lock(mutex_);
    if (finished_ > attempt) return;  // it already completed on another thread
    current_ = std::move(call);
    if (cancelled_) current_->cancel();
  }

  void cancel() override {
    std::shared_ptr<ChatCall> current;
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      current = current_;
    }
    if (current) current->cancel();
  }

 private:
  void on_attempt_done(Result<ChatResponse>&& result, bool delivered) {
    outcome_.delivered = outcome_.delivered || delivered;
    if (!result) outcome_.attempts.back().error = result.error();
    bool cancelled;
    {
      std::lock_guard lock(mutex_);
      cancelled = cancelled_;
      current_.reset();
      ++finished_;
    }
    bool try_next = !result && !outcome_.delivered && !cancelled &&
                    result.error().kind != ErrorKind::cancelled &&
                    result.error().fallback_allowed() && next_ < candidates_.size();
    if (try_next) {
      start_next();
      return;
    }
    auto on_complete = std::move(handlers_.on_complete);
    handlers_ = {};
    if (on_complete) on_complete(std::move(result), outcome_);
  }

  std::vector<Candidate> candidates_;
  ChatRequest request_;
  bool stream_;
  FallbackHandlers handlers_;
  size_t next_ = 0;
  FallbackOutcome outcome_;

  std::mutex mutex_;  // guards current_ and cancelled_ (cancel() comes from any thread)
  std::shared_ptr<ChatCall> current_;
  size_t finished_ = 0;  // attempts completed
  bool cancelled_ = false;
};

}  // namespace

std::shared_ptr<ChatCall> run_with_fallback(std::vector<Candidate> candidates, ChatRequest request,
                                            bool stream, FallbackHandlers handlers) {
  auto call = std::make_shared<FallbackCall>(std::move(candidates), std::move(request), stream,
                                             std::move(handlers));
  call->start_next();
  return call;
}

}  // namespace sy::backends
