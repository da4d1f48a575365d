#pragma once
// Splitting `data:` URLs (RFC 2397) for vendors that take inline media as a MIME type plus
// base64 payload (Anthropic's base64 image source, Gemini's inlineData). Private to backends/.

#include <optional>
#include <string>
#include <string_view>

namespace sy::backends::detail {

struct DataUrl {
  std::string media_type;  // e.g. "image/png"; "text/plain" when the URL names none
  std::string data;        // the base64 payload, verbatim
};

// nullopt unless `url` is a base64 `data:` URL ("data:<type>[;params];base64,<payload>").
std::optional<DataUrl> parse_base64_data_url(std::string_view url);

bool is_http_url(std::string_view url);

// A MIME type guessed from the URL path's extension (images and PDF); "" when unknown.
std::string guess_media_type(std::string_view url);

}  // namespace sy::backends::detail
