#pragma once
// What the OpenAI and Anthropic batch clients share: the blocking vendor call that turns a
// non-2xx answer into the translator's error, JSONL splitting and the same-origin check on a
// URL the vendor hands back.

#include <string>
#include <string_view>
#include <vector>

#include "common/blocking_fetch.h"
#include "switchyard/backends/translator.h"
#include "switchyard/backends/vendor_batch.h"

namespace sy::backends::vendor_batch {

// The body of a 2xx answer; otherwise the vendor's error as `translator` decodes it.
Result<std::string> call(HttpClient& client, const Translator& translator,
                         const VendorBatchClientOptions& options, HttpRequest request);

// The non-empty lines of a JSONL text.
std::vector<std::string_view> jsonl_lines(std::string_view text);

// scheme://host[:port] of `url` ("" when it has none).
std::string origin_of(std::string_view url);

}  // namespace sy::backends::vendor_batch
