#include "routing/policy_gate.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "switchyard/policies/transform/masking_backend.h"

namespace sy::gateway {

using backends::Candidate;
using backends::ErrorKind;
using nlohmann::json;

PolicyGate::PolicyGate(const GatewayConfig& config, std::shared_ptr<const ModelCatalog> catalog)
    : catalog_(std::move(catalog)) {
  policies::PolicyPtr policy =
      config.policy ? config.policy : std::make_shared<const policies::Policy>();
  auto router = policies::Router::create(policy);
  if (!router) {
    throw std::runtime_error("policies (" + (policy->source.empty() ? "config" : policy->source) +
                             "): " + router.error());
  }
  router_ = std::move(*router);
  for (const TenantConfig& t : config.tenants) {
    policies::TenantProfile profile{.name = t.name, .sensitivity_floor = t.sensitivity_floor};
    if (!t.residency.empty()) profile.attributes.emplace_back("residency", t.residency);
    for (const auto& attribute : t.attributes) profile.attributes.push_back(attribute);
    tenants_.emplace(t.name, std::move(profile));
  }
  for (const auto& [name, backend] : catalog_->backends()) {
    const backends::BackendInfo& info = backend->info();
    static_views_.push_back(policies::BackendView{
        .name = name,
        .kind = info.kind,
        .region = info.region,
        .retains_data = info.retains_data,
        .price_per_mtok = info.prices.input_per_mtok + info.prices.output_per_mtok});
  }
}

backends::Result<Routed> PolicyGate::route(const backends::ChatRequest& request,
                                           const backends::Headers& headers,
                                           const RouteOptions& options) const {
  auto resolved = catalog_->resolve(request.model);
  if (!resolved) return std::unexpected(resolved.error());
  std::vector<Candidate> targets = std::move(*resolved);
  if (request.n.value_or(1) > 1) {
    std::erase_if(targets,
                  [](const Candidate& c) { return !c.backend->capabilities().multiple_choices; });
    if (targets.empty()) {
      return std::unexpected(
          backends::Error{.kind = ErrorKind::invalid_request,
                          .message = "n > 1 is not supported by the backends serving model '" +
                                     request.model.substr(0, 200) + "'",
                          .param = "n"});
    }
  }

  // Per-thread scratch reused across requests: assigning over last request's strings reuses
  // their buffers instead of allocating targets and views anew each time. decide() does not
  // call back into route(), so one set per thread suffices.
  thread_local std::vector<policies::RouteTarget> route_targets;
  thread_local std::vector<policies::BackendView> views;
  route_targets.resize(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    route_targets[i].backend = targets[i].backend->info().name;
    route_targets[i].model = targets[i].model;
  }
  views.resize(static_views_.size());
  for (size_t i = 0; i < static_views_.size(); ++i) {
    policies::BackendView& view = views[i];
    view = static_views_[i];
    auto it = catalog_->backends().find(view.name);
    view.available = it != catalog_->backends().end() && it->second->available();
    view.recovering =
        view.available && it->second->circuit_state().value_or(backends::CircuitState::closed) !=
                              backends::CircuitState::closed;
  }

  policies::RouteRequest route_request;
  route_request.chat = &request;
  route_request.endpoint_ref = options.endpoint;
  route_request.headers_ref = &headers;
  route_request.explain = options.explain;
  route_request.batch_origin = options.batch_origin;
  auto tenant = tenants_.find(options.tenant);
  route_request.tenant = tenant == tenants_.end() ? nullptr : &tenant->second;
  auto decision = router_->decide(route_request, route_targets, views, options.count);
  if (!decision) return std::unexpected(decision.error());

  Routed routed{.decision = std::move(*decision)};
  // mask_pii: the closed candidates run behind a masking decorator, so that every surface and
  // every fallback attempt sends a vendor the masked form and restores its answer; local
  // candidates are left as they are and see the original.
  const policies::MaskDecision* mask =
      routed.decision.mask && routed.decision.mask->applies() ? &*routed.decision.mask : nullptr;
  const auto same = [](const Candidate& c, const policies::RouteTarget& t) {
    return c.backend->info().name == t.backend && c.model == t.model;
  };
  const std::vector<policies::RouteTarget>& kept = routed.decision.candidates;
  if (std::equal(targets.begin(), targets.end(), kept.begin(), kept.end(), same)) {
    routed.candidates = std::move(targets);  // the usual case: every target kept, in order
  } else {
    routed.candidates.reserve(kept.size());
    for (const policies::RouteTarget& t : kept) {
      for (const Candidate& c : targets) {
        if (same(c, t)) {
          routed.candidates.push_back(c);
          break;
        }
      }
    }
  }
  if (mask) {
    for (Candidate& c : routed.candidates) {
      if (c.backend->info().kind == backends::BackendKind::closed) {
        c.backend = policies::make_masking_backend(c.backend, mask->plan);
      }
    }
  }
  return routed;
}

backends::Headers decision_headers(const policies::Decision& decision) {
  // Emplaced, not an initializer list (which would copy each pair once more); room is left
  // for the limit headers the caller appends and the served-by and content headers of the
  // answer (served_headers), so that the answer's headers are this one vector.
  backends::Headers headers;
  headers.reserve(16);
  headers.emplace_back("x-switchyard-rule", decision.rule_header());
  headers.emplace_back("x-switchyard-sensitivity", to_string(decision.sensitivity.level));
  headers.emplace_back("x-switchyard-volume", to_string(decision.volume.volume));
  headers.emplace_back("x-switchyard-difficulty", to_string(decision.difficulty.difficulty));
  return headers;
}

backends::Headers unclassified_headers() {
  backends::Headers headers;
  headers.reserve(4);
  headers.emplace_back("x-switchyard-rule", "none");
  for (const char* name :
       {"x-switchyard-sensitivity", "x-switchyard-volume", "x-switchyard-difficulty"}) {
    headers.emplace_back(name, "unclassified");
  }
  return headers;
}

std::string policy_note(const policies::Decision& decision) {
  std::vector<std::string_view> rules;
  for (const policies::ExcludedTarget& e : decision.excluded) {
    if (!e.rule.empty() && std::find(rules.begin(), rules.end(), e.rule) == rules.end()) {
      rules.push_back(e.rule);
    }
  }
  if (rules.empty()) return "";
  std::string note = "backends that policy rule";
  note += rules.size() == 1 ? " '" : "s '";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) note += "', '";
    note += rules[i];
  }
  return note + "' exclude" + (rules.size() == 1 ? "s" : "") + " were not tried";
}

namespace {

// A finding in a member name means the name itself is a value (`{"536-22-1234": "x"}`): that
// token is replaced by "*" in every path that passes through it, so explain never echoes it.
std::vector<std::string> redacted_paths(const std::vector<policies::Finding>& findings) {
  std::vector<std::string> sensitive_keys;
  for (const policies::Finding& f : findings) {
    if (f.in_key) sensitive_keys.push_back(f.path);
  }
  std::vector<std::string> out;
  for (const policies::Finding& f : findings) {
    std::string path = f.path;
    for (const std::string& key : sensitive_keys) {
      const bool under = path == key || (path.size() > key.size() && path.starts_with(key) &&
                                         (path[key.size()] == '/' || path[key.size()] == '#'));
      const size_t slash = key.rfind('/');
      if (!under || slash == std::string::npos) continue;
      path = key.substr(0, slash + 1) + "*" + path.substr(key.size());
    }
    out.push_back(std::move(path));
  }
  return out;
}

// The class, the score and every feature's value and push (logit units, largest first), so a
// reader can see why a request counts as hard.
json difficulty_json(const policies::DifficultyResult& r) {
  json contributions = json::array();
  for (const policies::DifficultyContribution& c : r.contributions) {
    contributions.push_back(
        {{"feature", policies::kDifficultyFeatureNames[static_cast<size_t>(c.feature)]},
         {"value", c.value},
         {"contribution", c.contribution}});
  }
  return {{"class", to_string(r.difficulty)},
          {"score", r.score},
          {"logit", r.logit},
          {"contributions", contributions}};
}

}  // namespace

json decision_json(const policies::Decision& d) {
  json findings = json::array();
  const std::vector<std::string> paths = redacted_paths(d.sensitivity.findings);
  for (size_t i = 0; i < d.sensitivity.findings.size(); ++i) {
    const policies::Finding& f = d.sensitivity.findings[i];
    findings.push_back({{"type", to_string(f.type)},
                        {"detector", f.detector},
                        {"path", paths[i]},
                        {"in_key", f.in_key},
                        {"begin", f.begin},
                        {"end", f.end},
                        {"confidence", f.confidence},
                        {"level", to_string(f.level)}});
  }
  json sensitivity = {{"level", to_string(d.sensitivity.level)},
                      {"detected", to_string(d.sensitivity.detected)},
                      {"floor", to_string(d.sensitivity.floor)},
                      {"decided_by", to_string(d.sensitivity.decided_by)}};
  sensitivity["declared"] =
      d.sensitivity.declared ? json(to_string(*d.sensitivity.declared)) : json(nullptr);

  const policies::Constraints& c = d.constraints;
  json constraints = json::object();
  constraints["rules"] = c.rules;
  if (c.kind) {
    constraints["kind"] =
        c.kinds_conflict ? std::string("conflict") : std::string(policies::to_string(*c.kind));
  }
  if (c.regions) constraints["regions"] = *c.regions;
  if (c.no_retention) constraints["no_retention"] = true;
  if (c.allowed_backends) constraints["allowed_backends"] = *c.allowed_backends;
  if (!c.denied_backends.empty()) constraints["denied_backends"] = c.denied_backends;

  json candidates = json::array();
  for (const auto& t : d.candidates)
    candidates.push_back({{"backend", t.backend}, {"model", t.model}});
  json excluded = json::array();
  for (const auto& x : d.excluded) {
    excluded.push_back({{"backend", x.target.backend},
                        {"model", x.target.model},
                        {"rule", x.rule},
                        {"reason", x.reason}});
  }
  json transform = nullptr;
  if (d.mask) {
    // Types and counts of the values masked, never the values or their placeholders.
    json entities = json::array();
    size_t total = 0;
    if (d.mask->plan) {
      for (const auto& [type, n] : d.mask->plan->counts()) {
        entities.push_back({{"type", to_string(type)}, {"values", n}});
        total += n;
      }
    }
    json types = json::array();
    for (policies::FindingType type : d.mask->selection.types) types.push_back(to_string(type));
    transform = {{"action", "mask_pii"},
                 {"rules", d.mask->rules},
                 {"selection",
                  {{"up_to_confidential", d.mask->selection.up_to_confidential}, {"types", types}}},
                 {"applies", d.mask->applies()},
                 {"masked_backends", d.mask->masked_backends},
                 {"entities", entities},
                 {"values", total}};
  }
  json out = {{"object", "route.decision"},
              {"verdict", to_string(d.verdict)},
              {"sensitivity", sensitivity},
              {"volume",
               {{"class", to_string(d.volume.volume)},
                {"reason", d.volume.reason},
                {"window_requests", d.volume.window_requests},
                {"window_tokens", d.volume.window_tokens}}},
              {"difficulty", difficulty_json(d.difficulty)},
              {"findings", findings},
              {"matched_rules", d.matched_rules},
              {"rule", d.rule_header()},
              {"constraints", constraints},
              {"candidates", candidates},
              {"excluded", excluded},
              {"transform", transform},
              {"reasons", d.reasons}};
  if (d.verdict != policies::Decision::Verdict::route) {
    const backends::Error error = d.error();
    out["refusal"] = {{"status", d.verdict == policies::Decision::Verdict::deny ? 403 : 503},
                      {"code", error.code},
                      {"message", d.message}};
  }
  return out;
}

}  // namespace sy::gateway
