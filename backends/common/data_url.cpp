#include "data_url.h"

#include <algorithm>
#include <cctype>

namespace sy::backends::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_base64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
         c == '-' || c == '_';
}

}  // namespace

std::optional<DataUrl> parse_base64_data_url(std::string_view url) {
  if (lower(url.substr(0, 5)) != "data:") return std::nullopt;
  url.remove_prefix(5);
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view header = url.substr(0, comma);
  std::string_view payload = url.substr(comma + 1);
  // The header is "<type>;param=...;base64"; only base64 payloads can be forwarded as such.
  size_t semi = header.rfind(';');
  if (semi == std::string_view::npos || lower(header.substr(semi + 1)) != "base64") {
    return std::nullopt;
  }
  std::string_view type = header.substr(0, header.find(';'));
  if (payload.empty() || !std::all_of(payload.begin(), payload.end(), is_base64_char)) {
    return std::nullopt;
  }
  return DataUrl{.media_type = type.empty() ? "text/plain" : lower(type),
                 .data = std::string(payload)};
}

bool is_http_url(std::string_view url) {
  std::string head = lower(url.substr(0, 8));
  return head.starts_with("http://") || head.starts_with("https://");
}

std::string guess_media_type(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  size_t dot = url.rfind('.');
  if (dot == std::string_view::npos || url.find('/', dot) != std::string_view::npos) return "";
  std::string ext = lower(url.substr(dot + 1));
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "heic") return "image/heic";
  if (ext == "pdf") return "application/pdf";
  return "";
}

}  // namespace sy::backends::detail
