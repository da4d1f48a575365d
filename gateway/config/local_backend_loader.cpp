#include "local_backend_loader.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

#include "switchyard/backends/local_backend.h"

namespace sy::gateway::config_detail {

namespace {

constexpr std::string_view kChatFamilies[] = {"chatml", "llama3", "llama2", "mistral",
                                              "gemma",  "phi3",   "plain"};

std::filesystem::path resolve_path(const Reader& r, std::string text) {
  if (text == "~" || text.starts_with("~/")) {
    const EnvLookup& env = r.env();
    std::optional<std::string> home = env ? env("HOME") : process_env("HOME");
    if (home && !home->empty()) text = *home + text.substr(1);
  }
  std::filesystem::path path(text);
  if (path.is_relative()) path = std::filesystem::path(r.source()).parent_path() / path;
  return path;
}

backends::LocalModelSpec parse_model(const Reader& r, const YAML::Node& node,
                                     const std::string& path) {
  r.expect_map(node, path,
               {"name", "path", "chat_template", "kv_budget", "threads", "max_running",
                "max_waiting", "load", "retry_load_ms", "request_timeout_ms", "context_length"});
  backends::LocalModelSpec spec;
  required(r, node, path, "name",
           [&](const YAML::Node& n, const std::string& p) { spec.name = r.non_empty(n, p); });
  required(r, node, path, "path", [&](const YAML::Node& n, const std::string& p) {
    spec.path = resolve_path(r, r.non_empty(n, p));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(spec.path, ec)) {
      r.fail(n, p, "no model file at " + spec.path.string());
    }
    if (spec.path.extension() != ".gguf") r.fail(n, p, "must be a .gguf file");
  });
  optional(node, path, "chat_template", [&](const YAML::Node& n, const std::string& p) {
    spec.chat_template = r.non_empty(n, p);
    if (std::find(std::begin(kChatFamilies), std::end(kChatFamilies), spec.chat_template) ==
        std::end(kChatFamilies)) {
      r.fail(n, p,
             "unknown chat template family \"" + spec.chat_template +
                 "\" (one of chatml, llama3, llama2, mistral, gemma, phi3, plain)" +
                 did_you_mean_in(spec.chat_template, kChatFamilies));
    }
  });
  optional(node, path, "kv_budget", [&](const YAML::Node& n, const std::string& p) {
    spec.kv_budget_bytes = parse_byte_size(r, n, p);
    if (spec.kv_budget_bytes < (64u << 10)) r.fail(n, p, "must be at least 64KiB");
  });
  optional(node, path, "threads", [&](const YAML::Node& n, const std::string& p) {
    spec.threads = static_cast<size_t>(r.integer(n, p, 0, 1024));
  });
  optional(node, path, "max_running", [&](const YAML::Node& n, const std::string& p) {
    spec.max_running = static_cast<size_t>(r.integer(n, p, 1, 4096));
  });
  optional(node, path, "max_waiting", [&](const YAML::Node& n, const std::string& p) {
    spec.max_waiting = static_cast<size_t>(r.integer(n, p, 0, 1'000'000));
  });
  optional(node, path, "load", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.string(n, p);
    if (value != "start" && value != "lazy") r.fail(n, p, "must be start or lazy");
    spec.lazy = value == "lazy";
  });
  optional(node, path, "retry_load_ms", [&](const YAML::Node& n, const std::string& p) {
    spec.retry_load_after = std::chrono::milliseconds(r.integer(n, p, 0, 86'400'000));
  });
  optional(node, path, "context_length", [&](const YAML::Node& n, const std::string& p) {
    spec.context_length = static_cast<size_t>(r.integer(n, p, 16, int64_t{1} << 24));
  });
  optional(node, path, "request_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    spec.request_timeout = std::chrono::milliseconds(r.integer(n, p, 0, 86'400'000));
  });
  return spec;
}

}  // namespace

void parse_local_models(const Reader& r, const YAML::Node& node, const std::string& path,
                        BackendConfig& b) {
  r.expect_sequence(node, path);
  if (node.size() == 0) r.fail(node, path, "a local backend must list at least one model");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string entry_path = index(path, i);
    if (!node[i].IsMap()) {
      r.fail(node[i], entry_path, "a local model is a mapping: {name: NAME, path: FILE.gguf, ...}");
    }
    backends::LocalModelSpec spec = parse_model(r, node[i], entry_path);
    for (const auto& other : b.local.models) {
      if (other.name == spec.name) {
        r.fail(node[i]["name"], entry_path + ".name", "duplicate model \"" + spec.name + "\"");
      }
    }
    b.models.push_back(spec.name);
    b.local.models.push_back(std::move(spec));
  }
}

void check_local_memory(const Reader& r, const YAML::Node& models_node, const std::string& path,
                        const BackendConfig& b) {
  uint64_t budget = b.local.memory_budget_bytes;
  std::string budget_name = "memory_budget " + format_bytes(budget);
  if (budget == 0) {
    std::optional<uint64_t> available = backends::available_memory_bytes();
    if (!available) return;  // nothing to check against (not Linux)
    budget = *available;
    budget_name = "the " + format_bytes(budget) + " of memory available now";
  }
  uint64_t taken = 0;
  for (size_t i = 0; i < b.local.models.size(); ++i) {
    const backends::LocalModelSpec& spec = b.local.models[i];
    std::error_code ec;
    const uint64_t file = std::filesystem::file_size(spec.path, ec);
    if (ec) r.fail(models_node[i]["path"], index(path, i) + ".path", "cannot read its size");
    const uint64_t need = file + spec.kv_budget_bytes;
    if (taken + need > budget) {
      std::string what = "model \"" + spec.name + "\" does not fit: file " + format_bytes(file) +
                         " + kv_budget " + format_bytes(spec.kv_budget_bytes);
      if (taken > 0) what += ", after " + format_bytes(taken) + " for the models before it,";
      what += " is over " + budget_name +
              "; lower kv_budget, use a smaller quantization, or raise memory_budget";
      r.fail(models_node[i], index(path, i), what);
    }
    taken += need;
  }
}

uint64_t parse_byte_size(const Reader& r, const YAML::Node& node, const std::string& path) {
  const std::string text = r.string(node, path);
  constexpr std::string_view kHint =
      "must be a size in bytes, e.g. 268435456, \"256MiB\" or \"1.5GiB\" (units KiB, MiB, GiB, "
      "TiB, KB, MB, GB, TB)";
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (digits == 0 || ec != std::errc() || end != text.data() + digits) r.fail(node, path, kHint);
  std::string_view unit = std::string_view(text).substr(digits);
  while (unit.starts_with(' ')) unit.remove_prefix(1);
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1},         {"B", 1},    {"KiB", 0x1p10}, {"MiB", 0x1p20}, {"GiB", 0x1p30},
      {"TiB", 0x1p40}, {"KB", 1e3}, {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::round(number * scale);
    if (bytes > 0x1p50) r.fail(node, path, "is too large (at most 1PiB)");
    return static_cast<uint64_t>(bytes);
  }
  r.fail(node, path, kHint);
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char out[32];
  if (unit == 0 || value >= 100 || value == std::floor(value)) {
    std::snprintf(out, sizeof(out), "%.0f %s", value, kUnits[unit]);
  } else {
    std::snprintf(out, sizeof(out), "%.1f %s", value, kUnits[unit]);
  }
  return out;
}

}  // namespace sy::gateway::config_detail
