// Tenant term lists and patterns (`sensitivity.tenants.<name>`): the router compiles one
// classifier per tenant with lists of its own, once, and scans each request with its tenant's.
// A tenant's terms are found in its requests only; policy-wide terms in everyone's; a pattern
// vectorscan refuses is a load error naming the tenant, the pattern and its line. The routing
// cases of tests/policies/cases/routing/tenant_terms.yaml cover the decisions; these tests
// cover what a table cannot.

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"
#include "switchyard/policies/router.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::policies {
namespace {

constexpr char kPolicy[] = R"(sensitivity:
  terms:
    - {name: code-names, terms: [Bluebird], level: restricted}
  tenants:
    acme:
      terms:
        - {name: acme-customers, terms: [Initech], level: confidential}
      patterns:
        - {name: acme-contract, regex: "ACME-[0-9]{5}", level: restricted}
    globex:
      terms:
        - {name: globex-projects, terms: [Hammock]}
rules:
  - name: restricted-local-only
    when: {sensitivity: {at_least: restricted}}
    require: {kind: local}
  - name: mask-for-vendors
    when: {sensitivity: {at_most: confidential}}
    transform: mask_pii
)";

// Compiling takes a second per classifier: the tests share one router.
Router& shared_router() {
  static std::shared_ptr<Router> router = [] {
    auto created = Router::create(load_policy_string(kPolicy, "policy.yaml"));
    if (!created) throw std::runtime_error(created.error());
    return *created;
  }();
  return *router;
}

struct Outcome {
  Decision decision;
  std::vector<std::string> detectors;  // of the findings, in order
};

Outcome decide(const std::string& text, const TenantProfile* tenant) {
  nlohmann::json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}};
  auto chat = backends::openai::parse_chat_request(body.dump());
  EXPECT_TRUE(chat) << chat.error().message;
  RouteRequest request{.chat = &*chat, .tenant = tenant};
  std::vector<RouteTarget> targets = {{"vendor", "gpt"}, {"local", "llama"}};
  std::vector<BackendView> backends = {{.name = "vendor"},
                                       {.name = "local", .kind = backends::BackendKind::local}};
  auto decision = shared_router().decide(request, targets, backends, /*count=*/false);
  EXPECT_TRUE(decision) << decision.error().message;
  Outcome out{.decision = std::move(*decision)};
  for (const Finding& f : out.decision.sensitivity.findings) out.detectors.push_back(f.detector);
  return out;
}

bool has(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

const TenantProfile kAcme{.name = "acme"};
const TenantProfile kGlobex{.name = "globex"};
const TenantProfile kHooli{.name = "hooli"};  // in no tenant list of the policy

TEST(TenantSensitivity, ATenantsTermIsFoundForItsRequestsOnly) {
  const std::string text = "Send the Initech invoice";
  Outcome acme = decide(text, &kAcme);
  EXPECT_TRUE(has(acme.detectors, "acme-customers"));
  EXPECT_EQ(acme.decision.sensitivity.level, SensitivityLevel::confidential);
  for (const TenantProfile* other :
       {&kGlobex, &kHooli, static_cast<const TenantProfile*>(nullptr)}) {
    SCOPED_TRACE(other ? other->name : "anonymous");
    Outcome o = decide(text, other);
    EXPECT_FALSE(has(o.detectors, "acme-customers"));
    EXPECT_EQ(o.decision.sensitivity.level, SensitivityLevel::public_);
  }
  // And the other way round: globex's term (default level confidential) is not acme's.
  EXPECT_TRUE(has(decide("the Hammock launch", &kGlobex).detectors, "globex-projects"));
  EXPECT_FALSE(has(decide("the Hammock launch", &kAcme).detectors, "globex-projects"));
}

TEST(TenantSensitivity, ATenantsPatternIsFoundForItsRequestsOnly) {
  Outcome acme = decide("contract ACME-20417 renewed", &kAcme);
  ASSERT_TRUE(has(acme.detectors, "acme-contract"));
  EXPECT_EQ(acme.decision.sensitivity.level, SensitivityLevel::restricted);
  EXPECT_EQ(acme.decision.candidates, (std::vector<RouteTarget>{{"local", "llama"}}));
  Outcome globex = decide("contract ACME-20417 renewed", &kGlobex);
  EXPECT_TRUE(globex.detectors.empty());
  EXPECT_EQ(globex.decision.candidates.size(), 2u);
  EXPECT_TRUE(decide("contract ACME-20417 renewed", nullptr).detectors.empty());
}

TEST(TenantSensitivity, PolicyWideTermsApplyToEveryone) {
  for (const TenantProfile* tenant :
       {&kAcme, &kGlobex, &kHooli, static_cast<const TenantProfile*>(nullptr)}) {
    SCOPED_TRACE(tenant ? tenant->name : "anonymous");
    Outcome o = decide("Bluebird ships Monday", tenant);
    EXPECT_TRUE(has(o.detectors, "code-names"));
    EXPECT_EQ(o.decision.sensitivity.level, SensitivityLevel::restricted);
    EXPECT_EQ(o.decision.matched_rules, std::vector<std::string>{"restricted-local-only"});
  }
}

// Only tenants with lists of their own have a classifier of their own; the rest (and anonymous
// callers) share the policy-wide one: no lookup result, no extra compile, no extra scan.
TEST(TenantSensitivity, TenantsWithoutListsShareThePolicyWideClassifier) {
  Router& router = shared_router();
  EXPECT_EQ(&router.classifier_for(nullptr), &router.classifier());
  EXPECT_EQ(&router.classifier_for(&kHooli), &router.classifier());
  EXPECT_NE(&router.classifier_for(&kAcme), &router.classifier());
  EXPECT_NE(&router.classifier_for(&kAcme), &router.classifier_for(&kGlobex));
  // The tenant's classifier holds the policy-wide lists first, then its own.
  const SensitivityConfig& acme = router.classifier_for(&kAcme).config();
  ASSERT_EQ(acme.term_lists.size(), 2u);
  EXPECT_EQ(acme.term_lists[0].name, "code-names");
  EXPECT_EQ(acme.term_lists[1].name, "acme-customers");
  ASSERT_EQ(acme.patterns.size(), 1u);
  EXPECT_EQ(router.classifier().config().term_lists.size(), 1u);
  EXPECT_TRUE(router.classifier().config().patterns.empty());
}

// mask_pii masks with the tenant's classifier: acme's customer name is replaced for the vendor,
// while globex's identical request holds nothing to mask.
TEST(TenantSensitivity, MaskPiiMasksTheTenantsOwnTerms) {
  Outcome acme = decide("Send the Initech invoice", &kAcme);
  ASSERT_TRUE(acme.decision.mask);
  ASSERT_TRUE(acme.decision.mask->applies());
  EXPECT_EQ(acme.decision.mask->plan->counts(),
            (std::vector<std::pair<FindingType, size_t>>{{FindingType::custom_term, 1}}));
  Outcome globex = decide("Send the Initech invoice", &kGlobex);
  ASSERT_TRUE(globex.decision.mask);
  EXPECT_FALSE(globex.decision.mask->applies());
}

std::string create_error(std::string_view policy_text) {
  auto created = Router::create(load_policy_string(policy_text, "policy.yaml"));
  return created ? "(compiled)" : created.error();
}

TEST(TenantSensitivity, APatternVectorscanRefusesIsALoadErrorNamingTenantPatternAndLine) {
  const std::string error = create_error(R"yaml(sensitivity:
  tenants:
    acme:
      terms:
        - {name: customers, terms: [Initech]}
      patterns:
        - {name: ticket, regex: "TCK-[0-9]+"}
        - {name: lookahead, regex: "ACME(?=-[0-9])"}
)yaml");
  const std::string expected =
      "policy.yaml:8:11: sensitivity.tenants.acme.patterns[1]: tenant \"acme\": vectorscan "
      "cannot compile custom pattern 'lookahead' (/ACME(?=-[0-9])/): ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
  EXPECT_GT(error.size(), expected.size()) << "vectorscan's reason is missing";
}

// A refused policy-wide pattern is located too (it used to name the pattern without a line).
TEST(TenantSensitivity, APolicyWidePatternVectorscanRefusesIsLocated) {
  const std::string error = create_error(R"(sensitivity:
  patterns:
    - {name: backref, regex: "(a)\\1"}
)");
  const std::string expected =
      "policy.yaml:3:7: sensitivity.patterns[0]: vectorscan cannot compile custom pattern "
      "'backref' (/(a)\\1/): ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
}

// A pattern that breaks the whole set's compile (a resource limit, no index from vectorscan) is
// found by compiling each alone, and located the same way.
TEST(TenantSensitivity, APatternTooLargeForTheSetIsLocated) {
  const std::string error = create_error(R"(sensitivity:
  patterns:
    - {name: fine, regex: "ok[0-9]"}
    - {name: huge, regex: "(a{1000}){1000}"}
)");
  const std::string expected =
      "policy.yaml:4:7: sensitivity.patterns[1]: vectorscan cannot compile custom pattern "
      "'huge' (/(a{1000}){1000}/): ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
}

// A router built by hand must be given every tenant's classifier: without one, that tenant's
// terms would silently not be scanned.
TEST(TenantSensitivity, ARouterWithoutATenantsClassifierIsRefused) {
  PolicyPtr policy = load_policy_string(kPolicy, "policy.yaml");
  Router& router = shared_router();
  std::shared_ptr<const SensitivityClassifier> global(&router.classifier(), [](auto*) {});
  EXPECT_THROW(Router(policy, global), std::invalid_argument);
}

}  // namespace
}  // namespace sy::policies
