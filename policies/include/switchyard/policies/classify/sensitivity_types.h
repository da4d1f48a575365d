#pragma once
// The vocabulary of the sensitivity classifier: levels, finding types, findings and the
// typed configuration that maps each finding type to a level. No scanner types here.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::policies {

// Ordered: a request's level is the maximum of what its findings, its declared label and its
// tenant's floor say.
enum class SensitivityLevel : uint8_t { public_, internal, confidential, restricted };

std::string_view to_string(SensitivityLevel level);
// "public" | "internal" | "confidential" | "restricted", ASCII case-insensitive, surrounding
// blanks ignored; nullopt for anything else.
std::optional<SensitivityLevel> parse_sensitivity_level(std::string_view text);

enum class FindingType : uint8_t {
  payment_card,
  iban,
  us_ssn,
  national_id,  // detector says which: uk_nino, uk_nhs, de_tax_id, es_nif, es_nie, ...
  email,
  phone,
  ip_address,
  mac_address,
  crypto_address,
  date_of_birth,
  person_name,
  street_address,
  secret,          // detector says which: aws_access_key, github_token, jwt, private_key, ...
  custom_term,     // a tenant's term list (detector = the list's name)
  custom_pattern,  // a tenant's pattern (detector = the pattern's name)
  unscannable,     // image/audio/file parts, data: URLs, nesting past the walk limit
};
inline constexpr size_t kFindingTypeCount = static_cast<size_t>(FindingType::unscannable) + 1;

std::string_view to_string(FindingType type);
std::optional<FindingType> parse_finding_type(std::string_view text);

struct Finding {
  FindingType type = FindingType::email;
  std::string detector;  // e.g. "luhn_card", "iban_mod97", "uk_nino", a custom list name
  size_t begin = 0;      // byte span [begin, end) in the scanned string
  size_t end = 0;
  double confidence = 0.0;                             // in [0, 1]
  SensitivityLevel level = SensitivityLevel::public_;  // what this finding maps to
  std::string path;     // JSON pointer of the string in a request; empty for plain text
  bool in_key = false;  // the span is in the member name at `path`, not its value
};

// A tenant's term list: literal terms matched case-insensitively (ASCII) as whole words
// where a term starts/ends with a word character.
struct CustomTermList {
  std::string name;
  std::vector<std::string> terms;
  SensitivityLevel level = SensitivityLevel::confidential;
  bool case_sensitive = false;
};

// A tenant's pattern in vectorscan's (PCRE-subset, linear-time) syntax. Constructs it cannot
// compile (backreferences, lookaround, patterns too large) are rejected when the classifier
// is built, naming the pattern.
struct CustomPattern {
  std::string name;
  std::string regex;
  SensitivityLevel level = SensitivityLevel::confidential;
  bool case_insensitive = false;
};

// Defaults (see default_levels()):
//   restricted:   payment_card, iban, us_ssn, national_id, secret
//   confidential: email, phone, crypto_address, date_of_birth, person_name, street_address,
//                 unscannable (custom lists and patterns carry their own level)
//   internal:     ip_address, mac_address
struct SensitivityConfig {
  std::array<SensitivityLevel, kFindingTypeCount> levels = default_levels();
  // Findings below this confidence are reported but do not raise the level (e.g. a bare
  // 10-digit number that happens to pass the NHS mod-11 check, with no context word).
  double min_confidence = 0.5;
  std::vector<CustomTermList> term_lists;
  std::vector<CustomPattern> patterns;
  // Request walk: deeper nesting than this is not walked and counts as an unscannable finding.
  size_t max_json_depth = 64;

  SensitivityLevel level_of(FindingType type) const { return levels[static_cast<size_t>(type)]; }
  static std::array<SensitivityLevel, kFindingTypeCount> default_levels();
};

struct SensitivityError {
  std::string message;
  // SensitivityClassifier::create: the config entry at fault, when it is a custom one (so that
  // a loader can name the line it was declared on), and vectorscan's own words for it.
  std::optional<size_t> term_list;
  std::optional<size_t> pattern;
  std::string reason;
};

}  // namespace sy::policies
