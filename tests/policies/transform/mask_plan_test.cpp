// MaskPlan: which values are masked, where, with which placeholders; restoring whole texts,
// JSON text and streamed pieces split at every byte offset.

#include "switchyard/policies/transform/mask_plan.h"

#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"

namespace sy::policies {
namespace {

using nlohmann::json;

const SensitivityClassifier& default_classifier() {
  static std::shared_ptr<const SensitivityClassifier> shared = [] {
    auto created = SensitivityClassifier::create(SensitivityConfig{});
    if (!created) throw std::runtime_error(created.error().message);
    return *created;
  }();
  return *shared;
}

// Tenant terms whose values need JSON escaping, and two overlapping terms.
const SensitivityClassifier& term_classifier() {
  static std::shared_ptr<const SensitivityClassifier> shared = [] {
    SensitivityConfig config;
    config.term_lists.push_back(CustomTermList{.name = "clients",
                                               .terms = {"O\"Brien\\Partners", "Müller Söhne"},
                                               .level = SensitivityLevel::confidential});
    config.term_lists.push_back(CustomTermList{.name = "code-names",
                                               .terms = {"Blue Falcon", "Nightjar"},
                                               .level = SensitivityLevel::internal});
    config.term_lists.push_back(CustomTermList{
        .name = "works", .terms = {"Falcon Works"}, .level = SensitivityLevel::internal});
    auto created = SensitivityClassifier::create(config);
    if (!created) throw std::runtime_error(created.error().message);
    return *created;
  }();
  return *shared;
}

MaskSelection by_level() { return MaskSelection{.up_to_confidential = true}; }

backends::ChatRequest request_of(const json& body) {
  auto parsed = backends::openai::parse_chat_request(body.dump());
  if (!parsed) throw std::runtime_error(parsed.error().message);
  return std::move(*parsed);
}

// Everything a translator could send for `request`: its OpenAI encoding and its native body.
std::string outgoing(const backends::ChatRequest& request) {
  std::string out = backends::openai::encode_chat_request(request, request.stream);
  if (request.native) out += "\n" + request.native->body;
  return out;
}

constexpr char kEmail[] = "jane.doe@example.com";
constexpr char kPhone[] = "+44 20 7946 0958";

TEST(MaskPlan, MasksEveryStringThatLeaves) {
  json body = {
      {"model", "m"},
      {"messages",
       {{{"role", "system"}, {"content", std::string("Escalate to ") + kEmail}},
        {{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", std::string("Call ") + kPhone + " or mail " + kEmail}}}}},
        {{"role", "assistant"},
         {"content", nullptr},
         {"tool_calls",
          {{{"id", "c1"},
            {"type", "function"},
            {"function",
             {{"name", "send"}, {"arguments", json{{"to", kEmail}, {"cc", "x\u00e9"}}.dump()}}}}}}},
        {{"role", "tool"},
         {"tool_call_id", "c1"},
         // A tool result holding JSON whose escapes hide the phone from a plain text search.
         {"content", R"({"callback":"\u002b44 20 7946 0958"})"}}}},
      {"tools",
       {{{"type", "function"},
         {"function",
          {{"name", "send"},
           {"description", std::string("Sends mail; the default sender is ") + kEmail},
           {"parameters",
            {{"type", "object"}, {"properties", {{"to", {{"type", "string"}}}}}}}}}}}},
      {"metadata", {{"owner", kEmail}}},
      {"x_vendor_field", {{"contact", kPhone}}}};
  backends::ChatRequest request = request_of(body);
  auto native = std::make_shared<backends::NativeRequest>();
  native->protocol = "anthropic";
  native->body = json{{"model", "m"},
                      {"system", std::string("Owner: ") + kEmail},
                      {"messages", {{{"role", "user"}, {"content", kPhone}}}}}
                     .dump();
  request.native = native;

  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ(plan->placeholders(), (std::vector<std::string>{"[EMAIL_1]", "[PHONE_1]"}));

  backends::ChatRequest masked = plan->mask(request);
  const std::string sent = outgoing(masked);
  EXPECT_EQ(sent.find(kEmail), std::string::npos) << sent;
  EXPECT_EQ(sent.find("7946"), std::string::npos) << sent;
  EXPECT_NE(sent.find("[EMAIL_1]"), std::string::npos);
  EXPECT_NE(sent.find("[PHONE_1]"), std::string::npos);
  // The tool-call arguments are still JSON, with the placeholder where the value was.
  json arguments = json::parse(masked.messages[2].tool_calls[0].arguments);
  EXPECT_EQ(arguments["to"], "[EMAIL_1]");
  EXPECT_EQ(arguments["cc"], "x\u00e9");
  // The native body changed (a transform applies), the original request did not.
  ASSERT_NE(masked.native, nullptr);
  EXPECT_NE(masked.native->body, native->body);
  EXPECT_EQ(json::parse(masked.native->body)["system"], "Owner: [EMAIL_1]");
  EXPECT_NE(outgoing(request).find(kEmail), std::string::npos);
}

TEST(MaskPlan, SameValueSamePlaceholderAndNumbersPerType) {
  backends::ChatRequest request =
      request_of({{"model", "m"},
                  {"messages",
                   {{{"role", "user"},
                     {"content", "a@example.com, b@example.org and again a@example.com"}}}}});
  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ(plan->mask(request).messages[0].text(), "[EMAIL_1], [EMAIL_2] and again [EMAIL_1]");
  EXPECT_EQ(plan->restore_text("[EMAIL_2] wrote to [EMAIL_1]"),
            "b@example.org wrote to a@example.com");
}

TEST(MaskPlan, PlaceholderNeverCollidesWithTextInTheRequest) {
  backends::ChatRequest request = request_of(
      {{"model", "m"},
       {"messages",
        {{{"role", "user"},
          {"content", "Template uses [EMAIL_1] and [EMAIL_2]; mine is a@example.com"}}}}});
  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  EXPECT_EQ(plan->placeholders(), (std::vector<std::string>{"[EMAIL_3]"}));
  EXPECT_EQ(plan->mask(request).messages[0].text(),
            "Template uses [EMAIL_1] and [EMAIL_2]; mine is [EMAIL_3]");
  // The client's own bracketed words come back untouched.
  EXPECT_EQ(plan->restore_text("[EMAIL_1] [EMAIL_3]"), "[EMAIL_1] a@example.com");
}

TEST(MaskPlan, SelectionDecidesWhichTypes) {
  backends::ChatRequest request =
      request_of({{"model", "m"},
                  {"messages",
                   {{{"role", "user"},
                     {"content", std::string("card 4111 1111 1111 1111, mail ") + kEmail +
                                     ", phone " + kPhone}}}}});
  // Default: confidential and below; the card (restricted) stays for the routing rules.
  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  EXPECT_EQ(plan->mask(request).messages[0].text(),
            "card 4111 1111 1111 1111, mail [EMAIL_1], phone [PHONE_1]");
  // Listed types only, whatever their level.
  plan = MaskPlan::build(request, default_classifier(),
                         MaskSelection{.types = {FindingType::payment_card, FindingType::phone}});
  EXPECT_EQ(plan->mask(request).messages[0].text(),
            std::string("card [CARD_1], mail ") + kEmail + ", phone [PHONE_1]");
}

TEST(MaskPlan, OverlappingFindingsBecomeOneSpan) {
  backends::ChatRequest request = request_of(
      {{"model", "m"},
       {"messages", {{{"role", "user"}, {"content", "Ask Blue Falcon Works about Nightjar."}}}}});
  auto plan = MaskPlan::build(request, term_classifier(), by_level());
  // "Blue Falcon" and "Falcon Works" overlap: their union is one value, named after the
  // longer finding.
  EXPECT_EQ(plan->mask(request).messages[0].text(), "Ask [WORKS_1] about [CODE_NAMES_1].");
  EXPECT_EQ(plan->restore_text("[WORKS_1]/[CODE_NAMES_1]"), "Blue Falcon Works/Nightjar");
}

TEST(MaskPlan, WholeWordsOnlyAndEveryOccurrence) {
  // "Nightjar" is detected once; "Nightjars" is another word and stays; the standalone
  // occurrence in the tool description is masked although the scan found it elsewhere.
  backends::ChatRequest request = request_of(
      {{"model", "m"},
       {"messages", {{{"role", "user"}, {"content", "Nightjar ships; Nightjars fly."}}}},
       {"tools",
        {{{"type", "function"},
          {"function", {{"name", "lookup"}, {"description", "Status of (Nightjar)"}}}}}}});
  auto plan = MaskPlan::build(request, term_classifier(), by_level());
  backends::ChatRequest masked = plan->mask(request);
  EXPECT_EQ(masked.messages[0].text(), "[CODE_NAMES_1] ships; Nightjars fly.");
  EXPECT_EQ(masked.tools[0].description, "Status of ([CODE_NAMES_1])");
}

TEST(MaskPlan, RestoresInsideJsonWithEscaping) {
  backends::ChatRequest request =
      request_of({{"model", "m"},
                  {"messages",
                   {{{"role", "user"}, {"content", "Bill O\"Brien\\Partners and Müller Söhne"}}}}});
  auto plan = MaskPlan::build(request, term_classifier(), by_level());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ(plan->mask(request).messages[0].text(), "Bill [CLIENTS_1] and [CLIENTS_2]");
  const std::string arguments = R"({"payee":"[CLIENTS_1]","copy":["[CLIENTS_2]","x[CLIENTS_1]y"]})";
  const std::string restored = plan->restore_json(arguments);
  json parsed = json::parse(restored);  // still valid JSON
  EXPECT_EQ(parsed["payee"], "O\"Brien\\Partners");
  EXPECT_EQ(parsed["copy"][0], "Müller Söhne");
  EXPECT_EQ(parsed["copy"][1], "xO\"Brien\\Partnersy");
  // Masking JSON text that does not parse still finds the escaped form.
  EXPECT_EQ(plan->mask_json(R"({"payee":"O\"Brien\\Partners)"), R"({"payee":"[CLIENTS_1])");
}

TEST(MaskPlan, UnicodeAroundValuesRoundTrips) {
  const std::string text =
      std::string("Écrivez à ") + kEmail + " — 電話 " + kPhone + " 🙂 Müller Söhne.";
  backends::ChatRequest request =
      request_of({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}});
  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  const std::string masked = plan->mask(request).messages[0].text();
  EXPECT_EQ(masked, "Écrivez à [EMAIL_1] — 電話 [PHONE_1] 🙂 Müller Söhne.");
  EXPECT_EQ(plan->restore_text(masked), text);
  auto terms = MaskPlan::build(request, term_classifier(), by_level());
  EXPECT_EQ(terms->restore_text(terms->mask(request).messages[0].text()), text);
}

TEST(MaskPlan, NumbersAndDataUrls) {
  backends::ChatRequest request = request_of(
      {{"model", "m"},
       {"messages",
        {{{"role", "user"},
          {"content",
           {{{"type", "text"}, {"text", "see image"}},
            {{"type", "image_url"},
             {"image_url", {{"url", "data:image/png;base64,iVBORw0KGgo4111111111111111"}}}}}}}}},
       {"x_account", 4111111111111111}});
  auto plan = MaskPlan::build(request, default_classifier(),
                              MaskSelection{.types = {FindingType::payment_card}});
  ASSERT_EQ(plan->size(), 1u);
  backends::ChatRequest masked = plan->mask(request);
  EXPECT_EQ(masked.messages[0].content[1].url, request.messages[0].content[1].url);
  ASSERT_EQ(masked.extra.size(), 1u);
  EXPECT_EQ(masked.extra[0].value_json, "\"[CARD_1]\"");
}

TEST(MaskPlan, NothingToMaskLeavesTheRequestAlone) {
  backends::ChatRequest request =
      request_of({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}});
  auto native = std::make_shared<backends::NativeRequest>();
  native->body = R"({"model":"m",  "messages":[]})";
  request.native = native;
  auto plan = MaskPlan::build(request, default_classifier(), by_level());
  EXPECT_TRUE(plan->empty());
  EXPECT_EQ(plan->mask(request).native, native);  // still byte for byte the client's body
  EXPECT_EQ(plan->restore_text("[EMAIL_1]"), "[EMAIL_1]");
}

TEST(MaskPlan, ManyValuesInALargeRequestStayFast) {
  // 4000 distinct addresses, each twice, in ~200 KB, with bracketed look-alikes: building,
  // masking and restoring stay linear in the text (no per-value pass over it).
  std::string text;
  for (int i = 0; i < 4000; ++i)
    text += "mail user" + std::to_string(i) + "@example.com [EMAIL_" + std::to_string(i) + "]; ";
  for (int i = 0; i < 4000; ++i) text += "again user" + std::to_string(i) + "@example.com. ";
  backends::ChatRequest request =
      request_of({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}});
  const SensitivityClassifier& classifier = default_classifier();  // compiled outside the clock
  const auto start = std::chrono::steady_clock::now();
  auto plan = MaskPlan::build(request, classifier, by_level());
  ASSERT_EQ(plan->size(), 4000u);
  const std::string masked = plan->mask(request).messages[0].text();
  EXPECT_EQ(masked.find("@example.com"), std::string::npos);
  EXPECT_EQ(plan->restore_text(masked), text);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // The client's own [EMAIL_0] .. [EMAIL_3999] were all skipped.
  EXPECT_EQ(plan->placeholders().front(), "[EMAIL_4000]");
}

// ---- streaming --------------------------------------------------------------------------

std::shared_ptr<const MaskPlan> two_value_plan() {
  backends::ChatRequest request = request_of(
      {{"model", "m"},
       {"messages",
        {{{"role", "user"}, {"content", std::string("mail ") + kEmail + ", phone " + kPhone}}}}});
  return MaskPlan::build(request, default_classifier(), by_level());
}

std::string feed_all(const std::shared_ptr<const MaskPlan>& plan, StreamRestorer::Mode mode,
                     const std::vector<std::string_view>& pieces) {
  StreamRestorer restorer(plan, mode);
  std::string out;
  for (std::string_view piece : pieces) out += restorer.feed(piece);
  return out + restorer.flush();
}

TEST(StreamRestorer, PlaceholderSplitAtEveryOffset) {
  auto plan = two_value_plan();
  const std::string text =
      "To [EMAIL_1], [x] [EMAIL_] [PHONE_1][EMAIL_1]\xc3\xa9[PHONE_9] end [EMAIL_";
  const std::string expected = plan->restore_text(text);
  EXPECT_EQ(expected, std::string("To ") + kEmail + ", [x] [EMAIL_] " + kPhone + kEmail +
                          "\xc3\xa9[PHONE_9] end [EMAIL_");
  for (size_t i = 0; i <= text.size(); ++i) {
    std::string_view all(text);
    EXPECT_EQ(feed_all(plan, StreamRestorer::Mode::text, {all.substr(0, i), all.substr(i)}),
              expected)
        << "split at " << i;
    for (size_t j = i; j <= text.size(); ++j) {
      ASSERT_EQ(feed_all(plan, StreamRestorer::Mode::text,
                         {all.substr(0, i), all.substr(i, j - i), all.substr(j)}),
                expected)
          << "split at " << i << " and " << j;
    }
  }
  // One byte at a time.
  StreamRestorer restorer(plan, StreamRestorer::Mode::text);
  std::string out;
  for (char c : text) out += restorer.feed(std::string_view(&c, 1));
  EXPECT_EQ(out + restorer.flush(), expected);
}

TEST(StreamRestorer, HoldsOnlyWhatMayBeAPlaceholder) {
  auto plan = two_value_plan();
  StreamRestorer restorer(plan, StreamRestorer::Mode::text);
  EXPECT_EQ(restorer.feed("a [b"), "a [b");  // no placeholder starts with "[b"
  EXPECT_EQ(restorer.feed("c [EM"), "c ");
  EXPECT_TRUE(restorer.holding());
  EXPECT_EQ(restorer.feed("AIL_1] d"), std::string(kEmail) + " d");
  EXPECT_EQ(restorer.feed("[PHONE_1"), "");
  EXPECT_EQ(restorer.flush(), "[PHONE_1");  // the stream ended: it was not one
}

TEST(StreamRestorer, JsonModeEscapesValues) {
  backends::ChatRequest request = request_of(
      {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "Pay O\"Brien\\Partners"}}}}});
  auto plan = MaskPlan::build(request, term_classifier(), by_level());
  const std::string arguments = R"({"payee":"[CLIENTS_1]","note":"for [CLIENTS_1]!"})";
  for (size_t i = 0; i <= arguments.size(); ++i) {
    std::string_view all(arguments);
    const std::string restored =
        feed_all(plan, StreamRestorer::Mode::json, {all.substr(0, i), all.substr(i)});
    json parsed = json::parse(restored);
    ASSERT_EQ(parsed["payee"], "O\"Brien\\Partners") << "split at " << i;
    ASSERT_EQ(parsed["note"], "for O\"Brien\\Partners!") << "split at " << i;
  }
}

}  // namespace
}  // namespace sy::policies
