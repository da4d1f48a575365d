// HttpServer on Boost.Beast's HTTP parser and raw Asio sockets. Beast parses; the server
// serialises responses itself (status line, headers, chunked framing) because it needs
// precise control over when bytes leave: pipelined responses in request order, each SSE chunk
// flushed at once, and interim 100 Continue.
//
// Each connection lives on its own strand. Reading uses readiness waits (`async_wait`) and
// non-blocking reads, so an idle connection holds no read buffer: thousands of idle keep-alive
// connections cost little memory. Reading continues while responses are pending (up to
// max_pipelined requests ahead), which is also how a vanished client is noticed mid-stream.

#include "switchyard/gateway/http_server.h"

#include <time.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <iterator>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "switchyard/gateway/event_loop.h"

namespace sy::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// How much one readiness event may pull from the kernel before parsing: bounds the buffer.
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxBuffered = 64 * 1024;
// After the last response on a closing connection, how long unread input is drained so the
// close is a FIN (the client sees the response) rather than a reset.
constexpr std::chrono::milliseconds kMaxLinger{1000};

// The Date header changes once a second: formatting it (gmtime_r + strftime) per response
// showed in profiles, so each thread keeps the last second's text.
std::string_view http_date() {
  thread_local std::time_t cached_second = -1;
  thread_local char text[64];
  thread_local size_t length = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return std::string_view(text, length);
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

// ASCII only (header names are tokens): no locale lookup per character.
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

// Framing headers belong to the server; a handler's copy would contradict ours.
bool server_owned(std::string_view name) {
  // By length first: every response carries ~10 handler headers, and most match no length.
  switch (name.size()) {
    case 4:
      return iequals(name, "date");
    case 6:
      return iequals(name, "server");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14:
      return iequals(name, "content-length");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// Whether `s` holds a CR, LF or NUL: one pass sixteen bytes at a time (three memchr calls per
// string were ~100 calls per response, every response carrying ~15 headers), short strings
// padded into one block, a longer one's tail read as an overlapping last block.
bool has_line_breaker(std::string_view s) {
#if defined(__SSE2__)
  auto any = [](const char* at) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r')),
                               _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
                                            _mm_cmpeq_epi8(x, _mm_setzero_si128())));
    return _mm_movemask_epi8(hit) != 0;
  };
  if (s.size() < 16) {
    alignas(16) char block[16];
    std::memset(block, 'a', sizeof block);
    std::memcpy(block, s.data(), s.size());
    return any(block);
  }
  size_t i = 0;
  for (; i + 16 <= s.size(); i += 16) {
    if (any(s.data() + i)) return true;
  }
  return i < s.size() && any(s.data() + s.size() - 16);
#else
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
#endif
}

// A header a handler built from upstream data must not be able to split the response.
bool safe_header(std::string_view name, std::string_view value) {
  return !name.empty() && !has_line_breaker(name) && !has_line_breaker(value);
}

std::string chunk(std::string_view data) {
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(data.size() + n + 2);
  out.append(size, n).append(data).append("\r\n");
  return out;
}

// A request body that is either buffered (bounded by `limit`, as Beast's body_limit would) or
// handed piece by piece to the BodySink that `choose` returns once the headers are in. The
// parser's own body_limit is lifted: it is checked before the headers could choose a sink.
struct SinkableBody {
  struct value_type {
    std::string text;
    size_t limit = 0;
    std::function<std::shared_ptr<BodySink>(const http::request_header<>&)> choose;
    std::shared_ptr<BodySink> sink;
    bool sink_failed = false;  // the sink refused a piece: dispatch now, read no more
  };

  class reader {
   public:
    // A template, as Beast's BodyReader concept checks it against a model of Fields.
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>& header, value_type& body) : body_(body) {
      if constexpr (std::is_same_v<http::header<isRequest, Fields>, http::request_header<>>) {
        header_ = &header;
      }
    }

    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      ec = {};
      if (body_.choose && header_) body_.sink = body_.choose(*header_);
      if (body_.sink) return;
      if (length && *length > body_.limit) {
        ec = http::error::body_limit;
        return;
      }
      if (length) body_.text.reserve(static_cast<size_t>(*length));
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      size_t n = 0;
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
           ++it) {
        net::const_buffer piece = *it;
        std::string_view bytes(static_cast<const char*>(piece.data()), piece.size());
        if (body_.sink) {
          if (!body_.sink->write(bytes)) {
            body_.sink_failed = true;
            ec = net::error::operation_aborted;
            return n;
          }
        } else {
          if (bytes.size() > body_.limit - body_.text.size()) {
            ec = http::error::body_limit;
            return n;
          }
          body_.text.append(bytes);
        }
        n += bytes.size();
      }
      return n;
    }

    void finish(error_code& ec) { ec = {}; }

   private:
    http::request_header<>* header_ = nullptr;
    value_type& body_;
  };
};

using Request = http::request<SinkableBody>;

// Room for every field, so that the header list is allocated once, not regrown.
void reserve_fields(ServerRequest& req, const http::request_header<>& msg) {
  req.headers.reserve(static_cast<size_t>(std::distance(msg.begin(), msg.end())));
}

ServerRequest head_of(const http::request_header<>& msg, const std::string& remote) {
  ServerRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  reserve_fields(req, msg);
  for (const auto& field : msg) {
    req.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  req.remote_address = remote;
  return req;
}

ServerRequest to_request(Request& msg, const std::string& remote, bool take_body) {
  ServerRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  reserve_fields(req, msg);
  for (const auto& field : msg) {
    req.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  if (take_body) req.body = std::move(msg.body().text);
  req.body_sink = msg.body().sink;
  req.remote_address = remote;
  return req;
}

class Connection;

net::io_context& first(const std::vector<net::io_context*>& contexts) {
  if (contexts.empty()) throw std::invalid_argument("HttpServer needs at least one io_context");
  return *contexts.front();
}

}  // namespace

// Shared by the HttpServer facade and every connection (they keep it alive while they run).
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(std::vector<net::io_context*> contexts, ServerLimits limits,
             RequestHandler& handler)
      : contexts_(std::move(contexts)),
        limits_(limits),
        handler_(handler),
        strand_(net::make_strand(first(contexts_))),
        acceptor_(strand_),
        drain_timer_(strand_),
        accept_retry_(strand_) {}

  backends::Result<uint16_t> listen(const std::string& host, uint16_t port);
  void drain(std::chrono::milliseconds deadline, std::function<void()> done);
  void shutdown();
  size_t open_connections() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }
  void remove(uint64_t id);

  const ServerLimits& limits() const { return limits_; }
  RequestHandler& handler() { return handler_; }

 private:
  void do_accept();
  void on_accept(const error_code& ec, tcp::socket socket);
  void admit(tcp::socket socket);
  std::vector<std::shared_ptr<Connection>> snapshot();
  void finish_drain_if_empty();

  const std::vector<net::io_context*> contexts_;  // connections go round-robin over these
  size_t next_context_ = 0;                        // acceptor strand only
  const ServerLimits limits_;
  RequestHandler& handler_;
  net::strand<net::io_context::executor_type> strand_;  // acceptor and drain timer
  tcp::acceptor acceptor_;
  net::steady_timer drain_timer_;
  net::steady_timer accept_retry_;

  mutable std::mutex mutex_;  // guards the fields below (connections run on other strands)
  // The server owns its connections: a connection paused at the pipeline cap has no pending
  // operation to keep it alive. abort() removes it.
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections_;
  uint64_t next_id_ = 0;
  bool draining_ = false;
  std::function<void()> drain_done_;
};

namespace {

// One request's response: the handler's ResponseWriter. State lives on the connection strand.
class Exchange : public ResponseWriter, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::weak_ptr<Connection> connection, net::any_io_executor strand, bool head)
      : connection_(std::move(connection)), strand_(std::move(strand)), head_request_(head) {}

  void respond(int status, Headers headers, std::string body) override;
  void start_stream(int status, Headers headers) override;
  void write(std::string data) override;
  void finish() override;
  void on_cancel(std::function<void()> callback) override;

  // Strand-only: the client went away before finish().
  void cancel() {
    if (finished_ || cancelled_) return;
    cancelled_ = true;
    if (auto callback = std::exchange(on_cancel_, nullptr)) run_guarded(callback);
  }

  // A throwing callback must not unwind through the event loop.
  static void run_guarded(const std::function<void()>& callback) {
    try {
      callback();
    } catch (...) {
    }
  }

  std::string out_;  // bytes ready for the socket, waiting for this exchange's turn
  bool finished_ = false;
  bool close_after_ = false;
  // An HTTP/1.0 client knows no chunked encoding: its stream is delimited by the close.
  bool http10_ = false;

 private:
  // From another strand on this connection's thread (the usual case: the backend call that
  // answers runs on the caller's thread) the work runs at once if the connection's strand is
  // free, instead of queueing a trip through the event loop; from the connection's own strand
  // (a handler answering inside dispatch()) it is queued, so the server's code never re-enters
  // itself.
  template <class F>
  void on_strand(F&& f) {
    auto work = [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(); };
    auto* strand = strand_.target<net::strand<net::io_context::executor_type>>();
    if (strand == nullptr || strand->running_in_this_thread()) {
      net::post(strand_, std::move(work));
    } else {
      // Through the concrete strand, not the type-erased executor: the any_io_executor layer
      // wrapped the work once more (a type-erased function and its allocation per call).
      net::dispatch(*strand, std::move(work));
    }
  }

  std::weak_ptr<Connection> connection_;
  net::any_io_executor strand_;
  bool head_request_;
  bool started_ = false;
  bool streaming_ = false;
  bool cancelled_ = false;
  std::function<void()> on_cancel_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> server, uint64_t id, tcp::socket socket)
      : server_(std::move(server)),
        limits_(server_->limits()),
        id_(id),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()) {}

  void start() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      error_code ec;
      auto endpoint = self->socket_.remote_endpoint(ec);
      if (!ec) self->remote_ = endpoint.address().to_string();
      self->socket_.non_blocking(true, ec);
      self->socket_.set_option(tcp::no_delay(true), ec);
      // The first request line and headers must arrive within header_timeout of accepting.
      self->arm(Deadline::header, self->limits_.header_timeout);
      self->wait_readable();
    });
  }

  void drain() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (self->slots_.empty() && !self->parser_ && self->buffer_.size() == 0) {
        self->close_gracefully();
      }
    });
  }

  void abort_async() {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->abort(); });
  }

  // --- strand-only from here -------------------------------------------------------------

  // Appends the response head to `out`. `chunked` false and `length` nullopt: a body
  // delimited by closing the connection.
  void append_head(std::string& out, Exchange& ex, int status, const Headers& headers,
                   bool chunked, std::optional<size_t> length) {
    bool last = !slots_.empty() && slots_.back().get() == &ex;
    if (draining_ && last) ex.close_after_ = true;
    if (ex.close_after_) no_more_requests_ = true;
    const std::string_view reason =
        http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    const std::string_view date = http_date();
    // The status line, Date, Server, framing and Connection lines take at most 102 bytes
    // besides the reason and the date: the head and body are appended without regrowth.
    size_t size = 112 + reason.size() + date.size();
    for (const auto& [name, value] : headers) size += name.size() + value.size() + 4;
    out.reserve(out.size() + size + (length ? *length : 0));
    // String-view literals: appended with their length known, not measured by strlen each time.
    using namespace std::string_view_literals;
    char number[24];
    auto digits = [&number](size_t n) {
      auto end = std::to_chars(number, number + sizeof number, n).ptr;
      return std::string_view(number, static_cast<size_t>(end - number));
    };
    out.append("HTTP/1.1 "sv).append(digits(static_cast<size_t>(status))).append(" "sv);
    out.append(reason).append("\r\n"sv);
    for (const auto& [name, value] : headers) {
      if (server_owned(name) || !safe_header(name, value)) continue;
      out.append(name).append(": "sv).append(value).append("\r\n"sv);
    }
    out.append("Date: "sv).append(date).append("\r\nServer: switchyard\r\n"sv);
    if (chunked) {
      out.append("Transfer-Encoding: chunked\r\n"sv);
    } else if (length) {
      out.append("Content-Length: "sv).append(digits(*length)).append("\r\n"sv);
    }
    if (ex.close_after_) out.append("Connection: close\r\n"sv);
    out.append("\r\n"sv);
  }

  // Moves whatever is ready, in request order, to the socket.
  void pump() {
    if (closed_ || writing_) return;
    write_buffer_ = std::move(interim_);
    interim_.clear();
    bool close_after = false;
    while (!slots_.empty()) {
      Exchange& ex = *slots_.front();
      if (write_buffer_.empty()) {
        write_buffer_.swap(ex.out_);
      } else {
        write_buffer_ += ex.out_;
      }
      ex.out_.clear();
      if (!ex.finished_) break;
      close_after = ex.close_after_;
      slots_.erase(slots_.begin());
      if (close_after) break;
    }
    if (write_buffer_.empty()) {
      after_writes(close_after);
      return;
    }
    writing_ = true;
    write_offset_ = 0;
    write_some(close_after);
  }

 private:
  enum class Deadline { none, idle, header, body, linger };

  // Deadlines are cheap to move: moving one only stores a time point. The one timer is
  // re-armed only when a deadline comes earlier than the time it waits for, and re-arms
  // itself when it fires before a deadline that moved later. (Re-arming an asio timer costs a
  // timerfd_settime system call; doing it for every request was a measurable share of a
  // proxied request's cost.)
  void arm(Deadline kind, std::chrono::milliseconds after) {
    deadline_kind_ = kind;
    read_deadline_ = Clock::now() + after;
    schedule_deadline();
  }

  void disarm() { deadline_kind_ = Deadline::none; }

  Clock::time_point next_deadline() const {
    auto next = Clock::time_point::max();
    if (deadline_kind_ != Deadline::none) next = read_deadline_;
    if (writing_) next = std::min(next, write_deadline_);
    return next;
  }

  void schedule_deadline() {
    const auto next = next_deadline();
    if (next == Clock::time_point::max()) return;
    if (timer_pending_ && timer_expiry_ <= next) return;
    timer_pending_ = true;
    timer_expiry_ = next;
    auto gen = ++timer_gen_;
    deadline_.expires_at(next);
    deadline_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (gen != self->timer_gen_) return;  // superseded by an earlier deadline
      self->timer_pending_ = false;
      if (ec || self->closed_) return;
      if (Clock::now() >= self->next_deadline()) return self->abort();
      self->schedule_deadline();
    });
  }

  bool paused() const {
    return !closing_ && !no_more_requests_ && slots_.size() >= limits_.max_pipelined;
  }

  void wait_readable() {
    if (waiting_ || closed_ || paused()) return;
    waiting_ = true;
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
      self->on_readable(ec);
    });
  }

  void on_readable(const error_code& wait_ec) {
    waiting_ = false;
    if (closed_) return;
    if (wait_ec) return abort();
    // Read into the thread's scratch and keep only what arrived: preparing a 16 KiB chunk in
    // buffer_ allocated that much per request (a large-bin malloc, often with a heap
    // consolidation), since buffer_ is released whenever the connection falls idle.
    thread_local char scratch[kReadChunk];
    while (buffer_.size() < kMaxBuffered) {
      error_code ec;
      size_t n = socket_.read_some(net::buffer(scratch, kReadChunk), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) break;
      // EOF or reset: the client is gone (a half-close counts as gone: pending work is moot).
      if (ec) return abort();
      std::memcpy(buffer_.prepare(n).data(), scratch, n);
      buffer_.commit(n);
      if (n < kReadChunk) break;
    }
    if (closing_ || no_more_requests_) {
      buffer_.consume(buffer_.size());  // nothing more will be answered on this connection
    } else {
      parse();
    }
    if (buffer_.size() == 0) buffer_.shrink_to_fit();  // idle connections hold no buffer
    wait_readable();
  }

  void parse() {
    while (!closed_ && !closing_ && !no_more_requests_ && !paused() && buffer_.size() > 0) {
      if (!parser_) begin_request();
      error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        if (used == 0) return;
        continue;
      }
      if (ec && parser_->get().body().sink_failed) return dispatch_refused_body();
      if (ec) return reject_malformed(ec);
      // A streamed body may take long in total: it must keep arriving, not arrive by a time.
      if (used > 0 && deadline_kind_ == Deadline::body && parser_->get().body().sink) {
        arm(Deadline::body, limits_.body_timeout);
      }
      if (deadline_kind_ == Deadline::header && parser_->is_header_done() &&
          !parser_->is_done()) {
        arm(Deadline::body, limits_.body_timeout);
        auto expect = parser_->get()[http::field::expect];
        if (slots_.empty() && beast::iequals(expect, "100-continue")) {
          interim_ = "HTTP/1.1 100 Continue\r\n\r\n";
          pump();
        }
      }
      if (parser_->is_done()) dispatch();
    }
  }

  void begin_request() {
    head_.reset();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(limits_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(boost::none);  // SinkableBody applies max_body_bytes (or the sink)
    SinkableBody::value_type& body = parser_->get().body();
    body.limit = limits_.max_body_bytes;
    body.choose = [this](const http::request_header<>& header) {
      try {
        // Kept for dispatch(): the request's head is copied out of the parser once, not twice.
        head_.emplace(head_of(header, remote_));
        head_fields_ = head_->headers.size();
        return server_->handler().body_sink(*head_);
      } catch (...) {
        return std::shared_ptr<BodySink>();  // a handler bug buffers the body as usual
      }
    };
    // A fresh connection's header deadline runs from accept; a keep-alive one's from now.
    if (deadline_kind_ != Deadline::header) arm(Deadline::header, limits_.header_timeout);
  }

  std::shared_ptr<Exchange> new_exchange(bool head) {
    auto ex = std::make_shared<Exchange>(weak_from_this(), socket_.get_executor(), head);
    slots_.push_back(ex);
    return ex;
  }

  void dispatch(bool close_after = false) {
    auto msg = parser_->release();
    parser_.reset();
    disarm();  // no read deadline while a response is being produced
    auto ex = new_exchange(msg.method() == http::verb::head);
    ex->http10_ = msg.version() < 11;
    if (!msg.keep_alive() || ex->http10_ || close_after) {
      ex->close_after_ = true;
      no_more_requests_ = true;
    }
    ServerRequest request;
    if (head_) {
      request = std::move(*head_);
      head_.reset();
      // Trailer fields of a chunked body come after the head's.
      size_t index = 0;
      for (const auto& field : msg) {
        if (index++ < head_fields_) continue;
        request.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(msg.body().text);
      request.body_sink = msg.body().sink;
    } else {
      request = to_request(msg, remote_, true);
    }
    if (draining_) {
      ex->close_after_ = true;
      no_more_requests_ = true;
      return call_reject(request, backends::ErrorKind::overloaded, "server is shutting down", *ex);
    }
    try {
      server_->handler().handle(std::move(request), ex);
    } catch (...) {
      // A handler bug must not take the loop down; the client gets a plain 500.
      ex->respond(500, {}, "internal error\n");
    }
  }

  // The sink refused part of the body: the handler answers with the sink's error; the rest of
  // the body is never read, so the connection closes after the answer.
  void dispatch_refused_body() {
    no_more_requests_ = true;
    dispatch(/*close_after=*/true);
  }

  void reject_malformed(const error_code& ec) {
    if (ec == http::error::header_limit) return abort();  // transport abuse: just close
    auto kind = ec == http::error::body_limit ? backends::ErrorKind::payload_too_large
                                              : backends::ErrorKind::invalid_request;
    std::string message = kind == backends::ErrorKind::payload_too_large
                              ? "request body exceeds " + std::to_string(limits_.max_body_bytes) +
                                    " bytes"
                              : "malformed HTTP request";
    ServerRequest request = to_request(parser_->get(), remote_, false);
    parser_.reset();
    head_.reset();
    disarm();
    no_more_requests_ = true;
    auto ex = new_exchange(false);
    ex->close_after_ = true;
    call_reject(request, kind, std::move(message), *ex);
  }

  void call_reject(const ServerRequest& request, backends::ErrorKind kind, std::string message,
                   Exchange& ex) {
    try {
      server_->handler().reject(request, backends::Error{.kind = kind, .message = message}, ex);
    } catch (...) {
      ex.respond(500, {}, "internal error\n");
    }
  }

  // Writes the rest of write_buffer_. A client that makes no read progress for idle_timeout
  // must not pin the connection and its queued output forever; a slow but steady one may.
  void write_some(bool close_after) {
    // Usually the socket takes it all: written now (the socket is non-blocking), with no
    // completion to wait for and no trip through the event loop.
    error_code ec;
    size_t n = socket_.write_some(
        net::buffer(write_buffer_.data() + write_offset_, write_buffer_.size() - write_offset_),
        ec);
    if (ec != net::error::would_block && ec != net::error::try_again &&
        (ec || write_offset_ + n == write_buffer_.size())) {
      return on_written(ec, n, close_after);
    }
    if (!ec) write_offset_ += n;
    write_deadline_ = Clock::now() + limits_.idle_timeout;
    schedule_deadline();
    socket_.async_write_some(
        net::buffer(write_buffer_.data() + write_offset_, write_buffer_.size() - write_offset_),
        [self = shared_from_this(), close_after](const error_code& ec, size_t n) {
          self->on_written(ec, n, close_after);
        });
  }

  void on_written(const error_code& ec, size_t n, bool close_after) {
    if (closed_) return;
    if (ec) return abort();
    write_offset_ += n;
    if (write_offset_ < write_buffer_.size()) return write_some(close_after);
    writing_ = false;
    if (close_after) return close_gracefully();
    pump();
  }

  void after_writes(bool close_after) {
    if (close_after) return close_gracefully();
    if (slots_.empty() && !parser_) {
      if (draining_ && buffer_.size() == 0) return close_gracefully();
      if (buffer_.size() == 0 && deadline_kind_ != Deadline::idle &&
          deadline_kind_ != Deadline::header) {
        arm(Deadline::idle, limits_.idle_timeout);
      }
    }
    parse();  // pipelined requests may be waiting in the buffer
    wait_readable();
  }

  // The last response is out: send FIN, discard input until the client closes (bounded).
  void close_gracefully() {
    if (closed_ || closing_) return;
    closing_ = true;
    no_more_requests_ = true;
    parser_.reset();
    buffer_.consume(buffer_.size());
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return abort();
    arm(Deadline::linger, std::min(limits_.header_timeout, kMaxLinger));
    wait_readable();
  }

  void abort() {
    if (closed_) return;
    closed_ = true;
    disarm();
    deadline_.cancel();  // its handler holds this connection
    error_code ec;
    socket_.close(ec);
    auto slots = std::move(slots_);
    slots_.clear();
    for (auto& ex : slots) ex->cancel();
    parser_.reset();
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
    server_->remove(id_);
  }

  std::shared_ptr<ServerCore> server_;
  const ServerLimits& limits_;
  const uint64_t id_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  Clock::time_point read_deadline_;   // header, body, idle or linger, per deadline_kind_
  Clock::time_point write_deadline_;  // while writing_: the client must read within it
  Clock::time_point timer_expiry_;
  uint64_t timer_gen_ = 0;
  bool timer_pending_ = false;
  std::string remote_;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<SinkableBody>> parser_;
  // The current request's head as given to body_sink() (set once its body begins), and how
  // many of the parser's fields it holds.
  std::optional<ServerRequest> head_;
  size_t head_fields_ = 0;
  // Requests awaiting their response, in order (at most max_pipelined: a vector, because an
  // empty std::deque still allocates ~600 bytes, which idle connections should not pay).
  std::vector<std::shared_ptr<Exchange>> slots_;
  std::string interim_;
  std::string write_buffer_;

  Deadline deadline_kind_ = Deadline::none;
  size_t write_offset_ = 0;
  bool waiting_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool no_more_requests_ = false;
  bool draining_ = false;
};

void Exchange::respond(int status, Headers headers, std::string body) {
  on_strand([this, status, headers = std::move(headers), body = std::move(body)] {
    auto connection = connection_.lock();
    if (!connection || cancelled_ || started_) return;
    started_ = finished_ = true;
    connection->append_head(out_, *this, status, headers, false, body.size());
    if (!head_request_) out_ += body;
    connection->pump();
  });
}

void Exchange::start_stream(int status, Headers headers) {
  on_strand([this, status, headers = std::move(headers)] {
    auto connection = connection_.lock();
    if (!connection || cancelled_ || started_) return;
    started_ = streaming_ = true;
    if (http10_) close_after_ = true;
    connection->append_head(out_, *this, status, headers, !http10_, std::nullopt);
    connection->pump();
  });
}

void Exchange::write(std::string data) {
  on_strand([this, data = std::move(data)] {
    auto connection = connection_.lock();
    // An empty chunk would end the chunked body early, so it is skipped.
    if (!connection || cancelled_ || !streaming_ || finished_ || data.empty()) return;
    if (!head_request_) out_ += http10_ ? data : chunk(data);
    connection->pump();
  });
}

void Exchange::finish() {
  on_strand([this] {
    auto connection = connection_.lock();
    if (!connection || cancelled_ || !streaming_ || finished_) return;
    finished_ = true;
    if (!head_request_ && !http10_) out_ += "0\r\n\r\n";
    connection->pump();
  });
}

void Exchange::on_cancel(std::function<void()> callback) {
  auto install = [this, callback = std::move(callback)]() mutable {
    if (cancelled_) {
      run_guarded(callback);
    } else if (!finished_) {
      on_cancel_ = std::move(callback);
    }
  };
  // From the connection's own strand (a handler registering it inside dispatch(), the usual
  // case) it is installed at once: it touches no connection state, so there is no re-entry to
  // avoid, and a post would cost every request a trip through the event loop (a reactor poll).
  auto* strand = strand_.target<net::strand<net::io_context::executor_type>>();
  if (strand != nullptr && strand->running_in_this_thread()) return install();
  on_strand(std::move(install));
}

}  // namespace

backends::Result<uint16_t> ServerCore::listen(const std::string& host, uint16_t port) {
  raise_open_file_limit();
  error_code ec;
  // An address literal; "localhost" is accepted too, without a resolver on the start-up path.
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return backends::fail(backends::ErrorKind::invalid_request,
                          "listen address is not an IP address: " + host);
  }
  tcp::endpoint endpoint(address, port);
  auto failed = [&](std::string_view what) {
    return backends::fail(backends::ErrorKind::internal,
                          std::string(what) + " " + host + ":" + std::to_string(port) + ": " +
                              ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return failed("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return failed("SO_REUSEADDR on");
  acceptor_.bind(endpoint, ec);
  if (ec) return failed("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return failed("listen on");
  uint16_t bound = acceptor_.local_endpoint(ec).port();
  if (ec) return failed("local endpoint of");
  net::post(strand_, [self = shared_from_this()] { self->do_accept(); });
  return bound;
}

void ServerCore::do_accept() {
  net::io_context& context = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_.async_accept(net::make_strand(context),
                         [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void ServerCore::on_accept(const error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Usually EMFILE/ENFILE: back off briefly instead of spinning on the same error.
    accept_retry_.expires_after(std::chrono::milliseconds(20));
    accept_retry_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  admit(std::move(socket));
  do_accept();
}

void ServerCore::admit(tcp::socket socket) {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(mutex_);
    if (draining_ || connections_.size() >= limits_.max_connections) {
      // Over the limit: closed at once, never queued.
      error_code ec;
      socket.close(ec);
      return;
    }
    uint64_t id = ++next_id_;
    connection = std::make_shared<Connection>(shared_from_this(), id, std::move(socket));
    connections_.emplace(id, connection);
  }
  connection->start();
}

void ServerCore::remove(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    connections_.erase(id);
  }
  finish_drain_if_empty();
}

void ServerCore::finish_drain_if_empty() {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    if (!draining_ || !connections_.empty() || !drain_done_) return;
    done = std::exchange(drain_done_, nullptr);
  }
  net::post(strand_, [self = shared_from_this()] { self->drain_timer_.cancel(); });
  done();
}

std::vector<std::shared_ptr<Connection>> ServerCore::snapshot() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mutex_);
  out.reserve(connections_.size());
  for (auto& [id, connection] : connections_) out.push_back(connection);
  return out;
}

void ServerCore::drain(std::chrono::milliseconds deadline, std::function<void()> done) {
  net::post(strand_, [self = shared_from_this(), deadline, done = std::move(done)]() mutable {
    {
      std::lock_guard lock(self->mutex_);
      self->draining_ = true;
      self->drain_done_ = std::move(done);
    }
    error_code ec;
    self->acceptor_.close(ec);
    self->accept_retry_.cancel();
    for (auto& connection : self->snapshot()) connection->drain();
    self->drain_timer_.expires_after(deadline);
    self->drain_timer_.async_wait([self](const error_code& wait_ec) {
      if (wait_ec) return;
      for (auto& connection : self->snapshot()) connection->abort_async();
    });
    self->finish_drain_if_empty();
  });
}

void ServerCore::shutdown() {
  for (auto& connection : snapshot()) connection->abort_async();
  net::post(strand_, [self = shared_from_this()] {
    error_code ec;
    self->acceptor_.close(ec);
    self->accept_retry_.cancel();
    self->drain_timer_.cancel();
  });
  // Break the connection <-> server ownership cycle even if the loop never runs the aborts
  // above (it may be stopped already): the pending handlers then free the connections.
  std::lock_guard lock(mutex_);
  connections_.clear();
}

class HttpServer::Impl {
 public:
  std::shared_ptr<ServerCore> core;
};

HttpServer::HttpServer(boost::asio::io_context& io, ServerLimits limits, RequestHandler& handler)
    : HttpServer(std::vector<boost::asio::io_context*>{&io}, std::move(limits), handler) {}

HttpServer::HttpServer(const std::vector<boost::asio::io_context*>& contexts,
                       ServerLimits limits, RequestHandler& handler)
    : impl_(std::make_shared<Impl>(
          Impl{std::make_shared<ServerCore>(contexts, std::move(limits), handler)})) {
}

HttpServer::~HttpServer() {
  impl_->core->shutdown();
}

backends::Result<uint16_t> HttpServer::listen(const std::string& host, uint16_t port) {
  return impl_->core->listen(host, port);
}

void HttpServer::drain(std::chrono::milliseconds deadline, std::function<void()> done) {
  impl_->core->drain(deadline, std::move(done));
}

size_t HttpServer::open_connections() const {
  return impl_->core->open_connections();
}

}  // namespace sy::gateway
