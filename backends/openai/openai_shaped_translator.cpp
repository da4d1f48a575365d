#include "openai_shaped_translator.h"

#include <cctype>
#include <string_view>
#include <utility>

#include "json_support.h"
#include "switchyard/backends/openai_json.h"
#include "switchyard/backends/sse.h"

namespace sy::backends::openai {
namespace {

// Percent-encodes a URL path segment: a model (deployment) name must not add path segments
// or a query to the URL.
std::string escape_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string_view trim_slash(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return base;
}

class OpenAiStreamDecoder final : public StreamDecoder {
 public:
  Status feed(std::string_view bytes, std::vector<ChatChunk>& out) override {
    if (failed_) return std::unexpected(*failed_);
    if (done_) return {};  // whatever follows [DONE] is not part of the answer
    events_.clear();
    if (!parser_.feed(bytes, events_))
      return fail_with(upstream("upstream stream event too large"));
    for (auto& event : events_) {
      if (event.data == "[DONE]") {
        done_ = true;
        return {};
      }
      auto chunks = parse_chunk(event.data);
      if (!chunks) return fail_with(chunks.error());
      for (auto& c : *chunks) out.push_back(std::move(c));
    }
    return {};
  }

  Status finish(std::vector<ChatChunk>& out) override {
    if (failed_) return std::unexpected(*failed_);
    if (done_) return {};
    // A last event without its blank line still counts if it is the terminator.
    if (parser_.has_partial()) {
      if (auto s = feed("\n\n", out); !s) return s;
      if (done_) return {};
    }
    return fail_with(upstream("stream ended without [DONE]").error());
  }

 private:
  static std::unexpected<Error> upstream(std::string message) {
    return detail::upstream(std::move(message));
  }
  std::unexpected<Error> fail_with(Error error) {
    failed_ = error;
    return std::unexpected(std::move(error));
  }
  std::unexpected<Error> fail_with(std::unexpected<Error> error) {
    return fail_with(std::move(error).error());
  }

  SseParser parser_;
  std::vector<SseEvent> events_;
  bool done_ = false;
  std::optional<Error> failed_;
};

class OpenAiShapedTranslator final : public Translator {
 public:
  explicit OpenAiShapedTranslator(OpenAiShape shape) : shape_(std::move(shape)) {}

  std::string_view protocol() const override { return shape_.protocol; }
  Capabilities capabilities() const override { return shape_.capabilities; }

  Result<HttpRequest> encode_request(const ChatRequest& request, const Endpoint& endpoint,
                                     bool stream) const override {
    if (endpoint.base_url.empty()) {
      return fail(ErrorKind::internal, shape_.protocol + " endpoint has no base_url");
    }
    const bool legacy = request.surface == ApiSurface::completions;
    if (legacy && !shape_.capabilities.completions_api) {
      return fail(ErrorKind::invalid_request,
                  shape_.protocol + " does not support the legacy completions API");
    }
    HttpRequest http;
    const std::string_view base = trim_slash(endpoint.base_url);
    const std::string_view path = legacy ? "/completions" : "/chat/completions";
    if (shape_.url == OpenAiShape::Url::azure) {
      if (request.model.empty()) {
        return fail(ErrorKind::invalid_request, "azure needs a deployment name as the model");
      }
      const std::string& version =
          endpoint.api_version.empty() ? shape_.default_api_version : endpoint.api_version;
      http.url.append(base).append("/openai/deployments/").append(escape_segment(request.model));
      http.url.append(path).append("?api-version=").append(escape_segment(version));
    } else {
      // One allocation: a concatenation would copy the base and then grow it.
      http.url.reserve(base.size() + path.size());
      http.url.append(base).append(path);
    }
    // Room for every header below: no regrowth of the vector.
    http.headers.reserve(3 + endpoint.headers.size());
    http.headers.emplace_back("content-type", "application/json");
    if (stream) http.headers.emplace_back("accept", "text/event-stream");
    if (!endpoint.api_key.empty()) {
      if (shape_.auth == OpenAiShape::Auth::api_key) {
        http.headers.emplace_back("api-key", endpoint.api_key);
      } else {
        http.headers.emplace_back("authorization", "Bearer " + endpoint.api_key);
      }
    }
    for (const auto& header : endpoint.headers) http.headers.push_back(header);
    http.body = detail::encode_request_body(request, stream, shape_.model_in_body);
    return http;
  }

  Result<ChatResponse> decode_response(std::string_view body) const override {
    return parse_chat_response(body);
  }

  std::unique_ptr<StreamDecoder> make_stream_decoder() const override {
    return make_openai_stream_decoder();
  }

  Error decode_error(int status, const Headers& headers, std::string_view body) const override {
    Error error = parse_error(status, body);
    error.retry_after = parse_retry_after(headers);
    error.backend = shape_.protocol;
    return error;
  }

 private:
  OpenAiShape shape_;
};

}  // namespace

std::unique_ptr<Translator> make_openai_shaped_translator(OpenAiShape shape) {
  return std::make_unique<OpenAiShapedTranslator>(std::move(shape));
}

std::unique_ptr<StreamDecoder> make_openai_stream_decoder() {
  return std::make_unique<OpenAiStreamDecoder>();
}

}  // namespace sy::backends::openai
