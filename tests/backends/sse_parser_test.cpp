#include <gtest/gtest.h>

#include "switchyard/backends/sse.h"

namespace sy::backends {
namespace {

std::vector<SseEvent> parse_in_pieces(std::string_view text, size_t piece) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (size_t i = 0; i < text.size(); i += piece) {
    EXPECT_TRUE(parser.feed(text.substr(i, piece), out));
  }
  return out;
}

TEST(SseParser, ParsesEventsWhateverTheSplit) {
  std::string_view text =
      "event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: line1\r\ndata: line2\r\n\r\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1, 2, 3, 7, 1000}) {
    auto events = parse_in_pieces(text, piece);
    ASSERT_EQ(events.size(), 3u) << piece;
    EXPECT_EQ(events[0].event, "message_start");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].data, "line1\nline2");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(SseParser, ReportsPartialEventAtEnd) {
  SseParser parser;
  std::vector<SseEvent> out;
  ASSERT_TRUE(parser.feed("data: {\"cut", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(parser.has_partial());
}

TEST(SseParser, RejectsEventOverTheBound) {
  SseParser parser(16);
  std::vector<SseEvent> out;
  EXPECT_FALSE(parser.feed("data: 0123456789abcdefghij\n\n", out));
}

TEST(SseParser, FormatsMultiLineData) {
  EXPECT_EQ(format_sse("a\nb", "ping"), "event: ping\ndata: a\ndata: b\n\n");
  EXPECT_EQ(format_sse("[DONE]"), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace sy::backends
