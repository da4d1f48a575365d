#pragma once
// Plain HTTP request/response values shared by translators (which build them) and the
// HTTP client (which sends them). No curl or Asio here.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::backends {

// Header names are lower-case; order is kept; a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

// First value of `name` (lower-case), if present.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // absolute: scheme://host[:port]/path?query
  Headers headers;
  std::string body;
};

// Deadlines of one upstream exchange; every one is configurable in milliseconds.
struct HttpTimeouts {
  std::chrono::milliseconds connect{10'000};     // TCP + TLS handshake
  std::chrono::milliseconds first_byte{60'000};  // request sent -> response headers
  std::chrono::milliseconds idle{30'000};        // longest silence while reading the body
  std::chrono::milliseconds total{600'000};      // the whole exchange
};

// Parses Retry-After (delta-seconds or HTTP-date) and retry-after-ms; nullopt if absent/bad.
std::optional<std::chrono::milliseconds> parse_retry_after(const Headers& headers);

}  // namespace sy::backends
