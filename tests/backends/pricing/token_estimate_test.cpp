// The documented pre-flight approximation of a request's tokens and its most expensive cost.

#include <gtest/gtest.h>

#include "switchyard/backends/pricing.h"

namespace sy::backends {
namespace {

Message text_message(Role role, std::string text) {
  Message m;
  m.role = role;
  m.content.push_back(ContentPart{.kind = ContentPart::Kind::text, .text = std::move(text)});
  return m;
}

TEST(TokenEstimate, CountsFourBytesPerTokenRoundedUpPlusFraming) {
  EXPECT_EQ(estimate_tokens(0), 0);
  EXPECT_EQ(estimate_tokens(1), 1);
  EXPECT_EQ(estimate_tokens(4), 1);
  EXPECT_EQ(estimate_tokens(5), 2);
  ChatRequest request;
  request.messages.push_back(text_message(Role::system, "12345678"));  // 8 bytes
  request.messages.push_back(text_message(Role::user, "héllo"));       // 6 bytes of UTF-8
  Message call;
  call.role = Role::assistant;
  call.tool_calls.push_back({.id = "c1", .name = "get", .arguments = R"({"a":1})"});  // 3 + 7
  request.messages.push_back(call);
  request.tools.push_back({.name = "get", .description = "", .parameters_json = "{}"});  // 5
  // ceil((8 + 6 + 10 + 5) / 4) = 8, plus 3 messages * 4.
  EXPECT_EQ(estimate_prompt_tokens(request), 8 + 12);
  ChatRequest legacy{.surface = ApiSurface::completions, .prompt = "Once upon a time"};  // 16
  EXPECT_EQ(estimate_prompt_tokens(legacy), 4);
}

TEST(TokenEstimate, BoundsTheCostByMaxTokens) {
  PriceTerms terms;
  terms.input = {.micro_dollars = 1'000'000};   // $1 per million: 1 micro-dollar per token
  terms.output = {.micro_dollars = 4'000'000};  // 4 per token
  ChatRequest request;
  request.messages.push_back(text_message(Role::user, std::string(400, 'x')));  // 100 + 4
  EXPECT_EQ(estimate_max_cost(request, terms), std::nullopt);                   // unbounded output
  request.max_tokens = 50;
  EXPECT_EQ(estimate_max_cost(request, terms), 104 + 200);
  request.n = 2;
  EXPECT_EQ(estimate_max_cost(request, terms), 104 + 400);
}

}  // namespace
}  // namespace sy::backends
