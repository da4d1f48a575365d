#include "cli/known_models.h"

namespace sy::gateway {

const std::vector<KnownModel>& known_models() {
  // The digest is that of the copy in ../shared/models (see its SHA256SUMS).
  static const std::vector<KnownModel> models = {
      {.name = "stories260K",
       .url = "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf",
       .sha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
       .file_name = "stories260K.gguf",
       .about = "TinyStories Llama, 260K parameters, F32 (1.1 MiB): the embedded default"},
  };
  return models;
}

const KnownModel* find_known_model(std::string_view name) {
  for (const KnownModel& model : known_models()) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

std::string known_model_url(const KnownModel& model, std::string_view mirror) {
  if (mirror.empty()) return std::string(model.url);
  while (mirror.ends_with('/')) mirror.remove_suffix(1);
  const std::string_view url = model.url;
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  return std::string(mirror) + std::string(url.substr(path));
}

}  // namespace sy::gateway
