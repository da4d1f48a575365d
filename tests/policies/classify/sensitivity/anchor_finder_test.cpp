// find_anchored must find exactly what the AWS access key detector's vectorscan pattern finds:
// every end, each with the pattern's leftmost start, on text built to sit at its edges, through
// the AVX2 pass and the byte loop.

#include "classify/sensitivity/anchor_finder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {
namespace {

// Texts of 0-2000 bytes from the pattern's pieces and near misses: the key prefixes (and
// almost-prefixes) before runs of 14-18 key bytes, word bytes glued on either side, and other
// bytes of ordinary text.
std::string anchor_text(std::mt19937& rng) {
  static const char* kPieces[] = {
      "@",    "@@",    "a@b", ".@x",  "%",        "+",           "-",        ".",   "_",    " ",
      "  ",   "\n",    ",",   ";",    "(",        "<",           "\"",       "'",   "/",    "=",
      "john", "J.Doe", "x_y", "a+b",  "mail",     "example.com", "co.uk",    "9",   "Z",    "z",
      "A",    "AK",    "AKI", "AKIA", "ASIA",     "ABIA",        "ACCA",     "A3T", "A3TZ", "AKIB",
      "ASIB", "ACCB",  "A3",  "akia", "\xc3\xa9", "\xff",        "AWS_KEY=", "key:"};
  static const char kKey[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static const char* kPrefixes[] = {"AKIA", "ASIA", "ABIA", "ACCA", "A3TX", "A3T7",
                                    "AKIB", "A3T_", "AKIa", "ACCA", "BKIA"};
  auto pick = [&](const auto& list) { return std::string(list[rng() % std::size(list)]); };
  std::string s;
  const size_t n = rng() % 8 == 0 ? 300 + rng() % 1700 : rng() % 300;
  while (s.size() < n) {
    switch (rng() % 6) {
      case 0: {  // a key-like run: prefix and 14-18 key bytes, sometimes a bad byte inside
        s += pick(kPrefixes);
        for (unsigned i = 0, k = 14 + rng() % 5; i < k; ++i) {
          s.push_back(rng() % 40 == 0 ? "a_-"[rng() % 3] : kKey[rng() % 36]);
        }
        break;
      }
      case 1: {  // an address-like run
        for (unsigned i = 0, k = rng() % 6; i < k; ++i) s.push_back("ab.9_%+-Z"[rng() % 9]);
        s += "@";
        for (unsigned i = 0, k = rng() % 4; i < k; ++i) s.push_back("x.-9@ "[rng() % 6]);
        break;
      }
      default:
        s += pick(kPieces);
    }
  }
  return s;
}

// (end, begin) of each match, sorted.
std::vector<std::pair<size_t, size_t>> spans(const std::vector<PatternMatch>& matches,
                                             unsigned id) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const PatternMatch& m : matches) {
    if (m.id == id) out.emplace_back(m.end, m.begin);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Vectorscan's matches of `pattern` as (end, leftmost start), one per end: the ends from a
// scan without start tracking (what the classifier's database reported), each with the
// leftmost start a tracking scan reports for it.
std::vector<std::pair<size_t, size_t>> pattern_spans(const ScanDatabase& tracked,
                                                     const ScanDatabase& ends_only,
                                                     const std::string& text) {
  std::vector<PatternMatch> with_start;
  std::vector<PatternMatch> ends;
  EXPECT_TRUE(tracked.scan(text, with_start));
  EXPECT_TRUE(ends_only.scan(text, ends));
  std::map<size_t, size_t> leftmost;
  for (const PatternMatch& m : with_start) {
    auto [it, added] = leftmost.emplace(m.end, m.begin);
    if (!added) it->second = std::min(it->second, m.begin);
  }
  std::vector<std::pair<size_t, size_t>> out;
  for (const PatternMatch& m : ends) {
    EXPECT_TRUE(leftmost.contains(m.end)) << text;
    out.emplace_back(m.end, leftmost[m.end]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AnchorFinder, FindsExactlyWhatThePatternMatches) {
  const Detector* aws = nullptr;
  for (const Detector& d : builtin_detectors()) {
    if (d.name == "aws_access_key") aws = &d;
  }
  ASSERT_TRUE(aws != nullptr);
  // The table hands the key to the finder; the finder's pattern is the detector's own.
  EXPECT_TRUE(aws->found_in_code);
  EXPECT_EQ(aws->pattern, kAwsAccessKeyPattern);
  auto aws_tracked = ScanDatabase::compile({{std::string(aws->pattern), false, true}});
  auto aws_ends = ScanDatabase::compile({{std::string(aws->pattern), false, false}});
  ASSERT_TRUE(aws_tracked && aws_ends);

  std::mt19937 rng(5);
  std::vector<std::string> texts;
  for (int i = 0; i < 6000; ++i) texts.push_back(anchor_text(rng));
  texts.push_back("AKIAIOSFODNN7EXAMPLE");
  texts.push_back("x@y");
  texts.push_back("@a");
  texts.push_back("key=AKIAIOSFODNN7EXAMPLE, mail jane.doe+x@example.org.");
  size_t keys = 0;
  for (bool avx2 : {true, false}) {
    allow_avx2_for_anchors(avx2);
    for (const std::string& text : texts) {
      std::vector<PatternMatch> got;
      find_anchored(text, {.aws_access_key = 1}, got);
      // Increasing end order, as the contract says.
      size_t last = 0;
      for (const PatternMatch& m : got) {
        EXPECT_GE(m.end, last) << text;
        last = m.end;
      }
      auto want_aws = pattern_spans(**aws_tracked, **aws_ends, text);
      ASSERT_EQ(spans(got, 1), want_aws) << "avx2 " << avx2 << " text: [" << text << "]";
      ASSERT_EQ(got.size(), want_aws.size());
      keys += want_aws.size();
      // The pattern left out (its id kNone) reports nothing.
      std::vector<PatternMatch> none;
      find_anchored(text, {}, none);
      EXPECT_TRUE(none.empty());
    }
  }
  allow_avx2_for_anchors(true);
  // The generator must reach the pattern often, or this proves little.
  EXPECT_GT(keys, 1000u);
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
