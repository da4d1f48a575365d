#pragma once
// Google Gemini API (POST {base}/v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse) <-> the shared vocabulary. Private to backends/; the public
// entry point is make_gemini_translator() in translators.h.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "switchyard/backends/translator.h"

namespace sy::backends::gemini {

class GeminiTranslator final : public Translator {
 public:
  std::string_view protocol() const override { return "gemini"; }
  Capabilities capabilities() const override;
  Result<HttpRequest> encode_request(const ChatRequest& request, const Endpoint& endpoint,
                                     bool stream) const override;
  Result<ChatResponse> decode_response(std::string_view body) const override;
  std::unique_ptr<StreamDecoder> make_stream_decoder() const override;
  Error decode_error(int status, const Headers& headers, std::string_view body) const override;
};

// The JSON body of a generateContent request (gemini_request.cpp).
Result<std::string> encode_generate_body(const ChatRequest& request);

// One GenerateContentResponse (a whole answer, or one streamed increment), read into plain
// values (gemini_response.cpp).
struct CandidateView {
  int index = 0;
  std::string text;             // text parts joined; thought summaries left out
  std::vector<ToolCall> calls;  // functionCall parts; id empty unless Gemini gave one
  std::string finish_reason;    // Gemini's enum name, "" while the candidate goes on
};
struct ResponseView {
  std::string id;     // responseId
  std::string model;  // modelVersion
  std::vector<CandidateView> candidates;
  std::optional<Usage> usage;
  std::string block_reason;  // promptFeedback.blockReason: the prompt itself was refused
};
// upstream_error for a body that is not a response; the mapped error for an error body.
Result<ResponseView> read_response(const nlohmann::json& body);

FinishReason finish_reason_from(std::string_view reason, bool has_tool_calls);

// The id a function call gets when Gemini gave none: deterministic, unique per response.
std::string synthetic_call_id(int choice, int call);

// {"error":{"code":..,"message":..,"status":..,"details":[..]}}'s inner object -> Error.
Error error_from_json(const nlohmann::json& error, int status);

// The error for a prompt Gemini refused (promptFeedback.blockReason).
Error blocked_prompt_error(std::string_view reason);

}  // namespace sy::backends::gemini
