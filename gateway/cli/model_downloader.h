#pragma once
// Downloads one file over HTTP(S) through the project's HTTP client, resumably: bytes go to
// `<destination>.part`; when the connection is cut, the next attempt asks for the rest with a
// Range request (a server that ignores Range restarts the file). The finished file is checked
// against an expected SHA-256 before it is renamed to its final name, so a wrong or corrupt
// body never appears under that name (its .part is deleted: resuming it could not help).
//
// Threading: download() blocks the calling thread; it runs its own one-thread event loop.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {

struct DownloadOptions {
  std::string url;                     // http:// or https://
  std::filesystem::path destination;   // the final file name
  std::optional<Sha256Digest> sha256;  // checked when given
  int max_attempts = 5;                // consecutive attempts that bring no new byte
  backends::HttpTimeouts timeouts{.connect = std::chrono::seconds(15),
                                  .first_byte = std::chrono::seconds(60),
                                  .idle = std::chrono::seconds(60),
                                  .total = std::chrono::hours(24)};
  // Called on the loop thread as bytes arrive: bytes on disk so far, total when known.
  std::function<void(uint64_t done, std::optional<uint64_t> total)> on_progress;
};

struct DownloadResult {
  uint64_t bytes = 0;
  std::string sha256_hex;
  int resumes = 0;               // Range requests that continued a partial file
  bool already_present = false;  // the destination existed with the expected digest
};

backends::Result<DownloadResult> download_file(const DownloadOptions& options);

// SHA-256 of a file's contents (mapped, not read into memory); nullopt when it cannot be read.
std::optional<std::string> sha256_file_hex(const std::filesystem::path& path);

}  // namespace sy::gateway
