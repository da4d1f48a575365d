// Our translators against the official SDKs. tests/fixtures/sdk_requests/ holds what each
// vendor's own client sent for a set of calls (recorded by the fake vendor, see
// tests/e2e/record_sdk_requests.mjs); sdk_comparison/cases.json says each call in OpenAI's
// vocabulary, as a client of Switchyard would. The translator must send what the SDK sent:
// same method and path, a credential in a header the vendor documents, the same content type
// and the same JSON body. Differences that are deliberate are listed per case with a reason.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/translator_test_support.h"
#include "switchyard/backends/openai_json.h"
#include "switchyard/backends/translator.h"

namespace nlohmann {
// gtest prints parameters in failure messages; a case's name is enough.
inline void PrintTo(const json& j, std::ostream* os) { *os << j.value("sdk", "case"); }
}  // namespace nlohmann

namespace sy::backends {
namespace {

using nlohmann::json;

constexpr char kOrigin[] = "http://127.0.0.1:9";
constexpr char kKey[] = "sk-comparison-key";

// Where each protocol's deployment lives under the origin, as a user would configure it.
std::string base_url(const std::string& protocol) {
  if (protocol == "openai" || protocol == "openai_compat") return std::string(kOrigin) + "/v1";
  return kOrigin;
}

// The headers each vendor documents for the credential.
const std::map<std::string, std::set<std::string>>& credential_headers() {
  static const std::map<std::string, std::set<std::string>> headers = {
      {"openai", {"authorization"}},
      {"openai_compat", {"authorization"}},
      {"azure", {"api-key"}},
      {"anthropic", {"x-api-key", "authorization"}},
      {"gemini", {"x-goog-api-key"}},
  };
  return headers;
}

std::string path_of(const std::string& url) {
  std::string_view rest(url);
  rest.remove_prefix(std::string_view(kOrigin).size());
  return std::string(rest);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::map<std::string, std::string> header_map(const Headers& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) out[lower(name)] = value;
  return out;
}

// Top-level members that are empty objects say nothing; the SDKs differ in sending them.
json without(json body, const json& ignored) {
  for (const auto& name : ignored) body.erase(name.get<std::string>());
  for (auto it = body.begin(); it != body.end();) {
    if (it->is_object() && it->empty()) {
      it = body.erase(it);
    } else {
      ++it;
    }
  }
  return body;
}

class SdkRequestComparison : public ::testing::TestWithParam<json> {};

TEST_P(SdkRequestComparison, TranslatorSendsWhatTheOfficialSdkSends) {
  const json& c = GetParam();
  const std::string name = c["sdk"];
  const std::string protocol = c["protocol"];
  const json sdk = testing::read_json_fixture("sdk_requests/" + name + ".json");

  const std::string input = c["request"].dump();
  auto request = c.value("surface", "chat") == "completions"
                     ? openai::parse_completion_request(input)
                     : openai::parse_chat_request(input);
  ASSERT_TRUE(request) << name << ": " << request.error().message;
  auto translator = make_translator(protocol);
  ASSERT_TRUE(translator) << protocol;
  Endpoint endpoint{.base_url = base_url(protocol), .api_key = kKey,
                    .api_version = c.value("api_version", "")};
  auto sent = (*translator)->encode_request(*request, endpoint, c.value("stream", false));
  ASSERT_TRUE(sent) << name << ": " << sent.error().message;

  EXPECT_EQ(sent->method, sdk["method"]) << name;
  EXPECT_EQ(path_of(sent->url), sdk["target"]) << name;

  auto ours = header_map(sent->headers);
  const auto& allowed = credential_headers().at(protocol);
  int credentials = 0;
  for (const auto& header : allowed) {
    if (!ours.contains(header)) continue;
    ++credentials;
    EXPECT_NE(ours[header].find(kKey), std::string::npos) << name << ": " << header;
  }
  EXPECT_EQ(credentials, 1) << name << ": one credential header of the vendor's";
  for (const auto& [header, value] : sdk["headers"].items()) {
    if (header == "accept") continue;  // transport preference, not part of the call
    if (allowed.contains(header)) {
      continue;  // checked above; the recording is redacted
    }
    ASSERT_TRUE(ours.contains(header)) << name << ": the SDK sends " << header;
    // The SDK pins its own anthropic-version; we send the documented one the config names.
    if (header != "anthropic-version") {
      EXPECT_EQ(ours[header], value) << name << ": " << header;
    }
  }

  const json ignored = c.value("ignore_body", json::array());
  if (sdk["body"].is_null()) {
    EXPECT_TRUE(sent->body.empty()) << name;
    return;
  }
  const json body = json::parse(sent->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << name << ": " << sent->body;
  EXPECT_EQ(without(body, ignored), without(sdk["body"], ignored))
      << name << "\nours: " << body.dump() << "\nsdk:  " << sdk["body"].dump();
}

std::vector<json> cases() {
  json all = testing::read_json_fixture("sdk_comparison/cases.json");
  return {all.begin(), all.end()};
}

TEST(SdkRequestComparisonCases, EveryRecordedCallIsCompared) {
  std::set<std::string> compared;
  for (const json& c : cases()) compared.insert(c["sdk"].get<std::string>());
  for (const auto& name : testing::fixture_names("sdk_requests", ".json")) {
    if (name == "openai_models") continue;  // GET /v1/models: the gateway answers it itself
    EXPECT_TRUE(compared.contains(name)) << name << " is recorded but not compared";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SdkRequestComparison, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<json>& info) {
                           return info.param["sdk"].get<std::string>();
                         });

}  // namespace
}  // namespace sy::backends
