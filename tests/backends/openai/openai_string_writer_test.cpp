// write_string skips plain bytes sixteen at a time: every escape, multi-byte sequence and
// invalid byte must come out as dump() writes it wherever it falls in a 16-byte block.

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "openai/json_support.h"
#include "openai/json_writer.h"

namespace sy::backends {
namespace {

TEST(OpenAiStringWriter, MatchesDumpAtEveryOffsetOfABlock) {
  const std::string pieces[] = {"a", "Z", " ", "0", "\"", "\\", "\n", "\x01", "\x1f", "\x7f",
                                "/", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80",
                                "\xE2\x82", "\xC0\xAF", "\xED\xA0\x80"};
  std::mt19937 rng(5);
  int invalid = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text(rng() % 40, 'p');  // a plain run, so that the piece lands anywhere
    for (unsigned k = 0, n = rng() % 6; k < n; ++k) {
      text += pieces[rng() % std::size(pieces)];
      text += std::string(rng() % 20, 'q');
    }
    std::string fast;
    openai::detail::write_string(fast, text);
    std::string reference = openai::detail::dump(openai::detail::Json(text));
    invalid += (reference.find("\\ufffd") != std::string::npos ||
                reference.find("\xEF\xBF\xBD") != std::string::npos)
                   ? 1
                   : 0;
    ASSERT_EQ(fast, reference) << "text: [" << text << "]";
  }
  EXPECT_GT(invalid, 100);  // the invalid UTF-8 path is exercised too
}

}  // namespace
}  // namespace sy::backends
