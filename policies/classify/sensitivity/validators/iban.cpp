// IBAN: ISO 13616 — per-country length from the registry, then ISO 7064 MOD 97-10 == 1.

#include <array>
#include <cstdint>
#include <string>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

struct CountryLength {
  char code[3];
  int length;
};

// The IBAN registry's total lengths (country code and check digits included), plus Iran's
// (IR, 26), in national use with the same mod-97 check though not in the registry.
constexpr CountryLength kLengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IR", 26},
    {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

}  // namespace

namespace {

// kLengths by (first letter, second letter): one load instead of a search of 89 entries.
constexpr std::array<uint8_t, 26 * 26> make_length_table() {
  std::array<uint8_t, 26 * 26> table{};
  for (const CountryLength& c : kLengths) {
    table[static_cast<size_t>((c.code[0] - 'A') * 26 + (c.code[1] - 'A'))] =
        static_cast<uint8_t>(c.length);
  }
  return table;
}
constexpr std::array<uint8_t, 26 * 26> kLengthTable = make_length_table();

}  // namespace

int iban_length(std::string_view country) {
  if (country.size() != 2) return 0;
  auto letter = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (!letter(country[0]) || !letter(country[1])) return 0;
  return kLengthTable[static_cast<size_t>((country[0] - 'A') * 26 + (country[1] - 'A'))];
}

bool iban_valid(std::string_view iban) {
  if (iban.size() < 5) return false;
  if (static_cast<int>(iban.size()) != iban_length(iban.substr(0, 2))) return false;
  if (!is_digit(iban[2]) || !is_digit(iban[3])) return false;
  // Move the first four characters to the end, letters become 10..35, remainder mod 97.
  int remainder = 0;
  auto feed = [&remainder](char c) {
    if (is_digit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    } else {
      remainder = -1000000;  // poison: not alphanumeric
    }
  };
  for (size_t i = 4; i < iban.size(); ++i) feed(iban[i]);
  for (size_t i = 0; i < 4; ++i) feed(iban[i]);
  return remainder == 1;
}

std::optional<Hit> validate_iban(std::string_view text, size_t begin, size_t end) {
  // The pattern may run into a following word ("... 0130 00 EUR"); the country's length says
  // where the IBAN stops.
  // Only the first `length` (at most 34) alphanumerics matter: kept on the stack.
  constexpr size_t kMost = 34;
  std::array<char, kMost> chars;
  std::array<size_t, kMost> positions;
  size_t count = 0;
  for (size_t i = begin; i < end && count < kMost; ++i) {
    if (is_alnum(text[i])) {
      chars[count] = upper(text[i]);
      positions[count++] = i;
    }
  }
  if (count < 4) return std::nullopt;
  int length = iban_length(std::string_view(chars.data(), 2));
  if (length == 0 || static_cast<int>(count) < length) return std::nullopt;
  if (!iban_valid(std::string_view(chars.data(), static_cast<size_t>(length)))) {
    return std::nullopt;
  }
  size_t stop = positions[static_cast<size_t>(length) - 1] + 1;
  if (!standalone(text, begin, stop)) return std::nullopt;
  return Hit{begin, stop, 0.97};
}

}  // namespace sy::policies::sensitivity_detail
