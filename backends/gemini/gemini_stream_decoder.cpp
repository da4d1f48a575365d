#include "gemini_stream_decoder.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/vendor_json.h"
#include "gemini_translator.h"

namespace sy::backends::gemini {

Status GeminiStreamDecoder::stop_with(Error error) {
  failed_ = error;
  return std::unexpected(std::move(error));
}

Status GeminiStreamDecoder::feed(std::string_view bytes, std::vector<ChatChunk>& out) {
  if (failed_) return std::unexpected(*failed_);
  std::vector<SseEvent> events;
  bool ok = parser_.feed(bytes, events);
  for (const auto& event : events) {
    if (auto status = on_event(event, out); !status) return status;
  }
  if (!ok) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = "gemini: stream event exceeds the size limit"});
  }
  return {};
}

Status GeminiStreamDecoder::finish(std::vector<ChatChunk>& out) {
  if (failed_) return std::unexpected(*failed_);
  if (finished_) return {};
  bool complete =
      !choices_.empty() && std::all_of(choices_.begin(), choices_.end(),
                                       [](const auto& entry) { return entry.second.finished; });
  if (!complete) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = "gemini: stream ended before a finishReason"});
  }
  finished_ = true;
  if (usage_) {
    ChatChunk chunk;
    chunk.usage = *usage_;
    out.push_back(std::move(chunk));
  }
  return {};
}

Status GeminiStreamDecoder::on_event(const SseEvent& event, std::vector<ChatChunk>& out) {
  try {
    auto data = detail::parse_json(event.data);
    if (!data) {
      return stop_with(Error{.kind = ErrorKind::upstream_error,
                             .message = "gemini: stream event is not valid JSON"});
    }
    auto view = read_response(*data);
    if (!view) return stop_with(view.error());
    if (!view->block_reason.empty() && view->candidates.empty()) {
      return stop_with(blocked_prompt_error(view->block_reason));
    }
    if (model_.empty()) model_ = view->model;
    if (view->usage) usage_ = view->usage;
    for (auto& candidate : view->candidates) on_candidate(candidate, out);
    return {};
  } catch (const std::exception& e) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = std::string("gemini: malformed stream event: ") + e.what()});
  }
}

void GeminiStreamDecoder::on_candidate(CandidateView& candidate, std::vector<ChatChunk>& out) {
  auto [it, fresh] = choices_.try_emplace(candidate.index);
  ChoiceState& state = it->second;
  if (state.finished) return;  // nothing after a candidate's finishReason belongs to it
  if (fresh) {
    ChatChunk role;
    role.choice_index = candidate.index;
    role.role = Role::assistant;
    if (!model_sent_) {
      role.model = model_;
      model_sent_ = true;
    }
    out.push_back(std::move(role));
  }
  if (!candidate.text.empty() || !candidate.calls.empty()) {
    ChatChunk delta;
    delta.choice_index = candidate.index;
    delta.content = std::move(candidate.text);
    // Gemini streams each function call whole, in one part.
    for (auto& call : candidate.calls) {
      int index = state.calls++;
      std::string id = call.id.empty() ? synthetic_call_id(candidate.index, index) : call.id;
      delta.tool_calls.push_back(ToolCallDelta{.index = index,
                                               .id = std::move(id),
                                               .name = std::move(call.name),
                                               .arguments = std::move(call.arguments)});
    }
    out.push_back(std::move(delta));
  }
  if (!candidate.finish_reason.empty()) {
    state.finished = true;
    ChatChunk finish;
    finish.choice_index = candidate.index;
    finish.finish_reason = finish_reason_from(candidate.finish_reason, state.calls > 0);
    out.push_back(std::move(finish));
  }
}

}  // namespace sy::backends::gemini
