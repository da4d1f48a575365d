// Policy YAML -> typed rules: every key read, and every mistake reported at its file, line and
// key path; conditions nothing can evaluate yet are refused, not ignored.

#include "switchyard/policies/rules/policy_loader.h"

#include <gtest/gtest.h>

#include <string>

namespace sy::policies {
namespace {

using backends::BackendKind;

std::string load_error(std::string_view text, std::string_view section = {}) {
  try {
    load_policy_string(text, "policy.yaml", section);
  } catch (const PolicyError& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(PolicyLoader, ReadsEveryKeyOfARule) {
  PolicyPtr policy = load_policy_string(R"(
sensitivity:
  levels: {unscannable: restricted, email: internal}
  min_confidence: 0.7
  terms:
    - {name: projects, terms: [Bluebird, Nightjar], level: restricted}
  patterns:
    - {name: ticket, regex: "TCK-[0-9]{6}", level: internal, case_insensitive: true}
volume:
  window_ms: 30000
  bulk_requests_per_window: 100
  bulk_tokens_per_window: 50000
rules:
  - name: eu
    when:
      sensitivity: {at_least: internal, at_most: confidential}
      volume: interactive
      tenant: {residency: eu, name: [acme, globex]}
      model: [smart, fast]
      header: {X-Team: legal}
      endpoint: /v1/chat/completions
    require:
      kind: closed
      regions: [eu, local]
      no_retention: true
      allowed_backends: [azure-eu, local]
      denied_backends: [openai]
    prefer: {backends: [local], kind: local}
  - name: restricted
    when: {sensitivity: restricted}
    require: {kind: local}
  - name: block-legal
    when: {header: {x-team: blocked}}
    deny: "legal may not use this gateway"
  - name: bulk
    when: {volume: bulk}
    prefer: [local]
)",
                                        "policy.yaml");
  ASSERT_EQ(policy->rules.size(), 4u);
  const Rule& eu = policy->rules[0];
  EXPECT_EQ(eu.name, "eu");
  EXPECT_EQ(eu.where.line, 14);
  EXPECT_EQ(eu.when.sensitivity_at_least, SensitivityLevel::internal);
  EXPECT_EQ(eu.when.sensitivity_at_most, SensitivityLevel::confidential);
  EXPECT_EQ(eu.when.volume, VolumeClass::interactive);
  ASSERT_EQ(eu.when.tenant.size(), 2u);
  EXPECT_EQ(eu.when.tenant[0].first, "residency");
  EXPECT_EQ(eu.when.tenant[1].second, (std::vector<std::string>{"acme", "globex"}));
  EXPECT_EQ(eu.when.models, (std::vector<std::string>{"smart", "fast"}));
  ASSERT_EQ(eu.when.headers.size(), 1u);
  EXPECT_EQ(eu.when.headers[0].first, "x-team");  // lower-cased
  EXPECT_EQ(eu.when.endpoints, (std::vector<std::string>{"/v1/chat/completions"}));
  EXPECT_EQ(eu.require.kind, BackendKind::closed);
  EXPECT_EQ(eu.require.regions, (std::vector<std::string>{"eu", "local"}));
  EXPECT_TRUE(eu.require.no_retention);
  ASSERT_EQ(eu.require.allowed_backends.size(), 2u);
  EXPECT_EQ(eu.require.allowed_backends[1].name, "local");
  EXPECT_EQ(eu.require.allowed_backends[1].where.path, "rules[0].require.allowed_backends[1]");
  EXPECT_EQ(eu.require.denied_backends[0].name, "openai");
  EXPECT_EQ(eu.prefer.kind, BackendKind::local);
  EXPECT_EQ(policy->rules[1].when.sensitivity_at_least, SensitivityLevel::restricted);
  EXPECT_EQ(policy->rules[2].deny, "legal may not use this gateway");
  ASSERT_EQ(policy->rules[3].prefer.backends.size(), 1u);

  EXPECT_EQ(policy->sensitivity.level_of(FindingType::unscannable), SensitivityLevel::restricted);
  EXPECT_EQ(policy->sensitivity.level_of(FindingType::email), SensitivityLevel::internal);
  EXPECT_DOUBLE_EQ(policy->sensitivity.min_confidence, 0.7);
  ASSERT_EQ(policy->sensitivity.term_lists.size(), 1u);
  EXPECT_EQ(policy->sensitivity.term_lists[0].level, SensitivityLevel::restricted);
  ASSERT_EQ(policy->sensitivity.patterns.size(), 1u);
  EXPECT_TRUE(policy->sensitivity.patterns[0].case_insensitive);
  EXPECT_EQ(policy->volume.window.count(), 30000);
  EXPECT_EQ(policy->volume.bulk_requests_per_window, 100u);
  EXPECT_EQ(policy->volume.bulk_tokens_per_window, 50000u);
}

TEST(PolicyLoader, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(load_error("rules:\n  - name: a\n    when: {sensitivty: restricted}\n"
                       "    require: {kind: local}\n"),
            "policy.yaml:3:12: rules[0].when.sensitivty: unknown key (did you mean "
            "\"sensitivity\"?)");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    when: {sensitivity: secret}\n"
                       "    require: {kind: local}\n"),
            "policy.yaml:3:25: rules[0].when.sensitivity: unknown level \"secret\" (one of "
            "public, internal, confidential, restricted)");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    require: {kind: lokal}\n"),
            "policy.yaml:3:21: rules[0].require.kind: must be local or closed (did you mean "
            "\"local\"?)");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    require: {kind: local}\n"
                       "  - name: a\n    deny: no\n"),
            "policy.yaml:4:11: rules[1].name: duplicate rule \"a\"");
  EXPECT_EQ(load_error("rules:\n  - when: {volume: bulk}\n    prefer: [x]\n"),
            "policy.yaml:2:5: rules[0]: missing required key \"name\"");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    when: {volume: bulk}\n"),
            "policy.yaml:2:5: rules[0]: needs one of require, prefer, transform or deny");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    deny: x\n    require: {kind: local}\n"),
            "policy.yaml:2:5: rules[0]: a rule that denies cannot also require, prefer or "
            "transform");
  EXPECT_EQ(load_error("volume: {window_ms: -5}\n"),
            "policy.yaml:1:21: volume.window_ms: must be an integer from 1 to 2147483648");
  EXPECT_EQ(load_error("sensitivity: {levels: {credit_card: restricted}}\n"),
            "policy.yaml:1:24: sensitivity.levels.credit_card: unknown finding type");
  EXPECT_EQ(load_error("rules: [\n"), load_error("rules: [\n"));
  EXPECT_NE(load_error("rules: [\n").find("policy.yaml:"), std::string::npos);
}

TEST(PolicyLoader, ReadsDifficultyConditionsAndWeights) {
  PolicyPtr policy = load_policy_string(R"(
difficulty:
  bias: -1.5
  weights: {math_cues: 0.75, log_chars: +0.125}
  thresholds: {medium: 0.25, hard: 0.5}
rules:
  - name: hard
    when: {difficulty: hard}
    prefer: [frontier]
  - name: not-easy
    when: {difficulty: [medium, hard]}
    prefer: {kind: closed}
)",
                                        "policy.yaml");
  ASSERT_EQ(policy->rules.size(), 2u);
  EXPECT_EQ(policy->rules[0].when.difficulties, std::vector{DifficultyClass::hard});
  EXPECT_EQ(policy->rules[1].when.difficulties,
            (std::vector{DifficultyClass::medium, DifficultyClass::hard}));
  const DifficultyConfig& d = policy->difficulty;
  const DifficultyConfig defaults = DifficultyConfig::defaults();
  EXPECT_EQ(d.bias, -1.5);
  EXPECT_EQ(d.weights[static_cast<size_t>(DifficultyFeature::math_cues)], 0.75);
  EXPECT_EQ(d.weights[static_cast<size_t>(DifficultyFeature::log_chars)], 0.125);
  // Weights not named keep the shipped default.
  EXPECT_EQ(d.weights[static_cast<size_t>(DifficultyFeature::code_cues)],
            defaults.weights[static_cast<size_t>(DifficultyFeature::code_cues)]);
  EXPECT_EQ(d.medium_threshold, 0.25);
  EXPECT_EQ(d.hard_threshold, 0.5);

  // No section: the shipped defaults.
  PolicyPtr plain = load_policy_string("rules: []\n", "policy.yaml");
  EXPECT_EQ(plain->difficulty.bias, defaults.bias);
  EXPECT_EQ(plain->difficulty.weights, defaults.weights);
}

TEST(PolicyLoader, DifficultyMistakesAreLocated) {
  EXPECT_EQ(load_error("rules:\n  - name: h\n    when: {difficulty: hrad}\n    prefer: [x]\n"),
            "policy.yaml:3:24: rules[0].when.difficulty: unknown difficulty \"hrad\" (one of easy, "
            "medium, hard) (did you mean \"hard\"?)");
  const std::string feature = load_error("difficulty: {weights: {length: 1}}\n");
  EXPECT_EQ(feature.rfind("policy.yaml:1:24: difficulty.weights.length: unknown feature (one of "
                          "log_chars, ",
                          0),
            0u)
      << feature;
  EXPECT_EQ(load_error("difficulty: {bias: lots}\n"),
            "policy.yaml:1:20: difficulty.bias: must be a number from -100 to 100");
  EXPECT_EQ(load_error("difficulty: {thresholds: {medium: 0.8, hard: 0.5}}\n"),
            "policy.yaml:1:26: difficulty.thresholds: medium is above hard: no request could be "
            "medium");
  EXPECT_EQ(load_error("difficulty: {thresholds: {hard: 1.5}}\n"),
            "policy.yaml:1:33: difficulty.thresholds.hard: must be a number from 0 to 1");
}

TEST(PolicyLoader, ReadsTheMaskPiiTransform) {
  PolicyPtr policy = load_policy_string(
      "rules:\n"
      "  - name: all\n    transform: mask_pii\n"
      "  - name: listed\n    transform: {mask_pii: {types: [email, payment_card]}}\n"
      "    prefer: [x]\n"
      "  - name: empty\n    transform: {mask_pii: }\n",
      "policy.yaml");
  ASSERT_EQ(policy->rules.size(), 3u);
  ASSERT_TRUE(policy->rules[0].mask_pii);
  EXPECT_TRUE(policy->rules[0].mask_pii->up_to_confidential);
  EXPECT_TRUE(policy->rules[0].mask_pii->types.empty());
  ASSERT_TRUE(policy->rules[1].mask_pii);
  EXPECT_FALSE(policy->rules[1].mask_pii->up_to_confidential);
  EXPECT_EQ(policy->rules[1].mask_pii->types,
            (std::vector<FindingType>{FindingType::email, FindingType::payment_card}));
  EXPECT_TRUE(policy->rules[2].mask_pii->up_to_confidential);

  EXPECT_EQ(load_error("rules:\n  - name: a\n    transform: mask_pi\n"),
            "policy.yaml:3:16: rules[0].transform: unknown transform \"mask_pi\" (the one "
            "transform is mask_pii) (did you mean \"mask_pii\"?)");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    transform: {mask_pii: {types: [emial]}}\n"),
            "policy.yaml:3:36: rules[0].transform.mask_pii.types[0]: unknown finding type "
            "\"emial\"");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    transform: {mask_pii: {types: [unscannable]}}\n"),
            "policy.yaml:3:36: rules[0].transform.mask_pii.types[0]: unscannable content "
            "(images, audio, files) has no text to mask");
  EXPECT_EQ(load_error("rules:\n  - name: a\n    deny: x\n    transform: mask_pii\n"),
            "policy.yaml:2:5: rules[0]: a rule that denies cannot also require, prefer or "
            "transform");
}

TEST(PolicyLoader, ReadsASectionOfALargerDocument) {
  const std::string config =
      "listen: 127.0.0.1:0\n"
      "backends: []\n"
      "policies:\n"
      "  rules:\n"
      "    - name: r\n"
      "      when: {volume: bulk}\n"
      "      prefer: {kind: lokal}\n";
  EXPECT_EQ(load_error(config, "policies"),
            "policy.yaml:7:22: policies.rules[0].prefer.kind: must be local or closed (did you "
            "mean \"local\"?)");
  PolicyPtr none = load_policy_string("listen: 127.0.0.1:0\n", "switchyard.yaml", "policies");
  EXPECT_TRUE(none->rules.empty());
  EXPECT_EQ(none->source, "switchyard.yaml");
}

TEST(PolicyLoader, UnknownBackendNamesAreLocated) {
  PolicyPtr policy = load_policy_string(
      "rules:\n  - name: r\n    require:\n      allowed_backends: [local, nope]\n", "p.yaml");
  std::vector<std::string> known = {"local", "openai"};
  EXPECT_EQ(policy->check_backend_names(known),
            "p.yaml:4:33: rules[0].require.allowed_backends[1]: names undefined backend \"nope\"");
  known.push_back("nope");
  EXPECT_EQ(policy->check_backend_names(known), std::nullopt);
}

// `sensitivity.tenants.<name>`: a tenant's own term lists and patterns, read like the
// policy-wide ones and located line by line (the router names these lines when vectorscan
// refuses a pattern).
TEST(PolicyLoader, ReadsTenantTermListsAndPatterns) {
  PolicyPtr policy = load_policy_string(R"(sensitivity:
  terms:
    - {name: code-names, terms: [Bluebird]}
  tenants:
    acme:
      terms:
        - {name: customers, terms: [Initech, Umbrella Corp], level: restricted}
        - {name: people, terms: Milton, case_sensitive: true}
      patterns:
        - {name: contract, regex: "ACME-[0-9]{5}", level: internal, case_insensitive: true}
    globex:
      patterns:
        - {name: ticket, regex: "GX-[0-9]+"}
)",
                                        "policy.yaml");
  ASSERT_EQ(policy->sensitivity.term_lists.size(), 1u);  // the policy-wide list stays apart
  EXPECT_EQ(policy->sensitivity_where.term_lists[0].line, 3);
  ASSERT_EQ(policy->tenant_sensitivity.size(), 2u);
  const TenantSensitivity& acme = policy->tenant_sensitivity[0];
  EXPECT_EQ(acme.tenant, "acme");
  EXPECT_EQ(acme.tenant_where.line, 5);
  EXPECT_EQ(acme.tenant_where.path, "sensitivity.tenants.acme");
  ASSERT_EQ(acme.term_lists.size(), 2u);
  EXPECT_EQ(acme.term_lists[0].terms, (std::vector<std::string>{"Initech", "Umbrella Corp"}));
  EXPECT_EQ(acme.term_lists[0].level, SensitivityLevel::restricted);
  EXPECT_EQ(acme.term_lists[1].terms, std::vector<std::string>{"Milton"});
  EXPECT_TRUE(acme.term_lists[1].case_sensitive);
  ASSERT_EQ(acme.where.term_lists.size(), 2u);
  EXPECT_EQ(acme.where.term_lists[1].line, 8);
  EXPECT_EQ(acme.where.term_lists[1].path, "sensitivity.tenants.acme.terms[1]");
  ASSERT_EQ(acme.patterns.size(), 1u);
  EXPECT_EQ(acme.patterns[0].regex, "ACME-[0-9]{5}");
  EXPECT_EQ(acme.patterns[0].level, SensitivityLevel::internal);
  EXPECT_TRUE(acme.patterns[0].case_insensitive);
  EXPECT_EQ(acme.where.patterns[0].line, 10);
  const TenantSensitivity& globex = policy->tenant_sensitivity[1];
  EXPECT_EQ(globex.tenant, "globex");
  EXPECT_TRUE(globex.term_lists.empty());
  ASSERT_EQ(globex.patterns.size(), 1u);
  EXPECT_EQ(globex.patterns[0].level, SensitivityLevel::confidential);  // the default

  // Inside the gateway config, paths and lines are the config's.
  PolicyPtr inline_policy = load_policy_string(
      "listen: 127.0.0.1:0\npolicies:\n  sensitivity:\n    tenants:\n      acme:\n"
      "        terms: [{name: c, terms: [Initech]}]\n",
      "switchyard.yaml", "policies");
  ASSERT_EQ(inline_policy->tenant_sensitivity.size(), 1u);
  EXPECT_EQ(inline_policy->tenant_sensitivity[0].where.term_lists[0].path,
            "policies.sensitivity.tenants.acme.terms[0]");
  EXPECT_EQ(inline_policy->tenant_sensitivity[0].where.term_lists[0].line, 6);
}

TEST(PolicyLoader, TenantListMistakesAreLocated) {
  EXPECT_EQ(load_error("sensitivity:\n  tenants: [acme]\n"),
            "policy.yaml:2:12: sensitivity.tenants: must be a mapping");
  EXPECT_EQ(load_error("sensitivity:\n  tenants:\n    acme: {}\n"),
            "policy.yaml:3:11: sensitivity.tenants.acme: needs terms or patterns");
  EXPECT_EQ(load_error("sensitivity:\n  tenants:\n    acme: {term: []}\n"),
            "policy.yaml:3:12: sensitivity.tenants.acme.term: unknown key (did you mean "
            "\"terms\"?)");
  EXPECT_EQ(load_error("sensitivity:\n  tenants:\n    acme:\n      patterns:\n"
                       "        - {name: p}\n"),
            "policy.yaml:5:11: sensitivity.tenants.acme.patterns[0]: missing required key "
            "\"regex\"");
  EXPECT_EQ(load_error("sensitivity:\n  tenants:\n    acme:\n      terms:\n"
                       "        - {name: c, terms: [Initech], level: secret}\n"),
            "policy.yaml:5:46: sensitivity.tenants.acme.terms[0].level: unknown level "
            "\"secret\" (one of public, internal, confidential, restricted)");
}

// A tenant the gateway does not define would silently leave the real one without its terms.
TEST(PolicyLoader, UnknownTenantNamesAreLocated) {
  PolicyPtr policy = load_policy_string(
      "sensitivity:\n  tenants:\n    acme: {terms: [{name: c, terms: [x]}]}\n"
      "    acmee: {terms: [{name: c, terms: [x]}]}\n",
      "p.yaml");
  std::vector<std::string> known = {"acme", "globex"};
  EXPECT_EQ(policy->check_tenant_names(known),
            "p.yaml:4:5: sensitivity.tenants.acmee: names undefined tenant \"acmee\"");
  known.push_back("acmee");
  EXPECT_EQ(policy->check_tenant_names(known), std::nullopt);
}

TEST(PolicyLoader, MissingFileSaysSo) {
  try {
    load_policy_file("/nonexistent/policy.yaml");
    FAIL() << "loaded";
  } catch (const PolicyError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/policy.yaml: cannot open the policy file");
  }
}

TEST(PolicyLoader, ReadsTemplateRepeatSettings) {
  PolicyPtr policy = load_policy_string(
      "volume: {bulk_template_repeats: 20, template_prefix_bytes: 200}\n", "policy.yaml");
  EXPECT_EQ(policy->volume.bulk_template_repeats, 20u);
  EXPECT_EQ(policy->volume.template_prefix_bytes, 200u);
  EXPECT_NE(load_error("volume: {bulk_template_repeats: 300}\n").find("bulk_template_repeats"),
            std::string::npos);
}

}  // namespace
}  // namespace sy::policies
