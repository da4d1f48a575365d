// National identifiers: US SSN issuance rules and the checksums of UK NINO/NHS, DE tax ID,
// ES NIF/NIE, IT codice fiscale, IN Aadhaar (Verhoeff) and CA SIN (Luhn). Numbers whose
// checksum catches only one random number in ten or eleven count fully only next to a
// context word; bare, they are reported below the default confidence threshold.

#include <array>
#include <string>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

std::string upper_alnum(std::string_view text, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (is_alnum(text[i])) out.push_back(upper(text[i]));
  }
  return out;
}

size_t first_digit(std::string_view text, size_t begin, size_t end) {
  while (begin < end && !is_digit(text[begin])) ++begin;
  return begin;
}

// The candidate is a few groups of a longer grouped number ("5406 3294 1086 7979": the first
// twelve digits are no Aadhaar number, and an IBAN's groups are no NHS number).
bool part_of_grouped_number(std::string_view text, size_t begin, size_t end) {
  auto sep = [](char c) { return c == ' ' || c == '-'; };
  bool left = begin >= 2 && sep(text[begin - 1]) && is_digit(text[begin - 2]);
  bool right = end + 1 < text.size() && sep(text[end]) && is_digit(text[end + 1]);
  return left || right;
}

bool has_separator(std::string_view text, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (text[i] == ' ' || text[i] == '-') return true;
  }
  return false;
}

}  // namespace

bool us_ssn_valid(std::string_view d) {
  if (d.size() != 9) return false;
  // Nine digits (as digits_in gives them) parsed by hand; anything else as before.
  auto value = [](std::string_view s) {
    int v = 0;
    for (char c : s) {
      if (!is_digit(c)) return std::stoi(std::string(s));
      v = v * 10 + (c - '0');
    }
    return v;
  };
  int area = value(d.substr(0, 3));
  int group = value(d.substr(3, 2));
  int serial = value(d.substr(5, 4));
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
  // Never issued: numbers published in advertising and the textbook example.
  if (d == "078051120" || d == "219099999" || d == "123456789") return false;
  return true;
}

std::optional<Hit> validate_us_ssn(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!us_ssn_valid(digits_in(text, begin, end))) return std::nullopt;
  bool context = has_context(text, begin, end, {"ssn", "social security", "ss#", "ss no"});
  return Hit{begin, end, context ? 0.97 : 0.85};
}

std::optional<Hit> validate_us_ssn_in_context(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  size_t start = first_digit(text, begin, end);
  if (!us_ssn_valid(digits_in(text, start, end))) return std::nullopt;
  return Hit{start, end, 0.97};
}

bool uk_nino_valid(std::string_view n) {
  if (n.size() != 9) return false;
  constexpr std::string_view kBadFirst = "DFIQUV";
  constexpr std::string_view kBadSecond = "DFIOQUV";
  if (kBadFirst.find(n[0]) != std::string_view::npos) return false;
  if (kBadSecond.find(n[1]) != std::string_view::npos) return false;
  std::string_view prefix = n.substr(0, 2);
  for (std::string_view bad : {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}) {
    if (prefix == bad) return false;
  }
  for (size_t i = 2; i < 8; ++i) {
    if (!is_digit(n[i])) return false;
  }
  return n[8] >= 'A' && n[8] <= 'D';
}

std::optional<Hit> validate_uk_nino(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!uk_nino_valid(upper_alnum(text, begin, end))) return std::nullopt;
  bool context = has_context(text, begin, end, {"national insurance", "nino", "ni number", "ni"});
  return Hit{begin, end, context ? 0.97 : 0.85};
}

bool nhs_number_valid(std::string_view d) {
  if (d.size() != 10) return false;
  if (d.find_first_not_of(d[0]) == std::string_view::npos) return false;  // 0000000000 etc.
  int sum = 0;
  for (size_t i = 0; i < 9; ++i) sum += (d[i] - '0') * static_cast<int>(10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return d[9] - '0' == check;
}

std::optional<Hit> validate_nhs_number(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end) || part_of_grouped_number(text, begin, end)) {
    return std::nullopt;
  }
  if (!nhs_number_valid(digits_in(text, begin, end))) return std::nullopt;
  bool context = has_context(text, begin, end, {"nhs", "nhs number", "nhs no", "patient"});
  return Hit{begin, end, context ? 0.97 : 0.4};
}

bool de_tax_id_valid(std::string_view d) {
  if (d.size() != 11 || d[0] == '0') return false;
  // Since 2016: in the first ten digits exactly one digit repeats, twice or three times
  // (never three in a row); the others appear at most once.
  std::array<int, 10> counts{};
  for (size_t i = 0; i < 10; ++i) ++counts[static_cast<size_t>(d[i] - '0')];
  int repeated = 0;
  for (int c : counts) {
    if (c > 3) return false;
    if (c >= 2) ++repeated;
  }
  if (repeated != 1) return false;
  for (size_t i = 0; i + 2 < 10; ++i) {
    if (d[i] == d[i + 1] && d[i] == d[i + 2]) return false;
  }
  // ISO 7064 MOD 11,10.
  int product = 10;
  for (size_t i = 0; i < 10; ++i) {
    int sum = (d[i] - '0' + product) % 10;
    if (sum == 0) sum = 10;
    product = (sum * 2) % 11;
  }
  int check = 11 - product;
  if (check == 10) check = 0;
  return d[10] - '0' == check;
}

std::optional<Hit> validate_de_tax_id(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!de_tax_id_valid(digits_in(text, begin, end))) return std::nullopt;
  bool context =
      has_context(text, begin, end,
                  {"steuer-id", "steuerid", "steuer", "steuernummer", "idnr",
                   "identifikationsnummer", "tax id", "tin", "steueridentifikationsnummer"});
  return Hit{begin, end, context ? 0.97 : 0.45};
}

static constexpr std::string_view kDniLetters = "TRWAGMYFPDXBNJZSQVHLCKE";

bool es_nif_valid(std::string_view n) {
  if (n.size() != 9) return false;
  long value = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (!is_digit(n[i])) return false;
    value = value * 10 + (n[i] - '0');
  }
  return n[8] == kDniLetters[static_cast<size_t>(value % 23)];
}

bool es_nie_valid(std::string_view n) {
  if (n.size() != 9) return false;
  constexpr std::string_view kPrefixes = "XYZ";
  size_t prefix = kPrefixes.find(n[0]);
  if (prefix == std::string_view::npos) return false;
  std::string as_nif = std::to_string(prefix) + std::string(n.substr(1));
  return es_nif_valid(as_nif);
}

std::optional<Hit> validate_es_nif(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!es_nif_valid(upper_alnum(text, begin, end))) return std::nullopt;
  return Hit{begin, end, 0.9};
}

std::optional<Hit> validate_es_nie(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!es_nie_valid(upper_alnum(text, begin, end))) return std::nullopt;
  return Hit{begin, end, 0.92};
}

bool it_codice_fiscale_valid(std::string_view cf) {
  if (cf.size() != 16) return false;
  // Values of characters in odd (1st, 3rd, ...) positions; digits map like A..J.
  constexpr std::array<int, 26> kOdd = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                        20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (size_t i = 0; i < 15; ++i) {
    char c = cf[i];
    int index;
    if (is_digit(c)) {
      index = c - '0';
    } else if (c >= 'A' && c <= 'Z') {
      index = c - 'A';
    } else {
      return false;
    }
    sum += (i % 2 == 0) ? kOdd[static_cast<size_t>(index)] : index;
  }
  return cf[15] == static_cast<char>('A' + sum % 26);
}

std::optional<Hit> validate_it_codice_fiscale(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end)) return std::nullopt;
  if (!it_codice_fiscale_valid(upper_alnum(text, begin, end))) return std::nullopt;
  return Hit{begin, end, 0.95};
}

bool verhoeff_valid(std::string_view digits) {
  // Dihedral group D5 multiplication, and the position permutation.
  static constexpr int d[10][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
                                    {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
                                    {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
                                    {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
                                    {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
  static constexpr int p[8][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
                                   {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
                                   {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
                                   {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
  if (digits.empty()) return false;
  int c = 0;
  size_t position = 0;
  for (size_t i = digits.size(); i-- > 0; ++position) {
    int digit = digits[i] - '0';
    if (digit < 0 || digit > 9) return false;
    c = d[c][p[position % 8][digit]];
  }
  return c == 0;
}

bool aadhaar_valid(std::string_view d) {
  return d.size() == 12 && d[0] >= '2' && d[0] <= '9' && verhoeff_valid(d);
}

std::optional<Hit> validate_aadhaar(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end) || part_of_grouped_number(text, begin, end)) {
    return std::nullopt;
  }
  if (!aadhaar_valid(digits_in(text, begin, end))) return std::nullopt;
  if (has_context(text, begin, end, {"aadhaar", "aadhar", "uidai", "uid"})) {
    return Hit{begin, end, 0.97};
  }
  return Hit{begin, end, has_separator(text, begin, end) ? 0.6 : 0.45};
}

bool ca_sin_valid(std::string_view d) { return d.size() == 9 && d[0] != '8' && luhn_valid(d); }

std::optional<Hit> validate_ca_sin(std::string_view text, size_t begin, size_t end) {
  if (embedded(text, begin, end) || part_of_grouped_number(text, begin, end)) {
    return std::nullopt;
  }
  if (!ca_sin_valid(digits_in(text, begin, end))) return std::nullopt;
  if (has_context(text, begin, end, {"sin", "social insurance", "nas", "assurance sociale"})) {
    return Hit{begin, end, 0.97};
  }
  return Hit{begin, end, has_separator(text, begin, end) ? 0.55 : 0.4};
}

}  // namespace sy::policies::sensitivity_detail
