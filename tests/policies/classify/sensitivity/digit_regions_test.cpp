// Digit regions: the candidate splitting that decides where the literal-less detectors
// (cards, IBAN, SSN, phones, IPs, MAC, national IDs) are scanned. A region too small loses a
// detection, so each case pins the exact byte ranges.

#include "classify/sensitivity/digit_regions.h"

#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/scan_database.h"

#include <gtest/gtest.h>

#include <cstdio>
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

// find_shaped_regions (bit masks, a step per token or run; masks by AVX2 and by SSE2) against
// the byte-by-byte reference: find_digit_regions_by_walk, then region_shapes of each region,
// the shapeless dropped.
TEST(DigitRegions, ShapedRegionsMatchTheWalkAndTheByteByByteShapes) {
  std::mt19937 rng(23);
  // Every byte the shapes look at: digits, capitals and lower-case hex and non-hex letters,
  // [XYZxyz], '_', each chain-gap and token separator, '+', and bytes outside tokens.
  const std::string alphabet = "0123456789ABDEFGXYZabfxyzq_ .-/():,+*\n=#@";
  const char* pieces[] = {
      "DE89 ",         "GB",          "AB 12 34 56 C",  "+44 ",
      "10.20.30.40",   "aa:bb:cc:dd", "ab12.cd34.ef56", "RSSMRAURSSMRAURSSMRAU",
      "12345678 z",    "X-1234567-L", "    ",           "0000 1111 2222 3333 4444",
      "1Z999AA1012345"};
  int shaped = 0;
  // Every mask path the CPU has: AVX-512BW (the default where present), AVX2, SSE2.
  for (int round = 0; round < 8000; ++round) {
    allow_avx512_for_masks(round % 3 == 0);
    allow_avx2_for_masks(round % 3 != 2);
    std::string text;
    size_t size = 1 + rng() % (round % 10 == 0 ? 900 : 160);
    while (text.size() < size) {
      if (rng() % 4 == 0) {
        text += pieces[rng() % std::size(pieces)];
      } else {
        for (unsigned k = 0, n = 1 + rng() % 6; k < n; ++k) {
          text.push_back(alphabet[rng() % alphabet.size()]);
        }
      }
    }
    std::vector<ByteRange> walk;
    find_digit_regions_by_walk(text, walk);
    std::vector<ByteRange> expected_regions;
    std::vector<uint8_t> expected_shapes;
    for (const ByteRange& r : walk) {
      uint8_t s = region_shapes(text, r);
      if (s == 0) continue;
      expected_regions.push_back(r);
      expected_shapes.push_back(s);
    }
    std::vector<ByteRange> regions;
    std::vector<uint8_t> shapes;
    find_shaped_regions(text, regions, shapes);
    ASSERT_EQ(regions, expected_regions) << "text: [" << text << "]";
    ASSERT_EQ(shapes, expected_shapes) << "text: [" << text << "]";
    shaped += static_cast<int>(shapes.size());
  }
  allow_avx2_for_masks(true);
  allow_avx512_for_masks(true);
  EXPECT_GT(shaped, 4000);
}

TEST(DigitRegions, RejectsDatesTimestampsAndOrderNumbers) {
  auto may_hold = [](std::string_view text) {
    return region_may_hold_finding(text, ByteRange{0, text.size()});
  };
  for (std::string_view no : {"12/03/2025", "2026-11-23T17:03:51Z", "88412375",
                              "1Z999AA10123456784", "14/02/1987.", "03:51:07"}) {
    EXPECT_FALSE(may_hold(no)) << no;
  }
  for (std::string_view yes :
       {"4111 1111 1111 1111", "+44 20 7946 0958", "536-22-1234", "(415) 555-2671",
        "10.20.30.40", "DE89 3704", "AB 12 34 56 C", "12345678 z", "X 1234567 L",
        "aa:bb:cc:dd:ee:ff", "RSSMRA85T10A562S", "030 1234 5678"}) {
    EXPECT_TRUE(may_hold(yes)) << yes;
  }
}

// The rejection must never lose a finding: in every region of random digit-heavy text, no
// region-scanned detector's pattern has a match that its validator accepts unless the region
// has that detector's shape (a rejected region has none).
TEST(DigitRegions, RejectedRegionsHoldNoValidatedMatch) {
  std::vector<PatternSpec> specs;
  std::vector<const Detector*> detectors;
  for (const Detector& d : builtin_detectors()) {
    if (!d.region_scanned) continue;
    specs.push_back({std::string(d.pattern), d.caseless});
    detectors.push_back(&d);
  }
  auto database = ScanDatabase::compile(specs);
  ASSERT_TRUE(database.has_value());
  std::mt19937 rng(11);
  const char* pieces[] = {" ", "-", ".", "/", ":", "(", ")", "+", "  ", "X", "Z", "AB", "DE",
                          "GB", "a", "z", "T", "Mr ", "0", "00", "Q"};
  int rejected = 0;
  int accepted = 0;
  int validated = 0;  // in accepted regions: the text does produce findings
  for (int round = 0; round < 3000; ++round) {
    std::string text = "x ";
    size_t size = 8 + rng() % 60;
    while (text.size() < size) {
      if (rng() % 2 == 0) {
        for (unsigned k = 0, n = 1 + rng() % 5; k < n; ++k) text.push_back('0' + rng() % 10);
      } else {
        text += pieces[rng() % std::size(pieces)];
      }
    }
    text += " y";
    std::vector<ByteRange> regions;
    find_digit_regions(text, regions);
    for (const ByteRange& r : regions) {
      bool may_hold = region_may_hold_finding(text, r);
      EXPECT_EQ(may_hold, region_shapes(text, r) != 0);
      ++(may_hold ? accepted : rejected);
      std::vector<PatternMatch> matches;
      std::pair<size_t, size_t> range{r.begin, r.end};
      ASSERT_TRUE((*database)->scan_ranges(text, {&range, 1}, matches));
      for (const PatternMatch& m : matches) {
        const Detector& d = *detectors[m.id];
        auto hit = d.validate(text, m.begin, m.end);
        validated += hit.has_value() ? 1 : 0;
        if (region_shapes(text, r) & d.region_shape) continue;
        // Not scanned by this detector's shape database (or at all): nothing it validates.
        EXPECT_FALSE(hit.has_value())
            << d.name << " [" << text.substr(m.begin, m.end - m.begin) << "] in region ["
            << text.substr(r.begin, r.end - r.begin) << "] without its shape, of [" << text
            << "]";
      }
    }
  }
  // Both sides exercised.
  EXPECT_GT(rejected, 500);
  EXPECT_GT(accepted, 500);
  EXPECT_GT(validated, 50);
  std::printf("regions: %d rejected, %d kept; %d validated matches\n", rejected, accepted,
              validated);
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
