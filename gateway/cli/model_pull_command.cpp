#include "cli/model_pull_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/known_models.h"
#include "cli/model_downloader.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

namespace {

// The URL's last path segment, without query or fragment; empty when it names no file.
std::string file_name_from_url(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto scheme = path.find("://");
  const auto slash = path.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {};
  std::string name = path.substr(path.rfind('/') + 1);
  if (name == "." || name == "..") return {};
  return name;
}

// A one-line bar redrawn in place at most ten times a second; only on a terminal.
class ProgressBar {
 public:
  void update(uint64_t done, std::optional<uint64_t> total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && !(total && done == *total)) return;
    last_draw_ = now;
    const double mib = done / (1024.0 * 1024.0);
    if (total && *total > 0) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * static_cast<double>(done) / *total);
      std::string bar(filled, '#');
      bar.resize(kWidth, ' ');
      std::fprintf(stderr, "\r[%s] %5.1f%% %.1f/%.1f MiB", bar.c_str(), 100.0 * done / *total, mib,
                   *total / (1024.0 * 1024.0));
    } else {
      std::fprintf(stderr, "\r%.1f MiB", mib);
    }
    drawn_ = true;
  }
  void end() {
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace

int run_model_pull(const ModelPullOptions& options) {
  try {
    DownloadOptions download;
    download.max_attempts = options.max_attempts;
    std::string sha256 = options.sha256;
    std::string name = options.file_name;
    std::string output_dir = options.output_dir.empty() ? "." : options.output_dir;
    if (options.source.starts_with("http://") || options.source.starts_with("https://")) {
      download.url = options.source;
      if (name.empty()) name = file_name_from_url(options.source);
    } else if (const KnownModel* known = find_known_model(options.source)) {
      const char* mirror = std::getenv("SWITCHYARD_MODEL_MIRROR");
      download.url = known_model_url(*known, mirror != nullptr ? mirror : "");
      if (!sha256.empty() && sha256 != known->sha256) {
        throw std::runtime_error("--sha256 differs from the digest recorded for " +
                                 options.source);
      }
      sha256 = known->sha256;
      if (name.empty()) name = known->file_name;
      if (options.output_dir.empty()) {
        const std::string data_dir =
            options.data_dir.empty() ? default_data_dir() : options.data_dir;
        output_dir = (std::filesystem::path(data_dir) / "models").string();
      }
    } else {
      std::string names;
      for (const KnownModel& m : known_models()) {
        names += (names.empty() ? "" : ", ") + std::string(m.name);
      }
      throw std::runtime_error(options.source + ": neither an http(s) URL nor a known model (" +
                               names + ")");
    }
    if (!sha256.empty()) {
      download.sha256 = parse_sha256_hex(sha256);
      if (!download.sha256) throw std::runtime_error("--sha256 must be 64 hex digits");
    }
    if (name.empty() || name.find('/') != std::string::npos) {
      throw std::runtime_error("cannot name the file from the URL: pass --name FILE");
    }
    std::filesystem::create_directories(output_dir);
    download.destination = std::filesystem::path(output_dir) / name;
    if (options.force) std::filesystem::remove(download.destination);

    ProgressBar bar;
    if (::isatty(STDERR_FILENO) == 1) {
      download.on_progress = [&bar](uint64_t done, std::optional<uint64_t> total) {
        bar.update(done, total);
      };
    }
    auto result = download_file(download);
    bar.end();
    if (!result) {
      std::string message = result.error().message;
      const auto kind = result.error().kind;
      if (kind == backends::ErrorKind::upstream_unavailable ||
          kind == backends::ErrorKind::upstream_timeout) {
        message += " (no network access? Set SWITCHYARD_MODEL_MIRROR to a mirror with the same "
                   "paths, or copy the file to " + download.destination.string() + ")";
      }
      throw std::runtime_error(message);
    }
    std::printf("%s %s %llu bytes%s%s\n", result->sha256_hex.c_str(), download.destination.c_str(),
                static_cast<unsigned long long>(result->bytes),
                result->already_present ? " (already present)" : "",
                download.sha256 ? ", sha256 verified" : "");
    if (result->resumes > 0) {
      std::fprintf(stderr, "resumed %d time(s) after the connection was cut\n", result->resumes);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard model pull: %s\n", e.what());
    return 1;
  }
}

void add_model_pull_command(CLI::App& model, int& exit_code) {
  auto options = std::make_shared<ModelPullOptions>();
  CLI::App* cmd = model.add_subcommand("pull", "Download a model file (resumable, sha256)");
  std::string names;
  for (const KnownModel& m : known_models()) {
    names += "\n  " + std::string(m.name) + ": " + std::string(m.about);
  }
  cmd->add_option("source", options->source, "http(s) URL of the file, or a known model:" + names)
      ->required();
  cmd->add_option("-o,--output-dir", options->output_dir,
                  "Directory to write to (default: . for a URL, DATA_DIR/models for a name)");
  cmd->add_option("--data-dir", options->data_dir, "Data directory (for a known model's name)");
  cmd->add_option("--name", options->file_name, "File name (default: from the URL)");
  cmd->add_option("--sha256", options->sha256, "Expected SHA-256 (64 hex digits)");
  cmd->add_flag("--force", options->force, "Replace an existing file of that name");
  cmd->add_option("--attempts", options->max_attempts,
                  "Attempts in a row without progress before giving up")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = run_model_pull(*options); });
}

}  // namespace sy::gateway
