#include "switchyard/policies/rules/policy.h"

#include <algorithm>

namespace sy::policies {

std::string_view to_string(VolumeClass volume) {
  return volume == VolumeClass::bulk ? "bulk" : "interactive";
}

std::optional<VolumeClass> parse_volume_class(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  auto equals = [&](std::string_view word) {
    return text.size() == word.size() &&
           std::equal(text.begin(), text.end(), word.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (equals("interactive")) return VolumeClass::interactive;
  if (equals("bulk")) return VolumeClass::bulk;
  return std::nullopt;
}

std::string_view to_string(backends::BackendKind kind) {
  return kind == backends::BackendKind::local ? "local" : "closed";
}

bool MaskSelection::selects(const Finding& finding) const {
  if (finding.type == FindingType::unscannable) return false;  // nothing there to replace
  if (up_to_confidential && finding.level <= SensitivityLevel::confidential) return true;
  return std::find(types.begin(), types.end(), finding.type) != types.end();
}

void MaskSelection::unite(const MaskSelection& other) {
  up_to_confidential = up_to_confidential || other.up_to_confidential;
  for (FindingType type : other.types) {
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }
}

std::string SourceLocation::describe() const {
  std::string out = file + ":";
  if (line > 0) out += std::to_string(line) + ":" + std::to_string(column) + ":";
  if (!path.empty()) out += " " + path;
  return out;
}

std::optional<std::string> Policy::check_backend_names(std::span<const std::string> known) const {
  auto check = [&](const std::vector<BackendRef>& refs) -> std::optional<std::string> {
    for (const BackendRef& ref : refs) {
      if (std::find(known.begin(), known.end(), ref.name) == known.end()) {
        return ref.where.describe() + ": names undefined backend \"" + ref.name + "\"";
      }
    }
    return std::nullopt;
  };
  for (const Rule& rule : rules) {
    for (const auto* refs :
         {&rule.require.allowed_backends, &rule.require.denied_backends, &rule.prefer.backends}) {
      if (auto problem = check(*refs)) return problem;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Policy::check_tenant_names(std::span<const std::string> known) const {
  for (const TenantSensitivity& t : tenant_sensitivity) {
    if (std::find(known.begin(), known.end(), t.tenant) == known.end()) {
      return t.tenant_where.describe() + ": names undefined tenant \"" + t.tenant + "\"";
    }
  }
  return std::nullopt;
}

}  // namespace sy::policies
