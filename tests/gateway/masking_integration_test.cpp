// The mask_pii transform end to end: a real gateway in front of recording loopback fakes (an
// OpenAI vendor, an Anthropic vendor, and an OpenAI-compatible fake configured as a local
// backend). A confidential email and phone number sit in a message, the system prompt, a tool
// definition, a tool call's arguments and a tool result; the fake vendors answer with the
// placeholders they were sent, in text and in tool-call arguments. Every byte each closed
// vendor recorded is searched for the values; the client must read the values back, on the
// OpenAI and Anthropic surfaces, streaming and not, and after a vendor's 5xx falls back.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::testing {
namespace {

using fakes::Fault;
using fakes::Reply;
using fakes::Script;
using fakes::ToolCallReply;
using fakes::Vendor;
using nlohmann::json;

constexpr char kKey[] = "sy-masking-client-key";
constexpr char kEmail[] = "jane.doe@example.com";
constexpr char kPhone[] = "+44 20 7946 0958";

constexpr char kPolicy[] = R"(
rules:
  - name: restricted-local-only
    when: {sensitivity: restricted}
    require: {kind: local}
  - name: mask-for-vendors
    when: {sensitivity: {at_most: confidential}}
    transform: mask_pii
)";

// What the vendor answers: the placeholders it was sent, as a model copies them.
Script placeholder_reply(bool with_tool = true) {
  Reply reply;
  reply.text = "I will write to [EMAIL_1] and call [PHONE_1].";
  if (with_tool) {
    reply.tool_calls.push_back(
        ToolCallReply{.name = "send_mail",
                      // 38 bytes: the fakes stream arguments in three 13-byte fragments, so the
                      // first placeholder is split across fragments ("{\"to\":\"[EMAIL" +
                      // "_1]\",...", and Anthropic's sorted "{\"phone\":\"[PH" + "ONE_1]...").
                      .arguments_json = R"({"to":"[EMAIL_1]","phone":"[PHONE_1]"})"});
  }
  return Script{.reply = reply};
}

std::string restored_text() {
  return std::string("I will write to ") + kEmail + " and call " + kPhone + ".";
}

void expect_restored_arguments(const std::string& arguments) {
  json parsed = json::parse(arguments, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << arguments;
  EXPECT_EQ(parsed["to"], kEmail);
  EXPECT_EQ(parsed["phone"], kPhone);
}

class Masking : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->backends.push_back(fake_backend("oai", "openai", vendor_, Vendor::openai, "sk-o"));
    config->backends.push_back(
        fake_backend("claude", "anthropic", vendor_, Vendor::anthropic, "sk-a"));
    config->backends.push_back(fake_backend("local", "openai_compat", local_, Vendor::openai, "l"));
    config->backends.back().kind = backends::BackendKind::local;
    config->backends.back().region = "local";
    config->models.push_back({"gpt", {{"oai", "gpt-4o"}}});
    config->models.push_back({"claude", {{"claude", "claude-haiku-4-5"}}});
    config->models.push_back(
        {"gpt-then-claude", {{"oai", "gpt-4o"}, {"claude", "claude-haiku-4-5"}}});
    config->models.push_back({"gpt-then-local", {{"oai", "gpt-4o"}, {"local", "llama"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back({.id = "k", .sha256_hex = gateway::sha256_hex(kKey), .tenant = "acme"});
    config->policy = policies::load_policy_string(kPolicy, "policy.yaml");
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }

  TestResponse post(const std::string& path, const json& body) {
    return client_.post(
        gateway_->url(path), body.dump(),
        {{"authorization", std::string("Bearer ") + kKey}, {"anthropic-version", "2023-06-01"}});
  }

  // Every byte the closed vendors received: neither value may be in it, in any form.
  void expect_vendor_never_saw_values(size_t at_least_requests) {
    auto recorded = vendor_.requests();
    EXPECT_GE(recorded.size(), at_least_requests);
    for (const auto& r : recorded) {
      std::string all = r.target + "\n" + r.body;
      for (const auto& [name, value] : r.headers) all += "\n" + name + ": " + value;
      for (std::string value : {std::string(kEmail), std::string(kPhone), std::string("7946"),
                                std::string("jane.doe")}) {
        EXPECT_EQ(all.find(value), std::string::npos) << "the vendor received " << value;
      }
      EXPECT_NE(r.body.find("[EMAIL_1]"), std::string::npos) << r.body;
      EXPECT_NE(r.body.find("[PHONE_1]"), std::string::npos) << r.body;
    }
  }

  fakes::FakeVendor vendor_;
  fakes::FakeVendor local_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

// An OpenAI chat body carrying the values everywhere a value can leave.
json openai_body(const std::string& model, bool stream) {
  return {
      {"model", model},
      {"stream", stream},
      {"messages",
       {{{"role", "system"}, {"content", std::string("The customer is ") + kEmail}},
        {{"role", "user"}, {"content", std::string("Please call me on ") + kPhone}},
        {{"role", "assistant"},
         {"content", nullptr},
         {"tool_calls",
          {{{"id", "c1"},
            {"type", "function"},
            {"function", {{"name", "lookup"}, {"arguments", json{{"email", kEmail}}.dump()}}}}}}},
        {{"role", "tool"},
         {"tool_call_id", "c1"},
         {"content", json{{"phone", kPhone}, {"email", kEmail}}.dump()}}}},
      {"tools",
       {{{"type", "function"},
         {"function",
          {{"name", "send_mail"},
           {"description", std::string("Send mail; the default sender is ") + kEmail},
           {"parameters",
            {{"type", "object"},
             {"properties",
              {{"to", {{"type", "string"}}}, {"phone", {{"type", "string"}}}}}}}}}}}}};
}

// OpenAI streaming answer, folded: text and the first tool call's arguments.
std::pair<std::string, std::string> fold_openai_stream(const TestResponse& r) {
  std::string text, arguments;
  for (const std::string& data : r.sse_data()) {
    if (data == "[DONE]") continue;
    json chunk = json::parse(data);
    for (const json& choice : chunk["choices"]) {
      const json& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) {
        text += delta["content"].get<std::string>();
      }
      if (delta.contains("tool_calls")) {
        for (const json& call : delta["tool_calls"]) {
          if (call.contains("function") && call["function"].contains("arguments")) {
            arguments += call["function"]["arguments"].get<std::string>();
          }
        }
      }
    }
  }
  return {text, arguments};
}

TEST_F(Masking, OpenAiSurfaceBufferedAndStreamed) {
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    vendor_.reset();
    vendor_.push_script(placeholder_reply());
    TestResponse r = post("/v1/chat/completions", openai_body("gpt", stream));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "oai");
    EXPECT_EQ(r.header("x-switchyard-rule"), "mask-for-vendors");
    EXPECT_EQ(r.header("x-switchyard-sensitivity"), "confidential");
    if (stream) {
      auto [text, arguments] = fold_openai_stream(r);
      EXPECT_EQ(text, restored_text());
      expect_restored_arguments(arguments);
    } else {
      json answer = json::parse(r.body);
      const json& message = answer["choices"][0]["message"];
      EXPECT_EQ(message["content"], restored_text());
      expect_restored_arguments(message["tool_calls"][0]["function"]["arguments"]);
    }
    expect_vendor_never_saw_values(1);
    // The vendor was sent a well-formed request: tool arguments are still JSON.
    json sent = json::parse(vendor_.requests().at(0).body);
    EXPECT_EQ(json::parse(
                  sent["messages"][2]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
              json({{"email", "[EMAIL_1]"}}));
    EXPECT_EQ(sent["messages"][1]["content"], "Please call me on [PHONE_1]");
  }
}

// The Anthropic body: system, a user message, a tool_use with the value in its input and a
// tool_result carrying it; forwarded natively (no longer byte for byte: a transform applies).
json anthropic_body(const std::string& model, bool stream) {
  return {
      {"model", model},
      {"max_tokens", 200},
      {"stream", stream},
      {"system", std::string("The customer is ") + kEmail},
      {"tools",
       {{{"name", "send_mail"},
         {"description", std::string("Default sender ") + kEmail},
         {"input_schema", {{"type", "object"}, {"properties", {{"to", {{"type", "string"}}}}}}}}}},
      {"messages",
       {{{"role", "user"}, {"content", std::string("Call me on ") + kPhone}},
        {{"role", "assistant"},
         {"content",
          {{{"type", "tool_use"},
            {"id", "toolu_1"},
            {"name", "lookup"},
            {"input", {{"email", kEmail}}}}}}},
        {{"role", "user"},
         {"content",
          {{{"type", "tool_result"},
            {"tool_use_id", "toolu_1"},
            {"content", std::string("found ") + kEmail + " / " + kPhone}}}}}}}};
}

struct AnthropicAnswer {
  std::string text;
  std::string tool_input;  // JSON text
};

AnthropicAnswer fold_anthropic(const TestResponse& r, bool stream) {
  AnthropicAnswer out;
  if (!stream) {
    json message = json::parse(r.body);
    for (const json& block : message["content"]) {
      if (block["type"] == "text") out.text += block["text"].get<std::string>();
      if (block["type"] == "tool_use") out.tool_input = block["input"].dump();
    }
    return out;
  }
  backends::SseParser parser;
  std::vector<backends::SseEvent> events;
  parser.feed(r.body, events);
  std::map<int, bool> stopped;
  for (const auto& e : events) {
    json data = json::parse(e.data);
    EXPECT_EQ(e.event, data["type"]);
    if (data["type"] == "content_block_stop") stopped[data["index"].get<int>()] = true;
    if (data["type"] != "content_block_delta") continue;
    EXPECT_FALSE(stopped[data["index"].get<int>()]) << "a delta after its block stopped";
    const json& delta = data["delta"];
    if (delta["type"] == "text_delta") out.text += delta["text"].get<std::string>();
    if (delta["type"] == "input_json_delta")
      out.tool_input += delta["partial_json"].get<std::string>();
  }
  return out;
}

TEST_F(Masking, AnthropicSurfaceNativeAndTranslatedBufferedAndStreamed) {
  for (const std::string model : {"claude", "gpt"}) {
    for (bool stream : {false, true}) {
      SCOPED_TRACE(model + (stream ? " streaming" : " buffered"));
      vendor_.reset();
      vendor_.push_script(placeholder_reply());
      TestResponse r = post("/v1/messages", anthropic_body(model, stream));
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.header("x-switchyard-rule"), "mask-for-vendors");
      AnthropicAnswer answer = fold_anthropic(r, stream);
      EXPECT_EQ(answer.text, restored_text());
      expect_restored_arguments(answer.tool_input);
      expect_vendor_never_saw_values(1);
      if (model == "claude") {
        // Native forwarding still: the Anthropic vendor got Anthropic's body, masked.
        json sent = json::parse(vendor_.requests().at(0).body);
        EXPECT_EQ(sent["system"], "The customer is [EMAIL_1]");
        EXPECT_EQ(sent["messages"][1]["content"][0]["input"]["email"], "[EMAIL_1]");
        EXPECT_EQ(vendor_.requests().at(0).vendor, Vendor::anthropic);
      }
    }
  }
}

TEST_F(Masking, FallbackAfterA5xxGivesEachCandidateItsForm) {
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    // Vendor to vendor: both attempts masked, the second answer restored.
    vendor_.reset();
    vendor_.push_script(Script{.fault = Fault::status, .status = 500});
    vendor_.push_script(placeholder_reply());
    TestResponse r = post("/v1/chat/completions", openai_body("gpt-then-claude", stream));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "claude");
    if (stream) {
      auto [text, arguments] = fold_openai_stream(r);
      EXPECT_EQ(text, restored_text());
      expect_restored_arguments(arguments);
    } else {
      const json message = json::parse(r.body)["choices"][0]["message"];
      EXPECT_EQ(message["content"], restored_text());
      expect_restored_arguments(message["tool_calls"][0]["function"]["arguments"]);
    }
    EXPECT_EQ(vendor_.request_count(), 2u);
    expect_vendor_never_saw_values(2);

    // Vendor to local: the local backend is sent the original values.
    vendor_.reset();
    local_.reset();
    vendor_.push_script(Script{.fault = Fault::status, .status = 503});
    local_.push_script(Script{.reply = Reply{.text = std::string("Noted ") + kEmail}});
    TestResponse l = post("/v1/chat/completions", openai_body("gpt-then-local", stream));
    ASSERT_EQ(l.status, 200) << l.body;
    EXPECT_EQ(l.header("x-switchyard-backend"), "local");
    expect_vendor_never_saw_values(1);
    ASSERT_EQ(local_.request_count(), 1u);
    const std::string local_body = local_.requests().at(0).body;
    EXPECT_NE(local_body.find(kEmail), std::string::npos);
    EXPECT_EQ(local_body.find("[EMAIL_1]"), std::string::npos);
    std::string text =
        stream ? fold_openai_stream(l).first
               : json::parse(l.body)["choices"][0]["message"]["content"].get<std::string>();
    EXPECT_EQ(text, std::string("Noted ") + kEmail);
  }
}

TEST_F(Masking, RestrictedDataStillGoesLocalOnly) {
  json body = openai_body("gpt-then-local", false);
  body["messages"][1]["content"] = "Card 4111 1111 1111 1111, mail me";
  TestResponse r = post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "local");
  EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
  EXPECT_EQ(vendor_.request_count(), 0u);
}

TEST_F(Masking, ExplainShowsTypesAndCountsNeverValues) {
  TestResponse r = post("/v1/route/explain", openai_body("gpt-then-local", false));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find(kEmail), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("7946"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("[EMAIL_1]"), std::string::npos) << "placeholders are not shown either";
  json d = json::parse(r.body);
  const json& t = d["transform"];
  EXPECT_EQ(t["action"], "mask_pii");
  EXPECT_EQ(t["applies"], true);
  EXPECT_EQ(t["rules"], json({"mask-for-vendors"}));
  EXPECT_EQ(t["masked_backends"], json({"oai"}));
  EXPECT_EQ(t["entities"],
            json::parse(R"([{"type":"email","values":1},{"type":"phone","values":1}])"));
  EXPECT_EQ(t["values"], 2);
  EXPECT_EQ(vendor_.request_count(), 0u);
  EXPECT_EQ(local_.request_count(), 0u);
  // No matching transform rule: null.
  json plain = {{"model", "gpt"},
                {"messages", {{{"role", "user"}, {"content", "card 4111111111111111"}}}}};
  EXPECT_TRUE(json::parse(post("/v1/route/explain", plain).body)["transform"].is_null());
}

// A body that repeats a member name reaches no backend through the Anthropic surface, which
// forwards the client's bytes: the vendor may read the value the parsed request dropped (here a
// card, restricted, behind a harmless "system"). It is a 400 in Anthropic's format and nothing
// is recorded anywhere. The OpenAI surface re-encodes what it parsed, repeats collapsed, so
// what leaves is what was scanned: the hidden card never reaches the vendor.
TEST_F(Masking, RepeatedMemberNamesNeverCarryHiddenValuesOut) {
  const std::string card = "4111 1111 1111 1111";
  const std::string top = R"({"model":"claude","max_tokens":16,"system":"card )" + card +
                          R"(","system":"be nice","messages":[{"role":"user","content":"hi"}]})";
  const std::string nested =
      R"({"model":"claude","max_tokens":16,"messages":[{"role":"user","content":[)"
      R"({"type":"text","text":"card )" +
      card + R"(","text":"hi"}]}]})";
  const backends::Headers headers = {{"authorization", std::string("Bearer ") + kKey},
                                     {"anthropic-version", "2023-06-01"}};
  for (const std::string& body : {top, nested}) {
    SCOPED_TRACE(body);
    TestResponse r = client_.post(gateway_->url("/v1/messages"), body, headers);
    EXPECT_EQ(r.status, 400) << r.body;
    json error = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(error.is_discarded()) << r.body;
    EXPECT_EQ(error["type"], "error");
    EXPECT_EQ(error["error"]["type"], "invalid_request_error");
    EXPECT_NE(r.body.find("repeats the member name"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("4111"), std::string::npos) << r.body;
  }
  EXPECT_EQ(vendor_.request_count(), 0u);
  EXPECT_EQ(local_.request_count(), 0u);

  const std::string passthrough = R"({"model":"gpt","messages":[{"role":"user","content":"hi"}],)"
                                  R"("vendor_extra":{"note":"card )" +
                                  card + R"(","note":"none"}})";
  TestResponse r = client_.post(gateway_->url("/v1/chat/completions"), passthrough, headers);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(vendor_.request_count(), 1u);
  const std::string sent = vendor_.requests().at(0).body;
  EXPECT_NE(sent.find("vendor_extra"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("4111"), std::string::npos) << sent;
}

}  // namespace
}  // namespace sy::testing
