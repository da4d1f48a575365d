#pragma once
// Checksum and context validators, one file per family. Each *_valid() takes the candidate's
// significant characters only (digits, or upper-cased alphanumerics); each validate_*() is a
// Detector::validate. Helpers shared by the families are at the top.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "classify/sensitivity/detector.h"

namespace sy::policies::sensitivity_detail {

// ---- shared helpers (text_helpers.cpp) ----
// Inline: validators call these per byte (out of line they were ~1 M instructions per MiB of
// scanned text in calls alone).
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_word_byte(char c) { return is_alnum(c) || c == '_'; }
inline char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
// Digits of [begin, end) in order.
std::string digits_in(std::string_view text, size_t begin, size_t end);
// True if one of `keywords` (lower-case ASCII, matched case-insensitively as whole words)
// occurs within `window` bytes before `begin` or `after` bytes after `end`.
bool has_context(std::string_view text, size_t begin, size_t end,
                 std::initializer_list<std::string_view> keywords, size_t window = 40,
                 size_t after = 0);
// Shannon entropy of the bytes, in bits per byte.
double shannon_entropy(std::string_view s);
// True if the byte before `begin` and the byte at `end` are not word bytes (or absent).
bool standalone(std::string_view text, size_t begin, size_t end);
// True if [begin, end) is one piece of a longer token joined by '-', '.', '/' or '_'
// (the tail of a UUID, a segment of a version or a path), not a number of its own.
bool embedded(std::string_view text, size_t begin, size_t end);

// ---- extenders.cpp: Detector::extend for each kind of value tail ----
size_t extend_token(std::string_view text, size_t end);         // [A-Za-z0-9_-]
size_t extend_alnum(std::string_view text, size_t end);         // [A-Za-z0-9]
size_t extend_secret_value(std::string_view text, size_t end);  // up to blank, quote, ,;<>
size_t extend_domain(std::string_view text, size_t end);        // [A-Za-z0-9.-]
size_t extend_jwt(std::string_view text, size_t end);           // [A-Za-z0-9_.-]
size_t extend_base58(std::string_view text, size_t end);        // the Base58 alphabet
size_t extend_lower(std::string_view text, size_t end);         // [a-z]
size_t extend_date(std::string_view text, size_t end);          // [A-Za-z0-9 /.,-]
size_t extend_url_path(std::string_view text, size_t end);      // [A-Za-z0-9/_-]
// The rest of a capitalised word, then up to two more joined by ' ' or '-'.
size_t extend_name(std::string_view text, size_t end);

// ---- luhn.cpp: payment cards, CA SIN ----
bool luhn_valid(std::string_view digits);
// The card scheme whose issuer range and length the digits fit, or empty.
std::string_view card_issuer(std::string_view digits);
std::optional<Hit> validate_payment_card(std::string_view text, size_t begin, size_t end);

// ---- iban.cpp ----
// Registry length of an IBAN for a two-letter country code, 0 when the country has none.
int iban_length(std::string_view country);
// `iban` is upper-case alphanumerics without spaces.
bool iban_valid(std::string_view iban);
std::optional<Hit> validate_iban(std::string_view text, size_t begin, size_t end);

// ---- national_ids.cpp ----
bool us_ssn_valid(std::string_view digits);
bool uk_nino_valid(std::string_view nino);          // 9 chars, upper case, no spaces
bool nhs_number_valid(std::string_view digits);     // 10 digits, mod 11
bool de_tax_id_valid(std::string_view digits);      // 11 digits, ISO 7064 MOD 11,10 + digit rule
bool es_nif_valid(std::string_view nif);            // 8 digits + letter, upper case
bool es_nie_valid(std::string_view nie);            // X/Y/Z + 7 digits + letter, upper case
bool it_codice_fiscale_valid(std::string_view cf);  // 16 chars, upper case
bool verhoeff_valid(std::string_view digits);
bool aadhaar_valid(std::string_view digits);  // 12 digits, first 2-9, Verhoeff
bool ca_sin_valid(std::string_view digits);   // 9 digits, Luhn, first digit not 0/8
std::optional<Hit> validate_us_ssn(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_us_ssn_in_context(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_uk_nino(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_nhs_number(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_de_tax_id(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_es_nif(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_es_nie(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_it_codice_fiscale(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_aadhaar(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_ca_sin(std::string_view text, size_t begin, size_t end);

// ---- contact.cpp: email, phone, IP, MAC ----
std::optional<Hit> validate_email(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_phone_international(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_phone_nanp(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_phone_national(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_ipv4(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_ipv6(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_mac(std::string_view text, size_t begin, size_t end);

// ---- crypto_addresses.cpp ----
bool base58check_valid(std::string_view address);  // 25-byte payload, double SHA-256
bool bech32_valid(std::string_view address);       // segwit: bech32 (v0) / bech32m (v1+)
std::optional<Hit> validate_base58check(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_bech32(std::string_view text, size_t begin, size_t end);

// ---- personal.cpp: dates of birth, names, street addresses ----
std::optional<Hit> validate_date_of_birth(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_name_after_cue(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_name_gazetteer(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_street_address(std::string_view text, size_t begin, size_t end);
// The gazetteer's first names, joined as a vectorscan alternation ("James|Mary|...").
std::string_view first_name_alternation();

// ---- secrets.cpp ----
std::optional<Hit> validate_token_entropy(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_aws_secret_key(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_jwt(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_private_key(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_aws_access_key(std::string_view text, size_t begin, size_t end);
std::optional<Hit> validate_password_assignment(std::string_view text, size_t begin, size_t end);
std::optional<Hit> accept(std::string_view text, size_t begin, size_t end);

}  // namespace sy::policies::sensitivity_detail
