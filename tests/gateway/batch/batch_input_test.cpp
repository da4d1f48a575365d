#include "batch/batch_input.h"

#include <gtest/gtest.h>

namespace sy::gateway {
namespace {

std::string line(const std::string& id, const std::string& url = "/v1/chat/completions") {
  return R"({"custom_id":")" + id + R"(","method":"POST","url":")" + url +
         R"(","body":{"model":"m","messages":[]}})";
}

TEST(BatchInput, ParsesLinesSkippingBlankOnesAndCarriageReturns) {
  auto lines = parse_batch_input(line("a") + "\r\n\n" + line("b", "/v1/completions"), 10);
  ASSERT_TRUE(lines.has_value()) << lines.error().message;
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].custom_id, "a");
  EXPECT_EQ((*lines)[1].url, "/v1/completions");
  EXPECT_EQ((*lines)[0].body, R"({"messages":[],"model":"m"})");
}

TEST(BatchInput, ErrorsNameTheOneBasedLine) {
  struct Case {
    std::string text;
    std::string expected;
  } cases[] = {
      {line("a") + "\n[1]", "line 2: must be a JSON object"},
      {line("a") + "\n\n" + line("a"), "line 3: duplicate custom_id 'a'"},
      {line("a", "/v1/embeddings"), "line 1: url must be"},
      {R"({"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{}})",
       "line 1: method must be"},
      {R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":[]})",
       "line 1: body must be a JSON object"},
      {R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}})",
       "line 1: body.model must be a string"},
      {R"({"custom_id":"","method":"POST","url":"/v1/chat/completions","body":{}})",
       "line 1: custom_id must be"},
      {R"({"custom_id":"a","extra":1})", "line 1: unknown field 'extra'"},
      {"{oops", "line 1: not valid JSON"},
      {"\n\n", "the file has no requests"},
  };
  for (const auto& c : cases) {
    auto lines = parse_batch_input(c.text, 10);
    ASSERT_FALSE(lines.has_value()) << c.text;
    EXPECT_EQ(lines.error().kind, backends::ErrorKind::invalid_request);
    EXPECT_TRUE(lines.error().message.starts_with(c.expected)) << lines.error().message;
  }
}

TEST(BatchInput, RefusesMoreLinesThanTheLimit) {
  auto lines = parse_batch_input(line("a") + "\n" + line("b") + "\n" + line("c"), 2);
  ASSERT_FALSE(lines.has_value());
  EXPECT_EQ(lines.error().kind, backends::ErrorKind::payload_too_large);
  EXPECT_TRUE(lines.error().message.starts_with("line 3:"));
}

TEST(BatchInputReader, GivesTheSameAnswerForAnySplitOfTheBytes) {
  const std::string good = line("a") + "\r\n\n" + line("b") + "\n" + line("c");
  const std::string bad = line("a") + "\n" + line("b") + "\n{oops\n" + line("d");
  for (size_t piece : {size_t{1}, size_t{3}, size_t{17}, good.size()}) {
    BatchInputReader reader(10);
    for (size_t at = 0; at < good.size(); at += piece) {
      ASSERT_TRUE(reader.feed(std::string_view(good).substr(at, piece)).has_value());
    }
    ASSERT_TRUE(reader.finish().has_value());
    EXPECT_EQ(reader.requests(), 3u);

    BatchInputReader refusing(10);
    backends::Status status;
    for (size_t at = 0; at < bad.size() && status; at += piece) {
      status = refusing.feed(std::string_view(bad).substr(at, piece));
    }
    if (status) status = refusing.finish();
    ASSERT_FALSE(status.has_value());
    EXPECT_EQ(status.error().message, "line 3: not valid JSON") << "piece " << piece;
    EXPECT_FALSE(refusing.feed(line("e")).has_value()) << "the error sticks";
  }
}

TEST(BatchInputReader, RefusesALineLongerThanItsBoundBeforeItEnds) {
  BatchInputReader reader(10, /*max_line_bytes=*/64);
  ASSERT_TRUE(reader.feed(line("a") + "\n").has_value() == (line("a").size() <= 64));
  BatchInputReader small(10, 64);
  auto fed = small.feed(std::string(65, ' '));  // no newline yet: refused while it arrives
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().message, "line 1: longer than 64 bytes");
}

}  // namespace
}  // namespace sy::gateway
