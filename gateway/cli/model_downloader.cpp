#include "cli/model_downloader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

#include "switchyard/backends/http_client.h"
#include "switchyard/gateway/event_loop.h"

namespace sy::gateway {

namespace {

using backends::ErrorKind;
using backends::fail;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

struct FdCloser {
  void operator()(int* fd) const {
    ::close(*fd);
    delete fd;
  }
};

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "bytes START-END/TOTAL" or "bytes */TOTAL" (TOTAL may be "*").
struct ContentRange {
  std::optional<uint64_t> start;
  std::optional<uint64_t> total;
};

std::optional<ContentRange> parse_content_range(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const auto slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ContentRange range;
  const auto span = value.substr(0, slash);
  if (span != "*") {
    const auto dash = span.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    range.start = parse_u64(span.substr(0, dash));
    if (!range.start) return std::nullopt;
  }
  if (value.substr(slash + 1) != "*") {
    range.total = parse_u64(value.substr(slash + 1));
    if (!range.total) return std::nullopt;
  }
  return range;
}

std::string hex(const Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool retryable_transport_error(const backends::Error& error) {
  return error.kind == ErrorKind::upstream_error || error.kind == ErrorKind::upstream_unavailable ||
         error.kind == ErrorKind::upstream_timeout;
}

// One HTTP exchange appending to the .part file. Handlers run on the loop thread, one at a
// time; the calling thread only waits for `done`.
class Attempt {
 public:
  Attempt(std::FILE* file, uint64_t offset, const DownloadOptions& options)
      : file_(file), offset_(offset), options_(options) {}

  backends::Status run(backends::HttpClient& client) {
    backends::HttpRequest request;
    request.method = "GET";
    request.url = options_.url;
    if (offset_ > 0)
      request.headers.emplace_back("range", "bytes=" + std::to_string(offset_) + "-");
    backends::HttpHandlers handlers;
    handlers.on_head = [this](int status, const backends::Headers& headers) {
      on_head(status, headers);
    };
    handlers.on_body = [this](std::string_view bytes) { on_body(bytes); };
    handlers.on_complete = [this](backends::Status status) { done_.set_value(std::move(status)); };
    auto future = done_.get_future();
    auto call = client.start(std::move(request), options_.timeouts, std::move(handlers));
    {
      std::lock_guard lock(mutex_);
      call_ = call;
      if (cancel_requested_) call_->cancel();
    }
    backends::Status status = future.get();
    if (rejection_) return std::unexpected(*rejection_);
    return status;
  }

  uint64_t offset() const { return offset_; }
  std::optional<uint64_t> total() const { return total_; }
  bool progressed() const { return progressed_; }
  bool complete_by_416() const { return complete_by_416_; }

 private:
  void reject(backends::Error error) {
    rejection_ = std::move(error);
    std::lock_guard lock(mutex_);
    if (call_) {
      call_->cancel();
    } else {
      cancel_requested_ = true;
    }
  }

  bool restart_file() {
    offset_ = 0;
    return std::fflush(file_) == 0 && ::ftruncate(::fileno(file_), 0) == 0 &&
           std::fseek(file_, 0, SEEK_SET) == 0;
  }

  void on_head(int status, const backends::Headers& headers) {
    const auto content_range = backends::find_header(headers, "content-range");
    if (status == 206 && offset_ > 0) {
      auto range = content_range ? parse_content_range(*content_range) : std::nullopt;
      if (!range || range->start != offset_) {
        return reject({.kind = ErrorKind::upstream_error,
                       .message = "server answered the range request with a different range"});
      }
      total_ = range->total;
      return;
    }
    if (status == 200) {
      // A full body: the server ignored (or was not sent) a range; the file starts over.
      if (offset_ > 0 && !restart_file()) {
        return reject({.kind = ErrorKind::internal, .message = "cannot truncate the .part file"});
      }
      if (auto length = backends::find_header(headers, "content-length")) {
        total_ = parse_u64(*length);
      }
      return;
    }
    if (status == 416 && offset_ > 0) {
      // Nothing left past our offset: done if the server's total is what we have.
      auto range = content_range ? parse_content_range(*content_range) : std::nullopt;
      if (range && range->total == offset_) {
        complete_by_416_ = true;
        total_ = offset_;
        return;
      }
      restart_file();
      return reject({.kind = ErrorKind::upstream_error,
                     .message = "server refused to resume the partial file; starting over"});
    }
    reject({.kind = ErrorKind::not_found,
            .message = "server answered HTTP " + std::to_string(status),
            .upstream_status = status});
  }

  void on_body(std::string_view bytes) {
    if (rejection_ || complete_by_416_) return;
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
      return reject({.kind = ErrorKind::internal, .message = "cannot write the .part file"});
    }
    offset_ += bytes.size();
    progressed_ = true;
    if (options_.on_progress) options_.on_progress(offset_, total_);
  }

  std::FILE* file_;
  uint64_t offset_;
  const DownloadOptions& options_;
  std::optional<uint64_t> total_;
  bool progressed_ = false;
  bool complete_by_416_ = false;
  std::optional<backends::Error> rejection_;
  std::promise<backends::Status> done_;
  std::mutex mutex_;
  std::shared_ptr<backends::HttpCall> call_;
  bool cancel_requested_ = false;
};

// The event loop and client for one download; torn down in the order the client needs.
class DownloadSession {
 public:
  DownloadSession() : loop_(1) {
    backends::HttpClientOptions options;
    options.max_response_bytes = std::numeric_limits<size_t>::max();
    client_ = std::make_unique<backends::HttpClient>(loop_.io(), options);
    runner_ = std::thread([this] { loop_.run(); });
  }
  ~DownloadSession() {
    client_->shutdown();
    client_.reset();
    loop_.stop();
    runner_.join();
  }
  backends::HttpClient& client() { return *client_; }

 private:
  EventLoop loop_;
  std::unique_ptr<backends::HttpClient> client_;
  std::thread runner_;
};

backends::Result<uint64_t> fetch_to_part(const DownloadOptions& options,
                                         const std::filesystem::path& part, int& resumes) {
  std::error_code ec;
  uint64_t offset = std::filesystem::exists(part, ec) ? std::filesystem::file_size(part, ec) : 0;
  if (ec) offset = 0;
  FilePtr file(std::fopen(part.c_str(), offset > 0 ? "ab" : "wb"));
  if (!file) return fail(ErrorKind::internal, "cannot open " + part.string() + " for writing");

  DownloadSession session;
  int fruitless = 0;
  backends::Error last{.kind = ErrorKind::upstream_unavailable, .message = "no attempt made"};
  while (fruitless < options.max_attempts) {
    if (offset > 0) ++resumes;
    Attempt attempt(file.get(), offset, options);
    backends::Status status = attempt.run(session.client());
    if (std::fflush(file.get()) != 0) {
      return fail(ErrorKind::internal, "cannot write " + part.string());
    }
    offset = attempt.offset();
    if (status && (!attempt.total() || *attempt.total() == offset || attempt.complete_by_416())) {
      return offset;
    }
    if (status) {
      last = {.kind = ErrorKind::upstream_error,
              .message = "body ended at " + std::to_string(offset) + " of " +
                         std::to_string(*attempt.total()) + " bytes"};
    } else if (!retryable_transport_error(status.error())) {
      return std::unexpected(status.error());
    } else {
      last = status.error();
    }
    fruitless = attempt.progressed() ? 0 : fruitless + 1;
    // Back off only when the server gives nothing; a cut after progress resumes at once.
    if (!attempt.progressed()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 << fruitless, 2000)));
    }
  }
  last.message = "download failed after " + std::to_string(options.max_attempts) +
                 " attempts without progress: " + last.message;
  return std::unexpected(last);
}

}  // namespace

std::optional<std::string> sha256_file_hex(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::unique_ptr<int, FdCloser> guard(new int(fd));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  if (st.st_size == 0) return sha256_hex({});
  void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return std::nullopt;
  auto unmap = [size = static_cast<size_t>(st.st_size)](void* p) { ::munmap(p, size); };
  std::unique_ptr<void, decltype(unmap)> mapping(map, unmap);
  ::madvise(map, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
  return sha256_hex(std::string_view(static_cast<const char*>(map), st.st_size));
}

backends::Result<DownloadResult> download_file(const DownloadOptions& options) {
  if (!options.url.starts_with("http://") && !options.url.starts_with("https://")) {
    return fail(ErrorKind::invalid_request, "not an http(s) URL: " + options.url);
  }
  DownloadResult result;
  std::error_code ec;
  const auto& destination = options.destination;
  const auto expected = options.sha256 ? std::optional(hex(*options.sha256)) : std::nullopt;
  if (std::filesystem::exists(destination, ec)) {
    auto digest = sha256_file_hex(destination);
    if (expected && digest == expected) {
      result.already_present = true;
      result.sha256_hex = *digest;
      result.bytes = std::filesystem::file_size(destination, ec);
      return result;
    }
    return fail(ErrorKind::invalid_request, destination.string() + " exists" +
                                                (expected ? " with a different sha256" : "") +
                                                " (remove it or use --force)");
  }
  auto part = destination;
  part += ".part";
  auto bytes = fetch_to_part(options, part, result.resumes);
  if (!bytes) return std::unexpected(bytes.error());
  auto digest = sha256_file_hex(part);
  if (!digest) return fail(ErrorKind::internal, "cannot read back " + part.string());
  if (expected && *digest != *expected) {
    std::filesystem::remove(part, ec);
    return fail(ErrorKind::upstream_error, "sha256 mismatch: expected " + *expected + ", got " +
                                               *digest + "; the download was deleted");
  }
  std::filesystem::rename(part, destination, ec);
  if (ec) return fail(ErrorKind::internal, "cannot rename " + part.string() + ": " + ec.message());
  result.bytes = *bytes;
  result.sha256_hex = *digest;
  return result;
}

}  // namespace sy::gateway
