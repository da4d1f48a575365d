#include "switchyard/local_engine/model.h"

#include <cmath>

#include "model/architecture.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {

std::unique_ptr<Model> Model::load_gguf(const std::filesystem::path& path) {
  try {
    auto file = GgufFile::open(path);
    const std::string arch = file->get_string("general.architecture");
    const Architecture* entry = find_architecture(arch);
    if (entry == nullptr) throw EngineError("architecture " + arch + " is not supported");
    ModelConfig config = entry->read_config(*file);
    auto tokenizer = Tokenizer::from_gguf(*file);
    if (tokenizer->size() > config.n_vocab) {
      throw EngineError("tokenizer has " + std::to_string(tokenizer->size()) +
                        " tokens, the embedding only " + std::to_string(config.n_vocab));
    }
    entry->load_weights(*file, config, /*shapes_only=*/true);
    std::shared_ptr<const GgufFile> shared(std::move(file));
    auto load_f32 = [shared, config, entry] {
      return entry->load_weights(*shared, config, /*shapes_only=*/false);
    };
    return std::make_unique<Model>(std::move(config), shared, std::move(load_f32),
                                   std::move(tokenizer));
  } catch (const EngineError& e) {
    throw EngineError("loading model " + path.string() + ": " + e.what());
  }
}

namespace {
// Every loader sets the attention scale; a config built by hand gets the usual 1/sqrt(head_dim).
ModelConfig with_defaults(ModelConfig c) {
  if (c.attention_scale == 0.0f && c.head_dim > 0) {
    c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  }
  return c;
}
}  // namespace

Model::Model(ModelConfig config, ModelWeights weights, std::unique_ptr<Tokenizer> tokenizer)
    : config_(with_defaults(std::move(config))),
      tokenizer_(std::move(tokenizer)),
      weights_(std::move(weights)) {
  std::call_once(weights_once_, [] {});
  weights_loaded_ = true;
}

Model::Model(ModelConfig config, std::shared_ptr<const GgufFile> file,
             std::function<ModelWeights()> load_f32, std::unique_ptr<Tokenizer> tokenizer)
    : config_(with_defaults(std::move(config))),
      tokenizer_(std::move(tokenizer)),
      file_(std::move(file)),
      load_f32_(std::move(load_f32)) {}

const ModelWeights& Model::weights() const {
  std::call_once(weights_once_, [this] {
    weights_ = load_f32_();
    weights_loaded_ = true;
  });
  return weights_;
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& path,
                                   const std::filesystem::path& tokenizer) {
  if (path.extension() == ".bin") return load_llama2c(path, tokenizer);
  return load_gguf(path);
}

}  // namespace sy::engine
