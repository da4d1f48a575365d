// Each upstream fault the issue lists, through a real gateway to a real (fake) vendor: what
// the client receives, whether fallback happened, and that nothing hangs past its deadline.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"

namespace sy::testing {
namespace {

using fakes::Fault;
using fakes::Script;
using fakes::Vendor;
using nlohmann::json;

constexpr char kPrimaryKey[] = "sk-primary";
constexpr char kBackupKey[] = "sk-backup";

struct Case {
  std::string name;
  Script script;
  bool stream;
  // What the client sees when the primary is the only target...
  int solo_status;
  std::string solo_error_code;   // error.code of the JSON (or SSE error event)
  bool solo_content_then_error;  // streaming: content arrived, then an error event, no [DONE]
  // ...and whether an alias [primary, backup] is served by the backup.
  bool falls_back;
};

// gtest prints parameters in failure messages; the name says which case it was.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// The assistant text of a buffered answer, or of a stream's deltas joined.
std::string answer_text(const TestResponse& r, bool stream) {
  if (!stream) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) return {};
    return j["choices"][0]["message"].value("content", "");
  }
  std::string text;
  for (const std::string& event : r.sse_data()) {
    if (event == "[DONE]") break;
    auto chunk = json::parse(event, nullptr, false);
    if (chunk.is_discarded() || !chunk.contains("choices")) continue;
    for (const auto& choice : chunk["choices"]) {
      const auto& delta = choice.value("delta", json::object());
      if (delta.contains("content") && delta["content"].is_string()) {
        text += delta["content"].get<std::string>();
      }
    }
  }
  return text;
}

Script fault(Fault f) { return Script{.fault = f}; }
Script status(int code, std::optional<std::string> retry_after = std::nullopt) {
  return Script{.fault = Fault::status, .status = code, .retry_after = retry_after};
}

std::vector<Case> cases() {
  Script slow = fault(Fault::slow_first_token);
  slow.delay_ms = 1000;  // past the 400 ms first-byte deadline
  Script slow_ok = fault(Fault::slow_first_token);
  slow_ok.delay_ms = 100;
  Script oversized = fault(Fault::oversized);
  oversized.bytes = 256 * 1024;  // the gateway allows 64 KiB from upstreams here
  Script reset_late = fault(Fault::reset_after_headers);
  reset_late.chunks_before = 3;
  Script reset_early = fault(Fault::reset_after_headers);
  reset_early.chunks_before = 0;
  Script cut = fault(Fault::stream_cut);
  cut.chunks_before = 3;
  Script stalled = fault(Fault::stalled_stream);
  stalled.chunks_before = 3;
  Script malformed = fault(Fault::malformed_chunk);
  malformed.chunks_before = 3;
  return {
      {"RateLimitedWithRetryAfter", status(429, "1"), false, 429, "rate_limit_exceeded", false,
       true},
      {"RateLimitedWithoutRetryAfter", status(429), false, 429, "rate_limit_exceeded", false,
       true},
      {"Status500", status(500), false, 502, "upstream_error", false, true},
      {"Status502", status(502), false, 502, "upstream_error", false, true},
      {"Status503", status(503), false, 503, "upstream_unavailable", false, true},
      {"ResetBeforeHeaders", fault(Fault::reset_before_headers), false, 503,
       "upstream_unavailable", false, true},
      {"ResetAfterHeadersBeforeContent", reset_early, true, 502, "upstream_error", false, true},
      {"ResetAfterContent", reset_late, true, 200, "upstream_error", true, false},
      {"SilentUpstream", fault(Fault::silent), false, 504, "upstream_timeout", false, true},
      {"SilentUpstreamStreaming", fault(Fault::silent), true, 504, "upstream_timeout", false,
       true},
      {"SlowFirstTokenPastDeadline", slow, true, 504, "upstream_timeout", false, true},
      {"SlowFirstTokenWithinDeadline", slow_ok, true, 200, "", false, false},
      {"StreamCutMidAnswer", cut, true, 200, "upstream_error", true, false},
      {"StalledStream", stalled, true, 200, "upstream_timeout", true, false},
      {"MalformedChunk", malformed, true, 200, "upstream_error", true, false},
      {"MissingDone", fault(Fault::missing_done), true, 200, "upstream_error", true, false},
      {"ContextLength", fault(Fault::context_length), false, 400, "context_length_exceeded",
       false, false},
      {"ContentFilter", fault(Fault::content_filter), false, 200, "", false, false},
      {"InvalidCredentials", fault(Fault::unauthorized), false, 502, "upstream_auth_failed",
       false, true},
      {"OversizedResponse", oversized, false, 502, "upstream_error", false, true},
  };
}

class FaultScenario : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fakes::FakeVendorOptions primary_options;
    primary_options.keys[Vendor::openai] = kPrimaryKey;
    primary_ = std::make_unique<fakes::FakeVendor>(primary_options);
    fakes::FakeVendorOptions backup_options;
    backup_options.keys[Vendor::openai] = kBackupKey;
    backup_ = std::make_unique<fakes::FakeVendor>(backup_options);
    backup_->set_default_reply(fakes::Reply{.text = "served by backup"});

    auto config = std::make_shared<gateway::GatewayConfig>();
    std::string primary_key = GetParam().script.fault == Fault::unauthorized ? "sk-wrong" : kPrimaryKey;
    config->backends.push_back(
        fake_backend("primary", "openai", *primary_, Vendor::openai, primary_key));
    config->backends.push_back(
        fake_backend("backup", "openai", *backup_, Vendor::openai, kBackupKey));
    config->max_upstream_response_bytes = 64 * 1024;
    config->models.push_back({"solo", {{"primary", "gpt-test"}}});
    config->models.push_back({"pair", {{"primary", "gpt-test"}, {"backup", "gpt-backup"}}});
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }

  TestResponse ask(const std::string& model, bool stream) {
    json body = {{"model", model},
                 {"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}},
                 {"stream", stream}};
    if (stream) body["stream_options"] = {{"include_usage", true}};
    return client_.post(gateway_->url("/v1/chat/completions"), body.dump(), {},
                        std::chrono::milliseconds(5000));
  }

  std::unique_ptr<fakes::FakeVendor> primary_;
  std::unique_ptr<fakes::FakeVendor> backup_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

std::string error_code_of(const std::string& json_text) {
  auto j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "";
  const auto& code = j["error"]["code"];
  return code.is_string() ? code.get<std::string>() : "";
}

TEST_P(FaultScenario, ClientGetsAClearAnswerInTime) {
  const Case& c = GetParam();
  primary_->push_script(c.script);
  auto started = std::chrono::steady_clock::now();
  TestResponse r = ask("solo", c.stream);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500)) << "past every deadline";
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.status, c.solo_status) << r.body;
  EXPECT_FALSE(r.header("x-request-id").empty());

  if (c.solo_status != 200) {
    EXPECT_EQ(error_code_of(r.body), c.solo_error_code) << r.body;
    if (c.name == "RateLimitedWithRetryAfter") {
      EXPECT_EQ(r.header("retry-after"), "1");
    }
    if (c.name == "RateLimitedWithoutRetryAfter") {
      EXPECT_EQ(r.header("retry-after"), "");
    }
    return;
  }
  EXPECT_EQ(r.header("x-switchyard-backend"), "primary");
  if (!c.stream) {
    auto j = json::parse(r.body);
    if (c.script.fault == Fault::content_filter) {
      EXPECT_EQ(j["choices"][0]["finish_reason"], "content_filter");
    }
    return;
  }
  auto events = r.sse_data();
  ASSERT_FALSE(events.empty());
  bool done = events.back() == "[DONE]";
  if (c.solo_content_then_error) {
    EXPECT_FALSE(done) << "a failed stream must not end like a successful one";
    EXPECT_EQ(error_code_of(events.back()), c.solo_error_code) << events.back();
    auto first = json::parse(events.front());
    EXPECT_EQ(first["object"], "chat.completion.chunk");
  } else {
    EXPECT_TRUE(done);
  }
}

TEST_P(FaultScenario, AliasFallsBackOnlyBeforeContent) {
  const Case& c = GetParam();
  primary_->push_script(c.script);
  TestResponse r = ask("pair", c.stream);
  ASSERT_FALSE(r.error) << r.error->message;
  if (c.falls_back) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "backup");
    EXPECT_EQ(answer_text(r, c.stream), "served by backup") << r.body;
    EXPECT_EQ(backup_->request_count(), 1u);
  } else {
    EXPECT_EQ(backup_->request_count(), 0u) << "must not fall back after content or on a "
                                               "request the caller must fix";
  }
}

INSTANTIATE_TEST_SUITE_P(Upstream, FaultScenario, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sy::testing
