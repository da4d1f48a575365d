// Router: routing cases as data (tests/policies/cases/routing/*.yaml: policy, backends, model
// targets, then per case the request, tenant and headers -> the expected decision), plus the
// contract points a table cannot show.

#include "switchyard/policies/router.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::policies {
namespace {

using nlohmann::json;

std::string cases_dir() {
  return std::string(SWITCHYARD_SOURCE_DIR) + "/tests/policies/cases/routing";
}

// Compiling detectors takes about a second: policies without a sensitivity section share one.
std::shared_ptr<const SensitivityClassifier> classifier_for(const Policy& policy,
                                                            bool custom_sensitivity) {
  static std::shared_ptr<const SensitivityClassifier> shared = [] {
    auto created = SensitivityClassifier::create(SensitivityConfig{});
    if (!created) throw std::runtime_error(created.error().message);
    return *created;
  }();
  if (!custom_sensitivity) return shared;
  auto created = SensitivityClassifier::create(policy.sensitivity);
  if (!created) throw std::runtime_error(created.error().message);
  return *created;
}

// YAML (flow or block) -> JSON; quoted scalars stay strings, plain ones are typed.
json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) out[entry.first.Scalar()] = to_json(entry.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;
      if (s == "null" || s == "~") return nullptr;
      if (s == "true") return true;
      if (s == "false") return false;
      json number = json::parse(s, nullptr, false);
      if (!number.is_discarded() && number.is_number()) return number;
      return s;
    }
    default:
      return nullptr;
  }
}

std::vector<RouteTarget> parse_targets(const YAML::Node& node) {
  std::vector<RouteTarget> out;
  for (const auto& t : node) {
    const std::string text = t.as<std::string>();
    out.push_back({text.substr(0, text.find('/')), text.substr(text.find('/') + 1)});
  }
  return out;
}

std::string target_name(const RouteTarget& t) { return t.backend + "/" + t.model; }

void run_case(Router& router, const YAML::Node& c, std::vector<RouteTarget> targets,
              std::vector<BackendView> backends) {
  const YAML::Node expect = c["expect"];
  if (c["targets"]) targets = parse_targets(c["targets"]);
  for (const auto& down : c["down"]) {
    for (auto& b : backends) {
      if (b.name == down.as<std::string>()) b.available = false;
    }
  }
  TenantProfile tenant;
  bool has_tenant = false;
  if (const YAML::Node t = c["tenant"]) {
    has_tenant = true;
    for (const auto& entry : t) {
      const std::string key = entry.first.Scalar();
      const std::string value = entry.second.Scalar();
      if (key == "name") {
        tenant.name = value;
      } else if (key == "sensitivity_floor") {
        tenant.sensitivity_floor = *parse_sensitivity_level(value);
      } else {
        tenant.attributes.emplace_back(key, value);
      }
    }
  }
  const YAML::Node request_node = c["request"];
  const std::string body =
      request_node.IsScalar() ? request_node.Scalar() : to_json(request_node).dump();
  auto chat = backends::openai::parse_chat_request(body);
  ASSERT_TRUE(chat) << chat.error().message;

  RouteRequest request;
  request.chat = &*chat;
  request.endpoint = c["endpoint"] ? c["endpoint"].as<std::string>() : "/v1/chat/completions";
  for (const auto& h : c["headers"]) {
    request.headers.emplace_back(h.first.Scalar(), h.second.Scalar());
  }
  request.batch_origin = c["batch"] && c["batch"].as<bool>();
  request.tenant = has_tenant ? &tenant : nullptr;

  auto decision = router.decide(request, targets, backends, /*count=*/false);
  // The data plane's form (endpoint and headers by reference, no reasons) decides the same.
  RouteRequest lean{.chat = request.chat,
                    .batch_origin = request.batch_origin,
                    .tenant = request.tenant,
                    .now = request.now,
                    .endpoint_ref = request.endpoint,
                    .headers_ref = &request.headers,
                    .explain = false};
  auto lean_decision = router.decide(lean, targets, backends, /*count=*/false);
  ASSERT_EQ(lean_decision.has_value(), decision.has_value());
  if (decision) {
    const Decision& a = *decision;
    const Decision& b = *lean_decision;
    EXPECT_FALSE(a.reasons.empty());
    EXPECT_TRUE(b.reasons.empty());
    EXPECT_EQ(a.verdict, b.verdict);
    EXPECT_EQ(a.sensitivity.level, b.sensitivity.level);
    EXPECT_EQ(a.volume.volume, b.volume.volume);
    EXPECT_EQ(a.difficulty.difficulty, b.difficulty.difficulty);
    EXPECT_EQ(a.matched_rules, b.matched_rules);
    EXPECT_EQ(a.candidates, b.candidates);
    EXPECT_EQ(a.excluded.size(), b.excluded.size());
    EXPECT_EQ(a.constraints.rules, b.constraints.rules);
    EXPECT_EQ(a.deny_rule, b.deny_rule);
    EXPECT_EQ(a.message, b.message);
    ASSERT_EQ(a.mask.has_value(), b.mask.has_value());
    if (a.mask) {
      EXPECT_EQ(a.mask->applies(), b.mask->applies());
      EXPECT_EQ(a.mask->masked_backends, b.mask->masked_backends);
    }
  }
  if (expect["error_contains"]) {
    ASSERT_FALSE(decision) << "expected a refusal";
    EXPECT_EQ(decision.error().kind, backends::ErrorKind::invalid_request);
    EXPECT_NE(decision.error().message.find(expect["error_contains"].as<std::string>()),
              std::string::npos)
        << decision.error().message;
    return;
  }
  ASSERT_TRUE(decision) << decision.error().message;
  const Decision& d = *decision;
  std::string reasons;
  for (const auto& r : d.reasons) reasons += "  " + r + "\n";
  SCOPED_TRACE("reasons:\n" + reasons);

  const std::string verdict = expect["verdict"] ? expect["verdict"].as<std::string>() : "route";
  EXPECT_EQ(to_string(d.verdict), verdict);
  if (expect["status"]) {
    int status = d.error().kind == backends::ErrorKind::permission_denied ? 403 : 503;
    EXPECT_EQ(status, expect["status"].as<int>());
  }
  if (expect["sensitivity"]) {
    EXPECT_EQ(to_string(d.sensitivity.level), expect["sensitivity"].as<std::string>());
  }
  if (expect["decided_by"]) {
    EXPECT_EQ(to_string(d.sensitivity.decided_by), expect["decided_by"].as<std::string>());
  }
  if (expect["volume"]) {
    EXPECT_EQ(to_string(d.volume.volume), expect["volume"].as<std::string>());
  }
  if (expect["difficulty"]) {
    EXPECT_EQ(to_string(d.difficulty.difficulty), expect["difficulty"].as<std::string>())
        << "score " << d.difficulty.score;
  }
  for (const auto& type : expect["findings"]) {
    const FindingType wanted = *parse_finding_type(type.as<std::string>());
    EXPECT_TRUE(std::any_of(d.sensitivity.findings.begin(), d.sensitivity.findings.end(),
                            [&](const Finding& f) { return f.type == wanted; }))
        << "no finding of type " << type.as<std::string>();
  }
  if (expect["rules"]) {
    EXPECT_EQ(d.matched_rules, expect["rules"].as<std::vector<std::string>>());
  }
  if (expect["rule_header"]) {
    EXPECT_EQ(d.rule_header(), expect["rule_header"].as<std::string>());
  }
  if (expect["candidates"]) {
    std::vector<std::string> got;
    for (const auto& t : d.candidates) got.push_back(target_name(t));
    EXPECT_EQ(got, expect["candidates"].as<std::vector<std::string>>());
  }
  for (const auto& e : expect["excluded"]) {
    const std::string name = e["target"].as<std::string>();
    auto it = std::find_if(d.excluded.begin(), d.excluded.end(),
                           [&](const ExcludedTarget& x) { return target_name(x.target) == name; });
    ASSERT_NE(it, d.excluded.end()) << name << " not excluded";
    EXPECT_EQ(it->rule, e["rule"].as<std::string>()) << name;
  }
  if (expect["message_contains"]) {
    EXPECT_NE(d.message.find(expect["message_contains"].as<std::string>()), std::string::npos)
        << d.message;
  }
}

TEST(Router, RoutingCasesFromData) {
  size_t files = 0, cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(cases_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    const YAML::Node file = YAML::LoadFile(entry.path().string());
    PolicyPtr policy =
        load_policy_string(file["policy"].as<std::string>(), entry.path().filename().string());
    const bool custom = YAML::Load(file["policy"].as<std::string>())["sensitivity"].IsDefined();
    // Tenants with lists of their own need their classifiers compiled: create() does that.
    std::shared_ptr<Router> created;
    if (!policy->tenant_sensitivity.empty()) {
      auto made = Router::create(policy);
      ASSERT_TRUE(made) << made.error();
      created = std::move(*made);
    } else {
      created = std::make_shared<Router>(policy, classifier_for(*policy, custom));
    }
    Router& router = *created;
    std::vector<BackendView> backends;
    for (const auto& b : file["backends"]) {
      BackendView view;
      view.name = b["name"].as<std::string>();
      view.kind = b["kind"].as<std::string>() == "local" ? backends::BackendKind::local
                                                         : backends::BackendKind::closed;
      view.region = b["region"].as<std::string>();
      view.retains_data = b["retains_data"] && b["retains_data"].as<bool>();
      view.price_per_mtok = b["price_per_mtok"] ? b["price_per_mtok"].as<int64_t>() : 0;
      view.recovering = b["recovering"] && b["recovering"].as<bool>();
      backends.push_back(view);
    }
    const std::vector<RouteTarget> targets = parse_targets(file["targets"]);
    for (const auto& c : file["cases"]) {
      ++cases;
      SCOPED_TRACE(entry.path().filename().string() + ": " + c["name"].as<std::string>());
      run_case(router, c, targets, backends);
    }
  }
  EXPECT_GE(files, 7u);
  EXPECT_GE(cases, 40u);
}

// The decision explains with types, paths and spans, never with the values found.
TEST(Router, DecisionCarriesNoRawValues) {
  PolicyPtr policy = load_policy_string(
      "rules:\n  - {name: r, when: {sensitivity: restricted}, require: {kind: local}}\n", "p");
  Router router(policy, classifier_for(*policy, false));
  auto chat = backends::openai::parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"card 4111111111111111 ok"}]})");
  ASSERT_TRUE(chat);
  RouteRequest request{.chat = &*chat};
  std::vector<RouteTarget> targets = {{"v", "x"}};
  std::vector<BackendView> backends = {{.name = "v"}};
  auto d = router.decide(request, targets, backends);
  ASSERT_TRUE(d);
  ASSERT_FALSE(d->sensitivity.findings.empty());
  EXPECT_EQ(d->sensitivity.findings[0].begin, 5u);
  EXPECT_EQ(d->sensitivity.findings[0].end, 21u);
  for (const auto& reason : d->reasons) EXPECT_EQ(reason.find("4111"), std::string::npos);
  EXPECT_EQ(d->message.find("4111"), std::string::npos);
}

// A decision for a 2 KB request stays fast (a loose bound: the benchmark measures it).
TEST(Router, DecisionTimeIsBounded) {
  PolicyPtr policy = load_policy_string(
      "rules:\n  - {name: r, when: {sensitivity: restricted}, require: {kind: local}}\n", "p");
  Router router(policy, classifier_for(*policy, false));
  std::string text;
  while (text.size() < 2048) text += "The quarterly report covers revenue and churn. ";
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}};
  auto chat = backends::openai::parse_chat_request(body.dump());
  ASSERT_TRUE(chat);
  RouteRequest request{.chat = &*chat};
  std::vector<RouteTarget> targets = {{"v", "x"}, {"l", "y"}};
  std::vector<BackendView> backends = {{.name = "v"},
                                       {.name = "l", .kind = backends::BackendKind::local}};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(router.decide(request, targets, backends));
  const auto per = (std::chrono::steady_clock::now() - start) / 200;
  EXPECT_LT(per, std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace sy::policies
