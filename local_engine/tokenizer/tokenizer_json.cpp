// Hugging Face tokenizer.json -> Vocabulary. JSON stays in this file (nlohmann is linked
// privately to the engine for it alone).

#include <fstream>
#include <nlohmann/json.hpp>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {
namespace {

using nlohmann::json;

const json* find_pre(const json& pre, std::string_view type) {
  if (pre.is_object() && pre.value("type", "") == type) return &pre;
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers")) {
    for (const json& p : pre["pretokenizers"]) {
      if (p.value("type", "") == type) return &p;
    }
  }
  return nullptr;
}

// Maps the pre_tokenizer description onto one of ours by its structure.
std::string pre_tokenizer_name(const json& pre) {
  const json* byte_level = find_pre(pre, "ByteLevel");
  if (byte_level == nullptr || !byte_level->value("use_regex", true)) {
    throw EngineError("pre_tokenizer: only ByteLevel with its regex is supported yet");
  }
  if (byte_level->value("add_prefix_space", false)) {
    throw EngineError("pre_tokenizer: ByteLevel add_prefix_space is not supported yet");
  }
  const json* digits = find_pre(pre, "Digits");
  const size_t parts = pre.value("type", "") == "Sequence" ? pre["pretokenizers"].size() : 1;
  if (digits != nullptr && digits->value("individual_digits", false) && parts == 2) {
    return "smollm";
  }
  if (digits == nullptr && parts == 1) return "gpt2";
  throw EngineError("pre_tokenizer: this combination is not supported yet");
}

}  // namespace

Vocabulary vocabulary_from_tokenizer_json(const std::filesystem::path& path) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw EngineError("cannot open");
    const json doc = json::parse(in);
    const json& model = doc.at("model");
    if (model.value("type", "") != "BPE") {
      throw EngineError("model type " + model.value("type", "?") + " is not supported");
    }
    Vocabulary v;
    v.model = "gpt2";
    v.pre = pre_tokenizer_name(doc.at("pre_tokenizer"));
    v.add_bos = false;
    v.add_space_prefix = false;

    // Ids must be dense; a gap becomes an unused empty token rather than shifting ids.
    std::vector<std::pair<std::string, int64_t>> entries;
    int64_t max_id = -1;
    for (const auto& [token, id] : model.at("vocab").items()) {
      entries.emplace_back(token, id.get<int64_t>());
      max_id = std::max(max_id, id.get<int64_t>());
    }
    const json added = doc.value("added_tokens", json::array());
    for (const json& a : added) max_id = std::max(max_id, a.at("id").get<int64_t>());
    if (max_id < 0 || max_id >= (int64_t{1} << 24)) throw EngineError("implausible vocabulary");
    v.tokens.assign(static_cast<size_t>(max_id + 1), std::string());
    v.kinds.assign(v.tokens.size(), TokenKind::unused);
    for (auto& [token, id] : entries) {
      if (id < 0) throw EngineError("negative token id");
      v.tokens[id] = std::move(token);
      v.kinds[id] = TokenKind::normal;
    }
    for (const json& a : added) {
      const auto id = a.at("id").get<int64_t>();
      if (id < 0) throw EngineError("negative token id");
      v.tokens[id] = a.at("content").get<std::string>();
      v.kinds[id] = a.value("special", false) ? TokenKind::control : TokenKind::user_defined;
    }
    v.scores.assign(v.tokens.size(), 0.0f);
    for (const json& m : model.at("merges")) {
      // Older files spell a merge "left right", newer ones ["left", "right"].
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else {
        v.merges.push_back(m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
      }
    }
    return v;
  } catch (const EngineError& e) {
    throw EngineError(path.string() + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(path.string() + ": " + e.what());
  }
}

}  // namespace sy::engine
