#pragma once
// The vendors' asynchronous batch APIs, faked: OpenAI's Files + Batch API and Anthropic's
// Message Batches, as their documentation describes them. Private to the fake vendor (which
// owns one, checks credentials and records every request); this class only decides answers.
//
// OpenAI:    POST /v1/files (multipart, purpose=batch) -> file object
//            GET  /v1/files/{id}, GET /v1/files/{id}/content (the JSONL)
//            POST /v1/batches {input_file_id, endpoint, completion_window, metadata}
//                 -> batch object (metadata kept and listed)
//            GET  /v1/batches?limit=&after=: newest first, {data, first_id, last_id, has_more}
//            GET  /v1/batches/{id}: validating -> in_progress -> finalizing -> completed,
//                 then output_file_id (2xx lines) and error_file_id (the rest)
//            POST /v1/batches/{id}/cancel: cancelling -> cancelled
// Anthropic: POST /v1/messages/batches {requests:[{custom_id, params}]} -> message_batch
//            GET  /v1/messages/batches?limit=&after_id=: newest first,
//                 {data, first_id, last_id, has_more}
//            GET  /v1/messages/batches/{id}: processing_status in_progress -> ended,
//                 request_counts, results_url
//            GET  /v1/messages/batches/{id}/results: JSONL, result.type succeeded | errored |
//                 canceled | expired
//            POST /v1/messages/batches/{id}/cancel: canceling -> ended
//
// Time: a batch completes `complete_after` after its creation (a short configurable delay), so
// a test never waits on a vendor clock. Every line is answered as the fake's normal endpoint
// would answer it (vendor_wire.h), unless a fault function says otherwise.
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_vendor.h"
#include "fakes/vendor_wire.h"

namespace sy::fakes {

class FakeBatchApi {
 public:
  // nullopt: not a batch route (the caller answers it as usual).
  std::optional<wire::HttpAnswer> handle(Vendor vendor, std::string_view method,
                                         std::string_view target, std::string_view content_type,
                                         std::string_view host, const std::string& body);
  // Whether `method target` is one of the batch routes, and whose.
  static std::optional<Vendor> route_vendor(std::string_view method, std::string_view target);

  void set_complete_after(std::chrono::milliseconds delay);
  void set_line_fault(BatchLineFaultFn fault);
  void set_reply(std::optional<Reply> reply);
  // The next `count` batch creates are never answered (the caller holds the connection open
  // until the client gives up): made first (`made`, a batch the vendor accepted and the client
  // never heard of) or not at all. take_*_hold() say whether this request is one of them.
  void hold_create_answers(std::size_t count, bool made);
  bool take_hold_before(std::string_view method, std::string_view target);
  bool take_create_hold(std::string_view method, std::string_view target, int status);
  // The next `count` batch creates are answered 500 without making a batch.
  void fail_creates(std::size_t count);
  std::size_t batch_count(Vendor vendor) const;
  // Requests received in batches (every line of every batch), per vendor.
  std::size_t batched_request_count(Vendor vendor) const;
  void reset();

 private:
  struct File {
    std::string id, filename, purpose, content;
    int64_t created_at = 0;
  };
  struct Line {
    std::string custom_id;
    nlohmann::json body;  // OpenAI: the request body; Anthropic: params
  };
  struct Batch {
    Vendor vendor = Vendor::openai;
    std::string id, input_file_id, endpoint;
    uint64_t seq = 0;         // creation order
    nlohmann::json metadata;  // OpenAI: as created (null when none)
    std::vector<Line> lines;
    std::chrono::steady_clock::time_point created;
    int64_t created_at = 0;
    int polls = 0;
    bool cancel = false;
    bool finalizing_seen = false;
    bool ended = false;
    int64_t ended_at = 0;
    std::string output_file_id, error_file_id;  // OpenAI
    std::string results;                        // Anthropic JSONL
    int64_t succeeded = 0, errored = 0, canceled = 0, expired = 0;
  };

  wire::HttpAnswer openai(std::string_view method, std::string_view path, std::string_view query,
                          std::string_view content_type, const std::string& body);
  wire::HttpAnswer anthropic(std::string_view method, std::string_view path, std::string_view query,
                             std::string_view host, const std::string& body);
  // A page of one vendor's batches, newest first (GET /v1/batches, /v1/messages/batches).
  wire::HttpAnswer list(Vendor vendor, std::string_view query, std::string_view host);
  // Answers every line (once the delay passed or on cancel): output/error files or results.
  void finish(Batch& batch);
  nlohmann::json openai_batch_json(const Batch& batch, std::string_view status) const;
  nlohmann::json anthropic_batch_json(const Batch& batch, std::string_view host) const;

  mutable std::mutex mutex_;
  std::chrono::milliseconds complete_after_{50};
  BatchLineFaultFn fault_;
  std::optional<Reply> reply_;
  std::map<std::string, File> files_;
  std::map<std::string, Batch> batches_;
  uint64_t serial_ = 0;
  std::size_t holds_ = 0;
  bool hold_made_ = true;
  std::size_t failures_ = 0;
};

}  // namespace sy::fakes
