// MaskingBackend: mask the request, restore the answer, delegate everything else.
// See masking_backend.h.

#include "switchyard/policies/transform/masking_backend.h"

#include "switchyard/policies/transform/response_restorer.h"

namespace sy::policies {

namespace {

class MaskingBackend final : public backends::Backend {
 public:
  MaskingBackend(std::shared_ptr<backends::Backend> inner, MaskPlanPtr plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}

  const backends::BackendInfo& info() const override { return inner_->info(); }
  backends::Capabilities capabilities() const override { return inner_->capabilities(); }
  std::optional<int64_t> context_length(std::string_view model) const override {
    return inner_->context_length(model);
  }
  bool available() const override { return inner_->available(); }
  std::optional<int64_t> count_prompt_tokens(const backends::ChatRequest& request) const override {
    return inner_->count_prompt_tokens(plan_->mask(request));
  }

  std::shared_ptr<backends::ChatCall> chat(backends::ChatRequest request, bool stream,
                                           backends::ChatHandlers handlers) override {
    struct State {
      explicit State(MaskPlanPtr plan) : restorer(std::move(plan)) {}
      ResponseRestorer restorer;
      bool sent = false;  // a chunk reached the caller
    };
    auto state = std::make_shared<State>(plan_);
    backends::ChatHandlers wrapped;
    auto on_chunk = std::move(handlers.on_chunk);
    if (on_chunk) {
      wrapped.on_chunk = [state, on_chunk](const backends::ChatChunk& chunk) {
        backends::ChatChunk restored = chunk;
        if (!state->restorer.restore(restored)) return;  // held back: nothing to show yet
        state->sent = true;
        on_chunk(restored);
      };
    }
    wrapped.on_complete = [state, on_chunk, on_complete = std::move(handlers.on_complete)](
                              backends::Result<backends::ChatResponse> result, bool delivered) {
      // A stream that ended without closing its fields: what was held is the model's output.
      // Not after a failure before anything was shown: that attempt may still fall back.
      if (on_chunk && (result || state->sent)) {
        for (backends::ChatChunk& tail : state->restorer.flush()) {
          state->sent = true;
          on_chunk(tail);
        }
      }
      if (result) state->restorer.restore(*result);
      // `delivered` means "reached the caller": chunks held back entirely did not.
      (void)delivered;
      if (on_complete) on_complete(std::move(result), state->sent);
    };
    return inner_->chat(plan_->mask(std::move(request)), stream, std::move(wrapped));
  }

 private:
  std::shared_ptr<backends::Backend> inner_;
  MaskPlanPtr plan_;
};

}  // namespace

std::shared_ptr<backends::Backend> make_masking_backend(std::shared_ptr<backends::Backend> inner,
                                                        MaskPlanPtr plan) {
  if (!plan || plan->empty()) return inner;
  return std::make_shared<MaskingBackend>(std::move(inner), std::move(plan));
}

}  // namespace sy::policies
