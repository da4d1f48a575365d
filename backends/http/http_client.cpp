#include "switchyard/backends/http_client.h"

#include <curl/curl.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cctype>
#include <cstdlib>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "curl_handles.h"
#include "http_client_strands.h"
#include "plain_http_client.h"

namespace sy::backends {
using http::CurlEasy;
using http::CurlMulti;
using http::CurlSlist;
using http::slist_append;

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

// ASCII only (header names are tokens): no locale lookup per character.
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// "HTTP/1.1 200 OK" or "HTTP/2 200" -> 200; nullopt for a line that is no status line.
std::optional<int> parse_status_line(std::string_view line) {
  if (!line.starts_with("HTTP/")) return std::nullopt;
  auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(space + 1);
  int status = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), status);
  if (ec != std::errc() || status < 100 || status > 999) return std::nullopt;
  return status;
}

constexpr std::chrono::milliseconds kSweepInterval{10};
// Finished easy handles kept for the next transfer: curl_easy_init plus the per-handle buffers
// curl allocates on first use cost more than curl_easy_reset. Bounded so a burst does not pin
// memory forever.
constexpr size_t kMaxIdleEasyHandles = 64;

Error make_error(ErrorKind kind, std::string message) {
  return Error{.kind = kind, .message = std::move(message)};
}

// One socket curl asked us to watch. The descriptor only borrows curl's fd: it is released,
// never closed, so curl stays the owner of its sockets.
struct SocketWatch {
  explicit SocketWatch(const Strand& strand) : descriptor(strand) {}
  asio::posix::stream_descriptor descriptor;
  int what = 0;
  bool reading = false;
  bool writing = false;
  bool forgotten = false;
  // A connection socket we opened (and close): it stays registered with the reactor while
  // curl keeps the connection cached between transfers, which saves three epoll_ctl calls
  // per reused connection. Other sockets (e.g. the resolver's wake-up pair) are closed by
  // curl itself, so they are forgotten as soon as curl stops watching them.
  bool ours = false;
};

}  // namespace

class HttpClient::Impl : public std::enable_shared_from_this<HttpClient::Impl> {
 public:
  class Transfer;

  Impl(asio::io_context& io, HttpClientOptions options)
      : strand_(asio::make_strand(io)),
        options_(std::move(options)),
        multi_timer_(strand_),
        sweep_timer_(strand_) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_.reset(curl_multi_init());
    curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    if (options_.max_connections_per_host > 0) {
      curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                        options_.max_connections_per_host);
    }
    // curl honours these proxy variables for http://; the built-in client knows no proxies.
    const bool proxied = std::getenv("http_proxy") != nullptr ||
                         std::getenv("all_proxy") != nullptr ||
                         std::getenv("ALL_PROXY") != nullptr;
    if (options_.builtin_http1 && !proxied) {
      plain_ = std::make_unique<http::PlainHttpClient>(io, options_);
    }
  }

  ~Impl() {
    destroying_ = true;
    // Handlers hold a shared_ptr to us, so nothing runs concurrently any more.
    for (auto& [easy, transfer] : active_) curl_multi_remove_handle(multi_.get(), easy);
    active_.clear();
    idle_easy_.clear();
    multi_.reset();  // closes cached connections through on_close_socket
    for (auto& [fd, watch] : sockets_) release(*watch);
    sockets_.clear();
    curl_global_cleanup();
  }

  // By reference: the request and handlers are moved once, into the transfer.
  std::shared_ptr<HttpCall> start(HttpRequest&& request, HttpTimeouts timeouts,
                                  HttpHandlers&& handlers);
  void shutdown() {
    if (plain_) plain_->shutdown();
    asio::post(strand_, [self = shared_from_this()] {
      self->shut_down_ = true;
      std::vector<std::shared_ptr<Transfer>> all;
      for (auto& [easy, transfer] : self->active_) all.push_back(transfer);
      for (auto& transfer : all) {
        self->abort(transfer, make_error(ErrorKind::cancelled, "cancelled"));
      }
    });
  }

  Strand strand_;

  std::optional<HttpClientStrands::Strand> plain_strand(std::string_view url) const {
    if (!plain_ || !http::PlainHttpClient::serves(url)) return std::nullopt;
    return plain_->strand();
  }

 private:
  friend class Transfer;

  void begin(const std::shared_ptr<Transfer>& transfer);
  void abort(const std::shared_ptr<Transfer>& transfer, Error error);
  void finish(const std::shared_ptr<Transfer>& transfer, Status result);
  void socket_action(curl_socket_t fd, int events);
  void schedule_sweep();
  void sweep();
  void drain_messages();
  void arm(curl_socket_t fd, const std::shared_ptr<SocketWatch>& watch);
  void forget(curl_socket_t fd);
  static void release(SocketWatch& watch) {
    watch.forgotten = true;
    boost::system::error_code ignored;
    watch.descriptor.cancel(ignored);
    if (watch.descriptor.is_open()) watch.descriptor.release();
  }
  Status result_of(Transfer& transfer, CURLcode code);

  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose,
                                      curl_sockaddr* address);
  static int on_close_socket(void* clientp, curl_socket_t fd);

  HttpClientOptions options_;
  CurlMulti multi_;
  asio::steady_timer multi_timer_;
  bool multi_timer_armed_ = false;
  // One coarse timer checks every transfer's deadlines, instead of a timer per transfer:
  // re-arming asio timers (timerfd_settime) per request was the largest cost of a proxied
  // call. Deadlines are honoured within kSweepInterval.
  asio::steady_timer sweep_timer_;
  bool sweeping_ = false;
  std::unordered_map<CURL*, std::shared_ptr<Transfer>> active_;
  std::unordered_map<curl_socket_t, std::shared_ptr<SocketWatch>> sockets_;
  std::vector<CurlEasy> idle_easy_;  // reset handles, ready for reuse (see kMaxIdleEasyHandles)
  bool shut_down_ = false;
  bool destroying_ = false;
  std::unique_ptr<http::PlainHttpClient> plain_;  // plain http:// calls; null: all via curl
};

class HttpClient::Impl::Transfer final : public HttpCall,
                                         public std::enable_shared_from_this<Transfer> {
 public:
  Transfer(const std::shared_ptr<Impl>& client, HttpRequest request, HttpTimeouts timeouts,
           HttpHandlers handlers)
      : client_(client),
        request_(std::move(request)),
        timeouts_(timeouts),
        handlers_(std::move(handlers)) {}

  void cancel() override {
    auto client = client_.lock();
    if (!client) return;
    asio::post(client->strand_, [client, self = shared_from_this()] {
      client->abort(self, make_error(ErrorKind::cancelled, "cancelled"));
    });
  }

  // Everything below runs on the client's strand.
  enum class Phase { waiting_head, reading_body, done };

  // `recycled`: a reset handle to reuse, or null to create one.
  bool configure(const HttpClientOptions& options, CurlEasy recycled);
  // The deadline this transfer has passed at `now`, if any: total, first byte or idle.
  std::optional<Error> expired(Clock::time_point now) const;

  static size_t on_header(char* data, size_t size, size_t count, void* userp);
  static size_t on_write(char* data, size_t size, size_t count, void* userp);
  static int on_prereq(void* userp, char*, char*, int, int);

  std::weak_ptr<Impl> client_;
  HttpRequest request_;
  HttpTimeouts timeouts_;
  HttpHandlers handlers_;
  CurlEasy easy_;
  CurlSlist header_list_;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  Phase phase_ = Phase::waiting_head;
  bool connected_ = false;  // the request is going out: the first-byte clock runs
  int status_ = 0;
  Headers headers_;
  bool head_delivered_ = false;
  size_t received_ = 0;
  size_t max_bytes_ = 0;
  bool oversized_ = false;
  Clock::time_point started_;
  Clock::time_point last_activity_;
};

bool HttpClient::Impl::Transfer::configure(const HttpClientOptions& options,
                                           CurlEasy recycled) {
  easy_ = recycled ? std::move(recycled) : CurlEasy(curl_easy_init());
  if (!easy_) return false;
  CURL* e = easy_.get();
  max_bytes_ = options.max_response_bytes;
  curl_easy_setopt(e, CURLOPT_PRIVATE, this);
  curl_easy_setopt(e, CURLOPT_URL, request_.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.connect.count()));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &Transfer::on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, this);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::on_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, client_.lock().get());
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, client_.lock().get());

  if (request_.method == "GET" && request_.body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request_.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request_.body.size()));
    if (request_.method != "POST") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
    }
  }

  // No "Expect: 100-continue" round trip for large bodies: vendors answer at once anyway.
  if (!slist_append(header_list_, "Expect:")) return false;
  for (const auto& [name, value] : request_.headers) {
    std::string line = name + ": " + value;
    if (value.empty()) line = name + ";";  // curl's spelling of a header with empty value
    if (!slist_append(header_list_, line.c_str())) return false;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list_.get());
  return true;
}

std::optional<Error> HttpClient::Impl::Transfer::expired(Clock::time_point now) const {
  if (phase_ == Phase::done) return std::nullopt;
  if (now - started_ >= timeouts_.total) {
    return make_error(ErrorKind::upstream_timeout,
                      "upstream total timeout after " + std::to_string(timeouts_.total.count()) +
                          " ms");
  }
  // Until the request goes out, curl's own connect timeout applies.
  if (phase_ == Phase::waiting_head && connected_ &&
      now - last_activity_ >= timeouts_.first_byte) {
    return make_error(ErrorKind::upstream_timeout,
                      "upstream first byte timeout after " +
                          std::to_string(timeouts_.first_byte.count()) + " ms");
  }
  if (phase_ == Phase::reading_body && now - last_activity_ >= timeouts_.idle) {
    return make_error(ErrorKind::upstream_timeout,
                      "upstream idle timeout after " + std::to_string(timeouts_.idle.count()) +
                          " ms without data");
  }
  return std::nullopt;
}

int HttpClient::Impl::Transfer::on_prereq(void* userp, char*, char*, int, int) {
  auto* self = static_cast<Transfer*>(userp);
  // Connected (or reusing a connection): the request goes out now, the first-byte clock runs.
  self->connected_ = true;
  self->last_activity_ = Clock::now();
  return CURL_PREREQFUNC_OK;
}

size_t HttpClient::Impl::Transfer::on_header(char* data, size_t size, size_t count,
                                             void* userp) {
  auto* self = static_cast<Transfer*>(userp);
  size_t n = size * count;
  std::string_view line(data, n);
  if (self->head_delivered_) return n;  // trailers of a chunked body
  if (auto status = parse_status_line(line)) {
    self->status_ = *status;
    self->headers_.clear();
    return n;
  }
  if (trim(line).empty()) {
    if (self->status_ < 200) {
      // 1xx interim answer (100-continue, 103): the final head follows.
      self->status_ = 0;
      self->headers_.clear();
      return n;
    }
    self->head_delivered_ = true;
    self->phase_ = Phase::reading_body;
    self->last_activity_ = Clock::now();
    if (self->handlers_.on_head) self->handlers_.on_head(self->status_, self->headers_);
    return n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    self->headers_.emplace_back(lower(trim(line.substr(0, colon))),
                                std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

size_t HttpClient::Impl::Transfer::on_write(char* data, size_t size, size_t count,
                                            void* userp) {
  auto* self = static_cast<Transfer*>(userp);
  size_t n = size * count;
  self->received_ += n;
  if (self->received_ > self->max_bytes_) {
    self->oversized_ = true;
    return CURL_WRITEFUNC_ERROR;
  }
  self->last_activity_ = Clock::now();
  if (!self->head_delivered_) {
    // A head without the blank line we wait for should not happen; deliver what curl knows.
    long status = 0;
    curl_easy_getinfo(self->easy_.get(), CURLINFO_RESPONSE_CODE, &status);
    self->status_ = static_cast<int>(status);
    self->head_delivered_ = true;
    self->phase_ = Phase::reading_body;
    if (self->handlers_.on_head) self->handlers_.on_head(self->status_, self->headers_);
  }
  if (self->handlers_.on_body) self->handlers_.on_body(std::string_view(data, n));
  return n;
}

std::shared_ptr<HttpCall> HttpClient::Impl::start(HttpRequest&& request, HttpTimeouts timeouts,
                                                  HttpHandlers&& handlers) {
  if (plain_ && http::PlainHttpClient::serves(request.url)) {
    return plain_->start(std::move(request), timeouts, std::move(handlers));
  }
  auto transfer = std::make_shared<Transfer>(shared_from_this(), std::move(request), timeouts,
                                             std::move(handlers));
  asio::post(strand_, [self = shared_from_this(), transfer] { self->begin(transfer); });
  return transfer;
}

void HttpClient::Impl::begin(const std::shared_ptr<Transfer>& transfer) {
  if (transfer->phase_ == Transfer::Phase::done) return;  // cancelled before it began
  if (shut_down_) return finish(transfer, fail(ErrorKind::cancelled, "cancelled"));
  CurlEasy recycled;
  if (!idle_easy_.empty()) {
    recycled = std::move(idle_easy_.back());
    idle_easy_.pop_back();
  }
  if (!transfer->configure(options_, std::move(recycled))) {
    return finish(transfer, fail(ErrorKind::internal, "cannot create an HTTP transfer"));
  }
  transfer->started_ = Clock::now();
  transfer->last_activity_ = transfer->started_;
  CURL* easy = transfer->easy_.get();
  active_.emplace(easy, transfer);
  if (curl_multi_add_handle(multi_.get(), easy) != CURLM_OK) {
    active_.erase(easy);
    finish(transfer, fail(ErrorKind::internal, "cannot start an HTTP transfer"));
    return;
  }
  schedule_sweep();
}

void HttpClient::Impl::schedule_sweep() {
  if (sweeping_ || active_.empty()) return;
  sweeping_ = true;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->sweeping_ = false;
    if (!ec) self->sweep();
  });
}

void HttpClient::Impl::sweep() {
  const auto now = Clock::now();
  std::vector<std::pair<std::shared_ptr<Transfer>, Error>> late;
  for (const auto& [easy, transfer] : active_) {
    if (auto error = transfer->expired(now)) late.emplace_back(transfer, std::move(*error));
  }
  for (auto& [transfer, error] : late) abort(transfer, std::move(error));
  schedule_sweep();
}

void HttpClient::Impl::abort(const std::shared_ptr<Transfer>& transfer, Error error) {
  if (transfer->phase_ == Transfer::Phase::done) return;
  if (CURL* easy = transfer->easy_.get(); easy != nullptr && active_.erase(easy) > 0) {
    curl_multi_remove_handle(multi_.get(), easy);
  }
  finish(transfer, std::unexpected(std::move(error)));
}

void HttpClient::Impl::finish(const std::shared_ptr<Transfer>& transfer, Status result) {
  transfer->phase_ = Transfer::Phase::done;
  // Callers have removed the handle from the multi already (or never added it).
  if (transfer->easy_ && !destroying_ && idle_easy_.size() < kMaxIdleEasyHandles) {
    // Keeps curl's connection and DNS caches; every option goes back to its default.
    curl_easy_reset(transfer->easy_.get());
    idle_easy_.push_back(std::move(transfer->easy_));
  }
  transfer->easy_.reset();
  transfer->header_list_.reset();
  HttpHandlers handlers = std::move(transfer->handlers_);
  transfer->handlers_ = {};
  if (handlers.on_complete) handlers.on_complete(std::move(result));
}

Status HttpClient::Impl::result_of(Transfer& transfer, CURLcode code) {
  std::string detail = transfer.error_buffer_[0] != '\0' ? std::string(transfer.error_buffer_)
                                                         : std::string(curl_easy_strerror(code));
  if (code == CURLE_OK) {
    if (!transfer.head_delivered_) {
      return fail(ErrorKind::upstream_error, "upstream sent no response head");
    }
    return {};
  }
  if (transfer.oversized_) {
    return fail(ErrorKind::upstream_error, "response exceeds " +
                                                     std::to_string(options_.max_response_bytes) +
                                                     " bytes");
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return fail(ErrorKind::upstream_timeout,
                        "upstream connect timeout after " +
                            std::to_string(transfer.timeouts_.connect.count()) + " ms");
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return fail(ErrorKind::upstream_unavailable, "cannot connect to upstream: " + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return fail(ErrorKind::internal, "bad upstream URL: " + detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return fail(ErrorKind::upstream_unavailable, "upstream TLS failed: " + detail);
    default:
      break;
  }
  if (transfer.head_delivered_) {
    return fail(ErrorKind::upstream_error,
                      "upstream response cut after its head: " + detail);
  }
  return fail(ErrorKind::upstream_unavailable,
                    "upstream closed the connection before a response: " + detail);
}

void HttpClient::Impl::socket_action(curl_socket_t fd, int events) {
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, events, &running);
  drain_messages();
}

void HttpClient::Impl::drain_messages() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    auto it = active_.find(easy);
    if (it == active_.end()) continue;
    auto transfer = it->second;
    active_.erase(it);
    curl_multi_remove_handle(multi_.get(), easy);
    finish(transfer, result_of(*transfer, code));
  }
}

void HttpClient::Impl::arm(curl_socket_t fd, const std::shared_ptr<SocketWatch>& watch) {
  using Base = asio::posix::descriptor_base;
  if ((watch->what & CURL_POLL_IN) && !watch->reading) {
    watch->reading = true;
    watch->descriptor.async_wait(
        Base::wait_read, [self = shared_from_this(), fd, watch](boost::system::error_code ec) {
          watch->reading = false;
          if (ec || watch->forgotten || !(watch->what & CURL_POLL_IN)) return;
          self->socket_action(fd, CURL_CSELECT_IN);
          if (!watch->forgotten) self->arm(fd, watch);
        });
  }
  if ((watch->what & CURL_POLL_OUT) && !watch->writing) {
    watch->writing = true;
    watch->descriptor.async_wait(
        Base::wait_write, [self = shared_from_this(), fd, watch](boost::system::error_code ec) {
          watch->writing = false;
          if (ec || watch->forgotten || !(watch->what & CURL_POLL_OUT)) return;
          self->socket_action(fd, CURL_CSELECT_OUT);
          if (!watch->forgotten) self->arm(fd, watch);
        });
  }
}

void HttpClient::Impl::forget(curl_socket_t fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  release(*it->second);
  sockets_.erase(it);
}

int HttpClient::Impl::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  auto* self = static_cast<Impl*>(userp);
  if (self->destroying_) {
    self->forget(fd);
    return 0;
  }
  if (what == CURL_POLL_REMOVE) {
    auto it = self->sockets_.find(fd);
    if (it == self->sockets_.end()) return 0;
    if (!it->second->ours) {
      self->forget(fd);
    } else {
      // Pending waits stay; they see `what` == 0 and do nothing until curl reuses the socket.
      it->second->what = 0;
    }
    return 0;
  }
  auto& watch = self->sockets_[fd];
  if (!watch) {
    watch = std::make_shared<SocketWatch>(self->strand_);
    boost::system::error_code ec;
    watch->descriptor.assign(fd, ec);
    if (ec) {
      self->sockets_.erase(fd);
      return -1;
    }
  }
  watch->what = what;
  self->arm(fd, watch);
  return 0;
}

int HttpClient::Impl::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<Impl*>(userp);
  if (self->destroying_) return 0;
  if (self->multi_timer_armed_) {
    self->multi_timer_armed_ = false;
    self->multi_timer_.cancel();
  }
  if (timeout_ms < 0) return 0;
  auto on_expiry = [weak = self->weak_from_this()] {
    if (auto client = weak.lock()) client->socket_action(CURL_SOCKET_TIMEOUT, 0);
  };
  if (timeout_ms == 0) {
    // "Act now" is the common case (a handle was added): no timer for it.
    asio::post(self->strand_, std::move(on_expiry));
    return 0;
  }
  self->multi_timer_armed_ = true;
  self->multi_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  self->multi_timer_.async_wait(
      [weak = self->weak_from_this(), on_expiry](boost::system::error_code ec) {
        auto client = weak.lock();
        if (ec || !client) return;
        client->multi_timer_armed_ = false;
        on_expiry();
      });
  return 0;
}

curl_socket_t HttpClient::Impl::on_open_socket(void* clientp, curlsocktype purpose,
                                               curl_sockaddr* address) {
  auto* self = static_cast<Impl*>(clientp);
  const curl_socket_t fd =
      ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0 || purpose != CURLSOCKTYPE_IPCXN) return fd < 0 ? CURL_SOCKET_BAD : fd;
  auto watch = std::make_shared<SocketWatch>(self->strand_);
  boost::system::error_code ec;
  watch->descriptor.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return CURL_SOCKET_BAD;
  }
  watch->ours = true;
  self->sockets_[fd] = std::move(watch);
  return fd;
}

int HttpClient::Impl::on_close_socket(void* clientp, curl_socket_t fd) {
  // Stop watching before the fd number can be reused by another socket.
  static_cast<Impl*>(clientp)->forget(fd);
  return ::close(fd);
}

asio::io_context& caller_context(const std::vector<asio::io_context*>& contexts) {
  for (asio::io_context* context : contexts) {
    if (context->get_executor().running_in_this_thread()) return *context;
  }
  return *contexts.front();
}

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : HttpClient(std::vector<asio::io_context*>{&io}, std::move(options)) {}

HttpClient::HttpClient(const std::vector<asio::io_context*>& contexts, HttpClientOptions options)
    : contexts_(contexts) {
  if (contexts_.empty()) throw std::invalid_argument("HttpClient needs at least one io_context");
  impls_.reserve(contexts_.size());
  for (asio::io_context* context : contexts_) {
    impls_.push_back(std::make_shared<Impl>(*context, options));
  }
}

HttpClient::~HttpClient() { shutdown(); }

std::shared_ptr<HttpCall> HttpClient::start(HttpRequest request, HttpTimeouts timeouts,
                                            HttpHandlers handlers) {
  size_t index = 0;
  for (size_t i = 1; i < contexts_.size(); ++i) {
    if (contexts_[i]->get_executor().running_in_this_thread()) index = i;
  }
  return impls_[index]->start(std::move(request), timeouts, std::move(handlers));
}

void HttpClient::shutdown() {
  for (auto& impl : impls_) impl->shutdown();
}

std::optional<HttpClientStrands::Strand> HttpClientStrands::call_strand(
    const HttpClient& client, std::string_view url, const asio::io_context& context) {
  for (size_t i = 0; i < client.contexts_.size(); ++i) {
    if (client.contexts_[i] == &context) return client.impls_[i]->plain_strand(url);
  }
  return std::nullopt;
}

}  // namespace sy::backends
