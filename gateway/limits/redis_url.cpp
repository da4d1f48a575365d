#include "limits/redis_url.h"

#include <charconv>

namespace sy::gateway {

std::expected<RedisAddress, std::string> parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  const auto bad = [](std::string what) { return std::unexpected(std::move(what)); };
  if (!url.starts_with(kScheme)) {
    return bad("must be redis://[:password@]host[:port][/db] (rediss:// is not supported)");
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress out;
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return bad("credentials must be [user]:password@");
    out.user = std::string(userinfo.substr(0, colon));
    out.password = std::string(userinfo.substr(colon + 1));
  }
  std::string_view db_text;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    db_text = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("IPv6 host must be in brackets");
    out.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad("expected :port after the host");
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (out.host.empty()) return bad("has no host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '?' || c == '#') {
      return bad("host is malformed");
    }
  }
  if (!port_text.empty() || rest.ends_with(':')) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      return bad("port must be an integer from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(port);
  }
  if (!db_text.empty()) {
    auto [end, ec] = std::from_chars(db_text.data(), db_text.data() + db_text.size(), out.db);
    if (ec != std::errc() || end != db_text.data() + db_text.size() || out.db < 0 ||
        out.db > 1'000'000) {
      return bad("database must be a non-negative integer (redis://host:port/0)");
    }
  }
  return out;
}

}  // namespace sy::gateway
