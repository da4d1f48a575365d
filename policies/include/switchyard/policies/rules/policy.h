#pragma once
// The typed policy: rules loaded once from YAML (policy_loader.h) into an immutable struct,
// shared as std::shared_ptr<const Policy>. No YAML beyond the loader.
//
// A rule matches a request when every condition in its `when` holds (an absent condition
// holds). Of the matching rules:
//   - `deny` refuses the request (HTTP 403) with the rule's message;
//   - `require` is a hard constraint; the constraints of all matching rules are intersected
//     and never relaxed, not on fallback, retry or error;
//   - `prefer` orders the backends that satisfy the constraints (earlier rules first);
//   - `transform: mask_pii` masks the selected findings before a closed backend sees the
//     request and restores them in its answer (transform/mask_plan.h). It changes what leaves,
//     never where: it does not lower the sensitivity level rules match on, and relaxes no
//     `require` of any rule (restricted data kept local stays local).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/backends/backend.h"
#include "switchyard/policies/classify/difficulty_types.h"
#include "switchyard/policies/classify/sensitivity_types.h"

namespace sy::policies {

enum class VolumeClass : uint8_t { interactive, bulk };
std::string_view to_string(VolumeClass volume);
std::optional<VolumeClass> parse_volume_class(std::string_view text);

std::string_view to_string(backends::BackendKind kind);

// Where a key sits in the policy file, for errors found after loading (a backend name the
// gateway does not know): "policy.yaml:12:9: rules[2].require.allowed_backends[0]".
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
  std::string path;
  std::string describe() const;
};

// A backend named by a rule, with where it was named.
struct BackendRef {
  std::string name;
  SourceLocation where;
};

// Each present condition must hold. A list means "any of these".
struct RuleCondition {
  std::optional<SensitivityLevel> sensitivity_at_least;
  std::optional<SensitivityLevel> sensitivity_at_most;
  std::optional<VolumeClass> volume;
  std::vector<DifficultyClass> difficulties;  // any of these (empty = any difficulty)
  // Tenant attribute -> accepted values ("name" is the tenant's name; "residency", ...).
  std::vector<std::pair<std::string, std::vector<std::string>>> tenant;
  std::vector<std::string> models;  // the model or alias as the client named it
  // Lower-case header name -> accepted values (exact match).
  std::vector<std::pair<std::string, std::vector<std::string>>> headers;
  std::vector<std::string> endpoints;  // request path, e.g. "/v1/chat/completions"
};

// Hard constraints on the backends that may see the request.
struct RuleRequirements {
  std::optional<backends::BackendKind> kind;
  std::vector<std::string> regions;          // empty = any region
  bool no_retention = false;                 // only backends that do not retain prompts
  std::vector<BackendRef> allowed_backends;  // empty = any backend
  std::vector<BackendRef> denied_backends;
  bool empty() const {
    return !kind && regions.empty() && !no_retention && allowed_backends.empty() &&
           denied_backends.empty();
  }
};

// Soft ordering of what the constraints leave: the listed backends first, in list order,
// then backends of the preferred kind.
struct RulePreference {
  std::vector<BackendRef> backends;
  std::optional<backends::BackendKind> kind;
  bool empty() const { return backends.empty() && !kind; }
};

// Which findings `mask_pii` replaces. The selections of several matching rules are united.
struct MaskSelection {
  // Every finding whose level is confidential or below (internal and public ones too), of any
  // type but unscannable: the default of `transform: mask_pii`.
  bool up_to_confidential = false;
  std::vector<FindingType> types;  // listed types, whatever their level (never unscannable)

  bool selects(const Finding& finding) const;
  void unite(const MaskSelection& other);
};

struct Rule {
  std::string name;
  RuleCondition when;
  RuleRequirements require;
  RulePreference prefer;
  std::optional<MaskSelection> mask_pii;  // `transform: mask_pii`
  std::optional<std::string> deny;  // the message a refused client reads
  SourceLocation where;
};

// Volume classification (classify/volume_classifier.h). A threshold of 0 is off.
struct VolumeConfig {
  std::chrono::milliseconds window{60'000};
  uint64_t bulk_requests_per_window = 0;  // a tenant above this many requests is bulk
  uint64_t bulk_tokens_per_window = 0;    // ... or above this many (estimated) prompt tokens
  // ... or whose prompt starts like more than this many of its recent requests in the window
  // (the same first template_prefix_bytes, digits and capitalized words masked). 0 = off; at
  // most 256, the requests remembered per tenant.
  uint64_t bulk_template_repeats = 0;
  uint64_t template_prefix_bytes = 128;
};

// Where each custom term list and pattern was declared, index for index with the lists they
// locate (errors found when the classifier is compiled name these lines).
struct CustomListLocations {
  std::vector<SourceLocation> term_lists;
  std::vector<SourceLocation> patterns;
};

// A tenant's own term lists and patterns (`sensitivity.tenants.<name>`): scanned for that
// tenant's requests only, in addition to the policy-wide ones. The router compiles one
// classifier per tenant that has any, once, at load.
struct TenantSensitivity {
  std::string tenant;
  std::vector<CustomTermList> term_lists;
  std::vector<CustomPattern> patterns;
  CustomListLocations where;
  SourceLocation tenant_where;  // the `<name>:` key
};

struct Policy {
  std::string source;                     // the file it came from ("" = built in)
  std::vector<Rule> rules;                // in file order
  SensitivityConfig sensitivity;          // policy-wide: every request, whatever its tenant
  CustomListLocations sensitivity_where;  // of sensitivity.term_lists and .patterns
  std::vector<TenantSensitivity> tenant_sensitivity;  // in file order, one entry per tenant
  VolumeConfig volume;
  DifficultyConfig difficulty = DifficultyConfig::defaults();

  // The first backend named by a rule that is not in `known`, as a located message
  // ("policy.yaml:12:9: rules[2].prefer.backends[0]: names undefined backend \"x\""); nullopt
  // when every name is known.
  std::optional<std::string> check_backend_names(std::span<const std::string> known) const;
  // The same for tenants named under sensitivity.tenants: a misspelt tenant would silently
  // leave the real one without its terms.
  std::optional<std::string> check_tenant_names(std::span<const std::string> known) const;
};

using PolicyPtr = std::shared_ptr<const Policy>;

}  // namespace sy::policies
