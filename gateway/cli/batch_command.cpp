#include "cli/batch_command.h"

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "switchyard/backends/http_client.h"
#include "switchyard/backends/pricing.h"

namespace sy::gateway {

namespace {

using nlohmann::json;

struct Answer {
  int status = 0;
  std::string body;
  std::string error;  // transport failure
};

// A blocking client on a private io_context thread; every call bounded by its timeouts.
class BlockingClient {
 public:
  BlockingClient()
      : work_(boost::asio::make_work_guard(io_)), client_(io_), thread_([this] { io_.run(); }) {}
  ~BlockingClient() {
    client_.shutdown();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  Answer call(std::string method, std::string url, backends::Headers headers, std::string body) {
    auto promise = std::make_shared<std::promise<Answer>>();
    auto answer = std::make_shared<Answer>();
    backends::HttpHandlers handlers;
    handlers.on_head = [answer](int status, const backends::Headers&) { answer->status = status; };
    handlers.on_body = [answer](std::string_view bytes) { answer->body.append(bytes); };
    handlers.on_complete = [answer, promise](backends::Status result) {
      if (!result) answer->error = result.error().message;
      promise->set_value(std::move(*answer));
    };
    backends::HttpTimeouts timeouts{.connect = std::chrono::seconds(10),
                                    .first_byte = std::chrono::seconds(120),
                                    .idle = std::chrono::seconds(60),
                                    .total = std::chrono::seconds(600)};
    client_.start(backends::HttpRequest{.method = std::move(method),
                                        .url = std::move(url),
                                        .headers = std::move(headers),
                                        .body = std::move(body)},
                  timeouts, std::move(handlers));
    return promise->get_future().get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  backends::HttpClient client_;
  std::thread thread_;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

// The message of an OpenAI error body, or the status.
std::string describe(const Answer& a) {
  if (!a.error.empty()) return a.error;
  json j = json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return "HTTP " + std::to_string(a.status) + ": " + j["error"].value("message", "");
  }
  return "HTTP " + std::to_string(a.status);
}

std::string with_suffix(const std::string& path, const std::string& suffix) {
  std::string stem = path;
  if (stem.ends_with(".jsonl")) stem.resize(stem.size() - 6);
  return stem + suffix;
}

std::string duration_text(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

bool write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

}  // namespace

int run_batch_submit(const BatchSubmitOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", options.file.c_str());
    return 1;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string content = std::move(buffer).str();
  std::string base =
      options.url.empty() ? env_or("SWITCHYARD_URL", "http://127.0.0.1:8080") : options.url;
  while (base.ends_with("/")) base.pop_back();
  if (base.ends_with("/v1")) base.resize(base.size() - 3);
  const std::string key =
      options.api_key.empty() ? env_or("SWITCHYARD_API_KEY", "") : options.api_key;
  backends::Headers auth;
  if (!key.empty()) auth.emplace_back("authorization", "Bearer " + key);

  BlockingClient client;
  // Upload: multipart/form-data as the OpenAI SDKs send it.
  std::mt19937_64 rng{std::random_device{}()};
  const std::string boundary = "switchyard-" + std::to_string(rng());
  const std::string filename = std::filesystem::path(options.file).filename().string();
  std::string form =
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--" +
      boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
      "\"\r\nContent-Type: application/jsonl\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
  backends::Headers upload_headers = auth;
  upload_headers.emplace_back("content-type", "multipart/form-data; boundary=" + boundary);
  Answer uploaded = client.call("POST", base + "/v1/files", upload_headers, std::move(form));
  if (uploaded.status != 200) {
    std::fprintf(stderr, "error: uploading %s: %s\n", options.file.c_str(),
                 describe(uploaded).c_str());
    return 1;
  }
  const std::string file_id = json::parse(uploaded.body, nullptr, false).value("id", "");
  backends::Headers json_headers = auth;
  json_headers.emplace_back("content-type", "application/json");
  Answer created = client.call("POST", base + "/v1/batches", json_headers,
                               json{{"input_file_id", file_id},
                                    {"endpoint", "/v1/chat/completions"},
                                    {"completion_window", "24h"}}
                                   .dump());
  if (created.status != 200) {
    std::fprintf(stderr, "error: creating the batch: %s\n", describe(created).c_str());
    return 1;
  }
  json batch = json::parse(created.body, nullptr, false);
  const std::string batch_id = batch.value("id", "");
  std::printf("batch %s created from %s (%s)\n", batch_id.c_str(), options.file.c_str(),
              file_id.c_str());
  std::fflush(stdout);
  if (!options.wait) return 0;

  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  std::string last_line;
  for (;;) {
    Answer polled = client.call("GET", base + "/v1/batches/" + batch_id, auth, "");
    if (polled.status != 200) {
      std::fprintf(stderr, "\nerror: polling %s: %s\n", batch_id.c_str(), describe(polled).c_str());
      return 1;
    }
    batch = json::parse(polled.body, nullptr, false);
    const json counts = batch.value("request_counts", json::object());
    const int64_t total = counts.value("total", 0);
    const int64_t completed = counts.value("completed", 0);
    const int64_t failed = counts.value("failed", 0);
    const int64_t done = completed + failed;
    const json extra = batch.value("x_switchyard", json::object());
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double tokens = static_cast<double>(extra.value("completion_tokens", int64_t{0}));
    char line[256];
    std::snprintf(line, sizeof line, "%s %lld/%lld lines (%lld failed), %.1f tok/s, $%s, ETA %s",
                  batch.value("status", "?").c_str(), static_cast<long long>(done),
                  static_cast<long long>(total), static_cast<long long>(failed),
                  elapsed > 0 ? tokens / elapsed : 0.0,
                  backends::format_usd(extra.value("cost_micro_usd", int64_t{0})).c_str(),
                  done > 0 ? duration_text(elapsed / done * (total - done)).c_str() : "?");
    if (tty) {
      std::printf("\r\033[K%s", line);
      std::fflush(stdout);
    } else if (line != last_line) {
      std::printf("%s\n", line);
      std::fflush(stdout);
    }
    last_line = line;
    const std::string status = batch.value("status", "");
    if (status == "completed" || status == "failed" || status == "cancelled" ||
        status == "expired") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options.poll_ms));
  }
  if (tty) std::printf("\n");

  const std::string status = batch.value("status", "");
  const std::string output =
      options.output.empty() ? with_suffix(options.file, ".output.jsonl") : options.output;
  const std::string errors =
      options.errors.empty() ? with_suffix(output, ".errors.jsonl") : options.errors;
  for (const auto& [field, path] :
       {std::pair{"output_file_id", output}, {"error_file_id", errors}}) {
    if (!batch.contains(field) || !batch[field].is_string()) continue;
    Answer file = client.call(
        "GET", base + "/v1/files/" + batch[field].get<std::string>() + "/content", auth, "");
    if (file.status != 200 || !write_file(path, file.body)) {
      std::fprintf(stderr, "error: saving %s: %s\n", path.c_str(), describe(file).c_str());
      return 1;
    }
    const auto lines = std::count(file.body.begin(), file.body.end(), '\n');
    std::printf("wrote %lld lines to %s\n", static_cast<long long>(lines), path.c_str());
  }
  if (status != "completed") {
    std::fprintf(stderr, "batch %s ended %s\n", batch_id.c_str(), status.c_str());
    return 1;
  }
  return 0;
}

void add_batch_command(CLI::App& app, int& exit_code) {
  CLI::App* batch = app.add_subcommand("batch", "Run JSONL batch jobs on a running gateway");
  batch->require_subcommand(1);
  auto options = std::make_shared<BatchSubmitOptions>();
  CLI::App* submit = batch->add_subcommand("submit", "Upload a JSONL file and start a batch");
  submit->add_option("file", options->file, "JSONL requests (OpenAI batch input format)")
      ->required();
  submit->add_flag("--wait", options->wait, "Wait for the batch, show progress, save results");
  submit->add_option("--output,-o", options->output, "Where --wait saves the output file");
  submit->add_option("--errors", options->errors, "Where --wait saves the error file");
  submit->add_option("--url", options->url, "Gateway URL (default $SWITCHYARD_URL)");
  submit->add_option("--api-key", options->api_key, "API key (default $SWITCHYARD_API_KEY)");
  submit->add_option("--poll-ms", options->poll_ms, "Progress poll interval")
      ->check(CLI::Range(20, 60'000));
  submit->callback([options, &exit_code] { exit_code = run_batch_submit(*options); });
}

}  // namespace sy::gateway
