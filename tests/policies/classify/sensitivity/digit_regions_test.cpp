// Digit regions: the candidate splitting that decides where the literal-less detectors
// (cards, IBAN, SSN, phones, IPs, MAC, national IDs) are scanned. A region too small loses a
// detection, so each case pins the exact byte ranges.

#include "classify/sensitivity/digit_regions.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sy::policies::sensitivity_detail {
namespace {

std::vector<std::string> regions_of(std::string_view text) {
  std::vector<ByteRange> ranges;
  find_digit_regions(text, ranges);
  std::vector<std::string> out;
  size_t last_end = 0;
  for (const ByteRange& r : ranges) {
    EXPECT_LT(r.begin, r.end);
    EXPECT_GE(r.begin, last_end);  // ordered, non-overlapping
    last_end = r.end;
    out.emplace_back(text.substr(r.begin, r.end - r.begin));
  }
  return out;
}

using Regions = std::vector<std::string>;

TEST(DigitRegions, GroupedNumbersJoinAcrossSingleAndDoubleSpaces) {
  EXPECT_EQ(regions_of("Card 4111 1111 1111 1111 exp 12/27."), Regions({"4111 1111 1111 1111"}));
  EXPECT_EQ(regions_of("Call +44  20 7946 0958 after five"), Regions({"+44  20 7946 0958"}));
  EXPECT_EQ(regions_of("(415) 555-2671"), Regions({"(415) 555-2671"}));
  // Three spaces or a tab break the chain: each side is judged on its own.
  EXPECT_EQ(regions_of("4111   1111\t1111"), Regions({}));
}

TEST(DigitRegions, LetterPrefixesAndSuffixesJoinTheirNumbers) {
  EXPECT_EQ(regions_of("NI number AB 12 34 56 C."), Regions({"AB 12 34 56 C."}));
  EXPECT_EQ(regions_of("NIE X 1234567 L ok"), Regions({"X 1234567 L"}));
  EXPECT_EQ(regions_of("NIF 12345678 z now"), Regions({"12345678 z"}));
  // An IBAN's letter groups (up to two in a row) stay inside.
  EXPECT_EQ(regions_of("IBAN GB82 WEST 1234 5698 7654 32 please"),
            Regions({"GB82 WEST 1234 5698 7654 32"}));
  EXPECT_EQ(regions_of("MT84 MALT 0110 0001 2345 MTLC AST0 01S."),
            Regions({"MT84 MALT 0110 0001 2345 MTLC AST0 01S."}));
  // A prefix joins only when a number follows it.
  EXPECT_EQ(regions_of("ref 123456 AB then"), Regions({"123456 AB"}));
}

TEST(DigitRegions, ShortNumbersAreSkippedUnlessAPatternCouldFit) {
  EXPECT_EQ(regions_of("Version 3.2.0 fixes issue #412."), Regions({}));
  EXPECT_EQ(regions_of("after the 2.14.1 release"), Regions({}));
  EXPECT_EQ(regions_of("host 10.20.30.40 is down"), Regions({"10.20.30.40"}));  // 3 dots
  EXPECT_EQ(regions_of("tel 030 1234"), Regions({"030 1234"}));  // '0' after a non-word byte
  EXPECT_EQ(regions_of("DE89"), Regions({"DE89"}));              // an IBAN's head
}

TEST(DigitRegions, LongTokensWithoutDigitsAreRegions) {
  EXPECT_EQ(regions_of("mac aa:bb:cc:dd:ee:ff up"), Regions({"aa:bb:cc:dd:ee:ff"}));
  EXPECT_EQ(regions_of("addr mzBcDEfGhiJkLmNoPqRsTuVwXyZab end"),
            Regions({"mzBcDEfGhiJkLmNoPqRsTuVwXyZab"}));
  EXPECT_EQ(regions_of("plain prose with ordinary words only"), Regions({}));
}

TEST(DigitRegions, EdgesSitNextToNonWordBytes) {
  // '_' is a word byte for \b, so it stays in the token: no region may start after it.
  EXPECT_EQ(regions_of("id_4111111111111111=x"), Regions({"id_4111111111111111"}));
  EXPECT_EQ(regions_of("\"4111111111111111\""), Regions({"4111111111111111"}));
  EXPECT_EQ(regions_of(""), Regions({}));
}

TEST(DigitRegions, SkippingAheadFindsExactlyWhatAFullWalkFinds) {
  // Random text from an alphabet rich in the bytes that matter (digits, capitals, spaces,
  // separators), long enough to cross many 64-byte blocks, some with long digit-free tokens.
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789ABCXYZabcxyz  .-:/(),+_*\n\tqwertyuiop";
  for (int round = 0; round < 300; ++round) {
    std::string text;
    size_t size = 1 + rng() % 700;
    while (text.size() < size) {
      switch (rng() % 6) {
        case 0:  // prose word
          text += "lorem ";
          break;
        case 1:  // long digit-free token
          text += std::string(10 + rng() % 10, 'q') + " ";
          break;
        case 2:  // stretch of prose with no digit at all (a cold block)
          text += std::string(64 + rng() % 100, ' ');
          break;
        default:
          for (int k = 0; k < 8; ++k) text.push_back(alphabet[rng() % alphabet.size()]);
      }
    }
    std::vector<ByteRange> fast;
    std::vector<ByteRange> walk;
    find_digit_regions(text, fast);
    find_digit_regions_by_walk(text, walk);
    ASSERT_EQ(fast, walk) << "text: [" << text << "]";
  }
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
