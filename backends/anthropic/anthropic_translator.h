#pragma once
// Anthropic Messages API (POST {base}/v1/messages) <-> the shared vocabulary. Private to
// backends/; the public entry point is make_anthropic_translator() in translators.h.

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "switchyard/backends/translator.h"

namespace sy::backends::anthropic {

// Used when the client gave no max_tokens: Anthropic requires one and this is the value its
// own documentation examples use for ordinary chat turns.
inline constexpr int64_t kDefaultMaxTokens = 4096;
inline constexpr std::string_view kDefaultVersion = "2023-06-01";

class AnthropicTranslator final : public Translator {
 public:
  std::string_view protocol() const override { return "anthropic"; }
  Capabilities capabilities() const override;
  Result<HttpRequest> encode_request(const ChatRequest& request, const Endpoint& endpoint,
                                     bool stream) const override;
  // A Messages request from the gateway's Anthropic surface, forwarded with only `model`
  // replaced; the client's anthropic-version and anthropic-beta headers win over the config's.
  Result<HttpRequest> encode_native(const NativeRequest& native, std::string_view model,
                                    const Endpoint& endpoint, bool stream) const override;
  Result<ChatResponse> decode_response(std::string_view body) const override;
  std::unique_ptr<StreamDecoder> make_stream_decoder() const override;
  Error decode_error(int status, const Headers& headers, std::string_view body) const override;
};

// The JSON body of a Messages request (anthropic_request.cpp).
Result<std::string> encode_messages_body(const ChatRequest& request, bool stream);

// {"type":"error","error":{"type":T,"message":M}}'s inner object -> Error. `status` is the
// HTTP status (0 for an error event inside a 200 stream).
Error error_from_json(const nlohmann::json& error, int status);

FinishReason finish_reason_from(std::string_view stop_reason);

}  // namespace sy::backends::anthropic
