#pragma once
// A closed vendor's asynchronous batch API: many chat requests submitted at once, answered
// within the vendor's window (24 h) at its batch price. Two protocols have one:
//   openai    — OpenAI Batch: the requests as a JSONL file (POST /files, purpose batch), then
//               POST /batches; results in the batch's output and error files.
//   anthropic — Anthropic Message Batches: POST /v1/messages/batches {requests}; results as
//               JSONL at the batch's results_url.
// Requests are encoded with the protocol's own Translator (the same bytes a synchronous call
// would send, unstreamed) and answers decoded with it, so a batched answer reads exactly like a
// synchronous one.
//
// Threading: the calls block until the vendor answers (bounded by the timeouts) and must never
// run on the HttpClient's event loop: call them from a worker thread. One client may be used
// from several threads. `stop` (when set) is polled while waiting; true cancels the call
// (ErrorKind::cancelled).

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/http_client.h"
#include "switchyard/backends/translator.h"

namespace sy::backends {

struct VendorBatchItem {
  // Unique in the batch; 1-64 characters of [A-Za-z0-9_-] (Anthropic's rule, the stricter).
  std::string custom_id;
  ChatRequest request;  // request.model is the upstream model; never streamed
};

enum class VendorBatchState {
  in_progress,  // submitted, not ended (validating, in_progress, finalizing, cancelling)
  ended,        // results can be fetched (completed, cancelled, expired, ended)
  failed,       // the vendor refused the whole batch; no results (OpenAI `failed`)
};

struct VendorBatchStatus {
  VendorBatchState state = VendorBatchState::in_progress;
  std::string vendor_status;  // the vendor's own word, for logs ("finalizing", "ended", ...)
  std::string detail;         // why it failed, when it did (the vendor's message)
};

// One request's answer. Exactly one per custom_id the vendor reported on.
struct VendorBatchResult {
  std::string custom_id;
  // The decoded answer, or the request's own error: the vendor's error (kind from its status),
  // or upstream_timeout for a request the window expired before, cancelled for one a cancel
  // stopped.
  Result<ChatResponse> response;
};

// A submit whose answer never came back (the gateway died, or the call timed out after the
// vendor may have accepted it): what find_submitted() looks for.
struct VendorBatchSearch {
  std::string tag;                      // what submit() was given
  std::vector<std::string> custom_ids;  // the items' custom_ids
  int64_t since_unix_s = 0;             // no earlier than this (the caller allows for skew)
  std::set<std::string> known_ids;      // vendor batches the caller already accounts for
};

enum class VendorBatchMatch {
  found,      // `batch_id` is that submit: poll it, never submit again
  absent,     // the vendor has no such batch: submitting is safe
  undecided,  // a batch that may be it cannot be told apart yet: ask again later
};

struct VendorBatchFound {
  VendorBatchMatch match = VendorBatchMatch::absent;
  std::string batch_id;  // found only
};

class VendorBatchClient {
 public:
  virtual ~VendorBatchClient() = default;
  virtual std::string_view protocol() const = 0;
  // Submits every item as one vendor batch; the vendor's batch id. `tag` ([A-Za-z0-9_-], at
  // most 64 characters; "" = none) is left where the vendor keeps it, for find_submitted():
  // OpenAI stores it as the batch's metadata and in its input file's name; Anthropic's
  // Message Batches have no such field (find_submitted matches by custom_ids instead).
  virtual Result<std::string> submit(const std::vector<VendorBatchItem>& items,
                                     const std::string& tag) = 0;
  // Whether the vendor holds a batch of `search` (listing the vendor's batches created since
  // `since_unix_s`). An error means nothing can be concluded: ask again later.
  virtual Result<VendorBatchFound> find_submitted(const VendorBatchSearch& search) = 0;
  virtual Result<VendorBatchStatus> poll(const std::string& batch_id) = 0;
  // Only once poll() said ended. Lines the vendor did not report on are absent.
  virtual Result<std::vector<VendorBatchResult>> results(const std::string& batch_id) = 0;
  // Asks the vendor to stop; requests already answered keep their results.
  virtual Status cancel(const std::string& batch_id) = 0;
};

struct VendorBatchClientOptions {
  Endpoint endpoint;      // the backend's: base_url, api_key, api_version, headers
  HttpTimeouts timeouts;  // per vendor call (an upload of a large file included)
  std::function<bool()> stop;
};

// "openai" or "anthropic"; not_found for a protocol without a batch API. `client` must
// outlive the returned object.
Result<std::unique_ptr<VendorBatchClient>> make_vendor_batch_client(
    std::string_view protocol, HttpClient& client, VendorBatchClientOptions options);

// Whether `protocol` has a vendor batch API this build speaks.
bool has_vendor_batch_api(std::string_view protocol);

}  // namespace sy::backends
