// YAML -> Policy. Located errors in the gateway config's format (file:line:column: key path:
// what); a YAML::Node never leaves this file.

#include "switchyard/policies/rules/policy_loader.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "switchyard/policies/rules/located_yaml.h"

namespace sy::policies {

namespace {

using located_yaml::did_you_mean;
using located_yaml::index;
using located_yaml::join;

class Reader : public located_yaml::LocatedReader<Reader, PolicyError> {
 public:
  using LocatedReader::LocatedReader;

  SourceLocation where(const YAML::Node& at, std::string path) const {
    const YAML::Mark mark = at.Mark();
    return SourceLocation{.file = source(),
                          .line = mark.is_null() ? 0 : mark.line + 1,
                          .column = mark.is_null() ? 0 : mark.column + 1,
                          .path = std::move(path)};
  }

  std::string string(const YAML::Node& node, std::string_view path) const {
    if (node.IsNull()) fail(node, path, "missing value");
    if (!node.IsScalar()) fail(node, path, "must be a single value, not a list or mapping");
    return node.Scalar();
  }

  // A scalar or a list of scalars, as a list.
  std::vector<std::string> one_or_many(const YAML::Node& node, std::string_view path) const {
    std::vector<std::string> out;
    if (node.IsSequence()) {
      if (node.size() == 0) fail(node, path, "must list at least one value");
      for (size_t i = 0; i < node.size(); ++i) out.push_back(non_empty(node[i], index(path, i)));
    } else {
      out.push_back(non_empty(node, path));
    }
    return out;
  }

  uint64_t integer(const YAML::Node& node, std::string_view path, uint64_t min,
                   uint64_t max) const {
    const std::string text = string(node, path);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      fail(node, path,
           "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
  }

  double fraction(const YAML::Node& node, std::string_view path) const {
    const std::string text = string(node, path);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0 && value <= 1)) {
      fail(node, path, "must be a number from 0 to 1");
    }
    return value;
  }

  double real(const YAML::Node& node, std::string_view path, double min, double max) const {
    const std::string text = string(node, path);
    double value = 0;
    const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value >= min && value <= max)) {
      fail(node, path,
           "must be a number from " + std::to_string(static_cast<int>(min)) + " to " +
               std::to_string(static_cast<int>(max)));
    }
    return value;
  }

  SensitivityLevel level(const YAML::Node& node, std::string_view path) const {
    const std::string text = string(node, path);
    auto level = parse_sensitivity_level(text);
    if (!level) {
      fail(node, path,
           "unknown level \"" + text.substr(0, 64) +
               "\" (one of public, internal, confidential, restricted)" +
               did_you_mean(text, {"public", "internal", "confidential", "restricted"}));
    }
    return *level;
  }

  backends::BackendKind kind(const YAML::Node& node, std::string_view path) const {
    const std::string text = string(node, path);
    if (text == "local") return backends::BackendKind::local;
    if (text == "closed") return backends::BackendKind::closed;
    fail(node, path, "must be local or closed" + did_you_mean(text, {"local", "closed"}));
  }

  std::vector<BackendRef> backend_list(const YAML::Node& node, std::string_view path) const {
    if (!node.IsSequence()) fail(node, path, "must be a list of backend names");
    std::vector<BackendRef> out;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string p = index(path, i);
      out.push_back(BackendRef{non_empty(node[i], p), where(node[i], p)});
    }
    return out;
  }
};

template <class Fn>
void optional(const YAML::Node& node, std::string_view path, const char* key, Fn&& fn) {
  const YAML::Node child = node[key];
  if (child.IsDefined()) fn(child, join(path, key));
}

void parse_when(const Reader& r, const YAML::Node& node, const std::string& path,
                RuleCondition& when) {
  r.expect_map(node, path,
               {"sensitivity", "volume", "difficulty", "tenant", "model", "header", "endpoint"});
  optional(node, path, "sensitivity", [&](const YAML::Node& n, const std::string& p) {
    if (n.IsScalar()) {  // shorthand: `sensitivity: restricted` means at least restricted
      when.sensitivity_at_least = r.level(n, p);
      return;
    }
    r.expect_map(n, p, {"at_least", "at_most"});
    optional(n, p, "at_least", [&](const YAML::Node& m, const std::string& q) {
      when.sensitivity_at_least = r.level(m, q);
    });
    optional(n, p, "at_most", [&](const YAML::Node& m, const std::string& q) {
      when.sensitivity_at_most = r.level(m, q);
    });
    if (!when.sensitivity_at_least && !when.sensitivity_at_most) {
      r.fail(n, p, "needs at_least or at_most");
    }
    if (when.sensitivity_at_least && when.sensitivity_at_most &&
        *when.sensitivity_at_least > *when.sensitivity_at_most) {
      r.fail(n, p, "at_least is above at_most: the rule could never match");
    }
  });
  optional(node, path, "volume", [&](const YAML::Node& n, const std::string& p) {
    const std::string text = r.string(n, p);
    auto volume = parse_volume_class(text);
    if (!volume) {
      r.fail(n, p, "must be interactive or bulk" + did_you_mean(text, {"interactive", "bulk"}));
    }
    when.volume = *volume;
  });
  optional(node, path, "difficulty", [&](const YAML::Node& n, const std::string& p) {
    // `difficulty: hard` or `difficulty: [medium, hard]`: any of the listed classes.
    const std::vector<std::string> names = r.one_or_many(n, p);
    for (size_t i = 0; i < names.size(); ++i) {
      auto difficulty = parse_difficulty_class(names[i]);
      if (!difficulty) {
        r.fail(n.IsSequence() ? n[i] : n, p,
               "unknown difficulty \"" + names[i].substr(0, 64) + "\" (one of easy, medium, hard)" +
                   did_you_mean(names[i], {"easy", "medium", "hard"}));
      }
      when.difficulties.push_back(*difficulty);
    }
  });
  optional(node, path, "tenant", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      const std::string key = entry.first.Scalar();
      when.tenant.emplace_back(key, r.one_or_many(entry.second, join(p, key)));
    }
  });
  optional(node, path, "model",
           [&](const YAML::Node& n, const std::string& p) { when.models = r.one_or_many(n, p); });
  optional(node, path, "header", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      std::string key = entry.first.Scalar();
      if (key.find_first_of(" \t\r\n:") != std::string::npos) {
        r.fail(entry.first, join(p, key), "is not a valid header name");
      }
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      when.headers.emplace_back(key, r.one_or_many(entry.second, join(p, key)));
    }
  });
  optional(node, path, "endpoint", [&](const YAML::Node& n, const std::string& p) {
    when.endpoints = r.one_or_many(n, p);
    for (size_t i = 0; i < when.endpoints.size(); ++i) {
      if (!when.endpoints[i].starts_with('/')) {
        r.fail(n.IsSequence() ? n[i] : n, p, "must be a request path such as /v1/chat/completions");
      }
    }
  });
}

void parse_require(const Reader& r, const YAML::Node& node, const std::string& path,
                   RuleRequirements& require) {
  r.expect_map(node, path,
               {"kind", "regions", "no_retention", "allowed_backends", "denied_backends"});
  optional(node, path, "kind",
           [&](const YAML::Node& n, const std::string& p) { require.kind = r.kind(n, p); });
  optional(node, path, "regions", [&](const YAML::Node& n, const std::string& p) {
    require.regions = r.one_or_many(n, p);
  });
  optional(node, path, "no_retention", [&](const YAML::Node& n, const std::string& p) {
    require.no_retention = r.boolean(n, p);
  });
  optional(node, path, "allowed_backends", [&](const YAML::Node& n, const std::string& p) {
    require.allowed_backends = r.backend_list(n, p);
    if (require.allowed_backends.empty()) {
      r.fail(n, p, "is empty: nothing could serve; use deny to refuse requests");
    }
  });
  optional(node, path, "denied_backends", [&](const YAML::Node& n, const std::string& p) {
    require.denied_backends = r.backend_list(n, p);
  });
}

void parse_prefer(const Reader& r, const YAML::Node& node, const std::string& path,
                  RulePreference& prefer) {
  if (node.IsSequence()) {  // shorthand: `prefer: [a, b]`
    prefer.backends = r.backend_list(node, path);
    return;
  }
  r.expect_map(node, path, {"backends", "kind"});
  optional(node, path, "backends", [&](const YAML::Node& n, const std::string& p) {
    prefer.backends = r.backend_list(n, p);
  });
  optional(node, path, "kind",
           [&](const YAML::Node& n, const std::string& p) { prefer.kind = r.kind(n, p); });
}

// `transform: mask_pii` (every finding of level confidential or below) or
// `transform: {mask_pii: {types: [email, phone]}}` (exactly the listed types).
MaskSelection parse_transform(const Reader& r, const YAML::Node& node, const std::string& path) {
  MaskSelection selection;
  if (node.IsScalar()) {
    const std::string text = node.Scalar();
    if (text != "mask_pii") {
      r.fail(node, path,
             "unknown transform \"" + text.substr(0, 64) + "\" (the one transform is mask_pii)" +
                 did_you_mean(text, {"mask_pii"}));
    }
    selection.up_to_confidential = true;
    return selection;
  }
  r.expect_map(node, path, {"mask_pii"});
  const YAML::Node mask = node["mask_pii"];
  const std::string mask_path = join(path, "mask_pii");
  if (mask.IsNull()) {
    selection.up_to_confidential = true;
    return selection;
  }
  r.expect_map(mask, mask_path, {"types"});
  const YAML::Node types = mask["types"];
  if (!types.IsDefined()) {
    selection.up_to_confidential = true;
    return selection;
  }
  const std::string types_path = join(mask_path, "types");
  if (!types.IsSequence() || types.size() == 0) {
    r.fail(types, types_path, "must list at least one finding type");
  }
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string p = index(types_path, i);
    const std::string text = r.non_empty(types[i], p);
    auto type = parse_finding_type(text);
    if (!type) r.fail(types[i], p, "unknown finding type \"" + text.substr(0, 64) + "\"");
    if (*type == FindingType::unscannable) {
      r.fail(types[i], p, "unscannable content (images, audio, files) has no text to mask");
    }
    selection.types.push_back(*type);
  }
  return selection;
}

Rule parse_rule(const Reader& r, const YAML::Node& node, const std::string& path) {
  r.expect_map(node, path, {"name", "when", "require", "prefer", "deny", "transform"});
  Rule rule;
  rule.where = r.where(node, path);
  const YAML::Node name = node["name"];
  if (!name.IsDefined()) r.fail(node, path, "missing required key \"name\"");
  rule.name = r.non_empty(name, join(path, "name"));
  if (rule.name.find_first_of(",\r\n") != std::string::npos) {
    r.fail(name, join(path, "name"), "must not contain commas or line breaks (it is a header)");
  }
  optional(node, path, "when",
           [&](const YAML::Node& n, const std::string& p) { parse_when(r, n, p, rule.when); });
  optional(node, path, "require", [&](const YAML::Node& n, const std::string& p) {
    parse_require(r, n, p, rule.require);
  });
  optional(node, path, "prefer",
           [&](const YAML::Node& n, const std::string& p) { parse_prefer(r, n, p, rule.prefer); });
  optional(node, path, "deny",
           [&](const YAML::Node& n, const std::string& p) { rule.deny = r.non_empty(n, p); });
  optional(node, path, "transform", [&](const YAML::Node& n, const std::string& p) {
    rule.mask_pii = parse_transform(r, n, p);
  });
  if (rule.deny && (!rule.require.empty() || !rule.prefer.empty() || rule.mask_pii)) {
    r.fail(node, path, "a rule that denies cannot also require, prefer or transform");
  }
  if (!rule.deny && rule.require.empty() && rule.prefer.empty() && !rule.mask_pii) {
    r.fail(node, path, "needs one of require, prefer, transform or deny");
  }
  return rule;
}

// A list of named entries (`terms:` or `patterns:`, policy-wide or a tenant's): each a mapping of
// `allowed` keys with a non-empty `name`; `read(entry, path, item)` reads the rest. Appended to
// `items`, with where each was.
template <class Item, class Read>
void parse_named_entries(const Reader& r, const YAML::Node& n, const std::string& p,
                         std::initializer_list<std::string_view> allowed, std::vector<Item>& items,
                         std::vector<SourceLocation>& where, Read&& read) {
  if (!n.IsSequence()) r.fail(n, p, "must be a list");
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string q = index(p, i);
    r.expect_map(n[i], q, allowed);
    Item item;
    if (!n[i]["name"].IsDefined()) r.fail(n[i], q, "missing required key \"name\"");
    item.name = r.non_empty(n[i]["name"], join(q, "name"));
    read(n[i], q, item);
    items.push_back(std::move(item));
    where.push_back(r.where(n[i], q));
  }
}

void parse_term_lists(const Reader& r, const YAML::Node& n, const std::string& p,
                      std::vector<CustomTermList>& lists, std::vector<SourceLocation>& where) {
  parse_named_entries(
      r, n, p, {"name", "terms", "level", "case_sensitive"}, lists, where,
      [&](const YAML::Node& e, const std::string& q, CustomTermList& list) {
        if (!e["terms"].IsDefined()) r.fail(e, q, "missing required key \"terms\"");
        list.terms = r.one_or_many(e["terms"], join(q, "terms"));
        optional(e, q, "level",
                 [&](const YAML::Node& m, const std::string& s) { list.level = r.level(m, s); });
        optional(e, q, "case_sensitive", [&](const YAML::Node& m, const std::string& s) {
          list.case_sensitive = r.boolean(m, s);
        });
      });
}

void parse_patterns(const Reader& r, const YAML::Node& n, const std::string& p,
                    std::vector<CustomPattern>& patterns, std::vector<SourceLocation>& where) {
  parse_named_entries(
      r, n, p, {"name", "regex", "level", "case_insensitive"}, patterns, where,
      [&](const YAML::Node& e, const std::string& q, CustomPattern& pattern) {
        if (!e["regex"].IsDefined()) r.fail(e, q, "missing required key \"regex\"");
        pattern.regex = r.non_empty(e["regex"], join(q, "regex"));
        optional(e, q, "level",
                 [&](const YAML::Node& m, const std::string& s) { pattern.level = r.level(m, s); });
        optional(e, q, "case_insensitive", [&](const YAML::Node& m, const std::string& s) {
          pattern.case_insensitive = r.boolean(m, s);
        });
      });
}

// `tenants: {acme: {terms: [...], patterns: [...]}}`: each tenant's own lists.
void parse_tenant_sensitivity(const Reader& r, const YAML::Node& node, const std::string& path,
                              std::vector<TenantSensitivity>& tenants) {
  r.expect_free_map(node, path);
  for (const auto& entry : node) {
    TenantSensitivity tenant;
    tenant.tenant = entry.first.Scalar();
    const std::string p = join(path, tenant.tenant);
    tenant.tenant_where = r.where(entry.first, p);
    r.expect_map(entry.second, p, {"terms", "patterns"});
    optional(entry.second, p, "terms", [&](const YAML::Node& n, const std::string& q) {
      parse_term_lists(r, n, q, tenant.term_lists, tenant.where.term_lists);
    });
    optional(entry.second, p, "patterns", [&](const YAML::Node& n, const std::string& q) {
      parse_patterns(r, n, q, tenant.patterns, tenant.where.patterns);
    });
    if (tenant.term_lists.empty() && tenant.patterns.empty()) {
      r.fail(entry.second, p, "needs terms or patterns");
    }
    tenants.push_back(std::move(tenant));
  }
}

void parse_sensitivity(const Reader& r, const YAML::Node& node, const std::string& path,
                       Policy& policy) {
  SensitivityConfig& config = policy.sensitivity;
  r.expect_map(node, path, {"levels", "min_confidence", "terms", "patterns", "tenants"});
  optional(node, path, "levels", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      const std::string key = entry.first.Scalar();
      auto type = parse_finding_type(key);
      if (!type) r.fail(entry.first, join(p, key), "unknown finding type");
      config.levels[static_cast<size_t>(*type)] = r.level(entry.second, join(p, key));
    }
  });
  optional(node, path, "min_confidence", [&](const YAML::Node& n, const std::string& p) {
    config.min_confidence = r.fraction(n, p);
  });
  optional(node, path, "terms", [&](const YAML::Node& n, const std::string& p) {
    parse_term_lists(r, n, p, config.term_lists, policy.sensitivity_where.term_lists);
  });
  optional(node, path, "patterns", [&](const YAML::Node& n, const std::string& p) {
    parse_patterns(r, n, p, config.patterns, policy.sensitivity_where.patterns);
  });
  optional(node, path, "tenants", [&](const YAML::Node& n, const std::string& p) {
    parse_tenant_sensitivity(r, n, p, policy.tenant_sensitivity);
  });
}

void parse_volume(const Reader& r, const YAML::Node& node, const std::string& path,
                  VolumeConfig& volume) {
  r.expect_map(node, path,
               {"window_ms", "bulk_requests_per_window", "bulk_tokens_per_window",
                "bulk_template_repeats", "template_prefix_bytes"});
  optional(node, path, "window_ms", [&](const YAML::Node& n, const std::string& p) {
    volume.window = std::chrono::milliseconds(r.integer(n, p, 1, uint64_t{1} << 31));
  });
  optional(node, path, "bulk_requests_per_window", [&](const YAML::Node& n, const std::string& p) {
    volume.bulk_requests_per_window = r.integer(n, p, 0, uint64_t{1} << 40);
  });
  optional(node, path, "bulk_tokens_per_window", [&](const YAML::Node& n, const std::string& p) {
    volume.bulk_tokens_per_window = r.integer(n, p, 0, uint64_t{1} << 50);
  });
  optional(node, path, "bulk_template_repeats", [&](const YAML::Node& n, const std::string& p) {
    volume.bulk_template_repeats = r.integer(n, p, 0, 256);
  });
  optional(node, path, "template_prefix_bytes", [&](const YAML::Node& n, const std::string& p) {
    volume.template_prefix_bytes = r.integer(n, p, 16, 65536);
  });
}

// `difficulty: {bias, weights: {feature: weight}, thresholds: {medium, hard}}`: any subset;
// what is not set keeps the shipped default (DifficultyConfig::defaults()).
void parse_difficulty(const Reader& r, const YAML::Node& node, const std::string& path,
                      DifficultyConfig& config) {
  r.expect_map(node, path, {"bias", "weights", "thresholds"});
  optional(node, path, "bias", [&](const YAML::Node& n, const std::string& p) {
    config.bias = r.real(n, p, -100, 100);
  });
  optional(node, path, "weights", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      const std::string key = entry.first.Scalar();
      auto feature = parse_difficulty_feature(key);
      if (!feature) {
        std::string choices;
        for (std::string_view name : kDifficultyFeatureNames) {
          choices += (choices.empty() ? "" : ", ") + std::string(name);
        }
        r.fail(entry.first, join(p, key), "unknown feature (one of " + choices + ")");
      }
      config.weights[static_cast<size_t>(*feature)] = r.real(entry.second, join(p, key), -100, 100);
    }
  });
  optional(node, path, "thresholds", [&](const YAML::Node& n, const std::string& p) {
    r.expect_map(n, p, {"medium", "hard"});
    optional(n, p, "medium", [&](const YAML::Node& m, const std::string& q) {
      config.medium_threshold = r.fraction(m, q);
    });
    optional(n, p, "hard", [&](const YAML::Node& m, const std::string& q) {
      config.hard_threshold = r.fraction(m, q);
    });
    if (config.medium_threshold > config.hard_threshold) {
      r.fail(n, p, "medium is above hard: no request could be medium");
    }
  });
}

Policy parse_policy(const Reader& r, const YAML::Node& node, const std::string& path,
                    std::string source) {
  Policy policy;
  policy.source = std::move(source);
  if (!node.IsDefined() || node.IsNull()) return policy;
  r.expect_map(node, path, {"rules", "sensitivity", "volume", "difficulty"});
  optional(node, path, "sensitivity",
           [&](const YAML::Node& n, const std::string& p) { parse_sensitivity(r, n, p, policy); });
  optional(node, path, "volume", [&](const YAML::Node& n, const std::string& p) {
    parse_volume(r, n, p, policy.volume);
  });
  optional(node, path, "difficulty", [&](const YAML::Node& n, const std::string& p) {
    parse_difficulty(r, n, p, policy.difficulty);
  });
  optional(node, path, "rules", [&](const YAML::Node& n, const std::string& p) {
    if (!n.IsSequence()) r.fail(n, p, "must be a list");
    for (size_t i = 0; i < n.size(); ++i) {
      Rule rule = parse_rule(r, n[i], index(p, i));
      for (const Rule& other : policy.rules) {
        if (other.name == rule.name) {
          r.fail(n[i]["name"], index(p, i) + ".name", "duplicate rule \"" + rule.name + "\"");
        }
      }
      policy.rules.push_back(std::move(rule));
    }
  });
  return policy;
}

}  // namespace

PolicyPtr load_policy_string(std::string_view text, std::string source_name,
                             std::string_view section) {
  const Reader reader(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, "", e.msg);
  }
  try {
    YAML::Node node = root;
    if (!section.empty()) {
      if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
        reader.fail(root, "", "must be a mapping");
      }
      node = root.IsMap() ? root[std::string(section)] : YAML::Node();
    }
    return std::make_shared<const Policy>(
        parse_policy(reader, node, std::string(section), std::move(source_name)));
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, "", e.msg);
  }
}

PolicyPtr load_policy_file(const std::filesystem::path& path, std::string_view section) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PolicyError(path.string() + ": cannot open the policy file");
  std::ostringstream text;
  text << in.rdbuf();
  return load_policy_string(text.str(), path.string(), section);
}

}  // namespace sy::policies
