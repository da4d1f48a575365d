#include "common/vendor_batch_support.h"

namespace sy::backends::vendor_batch {

Result<std::string> call(HttpClient& client, const Translator& translator,
                         const VendorBatchClientOptions& options, HttpRequest request) {
  auto response = blocking_fetch(client, std::move(request), options.timeouts, options.stop);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(
        translator.decode_error(response->status, response->headers, response->body));
  }
  return std::move(response->body);
}

std::vector<std::string_view> jsonl_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.empty()) out.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

std::string origin_of(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  const auto path = url.find('/', scheme + 3);
  return std::string(url.substr(0, path));
}

}  // namespace sy::backends::vendor_batch
