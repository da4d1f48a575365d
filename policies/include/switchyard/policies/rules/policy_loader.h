#pragma once
// YAML -> Policy, once at start-up. Loading may throw (load time, not the data plane): every
// problem is a PolicyError naming the file, line, column and key path, as the gateway config
// does, e.g.
//   switchyard.yaml:31:9: policies.rules[1].when.sensitivity: unknown level "secret" (...)
//
// The document (or, with `section`, the value of that top-level key — `policies:` of the
// switchyard config) has the keys:
//   rules:        a list of {name, when, require, prefer, transform, deny}
//   sensitivity:  {levels: {finding_type: level}, min_confidence, terms: [...], patterns: [...],
//                  tenants: {<tenant>: {terms: [...], patterns: [...]}}}
//                 (a tenant's own lists, scanned for its requests only, besides the others)
//   volume:       {window_ms, bulk_requests_per_window, bulk_tokens_per_window}
//   difficulty:   {bias, weights: {feature: weight}, thresholds: {medium, hard}}
// A rule's `when` may test `difficulty: hard` (or a list of classes). `transform` is `mask_pii`
// or `{mask_pii: {types: [email, ...]}}` (policy.h MaskSelection). examples/policies/ shows
// every key.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "switchyard/policies/rules/policy.h"

namespace sy::policies {

class PolicyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `source_name` stands for the file in messages. An empty `section` reads the whole document;
// otherwise the value of that top-level key (absent: the empty policy, no rules).
PolicyPtr load_policy_string(std::string_view text, std::string source_name,
                             std::string_view section = {});
PolicyPtr load_policy_file(const std::filesystem::path& path, std::string_view section = {});

}  // namespace sy::policies
