#include "switchyard/backends/vendor_batch.h"

#include "anthropic/anthropic_batch_client.h"
#include "openai/openai_batch_client.h"

namespace sy::backends {

bool has_vendor_batch_api(std::string_view protocol) {
  return protocol == "openai" || protocol == "anthropic";
}

Result<std::unique_ptr<VendorBatchClient>> make_vendor_batch_client(
    std::string_view protocol, HttpClient& client, VendorBatchClientOptions options) {
  if (protocol == "openai") return openai::make_openai_batch_client(client, std::move(options));
  if (protocol == "anthropic") {
    return anthropic::make_anthropic_batch_client(client, std::move(options));
  }
  return fail(ErrorKind::not_found,
              "protocol '" + std::string(protocol).substr(0, 40) + "' has no vendor batch API");
}

}  // namespace sy::backends
