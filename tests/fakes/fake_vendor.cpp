// The fake's transport: a blocking Beast/Asio server with one thread per connection. Blocking
// I/O keeps each fault a few straight lines (sleep, stall, reset); stop() unblocks every
// thread by shutting its socket down, so nothing here can hang a test.

#include "fakes/fake_vendor.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "fakes/fake_batch_api.h"
#include "fakes/vendor_wire.h"

namespace sy::fakes {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Site is overloaded";
    default:
      return "Status";
  }
}

// Which vendor route a request names, and the model it carries in its path, if any.
struct Route {
  Vendor vendor = Vendor::openai;
  wire::Endpoint endpoint = wire::Endpoint::chat;
  std::string path_model;
  bool stream_route = false;  // Gemini's streamGenerateContent
};

std::optional<Route> match_route(std::string_view method, std::string_view target) {
  const auto query_at = target.find('?');
  const std::string_view path = target.substr(0, query_at);
  const std::string_view query =
      query_at == std::string_view::npos ? std::string_view{} : target.substr(query_at + 1);
  if (method == "POST" && path == "/v1/chat/completions") return Route{};
  if (method == "POST" && path == "/v1/completions") {
    return Route{.endpoint = wire::Endpoint::completions};
  }
  if (method == "GET" && path == "/v1/models") return Route{.endpoint = wire::Endpoint::models};
  if (method == "POST" && path == "/v1/messages") {
    return Route{.vendor = Vendor::anthropic, .endpoint = wire::Endpoint::messages};
  }
  // Azure: per-deployment routes (api-version required) and the newer /openai/v1 surface.
  constexpr std::string_view azure_prefix = "/openai/deployments/";
  if (method == "POST" && path.starts_with(azure_prefix) &&
      query.find("api-version=") != std::string_view::npos) {
    const auto rest = path.substr(azure_prefix.size());
    const auto slash = rest.find('/');
    const auto deployment = rest.substr(0, slash);
    const auto verb = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (!deployment.empty() && (verb == "/chat/completions" || verb == "/completions")) {
      return Route{
          .vendor = Vendor::azure,
          .endpoint = verb == "/completions" ? wire::Endpoint::completions : wire::Endpoint::chat,
          .path_model = std::string(deployment)};
    }
  }
  if (method == "POST" && path == "/openai/v1/chat/completions") {
    return Route{.vendor = Vendor::azure};
  }
  constexpr std::string_view gemini_prefix = "/v1beta/models/";
  if (method == "POST" && path.starts_with(gemini_prefix)) {
    const auto rest = path.substr(gemini_prefix.size());
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && colon > 0) {
      const auto verb = rest.substr(colon + 1);
      Route route{.vendor = Vendor::gemini,
                  .endpoint = wire::Endpoint::generate,
                  .path_model = std::string(rest.substr(0, colon))};
      if (verb == "generateContent") return route;
      if (verb == "streamGenerateContent") {
        route.stream_route = true;
        return route;
      }
    }
  }
  return std::nullopt;
}

std::string query_param(std::string_view target, std::string_view name) {
  const auto query_at = target.find('?');
  if (query_at == std::string_view::npos) return {};
  std::string_view query = target.substr(query_at + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) {
      return std::string(item.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return {};
}

// The credential each vendor's SDK sends, as it would arrive.
std::string presented_key(Vendor vendor, const RecordedRequest& request) {
  auto header = [&](const char* name) -> std::string {
    auto it = request.headers.find(name);
    return it == request.headers.end() ? std::string{} : it->second;
  };
  auto bearer = [&]() -> std::string {
    const std::string value = header("authorization");
    return value.starts_with("Bearer ") ? value.substr(7) : std::string{};
  };
  switch (vendor) {
    case Vendor::openai:
      return bearer();
    case Vendor::azure:
      return header("api-key").empty() ? bearer() : header("api-key");
    case Vendor::anthropic:
      // Newer SDKs send the API key as a bearer token; older ones as x-api-key.
      return header("x-api-key").empty() ? bearer() : header("x-api-key");
    case Vendor::gemini: {
      const std::string key = header("x-goog-api-key");
      return key.empty() ? query_param(request.target, "key") : key;
    }
  }
  return {};
}

json request_to_json(const RecordedRequest& request) {
  json headers = json::object();
  for (const auto& [name, value] : request.headers) headers[name] = value;
  json out = {
      {"method", request.method},
      {"target", request.target},
      {"headers", headers},
      {"body", request.body},
      {"vendor", request.vendor ? json(std::string(to_string(*request.vendor))) : json(nullptr)}};
  return out;
}

}  // namespace

// ---- the server ------------------------------------------------------------------------------

struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::mutex mutex;  // guards `closed` against stop() shutting down a closed descriptor
  bool closed = false;
  std::atomic<bool> done{false};
  std::thread thread;

  void shutdown() {
    std::lock_guard lock(mutex);
    if (!closed) ::shutdown(socket.native_handle(), SHUT_RDWR);
  }
  // reset: an RST instead of a FIN. It goes only once what was sent has been acknowledged (at
  // most 1 s later), i.e. sits in the peer's receive queue: an RST discards the unsent part of
  // the send queue, so a reset "after content" on a loaded machine sometimes reset before the
  // content had left, and the gateway rightly fell back (a flaky FaultScenario).
  void close(bool reset) {
    std::lock_guard lock(mutex);
    if (closed) return;
    boost::system::error_code ec;
    if (reset) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      int queued = 0;
      while (::ioctl(socket.native_handle(), SIOCOUTQ, &queued) == 0 && queued > 0 &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      socket.set_option(asio::socket_base::linger(true, 0), ec);
    }
    socket.close(ec);
    closed = true;
  }
};

struct FakeVendor::State {
  FakeVendorOptions options;
  asio::io_context io;  // never run: only owns the sockets of this blocking server
  tcp::acceptor acceptor{io};
  uint16_t port = 0;
  std::thread accept_thread;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  bool stopping = false;
  std::deque<Script> scripts;
  std::optional<Reply> default_reply;
  std::vector<RecordedRequest> recorded;
  std::size_t connections = 0;
  uint64_t serial = 0;
  std::list<std::unique_ptr<Connection>> live;
  FakeBatchApi batches;  // its own lock

  void accept_loop();
  void serve(Connection& connection);
  // false: close the connection (after a fault or an error).
  bool handle(Connection& connection, const http::request<http::string_body>& request);
  bool control(Connection& connection, const http::request<http::string_body>& request);
  bool answer_vendor(Connection& connection, const Route& route, RecordedRequest recorded,
                     bool keep_alive);

  // Waits `ms` or until stop(); false when stopping.
  bool pause(int ms) {
    std::unique_lock lock(mutex);
    return !changed.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }
  bool is_stopping() const {
    std::lock_guard lock(mutex);
    return stopping;
  }
};

namespace {

bool send(Connection& connection, std::string_view bytes) {
  boost::system::error_code ec;
  asio::write(connection.socket, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

std::string head(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                 bool keep_alive, std::optional<std::size_t> content_length) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (content_length) {
    out += "content-length: " + std::to_string(*content_length) + "\r\n";
  } else {
    out += "transfer-encoding: chunked\r\n";
  }
  out += keep_alive ? "connection: keep-alive\r\n" : "connection: close\r\n";
  return out + "\r\n";
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

bool send_answer(Connection& connection, const wire::HttpAnswer& answer, bool keep_alive) {
  return send(connection,
              head(answer.status, answer.headers, keep_alive, answer.body.size()) + answer.body);
}

// Blocks until the peer closes or stop() shuts the socket down: a connection that is never
// answered (silent) or never finished (stalled) stays open but costs nothing.
void hold_open(Connection& connection) {
  char sink[4096];
  boost::system::error_code ec;
  while (!ec) connection.socket.read_some(asio::buffer(sink), ec);
}

std::string oversized_text(std::size_t bytes) {
  static constexpr std::string_view filler = "lorem ipsum dolor sit amet ";
  std::string text;
  text.reserve(bytes);
  while (text.size() < bytes) text += filler;
  text.resize(bytes);
  return text;
}

}  // namespace

void FakeVendor::State::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    std::unique_lock lock(mutex);
    if (stopping) return;
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning.
      changed.wait_for(lock, std::chrono::milliseconds(10), [&] { return stopping; });
      continue;
    }
    ++connections;
    // Reap finished connection threads so a long run does not accumulate them.
    for (auto it = live.begin(); it != live.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    auto connection = std::make_unique<Connection>(std::move(socket));
    Connection& ref = *connection;
    connection->thread = std::thread([this, &ref] {
      serve(ref);
      ref.done = true;
    });
    live.push_back(std::move(connection));
  }
}

void FakeVendor::State::serve(Connection& connection) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    parser.header_limit(64 * 1024);
    boost::system::error_code ec;
    http::read_header(connection.socket, buffer, parser, ec);
    if (ec) break;
    // libcurl asks before sending a body over 1 KiB and would otherwise wait a second.
    if (lower(parser.get()[http::field::expect]) == "100-continue" &&
        !send(connection, "HTTP/1.1 100 Continue\r\n\r\n")) {
      break;
    }
    if (!parser.is_done()) http::read(connection.socket, buffer, parser, ec);
    if (ec) break;
    if (!handle(connection, parser.get())) break;
  }
  connection.close(false);
}

bool FakeVendor::State::handle(Connection& connection,
                               const http::request<http::string_body>& request) {
  const std::string target(request.target());
  if (target.starts_with("/_fake/")) return control(connection, request);

  RecordedRequest recorded{.method = std::string(request.method_string()),
                           .target = target,
                           .headers = {},
                           .body = request.body(),
                           .vendor = std::nullopt};
  for (const auto& field : request) {
    recorded.headers[lower(field.name_string())] = std::string(field.value());
  }
  if (auto batch_vendor = FakeBatchApi::route_vendor(recorded.method, target)) {
    // The batch APIs: recorded and checked for credentials like every vendor route; no script.
    recorded.vendor = *batch_vendor;
    bool authorized = true;
    {
      std::lock_guard lock(mutex);
      ++serial;
      const auto key = options.keys.find(*batch_vendor);
      authorized = key == options.keys.end() || presented_key(*batch_vendor, recorded) == key->second;
      this->recorded.push_back(recorded);
    }
    changed.notify_all();
    if (!authorized) {
      return send_answer(connection,
                         wire::error_answer(*batch_vendor, wire::ErrorCase::unauthorized, 401),
                         request.keep_alive()) &&
             request.keep_alive();
    }
    if (batches.take_hold_before(recorded.method, target)) {
      hold_open(connection);  // never made, never answered
      return false;
    }
    auto answer = batches.handle(*batch_vendor, recorded.method, target,
                                 std::string(request[http::field::content_type]),
                                 std::string(request[http::field::host]), recorded.body);
    if (batches.take_create_hold(recorded.method, target, answer->status)) {
      hold_open(connection);  // accepted, never answered: the client must give up on it
      return false;
    }
    return send_answer(connection, *answer, request.keep_alive()) && request.keep_alive();
  }
  auto route = match_route(recorded.method, target);
  if (route) recorded.vendor = route->vendor;
  if (!route) {
    {
      std::lock_guard lock(mutex);
      recorded.vendor = std::nullopt;
      this->recorded.push_back(recorded);
    }
    changed.notify_all();
    wire::HttpAnswer answer{
        .status = 404,
        .headers = {{"content-type", "application/json"}},
        .body = json{{"error",
                      {{"message", "no such route in the fake vendor: " + target},
                       {"type", "invalid_request_error"},
                       {"code", "not_found"}}}}
                    .dump()};
    return send_answer(connection, answer, request.keep_alive()) && request.keep_alive();
  }
  return answer_vendor(connection, *route, std::move(recorded), request.keep_alive());
}

bool FakeVendor::State::answer_vendor(Connection& connection, const Route& route,
                                      RecordedRequest recorded, bool keep_alive) {
  wire::Exchange ex{.vendor = route.vendor, .endpoint = route.endpoint};
  if (recorded.method == "POST") {
    ex.request = json::parse(recorded.body, nullptr, false);
  }
  const bool bad_body = recorded.method == "POST" && !ex.request.is_object();

  Script script;
  bool authorized = true;
  {
    std::lock_guard lock(mutex);
    ex.serial = ++serial;
    const auto key = options.keys.find(route.vendor);
    authorized = key == options.keys.end() || presented_key(route.vendor, recorded) == key->second;
    this->recorded.push_back(recorded);
    if (authorized && !bad_body) {
      if (!scripts.empty()) {
        script = std::move(scripts.front());
        scripts.pop_front();
      }
      if (!script.reply && default_reply) script.reply = default_reply;
    }
  }
  changed.notify_all();

  if (!authorized || script.fault == Fault::unauthorized) {
    return send_answer(connection,
                       wire::error_answer(route.vendor, wire::ErrorCase::unauthorized, 401),
                       keep_alive) &&
           keep_alive;
  }
  if (bad_body) {
    return send_answer(connection,
                       wire::error_answer(route.vendor, wire::ErrorCase::bad_request, 400),
                       keep_alive) &&
           keep_alive;
  }

  ex.created = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  ex.model = route.path_model;
  if (ex.model.empty() && ex.request.is_object()) ex.model = ex.request.value("model", "");
  if (ex.model.empty()) ex.model = "fake-model";
  ex.stream =
      route.stream_route || (ex.request.is_object() && ex.request.value("stream", false) == true);
  if (ex.request.is_object() && ex.request.contains("stream_options") &&
      ex.request["stream_options"].is_object()) {
    ex.include_usage = ex.request["stream_options"].value("include_usage", false);
  }
  ex.prompt_tokens = wire::count_prompt_tokens(ex.endpoint, ex.request);

  auto decorate = [&](std::vector<std::pair<std::string, std::string>>& headers) {
    if (script.retry_after) headers.emplace_back("retry-after", *script.retry_after);
    for (const auto& header : script.headers) headers.push_back(header);
  };
  if (script.fault == Fault::stream_error && !ex.stream) {
    script.fault = Fault::status;
    if (script.status == 0) script.status = 500;
  }
  switch (script.fault) {
    case Fault::status: {
      auto answer = wire::error_answer(route.vendor, wire::error_case_for_status(script.status),
                                       script.status);
      answer.status = script.status;
      decorate(answer.headers);
      return send_answer(connection, answer, keep_alive) && keep_alive;
    }
    case Fault::context_length: {
      auto answer = wire::error_answer(route.vendor, wire::ErrorCase::context_length, 400);
      decorate(answer.headers);
      return send_answer(connection, answer, keep_alive) && keep_alive;
    }
    case Fault::reset_before_headers:
      connection.close(true);
      return false;
    case Fault::silent:
      hold_open(connection);
      return false;
    default:
      break;
  }

  Reply reply = script.reply ? *script.reply : wire::default_reply(ex);
  if (script.fault == Fault::content_filter) {
    reply = Reply{.text = "", .tool_calls = {}, .finish = "content_filter"};
  }
  if (script.fault == Fault::oversized) reply = Reply{.text = oversized_text(script.bytes)};

  if (!ex.stream) {
    if (script.fault == Fault::slow_first_token && !pause(script.delay_ms)) return false;
    auto answer = wire::full_answer(ex, reply);
    decorate(answer.headers);
    if (script.fault == Fault::reset_after_headers) {
      send(connection, head(200, answer.headers, keep_alive, answer.body.size()));
      connection.close(true);
      return false;
    }
    if (script.fault == Fault::stream_cut || script.fault == Fault::stalled_stream) {
      // A body shorter than its content-length: the non-streaming form of a cut.
      send(connection, head(200, answer.headers, keep_alive, answer.body.size()) +
                           answer.body.substr(0, answer.body.size() / 2));
      if (script.fault == Fault::stalled_stream) hold_open(connection);
      return false;
    }
    if (script.fault == Fault::malformed_chunk) {
      const std::string broken = answer.body.substr(0, answer.body.size() / 2);
      return send(connection, head(200, answer.headers, keep_alive, broken.size()) + broken) &&
             keep_alive;
    }
    return send_answer(connection, answer, keep_alive) && keep_alive;
  }

  auto events = wire::stream_events(ex, reply);
  std::vector<std::pair<std::string, std::string>> headers =
      wire::vendor_headers(route.vendor, ex.serial);
  headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
  headers.emplace_back("cache-control", "no-cache");
  decorate(headers);
  if (!send(connection, head(200, headers, keep_alive, std::nullopt))) return false;
  if (script.fault == Fault::slow_first_token && !pause(script.delay_ms)) return false;
  if (script.fault == Fault::missing_done && events.has_terminator) events.events.pop_back();

  const std::size_t before = static_cast<std::size_t>(std::max(script.chunks_before, 0));
  for (std::size_t i = 0; i < events.events.size(); ++i) {
    if (i == before) {
      switch (script.fault) {
        case Fault::reset_after_headers:
          connection.close(true);
          return false;
        case Fault::stream_cut:
          connection.close(false);
          return false;
        case Fault::stalled_stream:
          hold_open(connection);
          return false;
        case Fault::malformed_chunk:
          if (!send(connection, chunk(wire::malformed_event(route.vendor)))) return false;
          break;
        case Fault::stream_error:
          return send(connection, chunk(wire::stream_error_event(route.vendor)) + "0\r\n\r\n") &&
                 keep_alive;
        default:
          break;
      }
    }
    if (i > 0 && script.chunk_delay_ms > 0 && !pause(script.chunk_delay_ms)) return false;
    if (!send(connection, chunk(events.events[i]))) return false;
  }
  if (script.fault == Fault::reset_after_headers) {
    connection.close(true);
    return false;
  }
  if (script.fault == Fault::stream_cut) return false;
  if (script.fault == Fault::stalled_stream) {
    hold_open(connection);
    return false;
  }
  return send(connection, "0\r\n\r\n") && keep_alive;
}

bool FakeVendor::State::control(Connection& connection,
                                const http::request<http::string_body>& request) {
  const std::string target(request.target());
  const bool keep_alive = request.keep_alive();
  wire::HttpAnswer answer{.status = 200, .headers = {{"content-type", "application/json"}}};
  if (request.method() == http::verb::post && target == "/_fake/script") {
    auto scripts = parse_scripts(request.body());
    if (!scripts) {
      answer.status = 400;
      answer.body = json{{"error", scripts.error()}}.dump();
    } else {
      std::size_t pending = 0;
      {
        std::lock_guard lock(mutex);
        for (auto& s : *scripts) this->scripts.push_back(std::move(s));
        pending = this->scripts.size();
      }
      answer.body = json{{"pending", pending}}.dump();
    }
  } else if (request.method() == http::verb::get && target == "/_fake/requests") {
    json list = json::array();
    {
      std::lock_guard lock(mutex);
      for (const auto& r : recorded) list.push_back(request_to_json(r));
    }
    answer.body = list.dump();
  } else if (request.method() == http::verb::post && target == "/_fake/reset") {
    {
      std::lock_guard lock(mutex);
      scripts.clear();
      recorded.clear();
      default_reply.reset();
      connections = 0;
    }
    answer.body = "{}";
  } else {
    answer.status = 404;
    answer.body = json{{"error", "unknown control route"}}.dump();
  }
  return send_answer(connection, answer, keep_alive) && keep_alive;
}

// ---- FakeVendor -----------------------------------------------------------------------------

FakeVendor::FakeVendor(FakeVendorOptions options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  boost::system::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), state_->options.port);
  state_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(endpoint, ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("fake vendor: cannot listen on 127.0.0.1: " + ec.message());
  state_->port = state_->acceptor.local_endpoint().port();
  state_->accept_thread = std::thread([state = state_.get()] { state->accept_loop(); });
}

FakeVendor::~FakeVendor() { stop(); }

void FakeVendor::stop() {
  std::list<std::unique_ptr<Connection>> live;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;
    state_->stopping = true;
  }
  state_->changed.notify_all();
  // Linux wakes a blocked accept() when its socket is shut down.
  ::shutdown(state_->acceptor.native_handle(), SHUT_RDWR);
  if (state_->accept_thread.joinable()) state_->accept_thread.join();
  {
    std::lock_guard lock(state_->mutex);
    live.swap(state_->live);
  }
  for (auto& connection : live) connection->shutdown();
  for (auto& connection : live) {
    if (connection->thread.joinable()) connection->thread.join();
  }
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

uint16_t FakeVendor::port() const { return state_->port; }

std::string FakeVendor::base_url(Vendor vendor) const {
  const std::string origin = "http://127.0.0.1:" + std::to_string(state_->port);
  return vendor == Vendor::openai ? origin + "/v1" : origin;
}

void FakeVendor::push_script(Script script) {
  std::lock_guard lock(state_->mutex);
  state_->scripts.push_back(std::move(script));
}

void FakeVendor::push_scripts(std::vector<Script> scripts) {
  std::lock_guard lock(state_->mutex);
  for (auto& script : scripts) state_->scripts.push_back(std::move(script));
}

void FakeVendor::set_default_reply(std::optional<Reply> reply) {
  std::lock_guard lock(state_->mutex);
  state_->default_reply = std::move(reply);
}

std::size_t FakeVendor::pending_scripts() const {
  std::lock_guard lock(state_->mutex);
  return state_->scripts.size();
}

std::vector<RecordedRequest> FakeVendor::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->recorded;
}

std::size_t FakeVendor::request_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->recorded.size();
}

std::size_t FakeVendor::request_count(Vendor vendor) const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(
      std::count_if(state_->recorded.begin(), state_->recorded.end(),
                    [&](const RecordedRequest& r) { return r.vendor == vendor; }));
}

std::size_t FakeVendor::connection_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->connections;
}

bool FakeVendor::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->recorded.size() >= count; });
}

void FakeVendor::set_batch_delay(std::chrono::milliseconds delay) {
  state_->batches.set_complete_after(delay);
}

void FakeVendor::hold_batch_create_answers(std::size_t count, bool made) {
  state_->batches.hold_create_answers(count, made);
}

void FakeVendor::fail_batch_creates(std::size_t count) { state_->batches.fail_creates(count); }

void FakeVendor::set_batch_line_fault(BatchLineFaultFn fault) {
  state_->batches.set_line_fault(std::move(fault));
}

void FakeVendor::set_batch_reply(std::optional<Reply> reply) {
  state_->batches.set_reply(std::move(reply));
}

std::size_t FakeVendor::batch_count(Vendor vendor) const {
  return state_->batches.batch_count(vendor);
}

std::size_t FakeVendor::batched_request_count(Vendor vendor) const {
  return state_->batches.batched_request_count(vendor);
}

void FakeVendor::reset() {
  state_->batches.reset();
  std::lock_guard lock(state_->mutex);
  state_->scripts.clear();
  state_->recorded.clear();
  state_->default_reply.reset();
  state_->connections = 0;
}

std::string FakeVendor::requests_json() const {
  json list = json::array();
  for (const auto& r : requests()) list.push_back(request_to_json(r));
  return list.dump();
}

}  // namespace sy::fakes
