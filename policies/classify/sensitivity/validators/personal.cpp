// Dates of birth (a date right after a birth cue), person names (after an honorific or a cue
// such as "my name is", or a gazetteer first name followed by a capitalised surname) and
// street addresses. Gazetteer and context only: lower confidence than checksummed IDs.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};

// 1..12 if `word` is a month name or its three-letter abbreviation (English), else 0.
int month_of(std::string_view word) {
  // The longest name is nine letters: longer words are no month (lowered on the stack).
  if (word.size() < 3 || word.size() > 9) return 0;
  char buffer[9];
  for (size_t i = 0; i < word.size(); ++i) buffer[i] = lower(word[i]);
  std::string_view w(buffer, word.size());
  if (w == "sept") return 9;
  for (size_t m = 0; m < kMonths.size(); ++m) {
    if (w.compare(0, 3, kMonths[m]) == 0) {
      static constexpr std::array<std::string_view, 12> kFull = {
          "january", "february", "march",     "april",   "may",      "june",
          "july",    "august",   "september", "october", "november", "december"};
      if (w.size() == 3 || w == kFull[m]) return static_cast<int>(m + 1);
    }
  }
  return 0;
}

bool valid_date(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1]) return false;
  return year < 100 || (year >= 1900 && year <= 2030);
}

struct Token {
  size_t begin, end;
  bool digits;
};

std::vector<Token> tokens_of(std::string_view text, size_t begin, size_t end) {
  std::vector<Token> out;
  out.reserve((end - begin) / 2 + 1);  // one allocation: tokens are 1+ bytes apart
  for (size_t i = begin; i < end;) {
    if (is_alnum(text[i])) {
      size_t j = i;
      bool digits = is_digit(text[i]);
      while (j < end && is_alnum(text[j]) && is_digit(text[j]) == digits) ++j;
      out.push_back({i, j, digits});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

int number(std::string_view text, const Token& t) {
  if (t.end - t.begin > 4) return -1;
  // A digit token of at most four digits: its value by hand (was std::stoi on a copy).
  int v = 0;
  for (size_t i = t.begin; i < t.end; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

bool is_ordinal_suffix(std::string_view s) {
  if (s.size() != 2) return false;
  const char w[2] = {lower(s[0]), lower(s[1])};
  std::string_view v(w, 2);
  return v == "st" || v == "nd" || v == "rd" || v == "th";
}

constexpr std::string_view kStopWords[] = {
    "The",    "A",         "An",         "And",       "Or",        "But",     "If",
    "In",     "On",        "At",         "To",        "For",       "Of",      "With",
    "From",   "By",        "Is",         "Are",       "Was",       "Were",    "This",
    "That",   "These",     "Those",      "It",        "He",        "She",     "They",
    "We",     "You",       "I",          "Street",    "Road",      "Avenue",  "Lane",
    "Drive",  "Monday",    "Tuesday",    "Wednesday", "Thursday",  "Friday",  "Saturday",
    "Sunday", "January",   "February",   "March",     "April",     "June",    "July",
    "August", "September", "October",    "November",  "December",  "Inc",     "Ltd",
    "Corp",   "Company",   "University", "Hospital",  "Bank",      "Hotel",   "Park",
    "River",  "Lake",      "Airport",    "Station",   "School",    "College", "Church",
    "Center", "Centre",    "Team",       "Group",     "Please",    "Thanks",  "Hello",
    "Hi",     "Dear",      "Regards",    "Best",      "Sincerely", "Name",    "Is",
    "My",     "Our",       "Your",       "His",       "Her",       "Their",   "Not",
};

constexpr std::string_view kHonorifics[] = {"Mr",   "Mrs",  "Ms",   "Miss", "Dr",  "Prof",
                                            "Herr", "Frau", "Sr",   "Sra",  "Mme", "Mlle",
                                            "Sir",  "Dame", "Lord", "Lady"};

// A fixed word list bucketed by first byte and length: a name check compares a word with the
// one or two list words of its bucket instead of all of them (the stop-word list has 98).
class WordSet {
 public:
  explicit WordSet(std::span<const std::string_view> words) {
    for (std::string_view w : words) buckets_[key(w)].push_back(w);
  }
  bool contains(std::string_view word) const {
    if (word.empty()) return false;
    for (std::string_view w : buckets_[key(word)]) {
      if (w == word) return true;
    }
    return false;
  }

 private:
  static size_t key(std::string_view w) {
    return (static_cast<uint8_t>(w[0]) * 7u + w.size()) % kBuckets;
  }
  static constexpr size_t kBuckets = 128;
  std::array<std::vector<std::string_view>, kBuckets> buckets_;
};

bool is_stop_word(std::string_view word) {
  static const WordSet set(kStopWords);
  return set.contains(word);
}
bool is_honorific(std::string_view word) {
  static const WordSet set(kHonorifics);
  return set.contains(word);
}

bool capitalised(std::string_view word) {
  if (word.size() < 2 || word[0] < 'A' || word[0] > 'Z') return false;
  for (size_t i = 1; i < word.size(); ++i) {
    if (word[i] < 'a' || word[i] > 'z') return false;
  }
  return true;
}

}  // namespace

std::optional<Hit> validate_date_of_birth(std::string_view text, size_t begin, size_t end) {
  std::vector<Token> tokens = tokens_of(text, begin, end);
  // The date is the last three date-like tokens: find the first digit token, or a month
  // name right before it ("March 3, 1985").
  size_t first = 0;
  while (first < tokens.size() && !tokens[first].digits) ++first;
  if (first == tokens.size()) return std::nullopt;
  auto word = [&](size_t i) {
    return text.substr(tokens[i].begin, tokens[i].end - tokens[i].begin);
  };
  if (first > 0 && month_of(word(first - 1)) != 0) --first;
  std::array<size_t, 3> parts;  // token indices of the date, ordinal suffixes dropped
  size_t found = 0;
  for (size_t i = first; i < tokens.size() && found < 3; ++i) {
    if (!tokens[i].digits && is_ordinal_suffix(word(i))) continue;
    parts[found++] = i;
  }
  if (found != 3) return std::nullopt;
  end = tokens[parts[2]].end;
  const Token& a = tokens[parts[0]];
  const Token& b = tokens[parts[1]];
  const Token& c = tokens[parts[2]];
  bool ok = false;
  if (a.digits && b.digits && c.digits) {
    int x = number(text, a), y = number(text, b), z = number(text, c);
    if (a.end - a.begin == 4) {
      ok = valid_date(x, y, z);  // y-m-d
    } else {
      ok = valid_date(z, y, x) || valid_date(z, x, y);  // d/m/y or m/d/y
    }
  } else if (a.digits && !b.digits && c.digits) {
    ok = valid_date(number(text, c), month_of(word(parts[1])), number(text, a));
  } else if (!a.digits && b.digits && c.digits) {
    ok = valid_date(number(text, c), month_of(word(parts[0])), number(text, b));
  }
  if (!ok) return std::nullopt;
  return Hit{a.begin, end, 0.85};
}

std::optional<Hit> validate_name_after_cue(std::string_view text, size_t begin, size_t end) {
  // Collect capitalised words backwards from the end; stop at the cue or an honorific.
  size_t start = end;
  size_t i = end;
  int words = 0;
  bool after_honorific = false;
  while (i > begin) {
    size_t j = i;
    while (j > begin && is_alnum(text[j - 1])) --j;
    std::string_view w = text.substr(j, i - j);
    if (is_honorific(w)) {
      after_honorific = true;
      break;
    }
    if (!capitalised(w) || is_stop_word(w)) break;
    start = j;
    ++words;
    if (j == begin || (text[j - 1] != ' ' && text[j - 1] != '-')) break;
    i = j - 1;
  }
  if (words == 0 || words > 3) return std::nullopt;
  if (!after_honorific && start >= 3 && text[start - 1] == ' ' && text[start - 2] == '.') {
    size_t word_end = start - 2;  // "Dr. Smith": the honorific ends with a dot
    size_t word_begin = word_end;
    while (word_begin > 0 && is_alnum(text[word_begin - 1])) --word_begin;
    after_honorific = is_honorific(text.substr(word_begin, word_end - word_begin));
  }
  return Hit{start, end, after_honorific ? 0.7 : 0.65};
}

std::optional<Hit> validate_name_gazetteer(std::string_view text, size_t begin, size_t end) {
  size_t space = text.find_first_of(" \t\n", begin);
  if (space == std::string_view::npos || space >= end) return std::nullopt;
  if (!standalone(text, begin, end)) return std::nullopt;
  std::string_view surname = text.substr(space + 1, end - space - 1);
  if (is_stop_word(surname) || !capitalised(surname)) return std::nullopt;
  return Hit{begin, end, 0.55};
}

std::optional<Hit> validate_street_address(std::string_view text, size_t begin, size_t end) {
  while (end > begin && (text[end - 1] == '.' || text[end - 1] == ',')) --end;
  return Hit{begin, end, 0.65};
}

std::string_view first_name_alternation() {
  return "James|John|Robert|Michael|William|David|Richard|Joseph|Thomas|Charles|Christopher|"
         "Daniel|Matthew|Anthony|Donald|Steven|Paul|Andrew|Joshua|Kenneth|Kevin|Brian|George|"
         "Timothy|Ronald|Edward|Jason|Jeffrey|Ryan|Jacob|Gary|Nicholas|Eric|Jonathan|Stephen|"
         "Larry|Justin|Scott|Brandon|Benjamin|Samuel|Gregory|Alexander|Patrick|Jack|Dennis|"
         "Jerry|Tyler|Aaron|Henry|Peter|Mary|Patricia|Jennifer|Linda|Elizabeth|Barbara|Susan|"
         "Jessica|Sarah|Karen|Nancy|Lisa|Margaret|Sandra|Ashley|Kimberly|Emily|Donna|"
         "Michelle|Carol|Amanda|Dorothy|Melissa|Deborah|Stephanie|Rebecca|Sharon|Laura|"
         "Cynthia|Kathleen|Amy|Angela|Shirley|Anna|Brenda|Pamela|Emma|Nicole|Helen|Samantha|"
         "Katherine|Christine|Debra|Rachel|Carolyn|Janet|Catherine|Maria|Heather|Diane|Julie|"
         "Olivia|Sophia|Isabella|Charlotte|Amelia|Mia|Harper|Evelyn|Liam|Noah|Oliver|Elijah|"
         "Lucas|Mason|Logan|Ethan|Aiden|Jackson|Sebastian|Mateo|Luca|Giulia|Francesca|Marco|"
         "Giuseppe|Alessandro|Sofia|Lukas|Leon|Finn|Jonas|Hannah|Lena|Klaus|Jürgen|Wolfgang|"
         "Stefan|Andreas|Sabine|Ursula|Monika|Pierre|Jean|Marie|Camille|Louis|Antoine|"
         "Javier|Carlos|Alejandro|Lucia|Carmen|Pablo|Diego|Ana|Priya|Rahul|Amit|Anjali|"
         "Arjun|Aarav|Wei|Ming|Hiroshi|Yuki|Haruto|Sakura|Ahmed|Mohammed|Fatima|Ali|Omar|"
         "Aisha|Olga|Ivan|Dmitri|Sergei|Natalia|Svetlana|Piotr|Anna|Katarzyna|Tomasz|"
         "Lars|Erik|Ingrid|Sven|Astrid|Sean|Siobhan|Liam|Ciara|Aoife";
}

}  // namespace sy::policies::sensitivity_detail
