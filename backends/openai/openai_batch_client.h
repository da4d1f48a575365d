#pragma once
// OpenAI's Batch API (see switchyard/backends/vendor_batch.h): the chat requests as one JSONL
// file uploaded with purpose "batch", one batch over it for /v1/chat/completions with the 24 h
// window, polled by id; results from its output file (2xx answers) and error file (the rest).

#include <memory>

#include "switchyard/backends/vendor_batch.h"

namespace sy::backends::openai {

std::unique_ptr<VendorBatchClient> make_openai_batch_client(HttpClient& client,
                                                            VendorBatchClientOptions options);

}  // namespace sy::backends::openai
