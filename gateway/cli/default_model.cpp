#include "cli/default_model.h"

#include <algorithm>
#include <system_error>
#include <vector>

#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// A YAML double-quoted scalar.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::expected<fs::path, std::string> find_default_model(const std::string& model_option,
                                                        const fs::path& data_dir,
                                                        const fs::path& working_dir) {
  if (!model_option.empty()) {
    if (!is_file(model_option))
      return std::unexpected("--model " + model_option + ": no such file");
    return fs::absolute(model_option);
  }
  const fs::path models = data_dir / "models";
  std::error_code ec;
  if (fs::is_directory(models, ec)) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(models, ec)) {
      if (entry.path().extension() == ".gguf" && is_file(entry.path())) found.push_back(entry);
    }
    if (!found.empty()) return fs::absolute(*std::min_element(found.begin(), found.end()));
  }
  const fs::path shared =
      working_dir / ".." / "shared" / "models" / "stories260K" / "stories260K.gguf";
  if (is_file(shared)) return fs::weakly_canonical(shared);
  return std::unexpected(
      "no model to serve: pass --model FILE.gguf, put a .gguf file in " + models.string() +
      ", or fetch the default one with `switchyard model pull stories260K -o " + models.string() +
      "` (needs network access), or give a config with --config");
}

ConfigPtr default_model_config(const GatewayConfig& base, const fs::path& model) {
  const std::string name = model.stem().string();
  const std::string yaml =
      "backends:\n"
      "  - name: local\n"
      "    protocol: local\n"
      "    models:\n"
      "      - name: " +
      quoted(name) +
      "\n"
      "        path: " +
      quoted(model.string()) +
      "\n"
      "        chat_template: plain\n"
      "models:\n"
      "  default: " +
      quoted("local/" + name) + "\n";
  ConfigPtr loaded = load_config_string(yaml, "default model " + model.string());
  auto config = std::make_shared<GatewayConfig>(base);
  config->backends = loaded->backends;
  config->models = loaded->models;
  return config;
}

}  // namespace sy::gateway
