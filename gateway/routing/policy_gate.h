#pragma once
// Where the gateway asks the policy engine: resolves the requested model to its targets,
// classifies the request and decides (policies/router.h) before any backend is called, and
// turns the Decision's ordered targets back into backends to run. Fallback gets exactly
// Routed::candidates: the backends the rules allow, in their order, and nothing else.
//
// Every API surface (OpenAI chat/completions, route explain, later Anthropic messages) goes
// through route(). Thread-safe (the router locks its volume window).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "routing/model_catalog.h"
#include "switchyard/backends/fallback.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/gateway/config.h"
#include "switchyard/policies/router.h"

namespace sy::gateway {

struct Routed {
  policies::Decision decision;
  // decision.candidates, as backends to run; when the decision masks PII, the closed ones are
  // wrapped so that they receive the masked request and answer with the values restored.
  std::vector<backends::Candidate> candidates;
};

struct RouteOptions {
  std::string_view endpoint;  // the request path
  std::string_view tenant;    // "" or unknown = no tenant profile
  bool batch_origin = false;
  bool count = true;  // false: explain (the request is not counted in the volume window)
  bool explain = false;  // fill Decision::reasons (the explain endpoint; costly per request)
};

class PolicyGate {
 public:
  // Compiles the config's policy (its sensitivity detectors); throws std::runtime_error with
  // context when a custom pattern cannot be compiled (load time).
  PolicyGate(const GatewayConfig& config, std::shared_ptr<const ModelCatalog> catalog);

  // Errors are the caller's: unknown model (not_found), an invalid label (invalid_request), or
  // n > 1 that no allowed target supports. A refusing Decision is not an error: check
  // decision.verdict (the caller answers decision.error()).
  backends::Result<Routed> route(const backends::ChatRequest& request,
                                 const backends::Headers& headers,
                                 const RouteOptions& options) const;

  const policies::Router& router() const { return *router_; }

 private:
  std::shared_ptr<const ModelCatalog> catalog_;
  std::shared_ptr<policies::Router> router_;
  std::map<std::string, policies::TenantProfile, std::less<>> tenants_;
  std::vector<policies::BackendView> static_views_;  // availability filled per request
};

// x-switchyard-rule, x-switchyard-sensitivity, x-switchyard-volume, x-switchyard-difficulty.
backends::Headers decision_headers(const policies::Decision& decision);
// The same four for a model request refused before it was classified (a malformed body, no
// key, a limit): the rule `none` and each class `unclassified`, so that every response of the
// model endpoints carries them.
backends::Headers unclassified_headers();
// "backends that policy rule 'r' excludes were not tried" (rules named in decision order) when
// the decision's rules left out some of the model's targets; "" when none did.
std::string policy_note(const policies::Decision& decision);

// The Decision as explain answers it: classes, findings (type, detector, path, span,
// confidence: never the value), matched rules, constraints, candidates, excluded, the
// mask_pii transform (types and counts, never values), reasons.
nlohmann::json decision_json(const policies::Decision& decision);

}  // namespace sy::gateway
