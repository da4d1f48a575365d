// The street-address detectors are compiled without start-of-match tracking and find each
// match's start in code (Detector::find_start): that start must be exactly the leftmost one
// vectorscan reports for the same pattern with tracking, for every end it reports.

#include "classify/sensitivity/detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {
namespace {

// Random texts under 256 bytes (so the start finder's window is the whole text) built from
// the pieces the three street patterns are made of, with near misses: house numbers of 1-6
// digits, capitalised and other words, suffixes glued or not, French types and articles,
// German compounds with "ß", commas, dots and other separators.
std::string street_text(std::mt19937& rng) {
  static const char* kPieces[] = {
      "12",      "7",       "221",      "12345",  "123456", "4b",      "9B",      ",",
      " ",       "  ",      ".",        "-",      "_",      "x",       "Baker",   "Main",
      "Old",     "Kent",    "St",       "Street", "Rd",     "Dr",      "Way",     "Gardens",
      "Ave",     "Pkwy",    "Close",    "street", "MainStreet", "A",   "Hauptstrasse",
      "Bahnhofstra\xc3\x9f" "e", "Ring",  "ring",  "Am",     "weg",     "Lindenweg", "Marktplatz",
      "damm",    "Gasse",   "rue",      "avenue", "boulevard", "place", "chemin",  "all\xc3\xa9" "e",
      "de ",     "du ",     "des ",     "de la ", "d'",     "Rivoli",  "Hugo",    "Arc",
      "\xc3\xa9t\xc3\xa9", "bis",  "ter",      "Lyon",   "the",    "of",      "1st",     "\n"};
  static const char* kNumbers[] = {"1", "12", "221", "4711", "12345", "123456", "7b", "9B"};
  static const char* kWords[] = {"Baker", "Old", "Kent", "Main", "Rivoli", "Hugo", "the", "Am"};
  static const char* kEnds[] = {"Street", "St", "Rd", "Way", "Gardens", "Dr.", "Pkwy", "Lane"};
  static const char* kGerman[] = {"Hauptstrasse", "Bahnhofstra\xc3\x9f" "e", "Lindenweg",
                                  "M\xc3\xbcllerdamm", "Ring", "Xweg", "Marktplatz"};
  static const char* kFrench[] = {"rue", "avenue", "place", "all\xc3\xa9" "e", "chemin"};
  static const char* kArticles[] = {"", "de ", "du ", "des ", "de la ", "d'", "le "};
  auto pick = [&](const auto& list) { return std::string(list[rng() % std::size(list)]); };
  auto sep = [&] { return std::string(rng() % 8 == 0 ? (rng() % 2 ? "  " : ",") : " "); };
  std::string s;
  size_t n = 10 + rng() % 200;
  while (s.size() < n) {
    switch (rng() % 5) {
      case 0: {  // English: number, words, suffix
        s += pick(kNumbers) + (rng() % 4 == 0 ? "," : "") + sep();
        for (unsigned w = 0, k = rng() % 5; w < k; ++w) s += pick(kWords) + sep();
        s += pick(kEnds);
        break;
      }
      case 1:  // German: compound, number
        s += pick(kGerman) + sep() + pick(kNumbers);
        break;
      case 2: {  // French: number, bis/ter, type, article, name
        s += pick(kNumbers) + (rng() % 4 == 0 ? (rng() % 2 ? " bis" : " ter") : "") +
             (rng() % 4 == 0 ? "," : "") + sep() + pick(kFrench) + sep() + pick(kArticles) +
             pick(kWords);
        break;
      }
      default:
        s += kPieces[rng() % std::size(kPieces)];
    }
    if (rng() % 3 == 0) s.push_back(' ');
  }
  if (s.size() > 250) s.resize(250);
  return s;
}

// Every end the pattern reports (without start tracking) on `texts`: find_start's start must
// be vectorscan's leftmost tracked start. Returns how many ends were compared.
size_t compare_starts(const Detector& d, const std::vector<std::string>& texts) {
  auto tracked = ScanDatabase::compile({{std::string(d.pattern), d.caseless, true}});
  auto ends_only = ScanDatabase::compile({{std::string(d.pattern), d.caseless, false}});
  EXPECT_TRUE(tracked.has_value() && ends_only.has_value()) << d.pattern;
  if (!tracked || !ends_only) return 0;
  size_t compared = 0;
  for (const std::string& text : texts) {
    std::vector<PatternMatch> with_start;
    std::vector<PatternMatch> ends;
    EXPECT_TRUE((*tracked)->scan(text, with_start));
    EXPECT_TRUE((*ends_only)->scan(text, ends));
    std::map<size_t, size_t> leftmost;  // end -> leftmost start
    for (const PatternMatch& m : with_start) {
      auto [it, added] = leftmost.emplace(m.end, m.begin);
      if (!added) it->second = std::min(it->second, m.begin);
    }
    EXPECT_EQ(ends.size(), with_start.size()) << text;
    for (const PatternMatch& m : ends) {
      EXPECT_TRUE(leftmost.contains(m.end)) << text;
      EXPECT_EQ(d.find_start(text, m.end), leftmost[m.end])
          << d.pattern << "\ntext: " << text << "\nend: " << m.end;
      ++compared;
    }
  }
  return compared;
}

// Texts made of the date-of-birth, name-cue and SSN-context keywords in mixed case, with the
// separators, values and near misses around them.
std::string keyword_text(std::mt19937& rng) {
  static const char* kPieces[] = {
      "date of birth", "DOB",     "dob",       "d.o.b.",   "D.O.B",    "born",     "Born on",
      "born in",       "birth date", "birthdate", "Birthday", "geburtsdatum", "geboren am",
      "fecha de nacimiento", "nacido el", "date de naissance", "my name is", "Name is", "name:",
      "signed",        "Signed:",  "regards,",  "sincerely,", "Dear",    "patient:", "customer:",
      "client:",       "contact:", "Mr",        "Mr.",      "mrs.",     "Ms",       "miss",
      "Dr.",           "prof.",    "Herr",      "Frau",     "ssn",      "SSN",      "social security",
      "Social Security number", "social security no.", "social security #", "Smith", "Jo",
      "x",             "_",        "12",        "1985",     "03/04/1990", "March",  "123",
      "45",            "6789",     "123-45-6789", "123 45 6789", "1234567890", "#", ":", "-",
      ",",             ".",        " ",         "  ",       "   ",      "\n",       "e"};
  static const char* kSsnWords[] = {"ssn", "SSN", "social security", "Social Security number",
                                     "social security no", "social security no.",
                                     "social security #", "xssn", "social_security"};
  static const char* kNumbers[] = {"123-45-6789", "123 45 6789", "123456789", "123-456789",
                                   "12-345-6789", "1234-56-7890", "123--45-6789"};
  std::string s;
  size_t n = 10 + rng() % 200;
  while (s.size() < n) {
    if (rng() % 3 == 0) {  // an SSN after its keyword and 0-6 non-word bytes
      s += kSsnWords[rng() % std::size(kSsnWords)];
      for (unsigned k = 0, w = rng() % 7; k < w; ++k) s.push_back(" :#.-\n("[rng() % 7]);
      s += kNumbers[rng() % std::size(kNumbers)];
    } else {
      s += kPieces[rng() % std::size(kPieces)];
    }
    if (rng() % 2 == 0) s.push_back(' ');
  }
  if (s.size() > 250) s.resize(250);
  return s;
}

TEST(KeywordStarts, FoundInCodeAsVectorscanTracksThem) {
  std::mt19937 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 6000; ++i) texts.push_back(keyword_text(rng));
  int detectors = 0;
  for (const Detector& d : builtin_detectors()) {
    bool keyword_led = d.name == "date_of_birth" || d.name == "name_context" ||
                       (d.name == "us_ssn" && !d.region_scanned);
    if (!keyword_led) continue;
    ++detectors;
    ASSERT_NE(d.find_start, nullptr) << d.pattern;
    EXPECT_GT(compare_starts(d, texts), 500u) << d.pattern;
  }
  EXPECT_EQ(detectors, 3);
}

TEST(StreetStarts, FoundInCodeAsVectorscanTracksThem) {
  std::span<const Detector> builtins = builtin_detectors();
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int i = 0; i < 6000; ++i) texts.push_back(street_text(rng));
  texts.push_back("Visit 221B Baker Street. Or 12, Old Kent Road and 5 Main St.");
  texts.push_back("Hauptstra\xc3\x9f" "e 5a, Am Lindenweg 12 und M\xc3\xbcllerstrasse 7");
  texts.push_back("au 10 bis, rue de la Paix et 3 all\xc3\xa9" "e d'Arc");
  int detectors = 0;
  for (const Detector& d : builtins) {
    if (d.name != "street_address") continue;
    ++detectors;
    ASSERT_NE(d.find_start, nullptr) << d.pattern;
    auto tracked = ScanDatabase::compile({{std::string(d.pattern), d.caseless, true}});
    auto ends_only = ScanDatabase::compile({{std::string(d.pattern), d.caseless, false}});
    ASSERT_TRUE(tracked.has_value() && ends_only.has_value()) << d.pattern;
    size_t compared = 0;
    for (const std::string& text : texts) {
      std::vector<PatternMatch> with_start;
      std::vector<PatternMatch> ends;
      ASSERT_TRUE((*tracked)->scan(text, with_start));
      ASSERT_TRUE((*ends_only)->scan(text, ends));
      std::map<size_t, size_t> leftmost;  // end -> leftmost start
      for (const PatternMatch& m : with_start) {
        auto [it, added] = leftmost.emplace(m.end, m.begin);
        if (!added) it->second = std::min(it->second, m.begin);
      }
      ASSERT_EQ(ends.size(), with_start.size()) << text;
      for (const PatternMatch& m : ends) {
        ASSERT_TRUE(leftmost.contains(m.end)) << text;
        EXPECT_EQ(d.find_start(text, m.end), leftmost[m.end])
            << d.pattern << "\ntext: " << text << "\nend: " << m.end;
        ++compared;
      }
    }
    // The generator must reach each pattern often, or this proves little.
    EXPECT_GT(compared, 800u) << d.pattern;
  }
  EXPECT_EQ(detectors, 3);
}

}  // namespace
}  // namespace sy::policies::sensitivity_detail
