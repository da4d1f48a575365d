// The digit-chain patterns in code (see chain_matchers.h). A region is cut into its digit groups
// (maximal digit runs); every pattern starts at a group's first digit (\b, or the '(' before
// it) and ends at a group's last digit (\b), so each pattern is a rule on a run of groups: their
// lengths, the bytes between them, the first digits.

#include "classify/sensitivity/chain_matchers.h"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace sy::policies::sensitivity_detail {

namespace {

struct Group {
  size_t begin;
  size_t end;
  size_t length() const { return end - begin; }
};

bool digit(char c) { return c >= '0' && c <= '9'; }
bool word_byte(char c) {
  return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Separator sets as bits, so that a test is one table load (std::string_view::find was most of
// the matchers' time).
enum : uint8_t { kSpace = 1, kDash = 2, kDot = 4, kSlash = 8 };
constexpr std::array<uint8_t, 256> kSeparator = [] {
  std::array<uint8_t, 256> t{};
  t[' '] = kSpace;
  t['-'] = kDash;
  t['.'] = kDot;
  t['/'] = kSlash;
  return t;
}();
bool in(char c, uint8_t set) { return (kSeparator[static_cast<uint8_t>(c)] & set) != 0; }

struct Layout {
  uint32_t chunk_ends;  // bit n: a chunk ends after n digits (the last chunk's end excluded)
  size_t digits;        // all chunks
  uint8_t separators;   // one of these (kSpace...) may stand between two chunks
  char first_low;       // the first digit's range
  char first_high;
};

constexpr Layout make_layout(std::initializer_list<size_t> chunks, uint8_t separators, char low,
                             char high) {
  Layout l{0, 0, separators, low, high};
  for (size_t c : chunks) {
    if (l.digits > 0) l.chunk_ends |= uint32_t{1} << l.digits;
    l.digits += c;
  }
  return l;
}

// nhs, de_tax, aadhaar, ca_sin: fixed chunk lengths with an optional single separator between
// chunks, nothing else.
constexpr Layout kNhs = make_layout({3, 3, 4}, kSpace | kDash, '0', '9');
constexpr Layout kDeTax = make_layout({2, 3, 3, 3}, kSpace, '1', '9');
constexpr Layout kAadhaar = make_layout({4, 4, 4}, kSpace | kDash, '2', '9');
constexpr Layout kCaSin = make_layout({3, 3, 3}, kSpace | kDash, '0', '9');

class RegionMatcher {
 public:
  RegionMatcher(std::string_view text, const ByteRange& region, std::vector<Group>& groups)
      : text_(text), b_(region.begin), e_(region.end), groups_(groups) {
    groups_.clear();
    for (size_t i = b_; i < e_;) {
      if (!digit(text_[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < e_ && digit(text_[j])) ++j;
      groups_.push_back({i, j});
      lengths_ |= uint64_t{1} << std::min<size_t>(j - i, 63);
      if (text_[i] == '0') {
        zero_led_ |= uint64_t{1} << std::min<size_t>(j - i, 63);
        if (j - i >= 3 && text_[i + 1] == '0') double_zero_ = true;
      }
      i = j;
    }
  }

  void run(const ChainMatcher& m, std::vector<PatternMatch>& out) const {
    switch (m.pattern) {
      case ChainPattern::card:
        card(m.id, out);
        break;
      // Each pattern below needs groups that the region may lack (checked from the group
      // lengths seen, before any walk over the groups): most regions have none of them.
      case ChainPattern::ssn:
        if (has_lengths({3, 2, 4})) ssn(m.id, out);
        break;
      case ChainPattern::phone_00:
        if (double_zero_) phone_00(m.id, out);
        break;
      case ChainPattern::nanp:
        if (has_lengths({3, 4})) nanp(m.id, out);
        break;
      case ChainPattern::national:
        if (zero_led_ & 0x3c) national(m.id, out);  // a head of 2-5 digits led by '0'
        break;
      case ChainPattern::nhs:
        layout(kNhs, m.id, out);
        break;
      case ChainPattern::de_tax:
        layout(kDeTax, m.id, out);
        break;
      case ChainPattern::aadhaar:
        layout(kAadhaar, m.id, out);
        break;
      case ChainPattern::ca_sin:
        layout(kCaSin, m.id, out);
        break;
      case ChainPattern::iban:
        iban(m.id, out);
        break;
      case ChainPattern::uk_nino:
        uk_nino(m.id, out);
        break;
    }
  }

 private:
  bool has_lengths(std::initializer_list<size_t> wanted) const {
    for (size_t n : wanted) {
      if (!((lengths_ >> n) & 1)) return false;
    }
    return true;
  }
  bool word(size_t i) const { return i >= b_ && i < e_ && word_byte(text_[i]); }
  bool boundary_before(size_t p) const { return p == b_ || !word(p - 1); }
  bool boundary_after(size_t q) const { return !word(q); }
  // Groups g and g + 1 are one byte apart and that byte is one of `separators`.
  bool linked(size_t g, uint8_t separators) const {
    const Group& x = groups_[g];
    const Group& y = groups_[g + 1];
    return y.begin == x.end + 1 && in(text_[x.end], separators);
  }

  // \b\d(?:[ \-]?\d){11,18}\b: groups joined by single [ -], 12-19 digits.
  void card(unsigned id, std::vector<PatternMatch>& out) const {
    for (size_t j = 0; j < groups_.size(); ++j) {
      if (!boundary_after(groups_[j].end)) continue;
      size_t digits = 0;
      size_t best = groups_.size();
      for (size_t a = j + 1; a-- > 0;) {
        if (a < j && !linked(a, kSpace | kDash)) break;
        digits += groups_[a].length();
        if (digits > 19) break;
        if (digits >= 12 && boundary_before(groups_[a].begin)) best = a;
      }
      if (best < groups_.size()) out.push_back({id, groups_[best].begin, groups_[j].end});
    }
  }

  // \b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b
  void ssn(unsigned id, std::vector<PatternMatch>& out) const {
    for (size_t a = 0; a + 2 < groups_.size(); ++a) {
      const Group& x = groups_[a];
      const Group& y = groups_[a + 1];
      const Group& z = groups_[a + 2];
      if (x.length() != 3 || y.length() != 2 || z.length() != 4) continue;
      if (!linked(a, kSpace | kDash) || !linked(a + 1, kSpace | kDash) ||
          text_[x.end] != text_[y.end])
        continue;
      if (!boundary_before(x.begin) || !boundary_after(z.end)) continue;
      out.push_back({id, x.begin, z.end});
    }
  }

  // \b00[1-9](?:[ .\-]?\d){6,15}\b: "00", a digit 1-9, then 6-15 digits; groups joined by
  // single [ .-].
  void phone_00(unsigned id, std::vector<PatternMatch>& out) const {
    for (size_t j = 0; j < groups_.size(); ++j) {
      if (!boundary_after(groups_[j].end)) continue;
      size_t digits = 0;
      size_t best = groups_.size();
      for (size_t a = j + 1; a-- > 0;) {
        if (a < j && !linked(a, kSpace | kDot | kDash)) break;
        digits += groups_[a].length();
        if (digits > 18) break;
        const Group& g = groups_[a];
        if (digits >= 9 && g.length() >= 3 && text_[g.begin] == '0' && text_[g.begin + 1] == '0' &&
            text_[g.begin + 2] != '0' && boundary_before(g.begin)) {
          best = a;
        }
      }
      if (best < groups_.size()) out.push_back({id, groups_[best].begin, groups_[j].end});
    }
  }

  // (?:\b|\()[2-9]\d{2}\)?[ .\-]\d{3}[ .\-]\d{4}\b
  void nanp(unsigned id, std::vector<PatternMatch>& out) const {
    for (size_t a = 0; a + 2 < groups_.size(); ++a) {
      const Group& x = groups_[a];
      const Group& y = groups_[a + 1];
      const Group& z = groups_[a + 2];
      if (x.length() != 3 || y.length() != 3 || z.length() != 4) continue;
      if (text_[x.begin] < '2') continue;
      auto separator = [](char c) { return in(c, kSpace | kDot | kDash); };
      bool first_gap = (y.begin == x.end + 1 && separator(text_[x.end])) ||
                       (y.begin == x.end + 2 && text_[x.end] == ')' && separator(text_[x.end + 1]));
      if (!first_gap || !linked(a + 1, kSpace | kDot | kDash) || !boundary_after(z.end)) continue;
      size_t start;
      if (x.begin > b_ && text_[x.begin - 1] == '(') {
        start = x.begin - 1;
      } else if (boundary_before(x.begin)) {
        start = x.begin;
      } else {
        continue;
      }
      out.push_back({id, start, z.end});
    }
  }

  // \b0\d{1,4}[ /\-]\d{2,4}(?:[ \-]?\d{2,4}){0,3}\b: a head group of 2-5 digits starting with
  // '0', one [ /-], then 1-4 chunks of 2-4 digits in groups joined by single [ -] (a group of
  // n >= 2 digits splits into ceil(n/4) to floor(n/2) chunks).
  void national(unsigned id, std::vector<PatternMatch>& out) const {
    for (size_t j = 1; j < groups_.size(); ++j) {
      if (!boundary_after(groups_[j].end)) continue;
      size_t chunks = 0;
      size_t best = groups_.size();
      for (size_t a = j; a-- > 0;) {
        // The tail is groups a+1..j.
        const Group& t = groups_[a + 1];
        if (t.length() < 2) break;
        chunks += (t.length() + 3) / 4;
        if (chunks > 4) break;
        if (a + 1 < j && !linked(a + 1, kSpace | kDash)) break;
        const Group& h = groups_[a];
        if (linked(a, kSpace | kSlash | kDash) && h.length() >= 2 && h.length() <= 5 &&
            text_[h.begin] == '0' && boundary_before(h.begin)) {
          best = a;
        }
      }
      if (best < groups_.size()) out.push_back({id, groups_[best].begin, groups_[j].end});
    }
  }

  // By whole groups: a group may end only where a chunk ends (and then one allowed separator
  // leads to the next group) or where the last chunk ends (\b); inside a group chunks follow
  // each other with no separator.
  void layout(const Layout& l, unsigned id, std::vector<PatternMatch>& out) const {
    const uint64_t ends = uint64_t{l.chunk_ends} | (uint64_t{1} << l.digits);
    for (size_t a = 0; a < groups_.size(); ++a) {
      const Group& first = groups_[a];
      size_t sum = first.length();
      if (sum > l.digits || !((ends >> sum) & 1)) continue;
      if (text_[first.begin] < l.first_low || text_[first.begin] > l.first_high) continue;
      if (!boundary_before(first.begin)) continue;
      for (size_t g = a;;) {
        if (sum == l.digits) {
          if (boundary_after(groups_[g].end)) out.push_back({id, first.begin, groups_[g].end});
          break;
        }
        if (g + 1 >= groups_.size() || !linked(g, l.separators)) break;
        sum += groups_[++g].length();
        if (sum > l.digits || !((ends >> sum) & 1)) break;
      }
    }
  }

  static bool capital(char c) { return c >= 'A' && c <= 'Z'; }

  // \b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b: runs of [A-Z0-9] joined by single spaces; the
  // first run starts with two capitals and two digits (after \b), 11-30 characters follow them.
  void iban(unsigned id, std::vector<PatternMatch>& out) const {
    thread_local std::vector<Group> runs;
    runs.clear();
    for (size_t i = b_; i < e_;) {
      if (!capital(text_[i]) && !digit(text_[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < e_ && (capital(text_[j]) || digit(text_[j]))) ++j;
      runs.push_back({i, j});
      i = j;
    }
    for (size_t j = 0; j < runs.size(); ++j) {
      if (!boundary_after(runs[j].end)) continue;
      size_t chars = 0;
      size_t best = runs.size();
      for (size_t a = j + 1; a-- > 0;) {
        if (a < j && !(runs[a + 1].begin == runs[a].end + 1 && text_[runs[a].end] == ' ')) break;
        chars += runs[a].length();
        if (chars > 34) break;
        const Group& r = runs[a];
        if (chars >= 15 && r.length() >= 4 && capital(text_[r.begin]) &&
            capital(text_[r.begin + 1]) && digit(text_[r.begin + 2]) && digit(text_[r.begin + 3]) &&
            boundary_before(r.begin)) {
          best = a;
        }
      }
      if (best < runs.size()) out.push_back({id, runs[best].begin, runs[j].end});
    }
  }

  // \b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b: one way through from each start.
  void uk_nino(unsigned id, std::vector<PatternMatch>& out) const {
    auto first = [](char c) {
      return capital(c) && c != 'D' && c != 'F' && c != 'I' && c != 'Q' && c != 'U' && c != 'V';
    };
    for (size_t s = b_; s + 9 <= e_; ++s) {
      if (!first(text_[s]) || !first(text_[s + 1]) || !boundary_before(s)) continue;
      size_t p = s + 2;
      bool ok = true;
      for (int pair = 0; pair < 3 && ok; ++pair) {
        if (p < e_ && text_[p] == ' ') ++p;
        ok = p + 1 < e_ && digit(text_[p]) && digit(text_[p + 1]);
        p += 2;
      }
      if (!ok) continue;
      if (p < e_ && text_[p] == ' ') ++p;
      if (p < e_ && text_[p] >= 'A' && text_[p] <= 'D' && boundary_after(p + 1)) {
        out.push_back({id, s, p + 1});
      }
    }
  }

  std::string_view text_;
  size_t b_;
  size_t e_;
  std::vector<Group>& groups_;
  uint64_t lengths_ = 0;     // bit n: a group of n digits (63: 63 or more)
  uint64_t zero_led_ = 0;    // bit n: a group of n digits starting with '0'
  bool double_zero_ = false;  // a group of 3+ digits starting with "00"
};

}  // namespace

std::optional<ChainPattern> chain_pattern_for(const Detector& d) {
  struct Known {
    std::string_view name;
    std::string_view pattern;
    ChainPattern kind;
  };
  static constexpr Known kKnown[] = {
      {"luhn_card", R"(\b\d(?:[ \-]?\d){11,18}\b)", ChainPattern::card},
      {"us_ssn", R"(\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b)", ChainPattern::ssn},
      {"phone_e164", R"(\b00[1-9](?:[ .\-]?\d){6,15}\b)", ChainPattern::phone_00},
      {"phone_nanp", R"((?:\b|\()[2-9]\d{2}\)?[ .\-]\d{3}[ .\-]\d{4}\b)", ChainPattern::nanp},
      {"phone_national", R"(\b0\d{1,4}[ /\-]\d{2,4}(?:[ \-]?\d{2,4}){0,3}\b)",
       ChainPattern::national},
      {"uk_nhs", R"(\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b)", ChainPattern::nhs},
      {"de_tax_id", R"(\b[1-9]\d(?: ?\d{3}){3}\b)", ChainPattern::de_tax},
      {"in_aadhaar", R"(\b[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}\b)", ChainPattern::aadhaar},
      {"ca_sin", R"(\b\d{3}[ \-]?\d{3}[ \-]?\d{3}\b)", ChainPattern::ca_sin},
      {"iban_mod97", R"(\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b)", ChainPattern::iban},
      {"uk_nino", R"(\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)", ChainPattern::uk_nino},
  };
  if (d.caseless) return std::nullopt;
  for (const Known& k : kKnown) {
    if (d.name == k.name && d.pattern == k.pattern) return k.kind;
  }
  return std::nullopt;
}

void match_chains(std::string_view text, const ByteRange& region,
                  const std::vector<ChainMatcher>& matchers, std::vector<PatternMatch>& out) {
  // Reused between calls on a thread: a scan visits thousands of regions.
  thread_local std::vector<Group> groups;
  RegionMatcher matcher(text, region, groups);
  for (const ChainMatcher& m : matchers) matcher.run(m, out);
}

}  // namespace sy::policies::sensitivity_detail
