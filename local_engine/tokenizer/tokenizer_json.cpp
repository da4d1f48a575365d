// Hugging Face tokenizer.json -> Vocabulary. JSON stays in this file (nlohmann is linked
// privately to the engine for it alone).

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {
namespace {

using nlohmann::json;

// Split regexes, in order, of the tokenizer.json pre-tokenizers we implement by hand (the
// patterns as their tokenizer.json files spell them); each is followed by ByteLevel without its
// own regex.
struct KnownSplits {
  std::vector<std::string_view> patterns;
  std::string_view pre;
};
const std::vector<KnownSplits>& known_splits() {
  static const std::vector<KnownSplits> known = {
      {{R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
        R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       "llama3"},
      {{R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
        R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       "qwen2"},
      {{R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+",
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)"
        R"(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       "deepseek-v3"},
  };
  return known;
}

// Files spell CR and LF inside a character class either escaped or as the characters.
std::string canonical_pattern(std::string_view pattern) {
  std::string out;
  for (char c : pattern) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Maps the pre_tokenizer description onto one of ours by its structure: ByteLevel with its
// GPT-2 regex (optionally after Digits), or known Split regexes then ByteLevel without one.
std::string pre_tokenizer_name(const json& pre) {
  std::vector<const json*> parts;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const json& p : pre.at("pretokenizers")) parts.push_back(&p);
  } else {
    parts.push_back(&pre);
  }
  std::vector<std::string> splits;
  const json* byte_level = nullptr;
  bool individual_digits = false;
  for (const json* p : parts) {
    const std::string type = p->is_object() ? p->value("type", "") : "";
    if (byte_level != nullptr) {
      throw EngineError("pre_tokenizer: " + type + " after ByteLevel is not supported");
    }
    if (type == "ByteLevel") {
      byte_level = p;
    } else if (type == "Digits" && p->value("individual_digits", false) && splits.empty()) {
      individual_digits = true;
    } else if (type == "Split" && p->value("behavior", "") == "Isolated" &&
               !p->value("invert", false) && p->contains("pattern") &&
               p->at("pattern").contains("Regex")) {
      splits.push_back(canonical_pattern(p->at("pattern").at("Regex").get<std::string>()));
    } else {
      throw EngineError("pre_tokenizer: " + p->dump().substr(0, 120) + " is not supported yet");
    }
  }
  if (byte_level == nullptr) throw EngineError("pre_tokenizer: no ByteLevel step");
  if (byte_level->value("add_prefix_space", false)) {
    throw EngineError("pre_tokenizer: ByteLevel add_prefix_space is not supported yet");
  }
  const bool own_regex = byte_level->value("use_regex", true);
  if (splits.empty() && own_regex) return individual_digits ? "smollm" : "gpt2";
  if (!splits.empty() && !own_regex && !individual_digits) {
    for (const KnownSplits& k : known_splits()) {
      auto same = [](const std::string& a, std::string_view b) {
        return a == canonical_pattern(b);
      };
      if (std::equal(splits.begin(), splits.end(), k.patterns.begin(), k.patterns.end(), same)) {
        return std::string(k.pre);
      }
    }
    throw EngineError("pre_tokenizer: Split pattern " + splits.front().substr(0, 80) +
                      " is not one this engine implements");
  }
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
