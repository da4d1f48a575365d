#pragma once
// Router: a request plus its tenant -> a Decision, before any backend is called.
//
// 1. Classify: sensitivity (every string that would leave, the declared label raising only,
//    the tenant's floor; unscannable parts are findings; the policy-wide term lists and
//    patterns plus the tenant's own), volume and difficulty (a logistic score over cheap
//    features with each feature's contribution, weights from the policy).
// 2. Match rules (policy.h). A matching `deny` refuses (403). The `require` of every matching
//    rule is intersected into one set of hard constraints; a target (backend, model) of the
//    requested model survives only if it satisfies all of them. Nothing relaxes them later:
//    the gateway's fallback walks Decision::candidates and nothing else.
// 3. Order the survivors: `prefer` of the matching rules in rule order, then price; with no
//    preference the model's own target order (its alias = the operator's fallback order)
//    stands. Backends whose circuit is open are left out.
// 4. No survivor: 403 naming the rules that excluded them; survivors but all unavailable: 503.
// 5. Transforms: when matching rules ask for `mask_pii`, the request's values are collected
//    into a MaskPlan (transform/mask_plan.h) for the closed candidates; local candidates see
//    the original. Masking never changes the candidates, their order or the constraints.
//
// A Decision carries finding types, paths and spans, never the values found.
// Thread-safe: decide() may run on every I/O thread at once (the volume window is locked).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/policies/classify/difficulty_classifier.h"
#include "switchyard/policies/classify/sensitivity_classifier.h"
#include "switchyard/policies/classify/volume_classifier.h"
#include "switchyard/policies/rules/policy.h"
#include "switchyard/policies/transform/mask_plan.h"

namespace sy::policies {

// What the router needs to know of a backend.
struct BackendView {
  std::string name;
  backends::BackendKind kind = backends::BackendKind::closed;
  std::string region;
  bool retains_data = false;
  int64_t price_per_mtok = 0;  // input + output, micro-dollars per million (tie-break)
  bool available = true;       // false while its circuit breaker is open
  // Available, but its circuit breaker is not closed (recent failures: it is letting a probe
  // through): among equally preferred targets the healthy ones go first.
  bool recovering = false;
};

// One way to serve the requested model: which backend, asked for which upstream model.
struct RouteTarget {
  std::string backend;
  std::string model;
  bool operator==(const RouteTarget&) const = default;
};

struct TenantProfile {
  std::string name;
  SensitivityLevel sensitivity_floor = SensitivityLevel::public_;
  // Attributes rules may test, e.g. {"residency", "eu"}. "name" is always the tenant's name.
  std::vector<std::pair<std::string, std::string>> attributes;
};

struct RouteRequest {
  const backends::ChatRequest* chat = nullptr;  // required
  std::string endpoint;                         // "/v1/chat/completions"
  backends::Headers headers;                    // lower-case names
  bool batch_origin = false;
  const TenantProfile* tenant = nullptr;  // null = anonymous, no attributes, no floor
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  // The data plane's request path sets these instead of copying into the two fields above:
  // when set they are read in their place (they must outlive decide()).
  std::string_view endpoint_ref;
  const backends::Headers* headers_ref = nullptr;
  // Fill Decision::reasons (explain). The data plane leaves it off: formatting them was a
  // fifth of the router's cost per request, and only explain shows them.
  bool explain = true;

  std::string_view endpoint_path() const {
    return endpoint_ref.empty() ? std::string_view(endpoint) : endpoint_ref;
  }
  const backends::Headers& header_list() const { return headers_ref ? *headers_ref : headers; }
};

// The hard constraints of every matching rule, intersected.
struct Constraints {
  std::optional<backends::BackendKind> kind;
  bool kinds_conflict = false;  // two rules required different kinds: nothing satisfies both
  std::optional<std::vector<std::string>> regions;  // nullopt = any; may end up empty
  bool no_retention = false;
  std::optional<std::vector<std::string>> allowed_backends;  // nullopt = any
  std::vector<std::string> denied_backends;
  std::vector<std::string> rules;  // the rules that contributed
};

struct ExcludedTarget {
  RouteTarget target;
  std::string rule;    // the rule whose constraint excluded it ("" = health)
  std::string reason;  // "kind closed (local required)", "unavailable (circuit open)", ...
};

// The `mask_pii` transform of a routed decision.
struct MaskDecision {
  std::vector<std::string> rules;  // the matching rules that asked for it, in rule order
  MaskSelection selection;         // their selections, united
  // The values to mask and their placeholders; null when the request holds none or no
  // candidate is closed.
  MaskPlanPtr plan;
  std::vector<std::string> masked_backends;  // closed candidates: they get the masked form
  bool applies() const { return plan != nullptr && !masked_backends.empty(); }
};

struct Decision {
  enum class Verdict { route, deny, unavailable };
  Verdict verdict = Verdict::route;
  SensitivityResult sensitivity;
  VolumeResult volume;
  DifficultyResult difficulty;
  std::vector<std::string> matched_rules;  // in rule order
  Constraints constraints;
  std::vector<RouteTarget> candidates;  // ordered; fallback walks these and nothing else
  std::vector<ExcludedTarget> excluded;
  std::optional<MaskDecision> mask;  // set when a matching rule asks for mask_pii
  std::vector<std::string> reasons;  // one line per step, for explain (RouteRequest::explain)
  std::string deny_rule;             // Verdict::deny by a rule's `deny`: that rule
  std::string message;               // deny/unavailable: what the client reads

  // x-switchyard-rule: the matched rules, comma-separated, or "none".
  std::string rule_header() const;
  // The refusal as the data plane's error (permission_denied 403 / upstream_unavailable 503).
  backends::Error error() const;
};
std::string_view to_string(Decision::Verdict verdict);

// A tenant's own classifier (the policy-wide term lists and patterns plus its own), by name.
using TenantClassifiers =
    std::map<std::string, std::shared_ptr<const SensitivityClassifier>, std::less<>>;

class Router {
 public:
  // Compiles the policy's sensitivity detectors (about a second: build once and share), and
  // one classifier more for each tenant with its own term lists or patterns (the others share
  // the policy-wide one). Errors are located: "policy.yaml:9:11:
  // sensitivity.tenants.acme.patterns[0]: tenant "acme": vectorscan cannot compile custom
  // pattern 'x' (/a(?=b)/): ...".
  static std::expected<std::shared_ptr<Router>, std::string> create(PolicyPtr policy);
  // `tenant_classifiers` must hold one for every tenant of policy->tenant_sensitivity
  // (std::invalid_argument otherwise: its terms would silently not apply).
  Router(PolicyPtr policy, std::shared_ptr<const SensitivityClassifier> classifier,
         TenantClassifiers tenant_classifiers = {});

  // `targets`: what the requested model resolves to, in its configured order. `backends`:
  // every backend a target may name. `count` = record the request in its tenant's volume
  // window (false for explain). Errors are the caller's (an unknown sensitivity or workload
  // label): invalid_request, safe to show.
  backends::Result<Decision> decide(const RouteRequest& request,
                                    std::span<const RouteTarget> targets,
                                    std::span<const BackendView> backends, bool count = true);

  const Policy& policy() const { return *policy_; }
  // The policy-wide classifier (anonymous requests, tenants without lists of their own).
  const SensitivityClassifier& classifier() const { return *classifier_; }
  // The classifier that scans `tenant`'s requests (null = anonymous).
  const SensitivityClassifier& classifier_for(const TenantProfile* tenant) const {
    if (tenant_classifiers_.empty() || tenant == nullptr) return *classifier_;
    auto it = tenant_classifiers_.find(tenant->name);
    return it == tenant_classifiers_.end() ? *classifier_ : *it->second;
  }

 private:
  void plan_masking(Decision& d, const RouteRequest& request,
                    const SensitivityClassifier& classifier,
                    std::span<const BackendView> backend_views) const;

  PolicyPtr policy_;
  std::shared_ptr<const SensitivityClassifier> classifier_;
  TenantClassifiers tenant_classifiers_;  // empty unless a tenant has lists of its own
  VolumeClassifier volume_;
  DifficultyClassifier difficulty_;
};

}  // namespace sy::policies
