#include "plain_http_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <charconv>
#include <optional>
#include <unordered_map>
#include <vector>

namespace sy::backends::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

// Deadlines are checked by one coarse sweep per client, as on the curl path (see there).
constexpr std::chrono::milliseconds kSweepInterval{10};
// One read pulls at most this much; a pooled connection keeps its buffer for the next call.
constexpr size_t kReadChunk = 16 * 1024;
constexpr uint32_t kMaxHeaderBytes = 256 * 1024;
// Idle connections kept per host, and for how long (servers drop idle ones after a while;
// one older than this is closed rather than tried).
constexpr size_t kMaxIdlePerHost = 256;
constexpr std::chrono::seconds kMaxIdleAge{110};
// Resolved names are reused for a minute, as curl's DNS cache does.
constexpr std::chrono::seconds kResolveTtl{60};
// Parsed upstream URLs kept (a backend has a handful; the bound only guards odd callers).
constexpr size_t kMaxCachedTargets = 256;

// How deep this thread is in PlainHttpClient::start(). start() runs a call's first steps at
// once when it can (see there), but handlers must never run inside it: while this is non-zero
// a completion is posted instead of called.
thread_local int starting_depth = 0;

Error make_error(ErrorKind kind, std::string message) {
  return Error{.kind = kind, .message = std::move(message)};
}

bool iequals_ascii(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (c != lower_b[i]) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

// Where an `http://` URL points.
struct Target {
  std::string host;         // without brackets for IPv6 literals
  std::string port_text;    // "80" when the URL names none
  std::string host_header;  // the URL's authority, as written
  std::string path;         // path and query, never empty
  std::string key;          // pool key: host:port
};

std::optional<Target> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || !iequals_ascii(url.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  Target target;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  unsigned number = 80;
  if (!port.empty()) {
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || ptr != port.data() + port.size() || number == 0 || number > 65535) {
      return std::nullopt;
    }
  }
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  target.host = std::string(host);
  target.port_text = std::to_string(number);
  target.host_header = std::string(authority);
  target.path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  target.key = target.host + ":" + target.port_text;
  return target;
}

// The request's head as it goes on the wire, into `out` (its buffer reused): our framing and
// the caller's headers. The body follows it from the request itself (one gathered write), not
// copied behind it.
void serialize_head(std::string& out, const HttpRequest& request, const Target& target) {
  using namespace std::string_view_literals;  // lengths known, no strlen per piece
  out.clear();
  out.reserve(256 + request.headers.size() * 48);
  out.append(request.method).append(" "sv).append(target.path).append(" HTTP/1.1\r\n"sv);
  std::string_view host = target.host_header;
  bool has_accept = false;
  for (const auto& [name, value] : request.headers) {
    if (iequals_ascii(name, "host")) host = value;
    if (iequals_ascii(name, "accept")) has_accept = true;
  }
  out.append("Host: "sv).append(host).append("\r\n"sv);
  for (const auto& [name, value] : request.headers) {
    // Framing is ours; "Expect" would only cost a round trip.
    if (iequals_ascii(name, "host") || iequals_ascii(name, "content-length") ||
        iequals_ascii(name, "transfer-encoding") || iequals_ascii(name, "connection") ||
        iequals_ascii(name, "expect")) {
      continue;
    }
    out.append(name).append(value.empty() ? ":"sv : ": "sv).append(value).append("\r\n"sv);
  }
  if (!has_accept) out.append("Accept: */*\r\n"sv);  // as curl sends
  if (request.method != "GET" || !request.body.empty()) {
    out.append("Content-Length: "sv).append(std::to_string(request.body.size())).append("\r\n"sv);
  }
  out.append("\r\n"sv);
}

// A kept-alive connection to one host:port.
struct Connection {
  explicit Connection(const Strand& strand) : socket(strand) {}
  tcp::socket socket;
  beast::flat_buffer buffer;  // read but not yet parsed; kept across calls
  std::string head;           // the head of the request being sent; kept across calls
  std::string key;
  Clock::time_point idle_since;
  bool counted = true;  // counts in its pool's `open` until discarded
};

}  // namespace

class PlainTransfer;

// Beast's HTTP/1.1 response parser, handing head and body pieces straight to the transfer:
// the body is never copied into a message object.
class PlainResponseParser final : public beast::http::basic_parser<false> {
 public:
  explicit PlainResponseParser(PlainTransfer& transfer) : transfer_(transfer) {}

 private:
  void on_request_impl(beast::http::verb, beast::string_view, beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, error_code&) override;
  void on_field_impl(beast::http::field, beast::string_view name, beast::string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(beast::string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  PlainTransfer& transfer_;
};

class PlainTransfer final : public HttpCall, public std::enable_shared_from_this<PlainTransfer> {
 public:
  PlainTransfer(std::weak_ptr<PlainHttpClient::State> client, HttpRequest&& request,
                HttpTimeouts timeouts, HttpHandlers&& handlers)
      : client_(std::move(client)),
        request_(std::move(request)),
        timeouts_(timeouts),
        handlers_(std::move(handlers)) {}

  void cancel() override;

  // Everything below runs on the client's strand.
  enum class Phase { idle, queued, connecting, writing, waiting_head, reading_body, done };

  std::optional<Error> expired(Clock::time_point now) const {
    if (phase_ == Phase::done || phase_ == Phase::idle) return std::nullopt;
    if (now - started_ >= timeouts_.total) {
      return make_error(
          ErrorKind::upstream_timeout,
          "upstream total timeout after " + std::to_string(timeouts_.total.count()) + " ms");
    }
    if (phase_ == Phase::connecting && now - last_activity_ >= timeouts_.connect) {
      return make_error(
          ErrorKind::upstream_timeout,
          "upstream connect timeout after " + std::to_string(timeouts_.connect.count()) + " ms");
    }
    if ((phase_ == Phase::writing || phase_ == Phase::waiting_head) &&
        now - last_activity_ >= timeouts_.first_byte) {
      return make_error(ErrorKind::upstream_timeout,
                        "upstream first byte timeout after " +
                            std::to_string(timeouts_.first_byte.count()) + " ms");
    }
    if (phase_ == Phase::reading_body && now - last_activity_ >= timeouts_.idle) {
      return make_error(ErrorKind::upstream_timeout, "upstream idle timeout after " +
                                                         std::to_string(timeouts_.idle.count()) +
                                                         " ms without data");
    }
    return std::nullopt;
  }

  // Parser callbacks.
  void on_status(int status) {
    status_ = status;
    headers_.clear();
  }
  void on_field(std::string_view name, std::string_view value) {
    // A caller that reads no 2xx headers is not handed copies of them.
    if (!handlers_.want_success_headers && status_ >= 200 && status_ < 300) return;
    headers_.emplace_back(lower(name), std::string(value));
  }
  void on_header() {
    if (status_ < 200) return;  // 1xx interim answer: the final head follows
    head_delivered_ = true;
    phase_ = Phase::reading_body;
    if (handlers_.on_head) handlers_.on_head(status_, headers_);
  }
  size_t on_body(std::string_view bytes, error_code& ec) {
    if (received_ + bytes.size() > max_bytes_) {
      oversized_ = true;
      ec = beast::http::error::body_limit;
      return 0;
    }
    received_ += bytes.size();
    if (handlers_.on_body && !bytes.empty()) handlers_.on_body(bytes);
    return bytes.size();
  }

  std::weak_ptr<PlainHttpClient::State> client_;
  HttpRequest request_;
  HttpTimeouts timeouts_;
  HttpHandlers handlers_;
  std::shared_ptr<const Target> target_;
  size_t written_ = 0;    // bytes of the request (head, then body) sent on this connection
  bool retried_ = false;  // a dead pooled connection was replaced once already

  Phase phase_ = Phase::idle;
  size_t slot_ = 0;  // index in the client's active_ list
  std::shared_ptr<Connection> connection_;
  bool reused_ = false;
  std::optional<PlainResponseParser> parser_;
  int status_ = 0;
  Headers headers_;
  bool head_delivered_ = false;
  size_t received_ = 0;
  size_t max_bytes_ = 0;
  bool oversized_ = false;
  Clock::time_point started_;
  Clock::time_point last_activity_;
};

void PlainResponseParser::on_response_impl(int code, beast::string_view, int, error_code&) {
  transfer_.on_status(code);
}
void PlainResponseParser::on_field_impl(beast::http::field, beast::string_view name,
                                        beast::string_view value, error_code&) {
  transfer_.on_field(std::string_view(name.data(), name.size()),
                     std::string_view(value.data(), value.size()));
}
void PlainResponseParser::on_header_impl(error_code&) { transfer_.on_header(); }
size_t PlainResponseParser::on_body_impl(beast::string_view body, error_code& ec) {
  return transfer_.on_body(std::string_view(body.data(), body.size()), ec);
}
size_t PlainResponseParser::on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                               error_code& ec) {
  return transfer_.on_body(std::string_view(body.data(), body.size()), ec);
}

class PlainHttpClient::State : public std::enable_shared_from_this<PlainHttpClient::State> {
 public:
  using Transfer = PlainTransfer;
  using Phase = Transfer::Phase;

  State(asio::io_context& io, const HttpClientOptions& options)
      : strand_(asio::make_strand(io)),
        options_(options),
        sweep_timer_(strand_),
        resolver_(strand_) {}

  ~State() {
    for (auto& [key, pool] : pools_) {
      for (auto& connection : pool.idle) {
        error_code ignored;
        connection->socket.close(ignored);
      }
    }
  }

  std::shared_ptr<HttpCall> start(HttpRequest&& request, HttpTimeouts timeouts,
                                  HttpHandlers&& handlers) {
    auto transfer = std::make_shared<Transfer>(weak_from_this(), std::move(request), timeouts,
                                               std::move(handlers));
    // Dispatched: from this client's own thread with the strand free (the usual case: the
    // backend call runs on its caller's thread), the request is written now instead of after a
    // trip through the event loop (a reactor poll and a strand hop per call). Handlers still
    // never run inside start(): completions reached before it returns are posted.
    struct Depth {
      Depth() { ++starting_depth; }
      ~Depth() { --starting_depth; }
    } depth;
    asio::dispatch(strand_, [self = shared_from_this(), transfer] { self->begin(transfer); });
    return transfer;
  }

  void shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->shut_down_ = true;
      std::vector<std::shared_ptr<Transfer>> all = self->active_;
      for (auto& transfer : all) {
        self->abort(transfer, make_error(ErrorKind::cancelled, "cancelled"));
      }
      for (auto& [key, pool] : self->pools_) {
        for (auto& connection : pool.idle) self->discard(*connection);
        pool.idle.clear();
      }
      self->sweep_timer_.cancel();
      self->resolver_.cancel();
    });
  }

  void abort(const std::shared_ptr<Transfer>& transfer, Error error) {
    if (transfer->phase_ == Phase::done) return;
    if (auto connection = std::move(transfer->connection_)) {
      discard(*connection);  // mid-exchange: the connection cannot carry another call
    }
    finish(transfer, std::unexpected(std::move(error)));
  }

  Strand strand_;

 private:
  struct Pool {
    std::vector<std::shared_ptr<Connection>> idle;   // most recently used last
    size_t open = 0;                                 // idle + in use + connecting
    std::vector<std::shared_ptr<Transfer>> waiting;  // over max_connections_per_host
  };
  struct Resolved {
    std::vector<tcp::endpoint> endpoints;
    Clock::time_point expires;
  };

  // A backend calls the same few URLs over and over: each is parsed once (null: not a URL
  // this client can call).
  std::shared_ptr<const Target> target_of(const std::string& url) {
    if (auto it = targets_.find(url); it != targets_.end()) return it->second;
    auto parsed = parse_url(url);
    if (!parsed) return nullptr;
    if (targets_.size() >= kMaxCachedTargets) targets_.clear();
    auto target = std::make_shared<const Target>(std::move(*parsed));
    targets_.emplace(url, target);
    return target;
  }

  void begin(const std::shared_ptr<Transfer>& transfer) {
    if (transfer->phase_ == Phase::done) return;  // cancelled before it began
    if (shut_down_) return finish(transfer, fail(ErrorKind::cancelled, "cancelled"));
    transfer->target_ = target_of(transfer->request_.url);
    if (!transfer->target_) {
      return finish(transfer,
                    fail(ErrorKind::internal, "bad upstream URL: " + transfer->request_.url));
    }
    transfer->max_bytes_ = options_.max_response_bytes;
    transfer->started_ = transfer->last_activity_ = Clock::now();
    transfer->slot_ = active_.size();
    active_.push_back(transfer);
    schedule_sweep();
    acquire(transfer);
  }

  // A pooled connection if one is alive, else a new one (or a wait for one, at the limit).
  void acquire(const std::shared_ptr<Transfer>& transfer) {
    Pool& pool = pools_[transfer->target_->key];
    const auto now = Clock::now();
    while (!pool.idle.empty()) {
      std::shared_ptr<Connection> connection = std::move(pool.idle.back());
      pool.idle.pop_back();
      if (now - connection->idle_since < kMaxIdleAge && still_open(*connection)) {
        return send(transfer, std::move(connection), true);
      }
      discard(*connection);
    }
    const auto limit = options_.max_connections_per_host;
    if (limit > 0 && pool.open >= static_cast<size_t>(limit)) {
      transfer->phase_ = Phase::queued;
      pool.waiting.push_back(transfer);
      return;
    }
    pool.open++;
    connect(transfer);
  }

  // A pooled connection the server has closed (or written to unasked) must not carry the
  // request: one non-blocking peek tells, before anything is sent.
  static bool still_open(Connection& connection) {
    char byte = 0;
    ssize_t n = ::recv(connection.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void connect(const std::shared_ptr<Transfer>& transfer) {
    transfer->phase_ = Phase::connecting;
    transfer->last_activity_ = Clock::now();
    auto connection = std::make_shared<Connection>(strand_);
    connection->key = transfer->target_->key;
    transfer->connection_ = connection;
    const Target& target = *transfer->target_;
    error_code ec;
    auto address = asio::ip::make_address(target.host, ec);
    if (!ec) {
      uint16_t port = static_cast<uint16_t>(std::stoi(target.port_text));
      return connect_to(transfer, connection, {tcp::endpoint(address, port)});
    }
    if (auto it = resolved_.find(target.key);
        it != resolved_.end() && it->second.expires > Clock::now()) {
      return connect_to(transfer, connection, it->second.endpoints);
    }
    resolver_.async_resolve(
        target.host, target.port_text,
        [self = shared_from_this(), transfer, connection](
            const error_code& resolve_ec, const tcp::resolver::results_type& results) {
          if (transfer->connection_ != connection || transfer->phase_ == Phase::done) return;
          if (resolve_ec || results.empty()) {
            return self->abort(transfer,
                               make_error(ErrorKind::upstream_unavailable,
                                          "cannot resolve upstream host " +
                                              transfer->target_->host + ": " +
                                              resolve_ec.message()));
          }
          Resolved entry{.endpoints = {}, .expires = Clock::now() + kResolveTtl};
          for (const auto& result : results) entry.endpoints.push_back(result.endpoint());
          self->resolved_[transfer->target_->key] = entry;
          self->connect_to(transfer, connection, entry.endpoints);
        });
  }

  void connect_to(const std::shared_ptr<Transfer>& transfer,
                  const std::shared_ptr<Connection>& connection,
                  const std::vector<tcp::endpoint>& endpoints) {
    asio::async_connect(
        connection->socket, endpoints,
        [self = shared_from_this(), transfer, connection](const error_code& ec,
                                                          const tcp::endpoint& endpoint) {
          if (transfer->connection_ != connection || transfer->phase_ == Phase::done) return;
          if (ec) {
            return self->abort(transfer, make_error(ErrorKind::upstream_unavailable,
                                                    "cannot connect to upstream: " + ec.message()));
          }
          error_code ignored;
          // Connecting registered the socket for writability too; with edge-triggered epoll
          // every ACK would then wake the loop for nothing. Re-registered for reads only
          // (writes are tried at once and only rarely wait).
          error_code ec2;
          const auto protocol = endpoint.protocol();
          auto fd = connection->socket.release(ec2);
          if (!ec2) connection->socket.assign(protocol, fd, ec2);
          if (ec2) {
            if (!connection->socket.is_open() && fd >= 0) ::close(fd);
            return self->abort(transfer, make_error(ErrorKind::upstream_unavailable,
                                                    "cannot use the upstream connection: " +
                                                        ec2.message()));
          }
          connection->socket.set_option(tcp::no_delay(true), ignored);
          connection->socket.non_blocking(true, ignored);
          self->send(transfer, connection, false);
        });
  }

  void send(const std::shared_ptr<Transfer>& transfer, std::shared_ptr<Connection> connection,
            bool reused) {
    transfer->connection_ = std::move(connection);
    transfer->reused_ = reused;
    transfer->phase_ = Phase::writing;
    transfer->last_activity_ = Clock::now();  // the first-byte clock runs from here
    transfer->written_ = 0;
    Connection& conn = *transfer->connection_;
    serialize_head(conn.head, transfer->request_, *transfer->target_);
    const std::string& body = transfer->request_.body;
    // Usually the whole request fits the socket buffer: written now, no completion to wait for.
    error_code ec;
    size_t n = conn.socket.write_some(
        std::array<asio::const_buffer, 2>{asio::buffer(conn.head), asio::buffer(body)}, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      n = 0;
    }
    if (ec) return on_write_failed(transfer, ec);
    transfer->written_ = n;
    if (n == conn.head.size() + body.size()) return start_reading(transfer);
    // The rest: each buffer advanced past what was sent (a const_buffer's + stops at its end).
    const size_t body_sent = n > conn.head.size() ? n - conn.head.size() : 0;
    const std::array<asio::const_buffer, 2> rest{asio::buffer(conn.head) + n,
                                                 asio::buffer(body) + body_sent};
    auto connection_ptr = transfer->connection_;
    asio::async_write(
        conn.socket, rest,
        [self = shared_from_this(), transfer, connection_ptr](const error_code& write_ec,
                                                              size_t written) {
          if (transfer->connection_ != connection_ptr || transfer->phase_ == Phase::done) {
            return;
          }
          transfer->written_ += written;
          if (write_ec) return self->on_write_failed(transfer, write_ec);
          self->start_reading(transfer);
        });
  }

  void on_write_failed(const std::shared_ptr<Transfer>& transfer, const error_code& ec) {
    auto connection = std::move(transfer->connection_);
    discard(*connection);
    if (transfer->reused_ && transfer->written_ == 0 && !transfer->retried_) {
      // The pooled connection died before any of the request left: nothing was sent, so a
      // fresh connection carries it, once.
      transfer->retried_ = true;
      return acquire(transfer);
    }
    finish(transfer, fail(ErrorKind::upstream_unavailable,
                          "cannot send the request upstream: " + ec.message()));
  }

  void start_reading(const std::shared_ptr<Transfer>& transfer) {
    transfer->phase_ = Phase::waiting_head;
    new_parser(*transfer);
    if (transfer->connection_->buffer.size() > 0) {
      if (starting_depth == 0) return on_read(transfer, {});
      auto connection = transfer->connection_;
      return asio::post(strand_, [self = shared_from_this(), transfer, connection] {
        if (transfer->connection_ != connection || transfer->phase_ == Phase::done) return;
        self->on_read(transfer, {});
      });
    }
    read_more(transfer);
  }

  void new_parser(Transfer& transfer) {
    transfer.parser_.emplace(transfer);
    auto& parser = *transfer.parser_;
    parser.eager(true);
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(boost::none);  // max_response_bytes is counted in on_body
    if (iequals_ascii(transfer.request_.method, "head")) parser.skip(true);
  }

  void read_more(const std::shared_ptr<Transfer>& transfer) {
    auto connection = transfer->connection_;
    // A read is tried at once (speculatively) and otherwise waits in the reactor, with no
    // readiness poll of its own.
    connection->socket.async_read_some(
        connection->buffer.prepare(kReadChunk),
        [self = shared_from_this(), transfer, connection](const error_code& ec, size_t n) {
          if (transfer->connection_ != connection || transfer->phase_ == Phase::done) return;
          connection->buffer.commit(n);
          self->on_read(transfer, ec);
        });
  }

  void on_read(const std::shared_ptr<Transfer>& transfer, const error_code& read_ec) {
    transfer->last_activity_ = Clock::now();
    Connection& conn = *transfer->connection_;
    while (conn.buffer.size() > 0) {
      error_code ec;
      size_t used = transfer->parser_->put(conn.buffer.data(), ec);
      conn.buffer.consume(used);
      if (transfer->phase_ == Phase::done) return;
      if (ec == beast::http::error::need_more) break;
      if (ec) return fail_parse(transfer, ec);
      if (transfer->parser_->is_done()) {
        if (transfer->status_ < 200) {
          new_parser(*transfer);  // an interim 1xx: the final response follows
          continue;
        }
        return complete(transfer);
      }
    }
    if (!read_ec) return read_more(transfer);
    if (read_ec == asio::error::eof) {
      // A body delimited by the close ends here.
      error_code ec;
      transfer->parser_->put_eof(ec);
      if (!ec && transfer->parser_->is_done() && transfer->status_ >= 200) {
        return complete(transfer, /*reusable=*/false);
      }
    }
    if (transfer->head_delivered_) {
      return abort(transfer,
                   make_error(ErrorKind::upstream_error,
                              "upstream response cut after its head: " + read_ec.message()));
    }
    abort(transfer,
          make_error(ErrorKind::upstream_unavailable,
                     "upstream closed the connection before a response: " + read_ec.message()));
  }

  void fail_parse(const std::shared_ptr<Transfer>& transfer, const error_code& ec) {
    if (transfer->oversized_) {
      return abort(
          transfer,
          make_error(ErrorKind::upstream_error,
                     "response exceeds " + std::to_string(options_.max_response_bytes) + " bytes"));
    }
    if (transfer->head_delivered_) {
      return abort(transfer, make_error(ErrorKind::upstream_error,
                                        "malformed upstream response body: " + ec.message()));
    }
    abort(transfer, make_error(ErrorKind::upstream_unavailable,
                               "malformed upstream response head: " + ec.message()));
  }

  void complete(const std::shared_ptr<Transfer>& transfer, bool reusable = true) {
    auto connection = std::move(transfer->connection_);
    // Bytes beyond the response would be an answer to nothing: such a connection is dropped.
    if (reusable && transfer->parser_->keep_alive() && connection->buffer.size() == 0) {
      release(std::move(connection));
    } else {
      discard(*connection);
    }
    finish(transfer, {});
  }

  // Back to the pool, or straight to a call waiting for a connection to this host.
  void release(std::shared_ptr<Connection> connection) {
    Pool& pool = pools_[connection->key];
    while (!pool.waiting.empty()) {
      auto next = std::move(pool.waiting.front());
      pool.waiting.erase(pool.waiting.begin());
      if (next->phase_ == Phase::queued) return send(next, std::move(connection), true);
    }
    if (shut_down_ || pool.idle.size() >= kMaxIdlePerHost) return discard(*connection);
    connection->idle_since = Clock::now();
    pool.idle.push_back(std::move(connection));
  }

  void discard(Connection& connection) {
    error_code ignored;
    connection.socket.close(ignored);
    if (!connection.counted) return;
    connection.counted = false;
    Pool& pool = pools_[connection.key];
    pool.open--;
    // A slot came free: the first call still waiting for one opens a connection.
    while (!pool.waiting.empty() && !shut_down_) {
      auto next = std::move(pool.waiting.front());
      pool.waiting.erase(pool.waiting.begin());
      if (next->phase_ != Phase::queued) continue;
      pool.open++;
      connect(next);
      break;
    }
  }

  void finish(const std::shared_ptr<Transfer>& transfer, Status result) {
    const bool was_active = transfer->phase_ != Phase::idle;
    transfer->phase_ = Phase::done;
    if (was_active && transfer->slot_ < active_.size() && active_[transfer->slot_] == transfer) {
      active_[transfer->slot_] = std::move(active_.back());
      active_[transfer->slot_]->slot_ = transfer->slot_;
      active_.pop_back();
    }
    transfer->parser_.reset();
    transfer->request_.body = std::string();
    HttpHandlers handlers = std::move(transfer->handlers_);
    transfer->handlers_ = {};
    if (!handlers.on_complete) return;
    if (starting_depth > 0) {
      // Inside start() (a call that failed before anything went out): never call back there.
      return asio::post(strand_, [on_complete = std::move(handlers.on_complete),
                                  result = std::move(result)]() mutable {
        on_complete(std::move(result));
      });
    }
    handlers.on_complete(std::move(result));
  }

  void schedule_sweep() {
    if (sweeping_ || active_.empty()) return;
    sweeping_ = true;
    sweep_timer_.expires_after(kSweepInterval);
    sweep_timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
      auto self = weak.lock();
      if (!self) return;
      self->sweeping_ = false;
      if (ec) return;
      const auto now = Clock::now();
      std::vector<std::pair<std::shared_ptr<Transfer>, Error>> late;
      for (const auto& transfer : self->active_) {
        if (auto error = transfer->expired(now)) late.emplace_back(transfer, std::move(*error));
      }
      for (auto& [transfer, error] : late) self->abort(transfer, std::move(error));
      self->schedule_sweep();
    });
  }

  HttpClientOptions options_;
  asio::steady_timer sweep_timer_;
  bool sweeping_ = false;
  tcp::resolver resolver_;
  std::vector<std::shared_ptr<Transfer>> active_;  // began, not finished (see slot_)
  std::unordered_map<std::string, Pool> pools_;
  std::unordered_map<std::string, Resolved> resolved_;
  std::unordered_map<std::string, std::shared_ptr<const Target>> targets_;  // by URL
  bool shut_down_ = false;
};

void PlainTransfer::cancel() {
  auto client = client_.lock();
  if (!client) return;
  asio::post(client->strand_, [client, self = shared_from_this()] {
    if (self->phase_ == Phase::idle) {
      // Not begun yet: begin() will see it done.
      self->phase_ = Phase::done;
      HttpHandlers handlers = std::move(self->handlers_);
      self->handlers_ = {};
      if (handlers.on_complete) handlers.on_complete(fail(ErrorKind::cancelled, "cancelled"));
      return;
    }
    client->abort(self, make_error(ErrorKind::cancelled, "cancelled"));
  });
}

PlainHttpClient::PlainHttpClient(asio::io_context& io, const HttpClientOptions& options)
    : state_(std::make_shared<State>(io, options)) {}

PlainHttpClient::~PlainHttpClient() { shutdown(); }

bool PlainHttpClient::serves(std::string_view url) {
  // Cheap on purpose (every call asks): begin() parses the URL fully and fails a bad one.
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || !iequals_ascii(url.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  std::string_view authority = url.substr(kScheme.size());
  authority = authority.substr(0, authority.find_first_of("/?#"));
  return !authority.empty() && authority.find('@') == std::string_view::npos;
}

std::shared_ptr<HttpCall> PlainHttpClient::start(HttpRequest&& request, HttpTimeouts timeouts,
                                                 HttpHandlers&& handlers) {
  return state_->start(std::move(request), timeouts, std::move(handlers));
}

void PlainHttpClient::shutdown() { state_->shutdown(); }

Strand PlainHttpClient::strand() const { return state_->strand_; }

}  // namespace sy::backends::http
