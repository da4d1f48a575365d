// The mask_pii transform as data (tests/policies/cases/transform/*.yaml): policy, backends and
// targets, then per case the request -> the decision's transform (applies, masked backends,
// entity counts), what the masked request must and must not contain, and restorations.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"
#include "switchyard/policies/router.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::policies {
namespace {

using nlohmann::json;

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

void check_transform(const Decision& d, const YAML::Node& expect) {
  if (expect.IsNull()) {
    EXPECT_FALSE(d.mask) << "no rule asked for mask_pii";
    return;
  }
  ASSERT_TRUE(d.mask) << "expected a mask_pii transform";
  if (expect["applies"]) EXPECT_EQ(d.mask->applies(), expect["applies"].as<bool>());
  if (expect["masked_backends"]) {
    EXPECT_EQ(d.mask->masked_backends,
              expect["masked_backends"].as<std::vector<std::string>>());
  }
  if (expect["entities"]) {
    std::map<std::string, size_t> got;
    if (d.mask->plan) {
      for (const auto& [type, n] : d.mask->plan->counts()) got[std::string(to_string(type))] = n;
    }
    std::map<std::string, size_t> wanted;
    for (const auto& e : expect["entities"]) wanted[e.first.Scalar()] = e.second.as<size_t>();
    EXPECT_EQ(got, wanted);
  }
}

void run_case(Router& router, const YAML::Node& c, std::vector<RouteTarget> targets,
              const std::vector<BackendView>& backends) {
  const YAML::Node expect = c["expect"];
  if (c["targets"]) targets = parse_targets(c["targets"]);
  TenantProfile tenant;
  bool has_tenant = false;
  if (const YAML::Node t = c["tenant"]) {
    has_tenant = true;
    for (const auto& entry : t) {
      if (entry.first.Scalar() == "name") {
        tenant.name = entry.second.Scalar();
      } else {
        tenant.attributes.emplace_back(entry.first.Scalar(), entry.second.Scalar());
      }
    }
  }
  auto chat = backends::openai::parse_chat_request(to_json(c["request"]).dump());
  ASSERT_TRUE(chat) << chat.error().message;
  RouteRequest request;
  request.chat = &*chat;
  request.endpoint = "/v1/chat/completions";
  for (const auto& h : c["headers"]) request.headers.emplace_back(h.first.Scalar(), h.second.Scalar());
  request.tenant = has_tenant ? &tenant : nullptr;

  auto decision = router.decide(request, targets, backends, /*count=*/false);
  ASSERT_TRUE(decision) << decision.error().message;
  const Decision& d = *decision;
  std::string reasons;
  for (const auto& r : d.reasons) reasons += "  " + r + "\n";
  SCOPED_TRACE("reasons:\n" + reasons);

  if (expect["sensitivity"]) {
    EXPECT_EQ(to_string(d.sensitivity.level), expect["sensitivity"].as<std::string>());
  }
  if (expect["rules"]) EXPECT_EQ(d.matched_rules, expect["rules"].as<std::vector<std::string>>());
  if (expect["candidates"]) {
    std::vector<std::string> got;
    for (const auto& t : d.candidates) got.push_back(t.backend + "/" + t.model);
    EXPECT_EQ(got, expect["candidates"].as<std::vector<std::string>>());
  }
  if (expect["transform"]) check_transform(d, expect["transform"]);

  // What a closed candidate would be sent.
  const MaskPlanPtr plan = d.mask ? d.mask->plan : nullptr;
  const backends::ChatRequest masked = plan ? plan->mask(*chat) : *chat;
  const std::string sent = backends::openai::encode_chat_request(masked, false);
  for (const auto& s : expect["masked_contains"]) {
    EXPECT_NE(sent.find(s.as<std::string>()), std::string::npos)
        << "missing " << s.as<std::string>() << " in " << sent;
  }
  for (const auto& s : expect["masked_not_contains"]) {
    EXPECT_EQ(sent.find(s.as<std::string>()), std::string::npos)
        << "leaked " << s.as<std::string>() << " in " << sent;
  }
  // Explain shows types and counts: neither the reasons nor the decision name a value.
  for (const auto& s : expect["masked_not_contains"]) {
    EXPECT_EQ(reasons.find(s.as<std::string>()), std::string::npos);
  }
  for (const auto& pair : expect["restores"]) {
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->restore_text(pair[0].as<std::string>()), pair[1].as<std::string>());
  }
  for (const auto& pair : expect["restores_json"]) {
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->restore_json(pair[0].as<std::string>()), pair[1].as<std::string>());
  }
}

TEST(MaskPiiCases, FromData) {
  const std::string dir = std::string(SWITCHYARD_SOURCE_DIR) + "/tests/policies/cases/transform";
  size_t files = 0, cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    const YAML::Node file = YAML::LoadFile(entry.path().string());
    PolicyPtr policy =
        load_policy_string(file["policy"].as<std::string>(), entry.path().filename().string());
    auto router = Router::create(policy);
    ASSERT_TRUE(router) << router.error();
    std::vector<BackendView> backends;
    for (const auto& b : file["backends"]) {
      BackendView view;
      view.name = b["name"].as<std::string>();
      view.kind = b["kind"].as<std::string>() == "local" ? backends::BackendKind::local
                                                         : backends::BackendKind::closed;
      view.region = b["region"].as<std::string>();
      backends.push_back(view);
    }
    const std::vector<RouteTarget> targets = parse_targets(file["targets"]);
    for (const auto& c : file["cases"]) {
      ++cases;
      SCOPED_TRACE(entry.path().filename().string() + ": " + c["name"].as<std::string>());
      run_case(**router, c, targets, backends);
    }
  }
  EXPECT_GE(files, 2u);
  EXPECT_GE(cases, 10u);
}

}  // namespace
}  // namespace sy::policies
