// Router::decide: classify, match rules, intersect their constraints, filter and order the
// model's targets. See router.h for the contract.

#include "switchyard/policies/router.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "switchyard/backends/pricing.h"

namespace sy::policies {

using backends::BackendKind;

namespace {

std::string join_list(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::optional<std::string_view> tenant_attribute(const TenantProfile* tenant,
                                                 std::string_view key) {
  if (tenant == nullptr) return std::nullopt;
  if (key == "name") return tenant->name;
  for (const auto& [name, value] : tenant->attributes) {
    if (name == key) return value;
  }
  return std::nullopt;
}

bool matches(const Rule& rule, const RouteRequest& request, const Decision& d) {
  const RuleCondition& when = rule.when;
  const SensitivityLevel level = d.sensitivity.level;
  if (when.sensitivity_at_least && level < *when.sensitivity_at_least) return false;
  if (when.sensitivity_at_most && level > *when.sensitivity_at_most) return false;
  if (when.volume && d.volume.volume != *when.volume) return false;
  if (!when.difficulties.empty() && std::find(when.difficulties.begin(), when.difficulties.end(),
                                              d.difficulty.difficulty) == when.difficulties.end()) {
    return false;
  }
  for (const auto& [key, values] : when.tenant) {
    auto value = tenant_attribute(request.tenant, key);
    if (!value || !contains(values, *value)) return false;
  }
  if (!when.models.empty() && !contains(when.models, request.chat->model)) return false;
  for (const auto& [name, values] : when.headers) {
    auto value = backends::find_header(request.header_list(), name);
    if (!value || !contains(values, *value)) return false;
  }
  if (!when.endpoints.empty() && !contains(when.endpoints, request.endpoint_path())) return false;
  return true;
}

// Folds one rule's requirements into the running intersection.
void intersect(Constraints& c, const Rule& rule) {
  const RuleRequirements& r = rule.require;
  if (r.empty()) return;
  c.rules.push_back(rule.name);
  if (r.kind) {
    if (c.kind && *c.kind != *r.kind) c.kinds_conflict = true;
    c.kind = r.kind;
  }
  if (!r.regions.empty()) {
    if (!c.regions) {
      c.regions = r.regions;
    } else {
      std::erase_if(*c.regions, [&](const std::string& x) { return !contains(r.regions, x); });
    }
  }
  c.no_retention = c.no_retention || r.no_retention;
  if (!r.allowed_backends.empty()) {
    std::vector<std::string> names;
    for (const BackendRef& ref : r.allowed_backends) names.push_back(ref.name);
    if (!c.allowed_backends) {
      c.allowed_backends = std::move(names);
    } else {
      std::erase_if(*c.allowed_backends, [&](const std::string& x) { return !contains(names, x); });
    }
  }
  for (const BackendRef& ref : r.denied_backends) c.denied_backends.push_back(ref.name);
}

// Why `backend` breaks one rule's requirements ("" = it satisfies them).
std::string violation(const RuleRequirements& r, const BackendView& backend) {
  if (r.kind && backend.kind != *r.kind) {
    return "kind " + std::string(to_string(backend.kind)) + " (" + std::string(to_string(*r.kind)) +
           " required)";
  }
  if (!r.regions.empty() && !contains(r.regions, backend.region)) {
    return "region " + backend.region + " (allowed: " + join_list(r.regions) + ")";
  }
  if (r.no_retention && backend.retains_data) return "retains data (no retention required)";
  if (!r.allowed_backends.empty() &&
      std::none_of(r.allowed_backends.begin(), r.allowed_backends.end(),
                   [&](const BackendRef& ref) { return ref.name == backend.name; })) {
    return "not an allowed backend";
  }
  for (const BackendRef& ref : r.denied_backends) {
    if (ref.name == backend.name) return "denied backend";
  }
  return "";
}

// A target's rank under one preference: listed backends by position, then the preferred
// kind, then the rest.
size_t preference_rank(const RulePreference& p, const BackendView& backend) {
  for (size_t i = 0; i < p.backends.size(); ++i) {
    if (p.backends[i].name == backend.name) return i;
  }
  if (p.kind && backend.kind == *p.kind) return p.backends.size();
  return p.backends.size() + 1;
}

std::string describe_selection(const MaskSelection& selection) {
  std::vector<std::string> parts;
  if (selection.up_to_confidential) parts.push_back("findings up to confidential");
  for (FindingType type : selection.types) parts.emplace_back(to_string(type));
  return join_list(parts);
}

std::string describe_requirements(const RuleRequirements& r) {
  std::vector<std::string> parts;
  if (r.kind) parts.push_back("kind " + std::string(to_string(*r.kind)));
  if (!r.regions.empty()) parts.push_back("region in [" + join_list(r.regions) + "]");
  if (r.no_retention) parts.push_back("no retention");
  if (!r.allowed_backends.empty()) {
    std::vector<std::string> names;
    for (const auto& ref : r.allowed_backends) names.push_back(ref.name);
    parts.push_back("backend in [" + join_list(names) + "]");
  }
  if (!r.denied_backends.empty()) {
    std::vector<std::string> names;
    for (const auto& ref : r.denied_backends) names.push_back(ref.name);
    parts.push_back("backend not in [" + join_list(names) + "]");
  }
  return join_list(parts, "; ");
}

// "score 0.81; math_cues +0.92, log_chars +0.40, numbers +0.21": the three largest pushes.
std::string describe_difficulty(const DifficultyResult& r) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "score %.2f", r.score);
  std::string out = buffer;
  size_t shown = 0;
  for (const DifficultyContribution& c : r.contributions) {
    if (shown == 3 || std::abs(c.contribution) < 0.005) break;
    std::snprintf(buffer, sizeof(buffer), "%s%s %+.2f", shown == 0 ? "; " : ", ",
                  kDifficultyFeatureNames[static_cast<size_t>(c.feature)].data(), c.contribution);
    out += buffer;
    ++shown;
  }
  return out;
}

}  // namespace

std::string_view to_string(Decision::Verdict verdict) {
  switch (verdict) {
    case Decision::Verdict::route:
      return "route";
    case Decision::Verdict::deny:
      return "deny";
    case Decision::Verdict::unavailable:
      return "unavailable";
  }
  return "route";
}

std::string Decision::rule_header() const {
  return matched_rules.empty() ? "none" : join_list(matched_rules, ",");
}

backends::Error Decision::error() const {
  if (verdict == Verdict::unavailable) {
    return backends::Error{.kind = backends::ErrorKind::upstream_unavailable,
                           .message = message,
                           .code = "policy_backends_unavailable"};
  }
  return backends::Error{
      .kind = backends::ErrorKind::permission_denied, .message = message, .code = "policy_denied"};
}

namespace {

bool is_default(const SensitivityConfig& config) {
  const SensitivityConfig defaults;
  return config.levels == defaults.levels && config.min_confidence == defaults.min_confidence &&
         config.term_lists.empty() && config.patterns.empty() &&
         config.max_json_depth == defaults.max_json_depth;
}

}  // namespace

void Router::plan_masking(Decision& d, const RouteRequest& request,
                          const SensitivityClassifier& classifier,
                          std::span<const BackendView> backend_views) const {
  MaskDecision& mask = *d.mask;
  for (const RouteTarget& t : d.candidates) {
    auto view = std::find_if(backend_views.begin(), backend_views.end(),
                             [&](const BackendView& b) { return b.name == t.backend; });
    if (view != backend_views.end() && view->kind == BackendKind::closed &&
        !contains(mask.masked_backends, t.backend)) {
      mask.masked_backends.push_back(t.backend);
    }
  }
  if (mask.masked_backends.empty()) {
    if (request.explain) d.reasons.push_back("mask_pii: no closed candidate, nothing masked");
    return;
  }
  // The findings say whether there is anything to mask; the plan scans again for the values
  // (findings carry spans and paths, never values). A native body may hold members the parsed
  // view lacks, so it is always scanned.
  const double min_confidence = classifier.config().min_confidence;
  const bool any = request.chat->native != nullptr ||
                   std::any_of(d.sensitivity.findings.begin(), d.sensitivity.findings.end(),
                               [&](const Finding& f) {
                                 return f.confidence >= min_confidence && mask.selection.selects(f);
                               });
  if (any) {
    MaskPlanPtr plan = MaskPlan::build(*request.chat, classifier, mask.selection);
    if (!plan->empty()) mask.plan = std::move(plan);
  }
  if (!mask.plan) {
    if (request.explain) d.reasons.push_back("mask_pii: no value to mask");
    return;
  }
  if (!request.explain) return;
  std::string counts;
  for (const auto& [type, n] : mask.plan->counts()) {
    counts +=
        (counts.empty() ? "" : ", ") + std::string(to_string(type)) + " x" + std::to_string(n);
  }
  d.reasons.push_back("mask_pii: " + counts + " masked for " + join_list(mask.masked_backends) +
                      "; restored in the answer");
}

namespace {

// A classifier's refusal, at the line that declared the entry it refused when that is a custom
// one. A tenant's config is the policy-wide lists followed by its own, so an index past the
// policy-wide ones is the tenant's.
std::string located(const SensitivityError& error, const Policy& policy,
                    const TenantSensitivity* tenant) {
  const SourceLocation* at = nullptr;
  const CustomPattern* pattern = nullptr;
  auto locate = [&](size_t index, size_t global_count,
                    const std::vector<SourceLocation>& global_where,
                    const std::vector<SourceLocation>* tenant_where) -> size_t {
    if (index < global_count) {
      if (index < global_where.size()) at = &global_where[index];
      return index;
    }
    if (tenant_where && index - global_count < tenant_where->size()) {
      at = &(*tenant_where)[index - global_count];
    }
    return index - global_count;
  };
  if (error.term_list) {
    locate(*error.term_list, policy.sensitivity.term_lists.size(),
           policy.sensitivity_where.term_lists, tenant ? &tenant->where.term_lists : nullptr);
  }
  if (error.pattern) {
    const size_t global_count = policy.sensitivity.patterns.size();
    const size_t i = locate(*error.pattern, global_count, policy.sensitivity_where.patterns,
                            tenant ? &tenant->where.patterns : nullptr);
    if (*error.pattern < global_count) {
      pattern = &policy.sensitivity.patterns[i];
    } else if (tenant && i < tenant->patterns.size()) {
      pattern = &tenant->patterns[i];
    }
  }
  std::string message = error.message;
  if (pattern && !error.reason.empty()) {
    // The index in the compiled set means nothing to the author: name it as they wrote it.
    message = "vectorscan cannot compile custom pattern '" + pattern->name + "' (/" +
              pattern->regex + "/): " + error.reason;
  } else if ((at || tenant) && message.starts_with("sensitivity: ")) {
    message.erase(0, std::string_view("sensitivity: ").size());  // the key path says so
  }
  if (tenant) message = "tenant \"" + tenant->tenant + "\": " + message;
  if (at) return at->describe() + ": " + message;
  if (tenant) return tenant->tenant_where.describe() + ": " + message;
  return message;
}

}  // namespace

std::expected<std::shared_ptr<Router>, std::string> Router::create(PolicyPtr policy) {
  std::shared_ptr<const SensitivityClassifier> global;
  // The built-in detectors take a second or two to compile and never change: every router of
  // the process with the default sensitivity settings shares one immutable classifier.
  if (is_default(policy->sensitivity)) {
    static const auto shared = SensitivityClassifier::create(SensitivityConfig{});
    if (!shared) return std::unexpected(shared.error().message);
    global = *shared;
  } else {
    auto classifier = SensitivityClassifier::create(policy->sensitivity);
    if (!classifier) return std::unexpected(located(classifier.error(), *policy, nullptr));
    global = std::move(*classifier);
  }
  // Tenants with lists of their own: the policy-wide lists, then theirs, in one database (one
  // scan per string, as for everyone else). Compiled here, once, never per request.
  TenantClassifiers tenants;
  for (const TenantSensitivity& tenant : policy->tenant_sensitivity) {
    SensitivityConfig config = policy->sensitivity;
    config.term_lists.insert(config.term_lists.end(), tenant.term_lists.begin(),
                             tenant.term_lists.end());
    config.patterns.insert(config.patterns.end(), tenant.patterns.begin(), tenant.patterns.end());
    auto classifier = SensitivityClassifier::create(std::move(config));
    if (!classifier) return std::unexpected(located(classifier.error(), *policy, &tenant));
    tenants.emplace(tenant.tenant, std::move(*classifier));
  }
  return std::make_shared<Router>(std::move(policy), std::move(global), std::move(tenants));
}

Router::Router(PolicyPtr policy, std::shared_ptr<const SensitivityClassifier> classifier,
               TenantClassifiers tenant_classifiers)
    : policy_(std::move(policy)),
      classifier_(std::move(classifier)),
      tenant_classifiers_(std::move(tenant_classifiers)),
      volume_(policy_->volume),
      difficulty_(policy_->difficulty) {
  for (const TenantSensitivity& tenant : policy_->tenant_sensitivity) {
    if (!tenant_classifiers_.contains(tenant.tenant)) {
      throw std::invalid_argument("Router: no classifier for tenant \"" + tenant.tenant +
                                  "\", whose policy has term lists or patterns of its own");
    }
  }
}

backends::Result<Decision> Router::decide(const RouteRequest& request,
                                          std::span<const RouteTarget> targets,
                                          std::span<const BackendView> backend_views, bool count) {
  Decision d;

  // 1. Classify.
  SensitivityContext sensitivity_context;
  const backends::Headers& headers = request.header_list();
  if (auto label = backends::find_header(headers, "x-switchyard-sensitivity")) {
    sensitivity_context.header_label = *label;
    if (label->empty()) sensitivity_context.header_label = " ";  // present but empty: invalid
  }
  if (request.tenant) sensitivity_context.tenant_floor = request.tenant->sensitivity_floor;
  const SensitivityClassifier& classifier = classifier_for(request.tenant);
  auto sensitivity = classifier.classify_chat_request(*request.chat, sensitivity_context);
  if (!sensitivity) {
    return backends::fail(backends::ErrorKind::invalid_request, sensitivity.error().message);
  }
  d.sensitivity = std::move(*sensitivity);

  VolumeSignals signals;
  if (auto workload = backends::find_header(headers, "x-switchyard-workload")) {
    signals.workload_header = workload->empty() ? std::string_view(" ") : *workload;
  }
  signals.batch_origin = request.batch_origin;
  signals.tenant = request.tenant ? std::string_view(request.tenant->name) : std::string_view();
  signals.estimated_tokens =
      static_cast<uint64_t>(std::max<int64_t>(0, backends::estimate_prompt_tokens(*request.chat)));
  signals.now = request.now;
  std::string head;  // only read when template repeats are configured
  if (policy_->volume.bulk_template_repeats > 0) {
    head = VolumeClassifier::prompt_head(
        *request.chat, static_cast<size_t>(policy_->volume.template_prefix_bytes));
    signals.prompt_head = head;
  }
  auto volume = count ? volume_.classify(signals) : volume_.peek(signals);
  if (!volume) return backends::fail(backends::ErrorKind::invalid_request, volume.error());
  d.volume = std::move(*volume);
  d.difficulty = difficulty_.classify(*request.chat);

  // Reasons are formatted only for explain; everything else below decides the same either way.
  const bool explain = request.explain;
  if (explain) {
    std::map<FindingType, size_t> by_type;
    for (const Finding& f : d.sensitivity.findings) ++by_type[f.type];
    std::string found;
    for (const auto& [type, n] : by_type) {
      found +=
          (found.empty() ? "" : ", ") + std::string(to_string(type)) + " x" + std::to_string(n);
    }
    d.reasons.push_back("sensitivity " + std::string(to_string(d.sensitivity.level)) +
                        " (decided by " + std::string(to_string(d.sensitivity.decided_by)) +
                        (found.empty() ? "; no findings" : "; findings: " + found) + ")");
    d.reasons.push_back("volume " + std::string(to_string(d.volume.volume)) + " (" +
                        d.volume.reason + ")");
    d.reasons.push_back("difficulty " + std::string(to_string(d.difficulty.difficulty)) + " (" +
                        describe_difficulty(d.difficulty) + ")");
  }

  // 2. Rules.
  const Rule* deny = nullptr;
  std::vector<const Rule*> matched;
  for (const Rule& rule : policy_->rules) {
    if (!matches(rule, request, d)) continue;
    matched.push_back(&rule);
    d.matched_rules.push_back(rule.name);
    if (rule.deny) {
      if (explain) d.reasons.push_back("rule " + rule.name + " matched: deny");
      if (!deny) deny = &rule;
      continue;
    }
    if (rule.mask_pii) {
      if (!d.mask) d.mask.emplace();
      d.mask->rules.push_back(rule.name);
      d.mask->selection.unite(*rule.mask_pii);
    }
    if (explain) {
      std::string what;
      if (!rule.require.empty()) what = "requires " + describe_requirements(rule.require);
      if (!rule.prefer.empty()) {
        std::vector<std::string> names;
        for (const auto& ref : rule.prefer.backends) names.push_back(ref.name);
        if (rule.prefer.kind) names.push_back("kind " + std::string(to_string(*rule.prefer.kind)));
        what += (what.empty() ? "" : "; ") + std::string("prefers ") + join_list(names);
      }
      if (rule.mask_pii) {
        what += (what.empty() ? "" : "; ") + std::string("transform mask_pii (") +
                describe_selection(*rule.mask_pii) + ")";
      }
      d.reasons.push_back("rule " + rule.name + " matched: " + what);
    }
    intersect(d.constraints, rule);
  }
  if (matched.empty() && explain) d.reasons.push_back("no rule matched");
  if (deny) {
    d.verdict = Decision::Verdict::deny;
    d.deny_rule = deny->name;
    d.message = "Refused by policy rule '" + deny->name + "': " + *deny->deny;
    for (const RouteTarget& t : targets) d.excluded.push_back({t, deny->name, "rule denies"});
    return d;
  }

  // 3. Filter by every matching rule's requirements; leave out unhealthy backends.
  struct Survivor {
    RouteTarget target;
    const BackendView* backend;
    size_t order;
  };
  std::vector<Survivor> survivors;
  std::vector<std::string> excluding_rules;
  bool any_allowed = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    const RouteTarget& t = targets[i];
    auto view = std::find_if(backend_views.begin(), backend_views.end(),
                             [&](const BackendView& b) { return b.name == t.backend; });
    if (view == backend_views.end()) {
      d.excluded.push_back({t, "", "unknown backend"});
      continue;
    }
    std::string why;
    std::string rule_name;
    for (const Rule* rule : matched) {
      why = violation(rule->require, *view);
      if (!why.empty()) {
        rule_name = rule->name;
        break;
      }
    }
    if (!why.empty()) {
      if (!contains(excluding_rules, rule_name)) excluding_rules.push_back(rule_name);
      d.excluded.push_back({t, rule_name, why});
      continue;
    }
    any_allowed = true;
    if (!view->available) {
      d.excluded.push_back({t, "", "unavailable (circuit open)"});
      continue;
    }
    survivors.push_back({t, &*view, i});
  }

  // 4. Order: preferences of the matching rules in rule order, then health (a recovering
  // backend after healthy ones), then price, then target order.
  std::vector<const RulePreference*> preferences;
  for (const Rule* rule : matched) {
    if (!rule->prefer.empty()) preferences.push_back(&rule->prefer);
  }
  if (!preferences.empty()) {
    std::stable_sort(survivors.begin(), survivors.end(), [&](const Survivor& a, const Survivor& b) {
      for (const RulePreference* p : preferences) {
        size_t ra = preference_rank(*p, *a.backend);
        size_t rb = preference_rank(*p, *b.backend);
        if (ra != rb) return ra < rb;
      }
      if (a.backend->recovering != b.backend->recovering) return b.backend->recovering;
      if (a.backend->price_per_mtok != b.backend->price_per_mtok) {
        return a.backend->price_per_mtok < b.backend->price_per_mtok;
      }
      return a.order < b.order;
    });
  }
  for (const Survivor& s : survivors) d.candidates.push_back(s.target);

  if (d.candidates.empty()) {
    const std::string model = request.chat->model.substr(0, 200);
    if (any_allowed) {
      d.verdict = Decision::Verdict::unavailable;
      d.message = "Every backend that policy " +
                  (d.constraints.rules.empty()
                       ? std::string("allows")
                       : "rule(s) '" + join_list(d.constraints.rules, "', '") + "' allow") +
                  " for model '" + model + "' is unavailable now; not rerouted";
    } else if (targets.empty()) {
      d.verdict = Decision::Verdict::deny;
      d.message = "No backend serves model '" + model + "'";
    } else {
      d.verdict = Decision::Verdict::deny;
      d.deny_rule = excluding_rules.empty() ? "" : excluding_rules.front();
      d.message = "Refused by policy rule(s) '" + join_list(excluding_rules, "', '") +
                  "': no backend serving model '" + model + "' satisfies them (" +
                  std::string(to_string(d.sensitivity.level)) + " data)";
    }
    if (explain) d.reasons.push_back(d.message);
  } else {
    if (explain) {
      std::vector<std::string> names;
      for (const RouteTarget& t : d.candidates) names.push_back(t.backend + "/" + t.model);
      d.reasons.push_back("candidates in order: " + join_list(names));
    }
    if (d.mask) plan_masking(d, request, classifier, backend_views);
  }
  return d;
}

}  // namespace sy::policies
