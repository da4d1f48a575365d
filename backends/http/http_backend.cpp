#include "switchyard/backends/http_backend.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <stdexcept>
#include <vector>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "circuit_breaker.h"
#include "http_client_strands.h"

namespace sy::backends {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Error bodies are read whole for decode_error, but never more than this.
constexpr size_t kMaxErrorBody = 64 * 1024;

// The end of the last complete SSE event in `bytes` (just past its blank line), scanning from
// `from`, which must be such an end (or 0); `from` if there is none after it. Line ends are
// \n, \r\n or \r, as text/event-stream allows.
size_t complete_events_end(std::string_view bytes, size_t from) {
  size_t end = from;
  bool line_empty = true;
  for (size_t i = from; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      line_empty = false;
      continue;
    }
    if (c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    if (line_empty) end = i + 1;
    line_empty = true;
  }
  return end;
}

class HttpChatCall;

class HttpBackendImpl final : public Backend,
                              public std::enable_shared_from_this<HttpBackendImpl> {
 public:
  HttpBackendImpl(std::vector<asio::io_context*> contexts, HttpClient& client,
                  std::unique_ptr<Translator> translator, HttpBackendOptions options)
      : contexts_(std::move(contexts)),
        client_(client),
        translator_(std::move(translator)),
        options_(std::move(options)),
        breaker_(options_.breaker),
        rng_(std::random_device{}()) {}

  const BackendInfo& info() const override { return options_.info; }
  Capabilities capabilities() const override { return translator_->capabilities(); }
  bool available() const override { return breaker_.admits(Clock::now()); }
  std::optional<CircuitState> circuit_state() const override {
    switch (breaker_.state()) {
      case http::CircuitBreaker::State::closed:
        return CircuitState::closed;
      case http::CircuitBreaker::State::open:
        return CircuitState::open;
      case http::CircuitBreaker::State::half_open:
        return CircuitState::half_open;
    }
    return std::nullopt;
  }
  std::shared_ptr<ChatCall> chat(ChatRequest request, bool stream,
                                 ChatHandlers handlers) override;

  // Full jitter: a uniform wait in [0, cap], the cap doubling per attempt from the initial
  // backoff up to the maximum, so that many clients retrying at once spread out.
  std::chrono::milliseconds backoff(int attempt) {
    const auto& retry = options_.retry;
    int64_t cap = std::max<int64_t>(retry.initial_backoff.count(), 0);
    for (int i = 1; i < attempt && cap < retry.max_backoff.count(); ++i) cap *= 2;
    cap = std::min<int64_t>(cap, retry.max_backoff.count());
    if (cap <= 0) return std::chrono::milliseconds(0);
    std::lock_guard lock(rng_mutex_);
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng_));
  }

  // One per event-loop thread; a call runs on its caller's (see caller_context).
  const std::vector<asio::io_context*> contexts_;
  HttpClient& client_;
  std::unique_ptr<Translator> translator_;
  HttpBackendOptions options_;
  http::CircuitBreaker breaker_;
  std::atomic<int> in_flight_{0};
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
};

// The strand a call made on this thread runs on: the HTTP client's own strand for this
// context when one strand runs all its calls to the backend's URL (the built-in HTTP/1.1
// client), so that its head, body and completion events reach the call without a strand hop
// each; a strand of the call's own otherwise. Either way on the caller's context: the call,
// its upstream leg and the caller's connection all stay on one thread.
asio::strand<asio::io_context::executor_type> call_strand(const HttpBackendImpl& backend) {
  asio::io_context& context = caller_context(backend.contexts_);
  if (auto shared = HttpClientStrands::call_strand(backend.client_,
                                                  backend.options_.endpoint.base_url, context)) {
    return *shared;
  }
  return asio::make_strand(context);
}

// One chat() call: its attempts, its backoff timer and its stream state. Everything runs on
// the call's strand (see call_strand); events of an HTTP exchange that is no longer current
// are dropped by generation number.
class HttpChatCall final : public ChatCall, public std::enable_shared_from_this<HttpChatCall> {
 public:
  // Taken by rvalue reference: each move of a ChatRequest is ~16 members' worth of work.
  HttpChatCall(std::shared_ptr<HttpBackendImpl> backend, ChatRequest&& request, bool stream,
               ChatHandlers&& handlers)
      : backend_(std::move(backend)),
        strand_(call_strand(*backend_)),
        backoff_timer_(strand_),
        request_(std::move(request)),
        stream_(stream),
        handlers_(std::move(handlers)) {}

  // Dispatched: called on the caller's thread (a new strand, free), the first attempt starts
  // at once instead of after a trip through the event loop. The fallback runner expects that
  // a call may complete before chat() returns.
  void begin() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->start_attempt(); });
  }

  void reject(Error error) {
    asio::post(strand_, [self = shared_from_this(), error = std::move(error)]() mutable {
      self->complete(std::unexpected(std::move(error)));
    });
  }

  void cancel() override {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->done_) return;
      if (self->http_call_) {
        self->http_call_->cancel();
        self->http_call_.reset();
        self->backend_->breaker_.record_abandoned(self->admission_);
      }
      self->generation_++;  // whatever the HTTP call still reports is stale now
      self->complete(fail(ErrorKind::cancelled, "cancelled"));
    });
  }

 private:
  using Admission = http::CircuitBreaker::Admission;

  Error tagged(Error error) const {
    error.backend = backend_->options_.info.name;
    return error;
  }

  void start_attempt() {
    if (done_) return;
    attempt_++;
    const Translator& translator = *backend_->translator_;
    // A request in this backend's own wire format goes out as the client sent it.
    std::string_view native_protocol = translator.capabilities().native_protocol;
    native_ = request_.native && !native_protocol.empty() &&
              request_.native->protocol == native_protocol;
    auto encoded = native_ ? translator.encode_native(*request_.native, request_.model,
                                                      backend_->options_.endpoint, stream_)
                           : translator.encode_request(request_, backend_->options_.endpoint,
                                                       stream_);
    if (!encoded) return complete(std::unexpected(tagged(std::move(encoded.error()))));
    admission_ = backend_->breaker_.allow(Clock::now());
    if (admission_ == Admission::rejected) {
      return complete(std::unexpected(
          tagged(Error{.kind = ErrorKind::upstream_unavailable, .message = "circuit open"})));
    }
    status_ = 0;
    headers_.clear();
    body_.clear();
    decoder_.reset();
    accumulator_ = ChatAccumulator{};
    held_.clear();
    released_ = false;
    native_pending_.clear();
    native_complete_ = 0;
    attempt_failure_.reset();

    uint64_t gen = ++generation_;
    HttpHandlers handlers{
        // Dispatched, not posted: the HTTP client calls these on the same thread, so with
        // the call's strand free they run at once instead of each costing a trip through the
        // event loop (a reactor poll per trip); with it busy they queue in order as before.
        // on_head and on_body hold no reference of their own: a client calls them only while
        // it still holds on_complete (the three are one HttpHandlers, released together), whose
        // reference keeps this call alive. Two words fit std::function's own storage; with a
        // shared_ptr each would cost an allocation.
        .on_head =
            [this, gen](int status, const Headers& headers) {
              // Only an error answer's headers are read (decode_error, Retry-After): a 2xx
              // answer's are not copied.
              const bool success = status >= 200 && status < 300;
              asio::dispatch(strand_, [self = shared_from_this(), gen, status,
                                       headers = success ? Headers() : Headers(headers)]() mutable {
                if (self->generation_ == gen && !self->done_) {
                  self->on_head(status, std::move(headers));
                }
              });
            },
        .on_body =
            [this, gen](std::string_view bytes) {
              asio::dispatch(
                  strand_, [self = shared_from_this(), gen, bytes = std::string(bytes)]() mutable {
                    if (self->generation_ == gen && !self->done_) self->on_body(std::move(bytes));
                  });
            },
        .on_complete =
            [this, self = shared_from_this(), gen](Status result) {
              asio::dispatch(strand_, [self, gen, result = std::move(result)]() mutable {
                if (self->generation_ == gen && !self->done_) {
                  self->on_http_complete(std::move(result));
                }
              });
            },
        .want_success_headers = false,  // see on_head
    };
    http_call_ = backend_->client_.start(std::move(*encoded), backend_->options_.timeouts,
                                         std::move(handlers));
  }

  bool ok_status() const { return status_ >= 200 && status_ < 300; }

  void on_head(int status, Headers headers) {
    status_ = status;
    headers_ = std::move(headers);
    if (ok_status() && stream_) decoder_ = backend_->translator_->make_stream_decoder();
  }

  void on_body(std::string&& piece) {
    if (attempt_failure_) return;
    std::string_view bytes = piece;
    if (!ok_status()) {
      body_.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, body_.size())));
      return;
    }
    if (!stream_) {
      // The client bounds the whole body. Usually it is one piece: taken, not copied.
      if (body_.empty()) {
        body_ = std::move(piece);
      } else {
        body_.append(bytes);
      }
      return;
    }
    std::vector<ChatChunk> chunks;
    Status fed = decoder_->feed(bytes, chunks);
    if (native_ && fed) {
      native_pending_.append(bytes);
      native_complete_ = complete_events_end(native_pending_, native_complete_);
      attach_native(chunks, native_complete_);
    }
    take(chunks);
    if (!fed) {
      attempt_failure_ = std::move(fed.error());
      if (http_call_) http_call_->cancel();
    }
  }

  void on_http_complete(Status result) {
    http_call_.reset();
    std::optional<Error> failure = std::move(attempt_failure_);
    if (!failure && !result) failure = std::move(result.error());
    if (!failure && !ok_status()) {
      Error error = backend_->translator_->decode_error(status_, headers_, body_);
      if (!error.retry_after) error.retry_after = parse_retry_after(headers_);
      if (error.upstream_status == 0) error.upstream_status = status_;
      failure = std::move(error);
    }
    if (!failure && stream_) {
      if (!decoder_) decoder_ = backend_->translator_->make_stream_decoder();
      std::vector<ChatChunk> chunks;
      Status finished = decoder_->finish(chunks);
      // The stream ended cleanly: whatever bytes remain belong to it.
      if (native_ && finished) attach_native(chunks, native_pending_.size(), true);
      take(chunks);
      if (!finished) {
        failure = std::move(finished.error());
      } else {
        release_held();
        backend_->breaker_.record_success();
        return complete(std::move(accumulator_).finish());
      }
    }
    if (!failure) {
      auto response = backend_->translator_->decode_response(body_);
      if (response) {
        if (native_) response->native_body = std::move(body_);
        backend_->breaker_.record_success();
        return complete(std::move(*response));
      }
      failure = std::move(response.error());
    }
    on_failure(tagged(std::move(*failure)));
  }

  void on_failure(Error error) {
    if (error.retryable()) {
      backend_->breaker_.record_failure(Clock::now());
    } else if (error.kind == ErrorKind::cancelled) {
      backend_->breaker_.record_abandoned(admission_);  // e.g. the client shut down
    } else {
      backend_->breaker_.record_success();  // it answered: the fault is the request's
    }
    const RetryPolicy& retry = backend_->options_.retry;
    if (delivered_ || !error.retryable() || attempt_ >= retry.max_attempts) {
      return complete(std::unexpected(std::move(error)));
    }
    std::chrono::milliseconds delay = backend_->backoff(attempt_);
    if (error.retry_after) {
      // Waiting longer than allowed holds the client: fail now, the caller may fall back.
      if (*error.retry_after > retry.max_retry_after) {
        return complete(std::unexpected(std::move(error)));
      }
      delay = *error.retry_after;
    }
    backoff_timer_.expires_after(delay);
    backoff_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->done_) return;
      self->start_attempt();
    });
  }

  // Native calls: the first `end` pending raw bytes (whole events) ride on the last of `chunks`.
  // Events that decode to no chunk (ping, thinking deltas) wait for the next chunk, or get a
  // chunk of their own once the preamble is released (or at the end, with `flush`).
  void attach_native(std::vector<ChatChunk>& chunks, size_t end, bool flush = false) {
    if (end == 0) return;
    if (chunks.empty()) {
      if (!released_ && !flush) return;
      chunks.emplace_back();
    }
    chunks.back().native.append(native_pending_, 0, end);
    native_pending_.erase(0, end);
    native_complete_ = end >= native_complete_ ? 0 : native_complete_ - end;
  }

  // The preamble (chunks with only a role) is held until something a client would see
  // arrives, so that a failure before it stays clean and retryable.
  void take(const std::vector<ChatChunk>& chunks) {
    for (const ChatChunk& chunk : chunks) {
      accumulator_.add(chunk);
      if (!released_) {
        bool substantive =
            chunk.has_content() || chunk.finish_reason != FinishReason::none || chunk.usage;
        if (!substantive) {
          held_.push_back(chunk);
          continue;
        }
        release_held();
      }
      deliver(chunk);
    }
  }

  void release_held() {
    released_ = true;
    std::vector<ChatChunk> held = std::move(held_);
    held_.clear();
    for (const ChatChunk& chunk : held) deliver(chunk);
  }

  void deliver(const ChatChunk& chunk) {
    if (done_) return;
    delivered_ = true;
    if (handlers_.on_chunk) handlers_.on_chunk(chunk);
  }

  void complete(Result<ChatResponse> result) {
    if (done_) return;
    done_ = true;
    backoff_timer_.cancel();
    backend_->in_flight_.fetch_sub(1);
    ChatHandlers handlers = std::move(handlers_);
    handlers_ = {};
    if (handlers.on_complete) handlers.on_complete(std::move(result), delivered_);
  }

  std::shared_ptr<HttpBackendImpl> backend_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer backoff_timer_;
  ChatRequest request_;
  bool stream_ = false;
  ChatHandlers handlers_;

  bool done_ = false;
  bool delivered_ = false;
  int attempt_ = 0;
  uint64_t generation_ = 0;
  Admission admission_ = Admission::rejected;
  std::shared_ptr<HttpCall> http_call_;

  // The current attempt.
  int status_ = 0;
  Headers headers_;
  std::string body_;
  std::unique_ptr<StreamDecoder> decoder_;
  ChatAccumulator accumulator_;
  std::vector<ChatChunk> held_;
  bool released_ = false;
  bool native_ = false;         // the request went out in its native format (NativeRequest)
  std::string native_pending_;  // native stream bytes not yet attached to a chunk
  size_t native_complete_ = 0;  // native_pending_[0, this) is whole events
  std::optional<Error> attempt_failure_;
};

std::shared_ptr<ChatCall> HttpBackendImpl::chat(ChatRequest request, bool stream,
                                                ChatHandlers handlers) {
  auto call = std::make_shared<HttpChatCall>(shared_from_this(), std::move(request), stream,
                                             std::move(handlers));
  int before = in_flight_.fetch_add(1);
  if (options_.max_concurrency > 0 && before >= options_.max_concurrency) {
    call->reject(Error{.kind = ErrorKind::overloaded,
                       .message = "backend concurrency limit reached",
                       .backend = options_.info.name});
  } else {
    call->begin();
  }
  return call;
}

}  // namespace

std::shared_ptr<Backend> make_http_backend(asio::io_context& io, HttpClient& client,
                                           std::unique_ptr<Translator> translator,
                                           HttpBackendOptions options) {
  return make_http_backend(std::vector<asio::io_context*>{&io}, client, std::move(translator),
                           std::move(options));
}

std::shared_ptr<Backend> make_http_backend(const std::vector<asio::io_context*>& contexts,
                                           HttpClient& client,
                                           std::unique_ptr<Translator> translator,
                                           HttpBackendOptions options) {
  if (contexts.empty()) throw std::invalid_argument("an HTTP backend needs an io_context");
  return std::make_shared<HttpBackendImpl>(contexts, client, std::move(translator),
                                           std::move(options));
}

}  // namespace sy::backends
