// NameGazetteer must find exactly what the name_gazetteer detector's vectorscan pattern finds
// (every end, each with its leftmost start), on text built to sit at its edges.

#include "classify/sensitivity/name_gazetteer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/scan_database.h"
#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {
namespace {

// (end, begin) of each match, sorted.
std::vector<std::pair<size_t, size_t>> spans(const std::vector<PatternMatch>& matches) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const PatternMatch& m : matches) out.emplace_back(m.end, m.begin);
  std::sort(out.begin(), out.end());
  return out;
}

// Random text of names, surnames and the bytes around them, up to `max_size` bytes.
std::string random_text(std::mt19937& rng, const std::vector<std::string>& names, size_t max_size) {
  const char* pieces[] = {" ",        "  ",      "_",   "-",      "9",     "\n",    ". ",
                          "\xc3\xbc", "Smith",   "Sm",  "Smi",    "SMITH", "smith", "x",
                          "Xy",       "Annabel", "Mr ", "O'Neil", "\t"};
  std::string text;
  size_t size = rng() % max_size;
  while (text.size() < size) {
    if (rng() % 3 == 0) {
      text += names[rng() % names.size()];
      const char* after[] = {" Smith", " Sm", " Smi", " SMITH", " Xy", " Xyz", "  Smith", " "};
      if (rng() % 2 == 0) text += after[rng() % std::size(after)];
    } else {
      text += pieces[rng() % std::size(pieces)];
    }
  }
  return text;
}

std::vector<std::string> split(std::string_view alternation) {
  std::vector<std::string> names;
  for (size_t from = 0; from < alternation.size();) {
    size_t bar = std::min(alternation.find('|', from), alternation.size());
    names.emplace_back(alternation.substr(from, bar - from));
    from = bar + 1;
  }
  return names;
}

// The gazetteer against the pattern built from `alternation` as detector_table.cpp builds it,
// on `rounds` random texts of up to `max_size` bytes; returns the matches found.
int compare_with_pattern(std::string_view alternation, int rounds, size_t max_size) {
  const std::string pattern =
      std::string(R"(\b(?:)") + std::string(alternation) + R"()[ ][A-Z][a-z]{2})";
  auto database = ScanDatabase::compile({{pattern, false}});
  EXPECT_TRUE(database.has_value());
  if (!database) return 0;
  NameGazetteer code(alternation);
  const std::vector<std::string> names = split(alternation);
  std::mt19937 rng(static_cast<unsigned>(rounds + max_size));
  int found = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string text = random_text(rng, names, max_size);
    std::vector<PatternMatch> expected;
    EXPECT_TRUE((*database)->scan(text, expected));
    std::vector<PatternMatch> got;
    code.find(text, 0, got);
    EXPECT_EQ(spans(got), spans(expected)) << "text: [" << text << "]";
    if (spans(got) != spans(expected)) return found;
    found += static_cast<int>(got.size());
  }
  return found;
}

// Texts past the SIMD pass's 4 KB chunks, and names that end in a capital or a digit (the
// pass's test of the byte before the space is off for them).
TEST(NameGazetteer, LongTextsAndNamesNotEndingInLowerCase) {
  EXPECT_GT(compare_with_pattern(first_name_alternation(), 40, 12000), 1000);
  EXPECT_GT(compare_with_pattern("Anna|Zoë|Bo", 400, 600), 300);
  EXPECT_GT(compare_with_pattern("Anna|JR|R2D2|Bo", 400, 600), 300);
}

TEST(NameGazetteer, FindsExactlyWhatThePatternMatches) {
  const Detector* gazetteer = nullptr;
  for (const Detector& d : builtin_detectors()) {
    if (d.name == "name_gazetteer") gazetteer = &d;
  }
  ASSERT_NE(gazetteer, nullptr);
  EXPECT_TRUE(gazetteer->found_in_code);
  EXPECT_FALSE(gazetteer->caseless);
  EXPECT_EQ(gazetteer->pattern, std::string(R"(\b(?:)") + std::string(first_name_alternation()) +
                                    R"()[ ][A-Z][a-z]{2})");
  // The comparison has teeth: many matches, on short texts at every edge.
  EXPECT_GT(compare_with_pattern(first_name_alternation(), 4000, 120), 1000);
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
