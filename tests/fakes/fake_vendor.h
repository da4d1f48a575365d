#pragma once
// A scripted loopback fake of every closed vendor the gateway talks to (OpenAI, Azure OpenAI,
// Anthropic, Gemini). It answers in each vendor's documented wire format (JSON bodies, SSE
// event sequences, error bodies, usage), misbehaves on request and records what it received,
// so a test can prove what did, and did not, leave the perimeter.
//
// Threading: every public method is thread-safe. The server runs on its own threads (one
// acceptor, one per connection); stop() (and the destructor) closes every connection,
// including silent and stalled ones, and joins them, so it never hangs.
//
// Scripts form a FIFO queue: each request to a vendor route consumes the next script; when
// the queue is empty the default script (a normal reply) applies. A request rejected for its
// credentials consumes no script.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::fakes {

enum class Vendor { openai, anthropic, gemini, azure };

std::string_view to_string(Vendor vendor);

struct ToolCallReply {
  std::string name;
  std::string arguments_json = "{}";  // a JSON object, as text
};

// What the fake model answers. `finish` is vendor-neutral ("stop", "length", "tool_calls",
// "content_filter") and mapped to each vendor's own value; any other string is sent verbatim.
// Empty: "tool_calls" when there are tool calls, else "stop".
struct Reply {
  std::string text;
  std::vector<ToolCallReply> tool_calls;
  std::string finish;
  // Usage extras, reported in each vendor's shape: prompt tokens read from / written to the
  // vendor's cache (part of the prompt count) and reasoning tokens (billed as output).
  int cached_tokens = 0;
  int cache_write_tokens = 0;
  int reasoning_tokens = 0;
};

enum class Fault {
  none,                  // answer normally (with `reply` or the default reply)
  status,                // `status` with the vendor's error body (429, 500, 502, 503, 529...)
  unauthorized,          // the vendor's invalid-credentials answer (Gemini: 400 API_KEY_INVALID)
  reset_before_headers,  // read the request, then TCP RST
  reset_after_headers,   // send 200 headers (and `chunks_before` events if streaming), then RST
  silent,                // read the request, never answer, keep the connection open
  slow_first_token,      // wait `delay_ms` before the first content (stream: after headers)
  stream_cut,            // stream `chunks_before` events, then close without a terminator
  stalled_stream,        // stream `chunks_before` events, then nothing; connection kept open
  malformed_chunk,       // stream `chunks_before` events, one broken SSE event, then the rest
  stream_error,          // stream `chunks_before` events, then the vendor's in-stream error
                         // event, then end the stream (not streaming: a 500 error body)
  missing_done,          // a complete stream without its terminator ([DONE] / message_stop)
  context_length,        // 400 "context length exceeded" in the vendor's shape
  content_filter,        // a refusal: finish content_filter / stop_reason refusal / SAFETY
  oversized,             // a normal reply whose text is `bytes` bytes long
};

std::string_view to_string(Fault fault);
std::optional<Fault> fault_from_string(std::string_view name);

struct Script {
  Fault fault = Fault::none;
  int status = 0;                          // Fault::status
  std::optional<std::string> retry_after;  // Retry-After header value, e.g. "2"
  int delay_ms = 0;                        // slow_first_token
  int chunk_delay_ms = 0;                  // pause between streamed events (any streaming reply)
  int chunks_before = 2;                   // events sent before a cut/stall/reset/malformed event
  std::size_t bytes = 0;                   // oversized
  std::optional<Reply> reply;              // overrides the default reply
  // Extra response headers, e.g. {"retry-after-ms", "1500"}; names lower-case.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Parses the control API's JSON: one script object or a list of them, e.g.
// [{"fault":"status","status":429,"retry_after":"1"},{"reply":{"text":"hi"}}].
std::expected<std::vector<Script>, std::string> parse_scripts(std::string_view json);

struct RecordedRequest {
  std::string method;
  std::string target;                          // path and query, as received
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::optional<Vendor> vendor;  // the route it matched, if any
};

// What becomes of one request inside a vendor batch (OpenAI Batch, Anthropic Message Batches).
enum class BatchLineFault {
  none,     // answered as the synchronous endpoint would answer it
  errored,  // a 400 invalid_request_error (OpenAI: error file; Anthropic: result errored)
  expired,  // the window passed first (OpenAI: error batch_expired; Anthropic: expired)
};
// Decides a batch line's fate from its custom_id and its request body (JSON text).
using BatchLineFaultFn =
    std::function<BatchLineFault(const std::string& custom_id, const std::string& body)>;

struct FakeVendorOptions {
  uint16_t port = 0;
  // Expected key per vendor; a vendor without an entry accepts any (or no) key.
  std::map<Vendor, std::string> keys;
  std::size_t body_limit = 16 * 1024 * 1024;
};

class FakeVendor {
 public:
  // Binds 127.0.0.1:port and starts serving; throws std::runtime_error if it cannot bind.
  explicit FakeVendor(FakeVendorOptions options = {});
  ~FakeVendor();
  FakeVendor(const FakeVendor&) = delete;
  FakeVendor& operator=(const FakeVendor&) = delete;

  uint16_t port() const;
  // What the vendor's SDK calls its base URL (OpenAI ".../v1", the others the bare origin).
  std::string base_url(Vendor vendor) const;
  void stop();  // idempotent

  void push_script(Script script);
  void push_scripts(std::vector<Script> scripts);
  void set_default_reply(std::optional<Reply> reply);  // nullopt: the built-in echo
  std::size_t pending_scripts() const;

  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;  // every request but the control API's (unknown routes too)
  std::size_t request_count(Vendor vendor) const;  // requests that matched this vendor's routes
  std::size_t connection_count() const;            // connections accepted
  // Waits until at least `count` requests were recorded; false on timeout.
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  // Forgets scripts, the default reply and recorded requests; counters restart at zero.
  void reset();

  // The batch APIs (fake_batch_api.h): a batch completes `delay` after it was created
  // (default 50 ms); `fault` picks lines that fail or expire; `reply` overrides the default
  // reply of batched lines.
  void set_batch_delay(std::chrono::milliseconds delay);
  // The next `count` batch creates (OpenAI or Anthropic) are never answered: the connection
  // stays open until the client gives up. `made`: the batch is made first (the vendor accepted
  // it and the client never learned its id: the crash window of a submit); else it never is.
  void hold_batch_create_answers(std::size_t count, bool made = true);
  // The next `count` batch creates are answered 500 without making a batch.
  void fail_batch_creates(std::size_t count);
  void set_batch_line_fault(BatchLineFaultFn fault);
  void set_batch_reply(std::optional<Reply> reply);
  std::size_t batch_count(Vendor vendor) const;          // batches created
  std::size_t batched_request_count(Vendor vendor) const;  // lines received in batches

  // The control API's view of requests(), as JSON text.
  std::string requests_json() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sy::fakes
