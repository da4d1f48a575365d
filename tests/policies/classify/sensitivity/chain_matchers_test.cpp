// The digit-chain (and IBAN, NINO) patterns matched in code against the same patterns in
// vectorscan: on random
// digit-heavy text, every detector's code matches must be exactly vectorscan's leftmost-start
// matches (same begin and end for every end offset), or the region scan would change findings.

#include "classify/sensitivity/chain_matchers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sy::policies::sensitivity_detail {
namespace {

using Spans = std::vector<std::pair<size_t, size_t>>;

Spans sorted(const std::vector<PatternMatch>& matches) {
  Spans out;
  for (const PatternMatch& m : matches) out.emplace_back(m.begin, m.end);
  std::sort(out.begin(), out.end());
  return out;
}

// Digit groups of every length the layouts care about, joined by the separators they allow
// and by ones they do not, with word bytes, '(' and ')' and "00"/"0" heads mixed in.
std::string random_text(std::mt19937& rng) {
  const char* joins[] = {" ", " ", "-", "-", ".",  "/",  "  ", ") ", ")-",
                         "(", "_", "a", "Z", ", ", "x(", " (", "GB", "b"};
  const char* heads[] = {"00", "0", "001", "(2", "4", "9"};
  // Shapes of the fixed layouts ('d' a digit, '#' 2-9, 'S' any separator), perturbed below.
  const char* shapes[] = {"ddd-dd-dddd", "ddd dd dddd", "(#dd) ddd-dddd", "#dd.ddd.dddd",
                          "#dd-ddd dddd", "ddd ddd dddd", "#d ddd ddd ddd", "#ddd dddd dddd",
                          "ddd-ddd-ddd", "dddSddSdddd", "(#ddS#ddSdddd",
                          // IBAN and NINO ('C' a capital, 'A' A-D, 'x' a capital or digit)
                          "CCdd dddd dddd dddd dddd dd", "CCddxxxxxxxxxxxxxxxx", "CCdd xxxx xxxx x",
                          "CCdd xxxx xxxx xxxx xxxx xxxx xxxx xxxx xx", "CC dd dd dd A",
                          "CCddddddA", "CC dddddd A", "CCdd ddA"};
  const char separators[] = " -./)(";
  std::string s;
  size_t n = 4 + rng() % 80;
  while (s.size() < n) {
    if (rng() % 3 == 0) {
      for (const char* c = shapes[rng() % std::size(shapes)]; *c; ++c) {
        if (*c == 'd') {
          s.push_back(static_cast<char>('0' + rng() % 10));
        } else if (*c == '#') {
          s.push_back(static_cast<char>('2' + rng() % 8));
        } else if (*c == 'S') {
          s.push_back(separators[rng() % 6]);
        } else if (*c == 'C') {
          s.push_back(static_cast<char>('A' + rng() % 26));
        } else if (*c == 'A') {
          s.push_back(static_cast<char>('A' + rng() % 4));
        } else if (*c == 'x') {
          s.push_back(rng() % 2 ? static_cast<char>('A' + rng() % 26)
                                : static_cast<char>('0' + rng() % 10));
        } else {
          s.push_back(*c);
        }
        if (rng() % 40 == 0) s.push_back(static_cast<char>('0' + rng() % 10));  // one too many
      }
      s += joins[rng() % std::size(joins)];
      continue;
    }
    if (rng() % 5 == 0) s += heads[rng() % std::size(heads)];
    unsigned length = 1 + rng() % 6;
    if (rng() % 8 == 0) length = 7 + rng() % 14;  // long runs: single-group cards, IDs
    for (unsigned i = 0; i < length; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
    s += joins[rng() % std::size(joins)];
  }
  return s;
}

TEST(ChainMatchers, MatchExactlyWhatTheVectorscanPatternsMatch) {
  std::mt19937 rng(2024);
  std::vector<std::string> texts;
  for (int i = 0; i < 8000; ++i) texts.push_back(random_text(rng));
  int detectors = 0;
  for (const Detector& d : builtin_detectors()) {
    auto kind = chain_pattern_for(d);
    if (!kind) continue;
    ++detectors;
    auto database = ScanDatabase::compile({{std::string(d.pattern), d.caseless}});
    ASSERT_TRUE(database.has_value()) << d.name;
    std::vector<ChainMatcher> matchers = {{*kind, 0}};
    size_t total = 0;
    for (const std::string& text : texts) {
      std::vector<PatternMatch> expected;
      ASSERT_TRUE((*database)->scan(text, expected));
      std::vector<PatternMatch> got;
      match_chains(text, ByteRange{0, text.size()}, matchers, got);
      // ScanDatabase avoids vectorscan's alignment-dependent AVX-512 misses
      // (scan_database_test.cpp), so one scan is the reference.
      ASSERT_EQ(sorted(got), sorted(expected))
          << d.name << " /" << d.pattern << "/ on [" << text << "]";
      total += expected.size();
    }
    // Each pattern matched often enough for the comparison to mean something.
    EXPECT_GT(total, 300u) << d.name;
    std::printf("%-16s %zu matches\n", std::string(d.name).c_str(), total);
  }
  EXPECT_EQ(detectors, 11);
}

// A region is matched as if it were the whole text: the bytes around it do not count.
TEST(ChainMatchers, MatchInsideARegionOnly) {
  std::string text = "x4111 1111 1111 1111y 536-22-1234";
  std::vector<ChainMatcher> card = {{ChainPattern::card, 3}};
  std::vector<PatternMatch> got;
  match_chains(text, ByteRange{1, 20}, card, got);
  // Every end: after 12 digits and after 16, both from the region's first digit.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].id, 3u);
  EXPECT_EQ(got[0].begin, 1u);
  EXPECT_EQ(got[0].end, 15u);
  EXPECT_EQ(got[1].begin, 1u);
  EXPECT_EQ(got[1].end, 20u);
  got.clear();
  match_chains(text, ByteRange{22, text.size()}, {{ChainPattern::ssn, 0}}, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(text.substr(got[0].begin, got[0].end - got[0].begin), "536-22-1234");
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
