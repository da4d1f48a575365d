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

TEST(NameGazetteer, FindsExactlyWhatThePatternMatches) {
  const Detector* gazetteer = nullptr;
  for (const Detector& d : builtin_detectors()) {
    if (d.name == "name_gazetteer") gazetteer = &d;
  }
  ASSERT_NE(gazetteer, nullptr);
  EXPECT_TRUE(gazetteer->found_in_code);
  auto database = ScanDatabase::compile({{std::string(gazetteer->pattern), gazetteer->caseless}});
  ASSERT_TRUE(database.has_value());
  NameGazetteer code(first_name_alternation());

  std::vector<std::string> names;
  std::string_view all = first_name_alternation();
  for (size_t from = 0; from < all.size();) {
    size_t bar = std::min(all.find('|', from), all.size());
    names.emplace_back(all.substr(from, bar - from));
    from = bar + 1;
  }
  const char* pieces[] = {" ",     "  ",   "_",    "-",     "9",    "\n",  ". ",   "\xc3\xbc",
                          "Smith", "Sm",   "Smi",  "SMITH", "smith", "x",  "Xy",   "Annabel",
                          "Mr ",   "O'Neil", "\t"};
  std::mt19937 rng(3);
  int found = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text;
    size_t size = rng() % 120;
    while (text.size() < size) {
      if (rng() % 3 == 0) {
        text += names[rng() % names.size()];
        const char* after[] = {" Smith", " Sm", " Smi", " SMITH", " Xy", " Xyz", "  Smith", " "};
        if (rng() % 2 == 0) text += after[rng() % std::size(after)];
      } else {
        text += pieces[rng() % std::size(pieces)];
      }
    }
    std::vector<PatternMatch> expected;
    ASSERT_TRUE((*database)->scan(text, expected));
    std::vector<PatternMatch> got;
    code.find(text, 0, got);
    ASSERT_EQ(spans(got), spans(expected)) << "text: [" << text << "]";
    found += static_cast<int>(got.size());
  }
  EXPECT_GT(found, 1000);  // the comparison has teeth
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
