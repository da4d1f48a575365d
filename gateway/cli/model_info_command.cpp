#include "cli/model_info_command.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <variant>

#include <CLI/CLI.hpp>

#include "cli/model_loading.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace sy::gateway {

namespace {

constexpr size_t kMaxShownChars = 72;  // long strings (chat templates) are cut
constexpr size_t kMaxShownItems = 6;   // arrays show their head only

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// Printable, one line: control bytes escaped so a hostile file cannot drive the terminal.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown++ == kMaxShownChars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string format_value(const engine::GgufValue& value) {
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint64_t> || std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return buf;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return quoted(v);
        } else {
          std::string out = "[" + std::string(engine::to_string(v.element_type)) + " x " +
                            std::to_string(v.items.size()) + "]";
          const size_t n = std::min(v.items.size(), kMaxShownItems);
          for (size_t i = 0; i < n; ++i) out += (i == 0 ? " " : ", ") + format_value(v.items[i]);
          if (v.items.size() > n) out += ", ...";
          return out;
        }
      },
      value.data);
}

std::string format_shape(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// KV cache bytes (F16 keys and values, the engine's default) from the family's metadata, so it
// works for architectures this engine does not run yet; 0 when the metadata does not say.
uint64_t kv_cache_bytes(const engine::GgufFile& file, uint32_t context) {
  const std::string arch = file.get_string_or("general.architecture", "");
  if (arch.empty()) return 0;
  const uint32_t layers = file.get_u32_or(arch + ".block_count", 0);
  const uint32_t width = file.get_u32_or(arch + ".embedding_length", 0);
  const uint32_t heads = file.get_u32_or(arch + ".attention.head_count", 0);
  if (layers == 0 || width == 0 || heads == 0) return 0;
  const uint32_t kv_heads = file.get_u32_or(arch + ".attention.head_count_kv", heads);
  const uint32_t key_len = file.get_u32_or(arch + ".attention.key_length", width / heads);
  const uint32_t value_len = file.get_u32_or(arch + ".attention.value_length", key_len);
  return uint64_t{layers} * context * kv_heads * (uint64_t{key_len} + value_len) * 2;
}

void print_memory(uint64_t weight_bytes, uint64_t kv_bytes, uint32_t context, bool mapped) {
  std::printf(
      "memory need: weights %.2f MiB (%s) + KV cache %.2f MiB (F16, %u positions) = "
      "%.2f MiB\n",
      mib(weight_bytes), mapped ? "mapped from the file" : "F32 in memory", mib(kv_bytes), context,
      mib(weight_bytes + kv_bytes));
}

int info_gguf(const ModelInfoOptions& options) {
  auto file = engine::GgufFile::open(options.model_path);
  std::printf("file: %s\n", options.model_path.c_str());
  std::printf("format: GGUF v%u, alignment %u, %llu bytes, data at offset %llu\n", file->version(),
              file->alignment(), static_cast<unsigned long long>(file->file_size()),
              static_cast<unsigned long long>(file->data_offset()));
  std::printf("metadata: %zu keys\n", file->metadata().size());
  for (const auto& [key, value] : file->metadata()) {
    std::printf("  %s: %s = %s\n", quoted(key).c_str(),
                std::string(engine::to_string(value.type)).c_str(), format_value(value).c_str());
  }
  size_t name_width = 4;
  for (const auto& t : file->tensors()) name_width = std::max(name_width, t.name.size());
  name_width = std::min<size_t>(name_width, 48);
  std::printf("tensors: %zu\n", file->tensors().size());
  std::printf("  %-*s  %-6s  %-24s  %14s\n", static_cast<int>(name_width), "name", "type", "shape",
              "bytes");
  uint64_t weight_bytes = 0;
  for (const auto& t : file->tensors()) {
    weight_bytes += t.n_bytes;
    std::printf("  %-*s  %-6s  %-24s  %14llu\n", static_cast<int>(name_width), t.name.c_str(),
                std::string(engine::to_string(t.type)).c_str(), format_shape(t.shape).c_str(),
                static_cast<unsigned long long>(t.n_bytes));
  }
  std::printf("weights: %.2f MiB in %zu tensors\n", mib(weight_bytes), file->tensors().size());
  const std::string arch = file->get_string_or("general.architecture", "");
  uint32_t context = options.context;
  if (context == 0 && !arch.empty()) context = file->get_u32_or(arch + ".context_length", 0);
  const uint64_t kv = kv_cache_bytes(*file, context);
  if (kv == 0 && !file->tensors().empty()) {
    std::printf("memory need: weights %.2f MiB; KV cache unknown (no %s hyper-parameters)\n",
                mib(weight_bytes), arch.empty() ? "architecture" : arch.c_str());
  } else {
    print_memory(weight_bytes, kv, context, /*mapped=*/true);
  }
  return 0;
}

int info_llama2c(const ModelInfoOptions& options) {
  auto model = load_cli_model(options.model_path, options.tokenizer_path);
  const auto& c = model->config();
  std::printf("file: %s\n", options.model_path.c_str());
  std::printf("format: llama2.c checkpoint (F32)\n");
  std::printf("architecture: %s\n", c.architecture.c_str());
  std::printf(
      "  vocab %u, dim %u, layers %u, heads %u, kv heads %u, head dim %u, ffn %u, "
      "context %u, %s output\n",
      c.n_vocab, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim,
      c.context_length, c.tied_output ? "tied" : "separate");
  const auto& w = model->weights();
  uint64_t floats = w.token_embd.size() + w.output_norm.size() + w.output.size();
  for (const auto& l : w.layers) {
    floats += l.attn_norm.size() + l.wq.size() + l.wk.size() + l.wv.size() + l.wo.size() +
              l.ffn_norm.size() + l.w_gate.size() + l.w_up.size() + l.w_down.size();
  }
  const uint32_t context = options.context ? options.context : c.context_length;
  const uint64_t kv = uint64_t{c.n_layers} * context * c.n_kv_heads * c.head_dim * 2 * 2;
  std::printf("weights: %.2f MiB (%llu parameters)\n", mib(floats * 4),
              static_cast<unsigned long long>(floats));
  print_memory(floats * 4, kv, context, /*mapped=*/false);
  return 0;
}

}  // namespace

int run_model_info(const ModelInfoOptions& options) {
  try {
    if (std::filesystem::path(options.model_path).extension() == ".bin") {
      return info_llama2c(options);
    }
    return info_gguf(options);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "switchyard model info: %s\n", e.what());
    return 1;
  }
}

void add_model_info_command(CLI::App& model, int& exit_code) {
  auto options = std::make_shared<ModelInfoOptions>();
  CLI::App* cmd = model.add_subcommand("info", "Metadata, tensors and memory need of a model");
  cmd->add_option("model", options->model_path, "Model: .gguf, or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", options->tokenizer_path, "llama2.c tokenizer.bin for a .bin");
  cmd->add_option("-c,--context", options->context,
                  "Size the KV cache for N positions (default: the model's context)");
  cmd->callback([options, &exit_code] { exit_code = run_model_info(*options); });
}

}  // namespace sy::gateway
