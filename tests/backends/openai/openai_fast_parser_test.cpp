// The parsing fast paths read common shapes without a DOM; the DOM parsers are the reference.
// Whatever a fast path accepts must come out field for field as the DOM path gives it, and
// what it refuses must still be parsed (or refused) by the public parser exactly as before.
// Hand-written cases cover each member and each refusal; seeded random mutations of valid
// bodies check that the fast path never accepts what the DOM would answer differently.

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "openai/json_reader.h"
#include "openai/openai_fast_parser.h"
#include "request_equality.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends {
namespace {

namespace oa = openai;
using oa::detail::JsonReader;

// --- JsonReader against the JSON library -------------------------------------------------

bool reader_accepts(std::string_view text) {
  JsonReader r(text, 64);
  return r.skip_value() && r.at_end();
}

bool library_accepts(std::string_view text) {
  return !nlohmann::json::parse(text.begin(), text.end(), nullptr, false).is_discarded();
}

TEST(JsonReader, AcceptsExactlyWhatTheJsonLibraryAccepts) {
  const std::vector<std::string> texts = {
      "{}",
      "[]",
      "0",
      "-0",
      "1",
      "-1",
      "01",
      "1.",
      ".5",
      "1.5",
      "1e5",
      "1E+5",
      "1e-5",
      "1e",
      "-",
      "--1",
      "+1",
      "1.5e",
      "123456789012345678901234567890",
      "true",
      "false",
      "null",
      "tru",
      "nul",
      "True",
      "\"\"",
      "\"a\"",
      "\"\\u00e9\"",
      "\"\\uD83D\\uDE00\"",
      "\"\\uD83D\"",
      "\"\\uDE00\"",
      "\"\\uD83Dx\"",
      "\"\\u12\"",
      "\"\\x\"",
      "\"\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
      "\"tab\there\"",
      std::string("\"nul\0\"", 6),
      "\"caf\xC3\xA9\"",
      "\"\xC3\"",
      "\"\xC0\xAF\"",
      "\"\xED\xA0\x80\"",
      "\"\xF4\x8F\xBF\xBF\"",
      "\"\xF4\x90\x80\x80\"",
      "\"\xE0\x9F\xBF\"",
      "\"\xF0\x8F\xBF\xBF\"",
      "\"\x80\"",
      "\"\xFF\"",
      "[1,]",
      "[,1]",
      "[1 2]",
      "{\"a\":1,}",
      "{,}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\" 1}",
      "{1:2}",
      "[",
      "]",
      "{",
      " \t\r\n[ 1 , { \"k\" : [ null ] } ] \n",
      "[1]x",
      "{} {}",
      "",
      "  ",
      "{\"a\":{\"b\":{\"c\":[[[]]]}}}",
      "[\"\\u0000\"]",
      "\"unterminated",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(reader_accepts(text), library_accepts(text)) << text;
  }
}

TEST(JsonReader, DecodesStringsAndNumbersAsTheJsonLibraryDoes) {
  const std::vector<std::string> strings = {
      "\"\"",
      "\"plain\"",
      "\"\\u00e9\\u20AC\\uD83D\\uDE00\"",
      "\"\\u0000x\"",
      "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"",
      "\"\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
      "\"a\\u0041b\"",
  };
  for (const std::string& text : strings) {
    JsonReader r(text, 64);
    std::string out;
    ASSERT_TRUE(r.read_string(out)) << text;
    EXPECT_EQ(out, nlohmann::json::parse(text).get<std::string>()) << text;
  }
  const std::vector<std::string> numbers = {
      "0",
      "-0",
      "7",
      "0.7",
      "1e-7",
      "2.5E3",
      "-2",
      "1e308",
      "0.1234567890123456789",
      "9007199254740993",
      "18446744073709551615",
      "-9223372036854775808",
      "123456789012345678901234567890",
  };
  for (const std::string& text : numbers) {
    JsonReader r(text, 64);
    double d = 0;
    ASSERT_TRUE(r.read_double(d)) << text;
    const double expected = nlohmann::json::parse(text).get<double>();
    EXPECT_EQ(d, expected) << text;
    EXPECT_EQ(std::signbit(d), std::signbit(expected)) << text;
  }
}

TEST(JsonReader, FailsPastItsDepthLimit) {
  EXPECT_TRUE(JsonReader("[[[1]]]", 3).skip_value());
  EXPECT_FALSE(JsonReader("[[[[1]]]]", 3).skip_value());
}

// --- requests ----------------------------------------------------------------------------

// Bodies of the shapes the fast path takes: it must take each, and equal the DOM.
const std::vector<std::string> kFastRequests = {
    R"({"model":"bench","messages":[{"role":"user","content":"Say hello"}]})",
    R"({"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":"x"},
        {"role":"user","content":"caf\u00e9 \"q\" \\ \n","name":"ann"}],"model":"gpt-4o",
        "temperature":0.7,"top_p":1,"presence_penalty":-2,"frequency_penalty":0,
        "max_tokens":100,"max_completion_tokens":50,"stop":["a","b"],"seed":-5,"n":1,
        "user":"u1","metadata":{"k":"v","a":"b"},"stream":true,
        "stream_options":{"include_usage":true,"other":[1]},"tools":null,"tool_choice":"auto",
        "parallel_tool_calls":false,"response_format":{"type":"json_object"},"logprobs":true,
        "top_logprobs":3})",
    R"({"model":"m","max_completion_tokens":50,"max_tokens":100,"stop":"END","stream":null,
        "messages":[{"content":[{"type":"text","text":"look"},{"type":"image_url",
        "image_url":{"url":"https://x/y.png","detail":"high"}},{"type":"image_url",
        "image_url":{"url":"data:,","detail":null}}],"role":"user"}]})",
    R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1",
        "type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"function":
        {"name":"g","arguments":null}}],"refusal":null},{"role":"tool","tool_call_id":"c1",
        "content":"42","tool_calls":null,"refusal":null},{"role":"assistant","refusal":"no"},
        {"role":"user","content":"x","tool_call_id":null,"name":null}],"tool_choice":"none",
        "response_format":{"type":"text","json_schema":5},"user":null,"metadata":null,
        "seed":null,"n":null,"temperature":null})",
    R"( {"model":"m","messages":[{"role":"user","content":[]}],"tool_choice":"required",
        "temperature":2,"top_p":0.0} )",
};

// Shapes the fast path leaves to the DOM (passthrough members, tools, schemas, errors...).
const std::vector<std::string> kDomRequests = {
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"x_vendor":{"a":1}})",
    R"({"model":"m","messages":[{"role":"user","content":"x","x":1}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",
        "function":{"name":"f","parameters":{"type":"object"}}}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],
        "tool_choice":{"type":"function","function":{"name":"f"}}})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":
        {"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}})",
    R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","a":1}]}]})",
    R"({"model":"m","model":"n","messages":[{"role":"user","content":"x"}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":0})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"seed":18446744073709551615})",
    R"({"model":"m","messages":[]})",
    R"({"model":"m"})",
    R"({"messages":[{"role":"user","content":"x"}]})",
    R"({"model":"","messages":[{"role":"user","content":"x"}]})",
    R"({"model":"m","messages":[{"role":"function","content":"x"}]})",
    R"({"model":"m","messages":[{"role":"user"}]})",
    R"({"model":"m","messages":[{"role":"user","content":null}]})",
    R"({"model":"m","messages":[{"role":"tool","content":"x"}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x","tool_calls":[]}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x","refusal":"r"}]})",
    R"({"model":"m","messages":[{"role":"assistant","tool_call_id":"c"}]})",
    R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
    R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",
        "image_url":{"url":"u","detail":3}}]}]})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"k":1}})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"k":"a","k":"b"}})",
    R"({"model":"m","messages":[{"role":"user","content":"x"}]} trailing)",
    R"([1,2])",
    R"(not json)",
    "\xEF\xBB\xBF{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
};

void expect_request_matches_dom(const std::string& body, const std::string& where) {
  auto fast = oa::detail::parse_chat_request_fast(body, 64);
  auto dom = oa::detail::parse_chat_request_dom(body, 64);
  auto pub = oa::parse_chat_request(body);
  if (fast) {
    ASSERT_TRUE(dom.has_value()) << where << ": the fast path took what the DOM refuses: " << body
                                 << " (" << dom.error().message << ")";
    testing::expect_same_request(*fast, *dom, where);
  }
  ASSERT_EQ(pub.has_value(), dom.has_value()) << where;
  if (pub) {
    testing::expect_same_request(*pub, *dom, where);
  } else {
    EXPECT_EQ(pub.error().message, dom.error().message) << where;
    EXPECT_EQ(pub.error().param, dom.error().param) << where;
  }
}

TEST(OpenAiFastParser, CommonRequestsTakeTheFastPathAndEqualTheDom) {
  for (size_t i = 0; i < kFastRequests.size(); ++i) {
    const std::string where = "fast request " + std::to_string(i);
    EXPECT_TRUE(oa::detail::parse_chat_request_fast(kFastRequests[i], 64).has_value()) << where;
    expect_request_matches_dom(kFastRequests[i], where);
  }
}

TEST(OpenAiFastParser, OtherRequestsGoToTheDomWithTheSameResult) {
  for (size_t i = 0; i < kDomRequests.size(); ++i) {
    const std::string where = "dom request " + std::to_string(i);
    EXPECT_FALSE(oa::detail::parse_chat_request_fast(kDomRequests[i], 64).has_value()) << where;
    expect_request_matches_dom(kDomRequests[i], where);
  }
}

TEST(OpenAiFastParser, RequestsNestedPastTheLimitAreRefusedAsBefore) {
  std::string deep = R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":)";
  for (int i = 0; i < 70; ++i) deep += "[";
  auto parsed = oa::parse_chat_request(deep);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_NE(parsed.error().message.find("nested deeper"), std::string::npos);
}

// --- answers -----------------------------------------------------------------------------

void expect_same_response(const ChatResponse& a, const ChatResponse& b, const std::string& w) {
  EXPECT_EQ(a.id, b.id) << w;
  EXPECT_EQ(a.model, b.model) << w;
  EXPECT_EQ(a.created, b.created) << w;
  EXPECT_EQ(a.system_fingerprint, b.system_fingerprint) << w;
  EXPECT_EQ(a.usage, b.usage) << w;
  ASSERT_EQ(a.choices.size(), b.choices.size()) << w;
  for (size_t i = 0; i < a.choices.size(); ++i) {
    EXPECT_EQ(a.choices[i].index, b.choices[i].index) << w;
    EXPECT_EQ(a.choices[i].finish_reason, b.choices[i].finish_reason) << w;
    testing::expect_same_message(a.choices[i].message, b.choices[i].message,
                                 w + " choice " + std::to_string(i));
  }
}

void expect_same_chunks(const std::vector<ChatChunk>& a, const std::vector<ChatChunk>& b,
                        const std::string& w) {
  ASSERT_EQ(a.size(), b.size()) << w;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].choice_index, b[i].choice_index) << w;
    EXPECT_EQ(a[i].role, b[i].role) << w;
    EXPECT_EQ(a[i].content, b[i].content) << w;
    EXPECT_EQ(a[i].refusal, b[i].refusal) << w;
    EXPECT_EQ(a[i].finish_reason, b[i].finish_reason) << w;
    EXPECT_EQ(a[i].usage, b[i].usage) << w;
    EXPECT_EQ(a[i].model, b[i].model) << w;
    ASSERT_EQ(a[i].tool_calls.size(), b[i].tool_calls.size()) << w;
    for (size_t j = 0; j < a[i].tool_calls.size(); ++j) {
      EXPECT_EQ(a[i].tool_calls[j].index, b[i].tool_calls[j].index) << w;
      EXPECT_EQ(a[i].tool_calls[j].id, b[i].tool_calls[j].id) << w;
      EXPECT_EQ(a[i].tool_calls[j].name, b[i].tool_calls[j].name) << w;
      EXPECT_EQ(a[i].tool_calls[j].arguments, b[i].tool_calls[j].arguments) << w;
    }
  }
}

const std::vector<std::string> kFastResponses = {
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,
        "model":"bench-model","choices":[{"index":0,"message":{"role":"assistant",
        "content":"Hello! How can I help you today?"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}})",
    R"({"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function",
        "function":{"name":"f","arguments":"{}"}},{"function":7}],"refusal":"no"},
        "finish_reason":"tool_calls","logprobs":null},{"index":5,"message":{"content":"caf\u00e9"},
        "finish_reason":"eos"},{"index":1.5,"message":{},"finish_reason":null}],
        "id":5,"model":null,"created":1.5,"system_fingerprint":"fp","error":null,
        "usage":{"prompt_tokens":3.0,"completion_tokens":4,"prompt_tokens_details":
        {"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1,"x":2}}})",
    R"({"choices":[{"text":"legacy","index":0,"finish_reason":"length"}],"usage":"none"})",
    R"({"choices":[]})",
};

const std::vector<std::string> kDomResponses = {
    R"({"error":{"message":"bad","type":"invalid_request_error"}})",
    R"({"choices":{}})",
    R"({"id":"x"})",
    R"({"choices":[{"index":0}]})",
    R"({"choices":[{"message":{"content":5}}]})",
    R"({"choices":[{"message":{"content":"x","tool_calls":{}}}]})",
    R"({"choices":[1]})",
    R"({"choices":[],"choices":[]})",
    R"({"choices":[]}x)",
    R"({"choices":[],"created":18446744073709551615})",
};

TEST(OpenAiFastParser, AnswersTakeTheFastPathAndEqualTheDom) {
  for (size_t i = 0; i < kFastResponses.size(); ++i) {
    const std::string where = "fast response " + std::to_string(i);
    auto fast = oa::detail::parse_chat_response_fast(kFastResponses[i], 128);
    auto dom = oa::detail::parse_chat_response_dom(kFastResponses[i]);
    ASSERT_TRUE(fast.has_value()) << where;
    ASSERT_TRUE(dom.has_value()) << where;
    expect_same_response(*fast, *dom, where);
  }
  for (size_t i = 0; i < kDomResponses.size(); ++i) {
    const std::string where = "dom response " + std::to_string(i);
    EXPECT_FALSE(oa::detail::parse_chat_response_fast(kDomResponses[i], 128).has_value()) << where;
    auto pub = oa::parse_chat_response(kDomResponses[i]);
    auto dom = oa::detail::parse_chat_response_dom(kDomResponses[i]);
    ASSERT_EQ(pub.has_value(), dom.has_value()) << where;
    if (!pub) {
      EXPECT_EQ(pub.error().message, dom.error().message) << where;
    }
  }
}

const std::vector<std::string> kChunks = {
    R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,
        "delta":{"role":"assistant","content":""},"finish_reason":null}]})",
    R"({"model":"m","choices":[{"index":0,"delta":{"content":"Hel\u006co"},"logprobs":null}]})",
    R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"model":"m"})",
    R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})",
    R"({"choices":null,"usage":null})",
    R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function",
        "function":{"name":"f","arguments":""}},{"function":{"arguments":"{\"a\""}}]}}]})",
    R"({"choices":[{"delta":null},{"delta":{"role":"user","refusal":"r"}},{"text":"t",
        "delta":{"content":"ignored"}}]})",
    R"({"choices":[{"index":2,"delta":{"content":"x","tool_calls":null}}],"model":5})",
};

TEST(OpenAiFastParser, StreamChunksTakeTheFastPathAndEqualTheDom) {
  for (size_t i = 0; i < kChunks.size(); ++i) {
    const std::string where = "chunk " + std::to_string(i);
    auto fast = oa::detail::parse_chunk_fast(kChunks[i], 128);
    auto dom = oa::detail::parse_chunk_dom(kChunks[i]);
    ASSERT_TRUE(fast.has_value()) << where;
    ASSERT_TRUE(dom.has_value()) << where;
    expect_same_chunks(*fast, *dom, where);
  }
  for (const char* body : {R"({"error":{"message":"overloaded"}})", R"({"choices":5})",
                           R"({"choices":[{"delta":5}]})", R"({"choices":[{"delta":{}}])"}) {
    EXPECT_FALSE(oa::detail::parse_chunk_fast(body, 128).has_value()) << body;
  }
}

// --- random mutations ---------------------------------------------------------------------

// Byte-level edits of valid bodies (a structural character, an escape, a digit, a high byte
// inserted, replaced or deleted): wherever the fast path still accepts, the DOM must agree.
TEST(OpenAiFastParser, MutatedBodiesNeverMakeTheFastPathDisagreeWithTheDom) {
  static constexpr char kBytes[] = "{}[],:\"\\/-+.0123456789eEtrufalsn ubx\t\n\xC3\xA9\x80\xFF";
  std::mt19937 rng(12345);
  std::vector<std::string> seeds = kFastRequests;
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t fast_taken = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string body = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(3));
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = pick(body.size());
      const char c = kBytes[pick(sizeof kBytes - 1)];
      switch (pick(3)) {
        case 0:
          body.insert(body.begin() + static_cast<long>(at), c);
          break;
        case 1:
          body[at] = c;
          break;
        default:
          body.erase(at, 1);
          break;
      }
    }
    if (oa::detail::parse_chat_request_fast(body, 64)) ++fast_taken;
    expect_request_matches_dom(body, "mutation round " + std::to_string(round));
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(fast_taken, 0u);  // some edits (inside strings) keep a body valid
  for (int round = 0; round < 3000; ++round) {
    std::string body = kFastResponses[pick(kFastResponses.size())];
    const size_t at = pick(body.size());
    body[at] = kBytes[pick(sizeof kBytes - 1)];
    auto fast = oa::detail::parse_chat_response_fast(body, 128);
    if (!fast) continue;
    auto dom = oa::detail::parse_chat_response_dom(body);
    ASSERT_TRUE(dom.has_value()) << body;
    expect_same_response(*fast, *dom, body);
  }
  for (int round = 0; round < 3000; ++round) {
    std::string body = kChunks[pick(kChunks.size())];
    const size_t at = pick(body.size());
    body[at] = kBytes[pick(sizeof kBytes - 1)];
    auto fast = oa::detail::parse_chunk_fast(body, 128);
    if (!fast) continue;
    auto dom = oa::detail::parse_chunk_dom(body);
    ASSERT_TRUE(dom.has_value()) << body;
    expect_same_chunks(*fast, *dom, body);
  }
}

}  // namespace
}  // namespace sy::backends
