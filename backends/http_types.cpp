#include "switchyard/backends/http_types.h"

#include <charconv>
#include <ctime>

namespace sy::backends {

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

namespace {

std::optional<double> parse_number(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(const Headers& headers) {
  constexpr double kMaxMs = 24.0 * 3600 * 1000;
  if (auto ms = find_header(headers, "retry-after-ms")) {
    if (auto v = parse_number(*ms); v && *v <= kMaxMs) {
      return std::chrono::milliseconds(static_cast<int64_t>(*v));
    }
  }
  auto value = find_header(headers, "retry-after");
  if (!value) return std::nullopt;
  if (auto v = parse_number(*value); v && *v * 1000 <= kMaxMs) {
    return std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  std::string text(*value);
  if (strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  std::time_t when = timegm(&tm);
  std::time_t now = std::time(nullptr);
  if (when <= now) return std::chrono::milliseconds(0);
  if ((when - now) * 1000.0 > kMaxMs) return std::nullopt;
  return std::chrono::milliseconds((when - now) * 1000);
}

}  // namespace sy::backends
