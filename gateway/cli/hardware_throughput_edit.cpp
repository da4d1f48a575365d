#include "cli/hardware_throughput_edit.h"

#include <algorithm>
#include <exception>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace sy::gateway {

namespace {

struct Edit {
  size_t pos = 0;
  size_t length = 0;  // bytes replaced (0: an insertion)
  std::string text;
};

bool blank(char c) { return c == ' ' || c == '\t'; }

// Where the scalar that starts at `pos` ends: after its closing quote, or (plain) before a
// line end, a comment, or in a flow collection a `,` `}` `]`, trailing blanks excluded.
std::optional<size_t> scalar_end(std::string_view text, size_t pos, bool flow) {
  if (pos >= text.size()) return std::nullopt;
  const char first = text[pos];
  if (first == '|' || first == '>' || first == '*' || first == '&' || first == '!' ||
      first == '[' || first == '{') {
    return std::nullopt;  // block scalar, alias, anchor, tag or collection: not ours to edit
  }
  if (first == '"') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return i + 1;
      }
    }
    return std::nullopt;
  }
  if (first == '\'') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] != '\'') continue;
      if (i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is an escaped quote
        continue;
      }
      return i + 1;
    }
    return std::nullopt;
  }
  size_t i = pos;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n' || c == '\r') break;
    if (c == '#' && i > pos && blank(text[i - 1])) break;
    if (flow && (c == ',' || c == '}' || c == ']')) break;
    ++i;
  }
  while (i > pos && blank(text[i - 1])) --i;
  return i;
}

// The offset of the `}` closing the flow mapping that opens at `open`.
std::optional<size_t> flow_map_close(std::string_view text, size_t open) {
  int depth = 0;
  char quote = 0;
  for (size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return c == '}' ? std::optional(i) : std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<YAML::Node> find_backend(const YAML::Node& root, std::string_view name) {
  if (!root.IsMap() || !root["backends"] || !root["backends"].IsSequence()) return std::nullopt;
  for (const YAML::Node& entry : root["backends"]) {
    if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() &&
        entry["name"].Scalar() == name) {
      return entry;
    }
  }
  return std::nullopt;
}

}  // namespace

std::expected<std::string, std::string> set_hardware_throughput(std::string_view yaml,
                                                                std::string_view backend,
                                                                const ThroughputFigures& figures) {
  const std::string where = "backends[name: " + std::string(backend) + "].hardware";
  std::vector<std::pair<std::string, int64_t>> wanted = {
      {"tokens_per_second", figures.tokens_per_second}};
  if (figures.prompt_tokens_per_second) {
    wanted.emplace_back("prompt_tokens_per_second", *figures.prompt_tokens_per_second);
  }
  for (const auto& [key, value] : wanted) {
    if (value < 1) return std::unexpected(key + " must be at least 1");
  }

  try {
    const std::string text(yaml);
    const YAML::Node root = YAML::Load(text);
    const std::optional<YAML::Node> entry = find_backend(root, backend);
    if (!entry) {
      return std::unexpected("the config has no backend named '" + std::string(backend) + "'");
    }
    const YAML::Node hardware = (*entry)["hardware"];
    if (!hardware || !hardware.IsMap()) {
      return std::unexpected("backend '" + std::string(backend) +
                             "' has no hardware: mapping; add one with the machine's cost, e.g. "
                             "`hardware: {cost_per_hour: \"1.80\"}`, then run bench again");
    }
    const bool flow = hardware.Style() == YAML::EmitterStyle::Flow;

    std::vector<Edit> edits;
    std::vector<std::pair<std::string, int64_t>> missing;
    for (const auto& [key, value] : wanted) {
      const YAML::Node current = hardware[key];
      if (!current) {
        missing.emplace_back(key, value);
        continue;
      }
      if (!current.IsScalar()) return std::unexpected(where + "." + key + " is not a number");
      const size_t pos = static_cast<size_t>(current.Mark().pos);
      const auto end = scalar_end(text, pos, flow);
      if (!end) {
        return std::unexpected(where + "." + key +
                               " is written in a form bench does not edit (anchor, alias, tag "
                               "or block scalar); set it by hand to " +
                               std::to_string(value));
      }
      edits.push_back({pos, *end - pos, std::to_string(value)});
    }

    if (!missing.empty()) {
      if (flow) {
        const auto close = flow_map_close(text, static_cast<size_t>(hardware.Mark().pos));
        if (!close) return std::unexpected("cannot find the end of " + where);
        size_t at = *close;
        while (at > 0 && (blank(text[at - 1]) || text[at - 1] == '\n')) --at;
        std::string insert;
        bool first = hardware.size() == 0;
        for (const auto& [key, value] : missing) {
          insert += (first ? "" : ", ") + key + ": " + std::to_string(value);
          first = false;
        }
        edits.push_back({at, 0, insert});
      } else {
        // After the line of the last entry's value, at the column of the map's keys.
        YAML::Node last_value;
        for (const auto& kv : hardware) last_value = kv.second;
        const size_t indent = static_cast<size_t>(hardware.Mark().column);
        size_t at = text.find('\n', static_cast<size_t>(last_value.Mark().pos));
        std::string insert;
        if (at == std::string::npos) {
          at = text.size();
          insert = "\n";
        } else {
          ++at;
        }
        for (const auto& [key, value] : missing) {
          insert += std::string(indent, ' ') + key + ": " + std::to_string(value) + "\n";
        }
        edits.push_back({at, 0, insert});
      }
    }

    std::sort(edits.begin(), edits.end(),
              [](const Edit& a, const Edit& b) { return a.pos > b.pos; });
    std::string out = text;
    for (const Edit& e : edits) out.replace(e.pos, e.length, e.text);

    // The edit must read back as intended, or the user's file is not touched.
    const std::optional<YAML::Node> check = find_backend(YAML::Load(out), backend);
    for (const auto& [key, value] : wanted) {
      if (!check || !(*check)["hardware"][key] ||
          (*check)["hardware"][key].as<int64_t>() != value) {
        return std::unexpected("editing " + where + "." + key +
                               " in place did not read back; set it by hand to " +
                               std::to_string(value));
      }
    }
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(std::string("cannot edit the config: ") + e.what());
  }
}

std::string with_placeholder_throughput(std::string_view yaml) {
  std::string text(yaml);
  std::vector<std::string> waiting;
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap() || !root["backends"] || !root["backends"].IsSequence()) return text;
    for (const YAML::Node& entry : root["backends"]) {
      if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar()) continue;
      const YAML::Node hardware = entry["hardware"];
      if (hardware && hardware.IsMap() && !hardware["tokens_per_second"]) {
        waiting.push_back(entry["name"].Scalar());
      }
    }
  } catch (const std::exception&) {
    return text;  // the loader reports the syntax error
  }
  for (const std::string& name : waiting) {
    if (auto edited = set_hardware_throughput(text, name, {.tokens_per_second = 1})) {
      text = std::move(*edited);
    }
  }
  return text;
}

}  // namespace sy::gateway
