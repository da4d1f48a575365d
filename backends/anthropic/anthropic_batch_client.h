#pragma once
// Anthropic's Message Batches API (see switchyard/backends/vendor_batch.h): one
// POST /v1/messages/batches with every request's Messages params, polled until
// processing_status is ended, results read as JSONL from the batch's results_url (which must
// be on the configured base URL's origin: no answer may point us elsewhere).

#include <memory>

#include "switchyard/backends/vendor_batch.h"

namespace sy::backends::anthropic {

std::unique_ptr<VendorBatchClient> make_anthropic_batch_client(HttpClient& client,
                                                               VendorBatchClientOptions options);

}  // namespace sy::backends::anthropic
