// `switchyard bench` writes its figures into the user's YAML by editing only the values: every
// other byte (comments, order, quoting, blank lines) is kept, missing keys are inserted at the
// map's indentation, and the config then loads with the new hardware price inputs.

#include <gtest/gtest.h>

#include "cli/hardware_throughput_edit.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

// A config the loader accepts (no model files needed): hardware on an openai_compat backend.
constexpr std::string_view kConfig = R"(# Our lab machine
listen: 127.0.0.1:8080   # keep this comment

backends:
  - name: lab                      # the GPU box
    protocol: openai_compat
    base_url: http://127.0.0.1:9/v1
    hardware:
      cost_per_hour: "1.80"        # amortized + hosting
      energy_per_hour: '0.36'
      tokens_per_second: 600       # measured by bench
      prompt_tokens_per_second: "6000"
    models: [m]

  - name: other
    protocol: openai_compat
    base_url: http://127.0.0.1:9/v1
    hardware: {cost_per_hour: 1, tokens_per_second: 5}
)";

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

const backends::HardwareCost& hardware_of(const ConfigPtr& config, std::string_view name) {
  for (const auto& b : config->backends) {
    if (b.name == name) return *b.pricing.hardware;
  }
  throw std::runtime_error("no backend");
}

TEST(HardwareThroughputEdit, ReplacesOnlyTheValuesBytes) {
  auto out = set_hardware_throughput(
      kConfig, "lab", {.tokens_per_second = 1234, .prompt_tokens_per_second = 98765});
  ASSERT_TRUE(out) << out.error();
  // Exactly the two values changed; the quoted one loses its quotes (a YAML integer).
  std::string expected =
      replaced(std::string(kConfig), "tokens_per_second: 600 ", "tokens_per_second: 1234 ");
  expected =
      replaced(expected, "prompt_tokens_per_second: \"6000\"", "prompt_tokens_per_second: 98765");
  EXPECT_EQ(*out, expected);
  ConfigPtr config = load_config_string(*out, "edited.yaml");
  EXPECT_EQ(hardware_of(config, "lab").output_tokens_per_second, 1234);
  EXPECT_EQ(hardware_of(config, "lab").prompt_tokens_per_second, 98765);
  EXPECT_EQ(hardware_of(config, "other").output_tokens_per_second, 5);  // untouched
}

TEST(HardwareThroughputEdit, EditsAndExtendsAFlowMapping) {
  auto out = set_hardware_throughput(kConfig, "other",
                                     {.tokens_per_second = 42, .prompt_tokens_per_second = 420});
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(*out, replaced(std::string(kConfig), "{cost_per_hour: 1, tokens_per_second: 5}",
                           "{cost_per_hour: 1, tokens_per_second: 42, "
                           "prompt_tokens_per_second: 420}"));
  ConfigPtr config = load_config_string(*out, "edited.yaml");
  EXPECT_EQ(hardware_of(config, "other").output_tokens_per_second, 42);
  EXPECT_EQ(hardware_of(config, "other").prompt_tokens_per_second, 420);
}

TEST(HardwareThroughputEdit, InsertsAMissingKeyAtTheMapsIndentation) {
  const std::string text = R"(backends:
  - name: box
    protocol: openai_compat
    base_url: http://127.0.0.1:9/v1
    hardware:
        cost_per_hour: "2.00"   # deep indentation is kept
    # a comment that stays where it is
    models: [m]
)";
  auto out = set_hardware_throughput(text, "box", {.tokens_per_second = 77});
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(*out, replaced(text, "# deep indentation is kept\n",
                           "# deep indentation is kept\n        tokens_per_second: 77\n"));
  ConfigPtr config = load_config_string(*out, "edited.yaml");
  EXPECT_EQ(hardware_of(config, "box").output_tokens_per_second, 77);
  EXPECT_EQ(hardware_of(config, "box").prompt_tokens_per_second, 0);  // not asked: not added
}

TEST(HardwareThroughputEdit, InsertsAtTheEndOfAFileWithoutAFinalNewline) {
  const std::string text =
      "backends:\n  - name: box\n    protocol: openai_compat\n    base_url: http://127.0.0.1:9/v1\n"
      "    hardware:\n      cost_per_hour: 3";
  auto out = set_hardware_throughput(text, "box", {.tokens_per_second = 9});
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(*out, text + "\n      tokens_per_second: 9\n");
  EXPECT_EQ(hardware_of(load_config_string(*out, "e.yaml"), "box").output_tokens_per_second, 9);
}

TEST(HardwareThroughputEdit, RefusesWhatItCannotEditSafely) {
  auto no_backend = set_hardware_throughput(kConfig, "nope", {.tokens_per_second = 1});
  ASSERT_FALSE(no_backend);
  EXPECT_NE(no_backend.error().find("no backend named 'nope'"), std::string::npos);

  const std::string no_hardware =
      "backends:\n  - name: box\n    protocol: openai_compat\n    base_url: http://x/v1\n";
  auto missing = set_hardware_throughput(no_hardware, "box", {.tokens_per_second = 1});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cost_per_hour"), std::string::npos) << missing.error();

  const std::string alias =
      "n: &n 5\nbackends:\n  - name: box\n    hardware:\n      cost_per_hour: 1\n"
      "      tokens_per_second: *n\n";
  auto aliased = set_hardware_throughput(alias, "box", {.tokens_per_second = 8});
  ASSERT_FALSE(aliased);
  EXPECT_NE(aliased.error().find("by hand"), std::string::npos) << aliased.error();

  EXPECT_FALSE(set_hardware_throughput(kConfig, "lab", {.tokens_per_second = 0}));
  EXPECT_FALSE(set_hardware_throughput("backends: [", "lab", {.tokens_per_second = 1}));
}

TEST(HardwareThroughputEdit, PlaceholderLetsAConfigAwaitingItsFirstBenchLoad) {
  const std::string text = R"(backends:
  - name: box
    protocol: openai_compat
    base_url: http://127.0.0.1:9/v1
    hardware: {cost_per_hour: "2.00"}   # bench fills in the throughput
)";
  EXPECT_THROW(load_config_string(text, "x.yaml"), ConfigError);
  const std::string patched = with_placeholder_throughput(text);
  EXPECT_EQ(patched, replaced(text, "\"2.00\"}", "\"2.00\", tokens_per_second: 1}"));
  EXPECT_EQ(hardware_of(load_config_string(patched, "x.yaml"), "box").output_tokens_per_second, 1);
  EXPECT_EQ(with_placeholder_throughput(kConfig), kConfig);  // nothing missing: unchanged
}

}  // namespace
}  // namespace sy::gateway
