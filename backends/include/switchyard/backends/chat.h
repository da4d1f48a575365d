#pragma once
// The vocabulary every layer speaks: one ChatRequest in, ChatChunks or one ChatResponse out.
// It is shaped after OpenAI's chat completions (the lingua franca of the vendors); each
// translator maps it to and from its own wire format. JSON stays at the edges: values that
// are JSON by nature (tool parameter schemas, passthrough fields) are kept as raw JSON text.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sy::backends {

// A JSON member kept verbatim: `value_json` is serialized JSON (e.g. "\"x\"", "{...}", "3").
struct JsonField {
  std::string key;
  std::string value_json;
};
using JsonFields = std::vector<JsonField>;

enum class Role { system, developer, user, assistant, tool };

struct ContentPart {
  enum class Kind {
    text,       // `text`
    image_url,  // `url` (http(s) or data: URL) + optional `detail`
    other,      // any other part type (input_audio, file, ...): `raw_json` is the whole part
  };
  Kind kind = Kind::text;
  std::string text;
  std::string url;
  std::string detail;
  std::string raw_json;
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as the model produced it (may be invalid JSON)
};

struct Message {
  Role role = Role::user;
  // A message whose content was a plain string has one text part and content_is_text=true,
  // so that it is re-encoded as a string for vendors that care.
  std::vector<ContentPart> content;
  bool content_is_text = true;
  bool content_is_null = false;  // assistant message with tool_calls and `content: null`
  std::string name;              // optional participant name
  std::vector<ToolCall> tool_calls;  // assistant only
  std::string tool_call_id;          // tool only
  std::string refusal;               // assistant only
  JsonFields extra;                  // unknown message members (e.g. vendor extensions)

  // All text parts joined (no separator); convenient for vendors that take one string.
  std::string text() const;
};

struct Tool {
  std::string name;
  std::string description;
  std::string parameters_json;  // JSON Schema text; empty = no parameters given
  std::optional<bool> strict;
};

struct ToolChoice {
  enum class Mode { unset, none, auto_, required, function };
  Mode mode = Mode::unset;
  std::string function_name;  // Mode::function
};

struct ResponseFormat {
  enum class Type { unset, text, json_object, json_schema };
  Type type = Type::unset;
  std::string schema_name;
  std::string schema_json;  // JSON Schema text (json_schema)
  std::optional<bool> strict;
  std::string description;
};

// Which client API the request came through; translators may need to know (e.g. legacy
// completions are sent as such to a vendor that has them, otherwise as a one-message chat).
enum class ApiSurface { chat_completions, completions, messages };

// The client's request exactly as it arrived, in its own wire format. A backend whose protocol is
// `protocol` (Capabilities::native_protocol) forwards `body` unchanged but for the model name,
// so that what the vocabulary cannot express (Anthropic's signed thinking blocks, cache_control,
// beta features) survives; every other backend is sent the parsed ChatRequest. Anything that
// changes the request after parsing (a transform such as PII masking) must reset
// ChatRequest::native, or the change would not reach the vendor.
struct NativeRequest {
  std::string protocol;  // "anthropic"
  std::string body;      // the client's JSON body, byte for byte
  // The client's protocol headers to forward (e.g. anthropic-version, anthropic-beta).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ChatRequest {
  ApiSurface surface = ApiSurface::chat_completions;
  std::string model;  // as the client named it (an alias until routing resolves it)
  std::vector<Message> messages;
  std::string prompt;  // ApiSurface::completions: the legacy prompt (a single string)

  std::vector<Tool> tools;
  ToolChoice tool_choice;
  std::optional<bool> parallel_tool_calls;
  ResponseFormat response_format;

  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens
  bool max_tokens_is_completion = false;  // the client used `max_completion_tokens`
  std::vector<std::string> stop;
  std::optional<int64_t> seed;
  std::optional<int> n;
  std::optional<bool> logprobs;
  std::optional<int> top_logprobs;
  std::string user;
  std::vector<std::pair<std::string, std::string>> metadata;

  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage

  // The gateway's volume class (policies' VolumeClassifier): bulk work yields to interactive
  // work on backends that schedule requests themselves (the local engine). Never sent upstream.
  bool bulk = false;

  // Top-level members this vocabulary does not know; passed through to OpenAI-shaped vendors
  // (surface chat_completions) or to Anthropic (surface messages, see fallback.h adapt_for).
  JsonFields extra;

  // Set by a surface that can be forwarded verbatim (see NativeRequest); shared, immutable.
  std::shared_ptr<const NativeRequest> native;
};

enum class FinishReason { none, stop, length, tool_calls, content_filter, error };
std::string_view to_string(FinishReason reason);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;       // prompt tokens read from the vendor's cache
  int64_t cache_write_tokens = 0;  // prompt tokens written to the vendor's cache (Anthropic)
  int64_t reasoning_tokens = 0;    // part of completion_tokens
  int64_t total() const { return prompt_tokens + completion_tokens; }
  bool operator==(const Usage&) const = default;
};

// One streamed increment, in OpenAI's terms (one choice's delta). A translator emits the
// role first, then content/tool-call fragments, then one chunk with finish_reason; usage
// arrives in its own chunk (usage set, no delta) when the vendor reports it.
struct ToolCallDelta {
  int index = 0;
  std::string id;         // set on the first fragment of a call
  std::string name;       // set on the first fragment of a call
  std::string arguments;  // fragment of the arguments JSON text
};

// One generated token's log-probability and, when asked, the most likely alternatives at its
// position (OpenAI's choices[].logprobs.content[]). `token` is the token's text; its bytes may
// be part of a UTF-8 character.
struct TokenLogprob {
  std::string token;
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // (token, logprob), most likely first
  bool operator==(const TokenLogprob&) const = default;
};

struct ChatChunk {
  int choice_index = 0;
  std::optional<Role> role;
  std::string content;  // text fragment
  std::string refusal;  // refusal fragment
  std::vector<ToolCallDelta> tool_calls;
  FinishReason finish_reason = FinishReason::none;
  std::optional<Usage> usage;
  std::string model;  // the upstream's model name, when it says
  std::vector<TokenLogprob> logprobs;  // of the tokens this chunk carries, when asked
  // A native call (NativeRequest forwarded verbatim): the vendor's raw stream bytes that this
  // chunk completes, whole events only, in order. Concatenated over a call's chunks they are
  // the vendor's stream up to the last event delivered. Empty otherwise.
  std::string native;

  // True if the chunk carries anything a client would see as output.
  bool has_content() const {
    return !content.empty() || !refusal.empty() || !tool_calls.empty();
  }
};

struct Choice {
  int index = 0;
  Message message;  // role assistant
  FinishReason finish_reason = FinishReason::stop;
  std::vector<TokenLogprob> logprobs;  // when asked (local backend)
};

struct ChatResponse {
  std::string id;     // the upstream's id if it has one
  std::string model;  // the upstream's model name
  int64_t created = 0;
  std::vector<Choice> choices;
  Usage usage;
  std::string system_fingerprint;
  // A native non-streaming call: the vendor's response body, byte for byte. Empty otherwise.
  std::string native_body;
};

// Folds a stream of chunks into the response a non-streaming call would have returned.
class ChatAccumulator {
 public:
  void add(const ChatChunk& chunk);
  ChatResponse finish() &&;
  const Usage& usage() const { return response_.usage; }
  bool saw_usage() const { return saw_usage_; }

 private:
  Choice& choice(int index);
  ChatResponse response_;
  bool saw_usage_ = false;
};

std::string_view to_string(Role role);

}  // namespace sy::backends
