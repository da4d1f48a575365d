#pragma once
// A translator maps the shared vocabulary to one vendor wire protocol and back. It is pure:
// no I/O, no clock, no globals; the same input gives the same bytes. One implementation per
// protocol folder (openai/, anthropic/, gemini/, azure/, openai_compat/); HttpBackend does
// the rest (transport, retries, breaker) once for all of them.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"

namespace sy::backends {

// Where and how to reach one vendor deployment. `api_key` is a secret: never logged.
struct Endpoint {
  std::string base_url;     // e.g. "https://api.openai.com/v1", "http://127.0.0.1:PORT/v1"
  std::string api_key;
  std::string api_version;  // Azure `api-version`; Anthropic `anthropic-version` override
  Headers headers;          // extra static headers from the config
};

// What a protocol can express; the gateway turns a request that needs more into a clear 400.
struct Capabilities {
  bool multiple_choices = false;    // n > 1
  bool completions_api = false;     // has legacy /completions (else sent as a one-message chat)
  bool passthrough_fields = false;  // unknown top-level fields are forwarded verbatim
  // The client wire format this backend forwards verbatim (NativeRequest::protocol), e.g.
  // "anthropic"; empty = none. Such a backend answers a native request natively too
  // (ChatChunk::native, ChatResponse::native_body).
  std::string_view native_protocol;
};

// Decodes one streamed response body. Bytes arrive in arbitrary splits.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Appends the chunks completed by `bytes`. An error means the stream is malformed or the
  // vendor sent an error event; decoding stops there.
  virtual Status feed(std::string_view bytes, std::vector<ChatChunk>& out) = 0;
  // The body ended. An error if the stream was cut before its terminator
  // (`data: [DONE]`, `message_stop`, Gemini's final candidate with finishReason).
  virtual Status finish(std::vector<ChatChunk>& out) = 0;
};

class Translator {
 public:
  virtual ~Translator() = default;
  virtual std::string_view protocol() const = 0;
  virtual Capabilities capabilities() const = 0;

  // `request.model` is the upstream model name (aliases are resolved before this). When
  // `stream` is true the upstream is asked to stream and, where the protocol needs it, to
  // include usage (e.g. OpenAI's stream_options.include_usage) whatever the client asked.
  virtual Result<HttpRequest> encode_request(const ChatRequest& request, const Endpoint& endpoint,
                                             bool stream) const = 0;
  // The client's own request (native.protocol == capabilities().native_protocol) -> the upstream
  // request: `native.body` unchanged but for its top-level "model" value, set to `model`.
  // Answers are decoded as for encode_request. Translators without a native protocol refuse.
  virtual Result<HttpRequest> encode_native(const NativeRequest& native, std::string_view model,
                                            const Endpoint& endpoint, bool stream) const {
    (void)native, (void)model, (void)endpoint, (void)stream;
    return fail(ErrorKind::internal, std::string(protocol()) + ": no native request format");
  }
  // A 2xx non-streaming body -> the response. Malformed bodies are upstream_error.
  virtual Result<ChatResponse> decode_response(std::string_view body) const = 0;
  virtual std::unique_ptr<StreamDecoder> make_stream_decoder() const = 0;
  // A non-2xx answer -> the error it means (kind, message, retry_after from headers, ...).
  virtual Error decode_error(int status, const Headers& headers, std::string_view body) const = 0;
};

// The protocol registry: "openai", "openai_compat", "azure", "anthropic", "gemini".
// not_found for an unknown protocol.
Result<std::unique_ptr<Translator>> make_translator(std::string_view protocol);
std::vector<std::string> known_protocols();

}  // namespace sy::backends
