// The built-in detectors. Patterns propose, validators decide: a pattern only needs to be
// loose enough to catch every real instance and cheap for vectorscan (no lookaround); the
// checksum, range and context rules live in validators/.

#include <algorithm>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "classify/sensitivity/anchor_finder.h"
#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/digit_regions.h"
#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

std::vector<Detector> make_table() {
  using T = FindingType;
  // Storage for the pattern built at run time (the gazetteer); lives as long as the table.
  static const std::string gazetteer =
      std::string(R"(\b(?:)") + std::string(first_name_alternation()) + R"()[ ][A-Z][a-z]{2})";
  static const std::string cue_name =
      R"(\b(?:(?i:my name is|name is|name:|signed:?|regards,|sincerely,|dear|patient:|customer:)"
      R"(|client:|contact:|mr\.?|mrs\.?|ms\.?|miss|dr\.?|prof\.?|herr|frau))[ ]{1,3})"
      R"([A-Z][a-z])";
  return {
      // Payment cards: 12-19 digits in groups separated by single spaces or dashes.
      {T::payment_card, "luhn_card", R"(\b\d(?:[ \-]?\d){11,18}\b)", false, validate_payment_card},
      {T::iban, "iban_mod97", R"(\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b)", false, validate_iban},
      {T::us_ssn, "us_ssn", R"(\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b)", false,
       validate_us_ssn},
      {T::us_ssn, "us_ssn",
       R"((?:ssn|social security(?: number| no\.?| #)?)\W{0,5}\d{3}[ \-]?\d{2}[ \-]?\d{4}\b)", true,
       validate_us_ssn_in_context},
      {T::email, "email", R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9])", false, validate_email,
       extend_domain},
      {T::phone, "phone_e164", R"(\+[1-9](?:[ .\-/]{0,2}\(?\d\)?){6,14}\b)", false,
       validate_phone_international},
      {T::phone, "phone_e164", R"(\b00[1-9](?:[ .\-]?\d){6,15}\b)", false,
       validate_phone_international},
      {T::phone, "phone_nanp", R"((?:\b|\()[2-9]\d{2}\)?[ .\-]\d{3}[ .\-]\d{4}\b)", false,
       validate_phone_nanp},
      {T::phone, "phone_national", R"(\b0\d{1,4}[ /\-]\d{2,4}(?:[ \-]?\d{2,4}){0,3}\b)", false,
       validate_phone_national},
      {T::ip_address, "ipv4", R"(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)", false, validate_ipv4},
      // IPv6: eight groups, or a "::" compression (clock times like 17:03:51 are neither).
      {T::ip_address, "ipv6", R"(\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}\b)", false,
       validate_ipv6},
      {T::ip_address, "ipv6",
       R"((?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::)"
       R"((?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?::?\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})?)",
       false, validate_ipv6},
      {T::mac_address, "mac",
       R"(\b[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}\b|)"
       R"(\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b)",
       false, validate_mac},
      {T::crypto_address, "base58check", R"(\b[123mnLM][1-9A-HJ-NP-Za-km-z]{25})", false,
       validate_base58check, extend_base58},
      {T::crypto_address, "bech32", R"(\b(?:bc|tb|ltc|tltc|bcrt)1[02-9ac-hj-np-z]{6,87}\b)", true,
       validate_bech32},
      {T::national_id, "uk_nino", R"(\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)", false,
       validate_uk_nino},
      {T::national_id, "uk_nhs", R"(\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b)", false, validate_nhs_number},
      {T::national_id, "de_tax_id", R"(\b[1-9]\d(?: ?\d{3}){3}\b)", false, validate_de_tax_id},
      {T::national_id, "es_nif", R"(\b\d{8}[ \-]?[A-Za-z]\b)", false, validate_es_nif},
      {T::national_id, "es_nie", R"(\b[XYZxyz][ \-]?\d{7}[ \-]?[A-Za-z]\b)", false,
       validate_es_nie},
      {T::national_id, "it_codice_fiscale",
       R"(\b[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-EHLMPR-Ta-ehlmpr-t])"
       R"([0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]\b)",
       false, validate_it_codice_fiscale},
      {T::national_id, "in_aadhaar", R"(\b[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}\b)", false,
       validate_aadhaar},
      {T::national_id, "ca_sin", R"(\b\d{3}[ \-]?\d{3}[ \-]?\d{3}\b)", false, validate_ca_sin},
      {T::date_of_birth, "date_of_birth",
       R"(\b(?:date of birth|dob|d\.o\.b\.?|born(?: on| in)?|birth ?date|birthday|)"
       R"(geburtsdatum|geboren(?: am| op)?|geboortedatum|fecha de nacimiento|nacid[oa] el|)"
       R"(date de naissance|n\xc3\xa9e? le|data di nascita|nat[oa] il))"
       R"([ :,\-]{0,4}[0-9a-z])",
       true, validate_date_of_birth, extend_date},
      {T::person_name, "name_context", cue_name, false, validate_name_after_cue, extend_name},
      {T::person_name, "name_gazetteer", gazetteer, false, validate_name_gazetteer, extend_lower},
      {T::street_address, "street_address",
       R"(\b\d{1,5}[A-Za-z]?,? (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Avenue|Ave|Road|Rd|)"
       R"(Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Square|Sq|)"
       R"(Highway|Hwy|Parkway|Pkwy|Close|Crescent|Gardens)\b\.?)",
       false, validate_street_address},
      {T::street_address, "street_address",
       R"(\b[A-Z][a-z\x80-\xff]+(?:stra(?:ss|\xc3\x9f)e|weg|platz|allee|gasse|ring|damm))"
       R"( \d{1,4}[a-z]?\b)",
       false, validate_street_address},
      {T::street_address, "street_address",
       R"(\b\d{1,4}(?: bis| ter)?,? (?:rue|avenue|boulevard|place|chemin|all\xc3\xa9e))"
       R"( (?:de |du |des |de la |d')?[A-Z][a-z\x80-\xff]+)",
       false, validate_street_address},
      // Secrets.
      {T::secret, "aws_access_key", R"(\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)", false,
       validate_aws_access_key},
      {T::secret, "aws_secret_key",
       R"(aws_?secret_?(?:access_?)?key["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+=]{40}\b)", true,
       validate_aws_secret_key},
      {T::secret, "github_token", R"(\bgh[pousr]_[A-Za-z0-9]{36})", false, validate_token_entropy,
       extend_alnum},
      {T::secret, "github_token", R"(\bgithub_pat_[A-Za-z0-9_]{22})", false, validate_token_entropy,
       extend_token},
      {T::secret, "gitlab_token", R"(\bgl(?:pat|dt|rt|ptt)-[A-Za-z0-9_\-]{20})", false,
       validate_token_entropy, extend_token},
      {T::secret, "slack_token", R"(\bxox[abposr]-[A-Za-z0-9\-]{10})", false,
       validate_token_entropy, extend_token},
      {T::secret, "slack_webhook", R"(https://hooks\.slack\.com/services/T[A-Z0-9])", false, accept,
       extend_url_path},
      {T::secret, "stripe_key", R"(\b[rs]k_(?:live|test)_[A-Za-z0-9]{16})", false,
       validate_token_entropy, extend_alnum},
      {T::secret, "vendor_api_key", R"(\bsk-[A-Za-z0-9_\-]{20})", false, validate_token_entropy,
       extend_token},
      {T::secret, "google_api_key", R"(\bAIza[0-9A-Za-z_\-]{35})", false, validate_token_entropy},
      {T::secret, "jwt", R"(\beyJ[A-Za-z0-9_\-]{8})", false, validate_jwt, extend_jwt},
      {T::secret, "private_key",
       R"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)",
       false, validate_private_key},
      {T::secret, "password_assignment",
       R"(\b(?:password|passwd|pwd|passphrase|secret|api_?key|apikey|access_?token|auth_?token|)"
       R"(client_?secret|private_?key)["']?\s{0,3}[:=]\s{0,3}["']?[^\s"',;<>]{6})",
       true, validate_password_assignment, extend_secret_value},
  };
}

// The leftmost start of `[A-Za-z0-9._%+\-]+@[A-Za-z0-9]` ending at `end`: the local part's
// class run before the '@', capped (validate_email rejects local parts over 64 bytes, and the
// cap bounds the work on hostile text).
size_t email_start(std::string_view text, size_t end) {
  size_t at = end - 2;
  size_t limit = at > 4096 ? at - 4096 : 0;
  size_t s = at;
  auto local = [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
  };
  while (s > limit && local(text[s - 1])) --s;
  return s;
}

// Street addresses: the three patterns are compiled without start-of-match tracking (their
// leading digit and capitalised-word classes made tracking costly over the whole text) and
// these find each match's leftmost start from its end, by walking the pattern backwards. The
// walk looks no further back than a rescan of the 256 bytes before the end (widened to a word
// start, up to 64 more) would, which is what found these starts before: the same starts, and
// bounded work per end however long a run of letters is. A position equal to the window's
// start counts as a word boundary there, as it did for the rescan.
size_t street_window(std::string_view text, size_t end) {
  constexpr size_t kWindow = 256;
  constexpr size_t kWordSlack = 64;
  size_t from = end > kWindow ? end - kWindow : 0;
  for (size_t slack = 0; from > 0 && slack < kWordSlack && is_word_byte(text[from - 1]);
       ++slack) {
    --from;
  }
  return from;
}

bool is_upper_ascii(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower_ascii(char c) { return c >= 'a' && c <= 'z'; }
bool is_ascii_letter(char c) { return is_upper_ascii(c) || is_lower_ascii(c); }
// [a-z\x80-\xff]: the letters after a German or French name's capital.
bool name_tail_byte(char c) { return is_lower_ascii(c) || static_cast<unsigned char>(c) >= 0x80; }

bool ends_with_at(std::string_view text, size_t from, size_t at, std::string_view s) {
  return at >= from + s.size() && text.substr(at - s.size(), s.size()) == s;
}

// `\b\d{1,max}` ending at `at`: its start, or `at` when there is none (no digit, too many
// digits, or a word byte before them).
size_t number_head(std::string_view text, size_t from, size_t at, size_t max) {
  size_t s = at;
  while (s > from && is_digit(text[s - 1]) && at - s <= max) --s;
  if (s == at || at - s > max) return at;
  if (s > from && is_word_byte(text[s - 1])) return at;
  return s;
}

// \b\d{1,5}[A-Za-z]?,? (?:[A-Z][a-z]+ ){1,3}(?:Street|St|...|Gardens)\b\.?
size_t street_en_start(std::string_view text, size_t end) {
  static constexpr std::string_view kSuffixes[] = {
      "Street", "St",      "Avenue",   "Ave",     "Road",    "Rd",     "Boulevard",
      "Blvd",   "Lane",    "Ln",       "Drive",   "Dr",      "Court",  "Ct",
      "Way",    "Place",   "Pl",       "Terrace", "Square",  "Sq",     "Highway",
      "Hwy",    "Parkway", "Pkwy",     "Close",   "Crescent", "Gardens"};
  const size_t from = street_window(text, end);
  size_t e = end;
  if (e > from && text[e - 1] == '.') --e;
  size_t sb = e;
  while (sb > from && is_ascii_letter(text[sb - 1])) --sb;
  bool suffix = false;
  for (std::string_view s : kSuffixes) suffix |= text.substr(sb, e - sb) == s;
  if (!suffix) return end;
  size_t start = end;
  size_t p = sb;  // just after the space that ends the word before
  for (int words = 0; words < 3; ++words) {
    if (p <= from || text[p - 1] != ' ') break;
    const size_t word_end = p - 1;
    size_t q = word_end;
    while (q > from && is_lower_ascii(text[q - 1])) --q;
    if (q == word_end || q <= from || !is_upper_ascii(text[q - 1])) break;
    const size_t ws = q - 1;
    // The head before this word: "\b\d{1,5}[A-Za-z]?,? ".
    if (ws > from && text[ws - 1] == ' ') {
      size_t x = ws - 1;
      if (x > from && text[x - 1] == ',') --x;
      if (x > from && is_ascii_letter(text[x - 1])) --x;
      size_t s = number_head(text, from, x, 5);
      if (s < x) start = s;
    }
    p = ws;
  }
  return start;
}

// \b[A-Z][a-z\x80-\xff]+(?:stra(?:ss|\xc3\x9f)e|weg|platz|allee|gasse|ring|damm) \d{1,4}[a-z]?\b
size_t street_de_start(std::string_view text, size_t end) {
  static constexpr std::string_view kSuffixes[] = {
      "strasse", "stra\xc3\x9f" "e", "weg", "platz", "allee", "gasse", "ring", "damm"};
  const size_t from = street_window(text, end);
  size_t x = end;
  if (x > from && is_lower_ascii(text[x - 1])) --x;
  size_t digits = x;
  while (digits > from && is_digit(text[digits - 1])) --digits;
  if (digits == x || x - digits > 4 || digits <= from || text[digits - 1] != ' ') return end;
  const size_t sp = digits - 1;  // the space after the street name
  size_t q = sp;
  while (q > from && name_tail_byte(text[q - 1])) --q;
  if (q <= from || !is_upper_ascii(text[q - 1])) return end;
  const size_t ws = q - 1;
  if (ws > from && is_word_byte(text[ws - 1])) return end;
  for (std::string_view s : kSuffixes) {
    if (sp - q > s.size() && text.substr(sp - s.size(), s.size()) == s) return ws;
  }
  return end;
}

// \b\d{1,4}(?: bis| ter)?,? (?:rue|...|all\xc3\xa9e) (?:de |du |des |de la |d')?[A-Z][a-z\x80-\xff]+
size_t street_fr_start(std::string_view text, size_t end) {
  static constexpr std::string_view kTypes[] = {"rue",    "avenue", "boulevard",
                                                "place",  "chemin", "all\xc3\xa9" "e"};
  static constexpr std::string_view kArticles[] = {"", "de ", "du ", "des ", "de la ", "d'"};
  const size_t from = street_window(text, end);
  size_t q = end;
  while (q > from && name_tail_byte(text[q - 1])) --q;
  if (q == end || q <= from || !is_upper_ascii(text[q - 1])) return end;
  const size_t capital = q - 1;
  size_t start = end;
  for (std::string_view article : kArticles) {
    if (!ends_with_at(text, from, capital, article)) continue;
    const size_t after_type = capital - article.size();  // just after the type's space
    if (after_type <= from || text[after_type - 1] != ' ') continue;
    for (std::string_view type : kTypes) {
      if (!ends_with_at(text, from, after_type - 1, type)) continue;
      const size_t h = after_type - 1 - type.size();  // the type's first byte
      if (h <= from || text[h - 1] != ' ') continue;
      size_t x = h - 1;
      if (x > from && text[x - 1] == ',') --x;
      if (ends_with_at(text, from, x, " bis") || ends_with_at(text, from, x, " ter")) x -= 4;
      size_t s = number_head(text, from, x, 5);
      if (s < x) start = std::min(start, s);
    }
  }
  return start;
}

// Keyword-led patterns (date of birth, name cue, SSN in context): compiled without start
// tracking too (leading alternations of keywords made tracking cost ~8% of the main
// database); the leftmost start is the earliest keyword variant that ends where the separator
// run before the value begins, read backwards from the end.
bool equal_caseless(std::string_view text, size_t at, std::string_view word) {
  if (at + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = text[at + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

// The leftmost start of one of `keywords` (lower case) ending at `at`, with \b before it when
// `bounded`; `none` when no keyword ends there.
size_t keyword_start(std::string_view text, size_t at, std::span<const std::string_view> keywords,
                     bool bounded, size_t none) {
  if (at == 0) return none;
  // Most keywords end in another byte than the one before `at`: rejected on it first.
  char last = text[at - 1];
  if (last >= 'A' && last <= 'Z') last = static_cast<char>(last - 'A' + 'a');
  size_t start = none;
  for (std::string_view k : keywords) {
    if (k.size() > at || k.back() != last) continue;
    const size_t s = at - k.size();
    if (s >= start || !equal_caseless(text, s, k)) continue;
    if (bounded && s > 0 && is_word_byte(text[s - 1])) continue;
    start = s;
  }
  return start;
}

// \b(?:date of birth|dob|...|nato il)[ :,\-]{0,4}[0-9a-z]  (caseless)
size_t date_of_birth_start(std::string_view text, size_t end) {
  static constexpr std::string_view kKeywords[] = {"date of birth",
                                                   "dob",
                                                   "d.o.b",
                                                   "d.o.b.",
                                                   "born",
                                                   "born on",
                                                   "born in",
                                                   "birth date",
                                                   "birthdate",
                                                   "birthday",
                                                   "geburtsdatum",
                                                   "geboren",
                                                   "geboren am",
                                                   "geboren op",
                                                   "geboortedatum",
                                                   "fecha de nacimiento",
                                                   "nacido el",
                                                   "nacida el",
                                                   "date de naissance",
                                                   "n\xc3\xa9 le",
                                                   "n\xc3\xa9e le",
                                                   "data di nascita",
                                                   "nato il",
                                                   "nata il"};
  if (end == 0) return end;
  size_t start = end;
  size_t q = end - 1;  // the value's first byte
  for (int k = 0; k <= 4; ++k) {
    start = keyword_start(text, q, kKeywords, true, start);
    if (q == 0) break;
    const char c = text[q - 1];
    if (c != ' ' && c != ':' && c != ',' && c != '-') break;
    --q;
  }
  return start;
}

// \b(?:(?i:my name is|name is|...|herr|frau))[ ]{1,3}[A-Z][a-z]
size_t name_cue_start(std::string_view text, size_t end) {
  static constexpr std::string_view kKeywords[] = {
      "my name is", "name is",   "name:",     "signed",  "signed:", "regards,", "sincerely,",
      "dear",       "patient:",  "customer:", "client:", "contact:", "mr",      "mr.",
      "mrs",        "mrs.",      "ms",        "ms.",     "miss",    "dr",       "dr.",
      "prof",       "prof.",     "herr",      "frau"};
  if (end < 3) return end;
  size_t start = end;
  size_t q = end - 2;  // the name's capital
  for (int k = 1; k <= 3 && q > 0 && text[q - 1] == ' '; ++k) {
    --q;
    start = keyword_start(text, q, kKeywords, true, start);
  }
  return start;
}

// (?:ssn|social security(?: number| no\.?| #)?)\W{0,5}\d{3}[ \-]?\d{2}[ \-]?\d{4}\b  (caseless)
size_t ssn_context_start(std::string_view text, size_t end) {
  static constexpr std::string_view kKeywords[] = {
      "ssn", "social security", "social security number", "social security no",
      "social security no.", "social security #"};
  // Backwards over \d{4}, [ -]?, \d{2}, [ -]?, \d{3}: a separator byte is never a digit, so
  // each optional one is there exactly when its byte is.
  size_t x = end;
  for (size_t digits : {size_t{4}, size_t{2}, size_t{3}}) {
    if (digits != 4 && x > 0 && (text[x - 1] == ' ' || text[x - 1] == '-')) --x;
    for (size_t d = 0; d < digits; ++d, --x) {
      if (x == 0 || !is_digit(text[x - 1])) return end;
    }
  }
  size_t start = end;
  for (int k = 0; k <= 5; ++k) {
    start = keyword_start(text, x, kKeywords, false, start);
    if (x == 0 || is_word_byte(text[x - 1])) break;
    --x;
  }
  return start;
}

uint8_t shape_of(const Detector& d) {
  std::string_view n = d.name;
  if (n == "phone_e164") return d.pattern.starts_with(R"(\+)") ? kShapePlus : kShapeChain9;
  if (n == "iban_mod97" || n == "uk_nino") return kShapeCapitals;
  if (n == "ipv4") return kShapeIpv4;
  if (n == "ipv6" || n == "mac") return kShapeHex;
  if (n == "base58check" || n == "it_codice_fiscale") return kShapeAlnum16;
  if (n == "es_nif" || n == "es_nie") return kShapeNifNie;
  return kShapeChain9;  // cards, SSN, NANP and national phones, NHS, DE tax ID, Aadhaar, SIN
}

std::vector<Detector> finish_table(std::vector<Detector> table) {
  // Digit- and letter-led patterns with no literal to anchor on: scanned only inside digit
  // regions. Their siblings that start with a literal (the SSN after "ssn", IPv6 around
  // "::") stay in the main database.
  static constexpr std::string_view kRegion[] = {
      "luhn_card", "iban_mod97", "us_ssn",    "phone_e164", "phone_nanp",        "phone_national",
      "ipv4",      "ipv6",       "mac",       "base58check", "uk_nino",          "uk_nhs",
      "de_tax_id", "es_nif",     "es_nie",    "it_codice_fiscale", "in_aadhaar", "ca_sin"};
  for (Detector& d : table) {
    bool named = std::find(std::begin(kRegion), std::end(kRegion), d.name) != std::end(kRegion);
    bool led = d.pattern.starts_with(R"(\b)") || d.pattern.starts_with(R"((?:\b|\())") ||
               d.pattern.starts_with(R"(\+)");
    d.region_scanned = named && led;
    if (d.region_scanned) d.region_shape = shape_of(d);
    if (d.name == "email") d.find_start = email_start;
    if (d.name == "date_of_birth") d.find_start = date_of_birth_start;
    if (d.name == "name_context") d.find_start = name_cue_start;
    if (d.name == "us_ssn" && !d.region_scanned) d.find_start = ssn_context_start;
    if (d.name == "street_address") {
      d.find_start = d.pattern.starts_with(R"(\b\d{1,5})")   ? street_en_start
                     : d.pattern.starts_with(R"(\b[A-Z])") ? street_de_start
                                                             : street_fr_start;
    }
    if (d.name == "name_gazetteer") d.found_in_code = true;
    // AWS access keys: found by anchor_finder.h while the pattern is its own. The email pattern
    // stays in the main database (finding it in code was tried): the database measured
    // faster with it than without (bench_vectorscan_ceiling: 2343-2385 against 2061-2173 MB/s;
    // vectorscan's compile groups the literals differently), more than the finder would save.
    if (d.name == "aws_access_key" && d.pattern == kAwsAccessKeyPattern) d.found_in_code = true;
  }
  return table;
}

}  // namespace

std::span<const Detector> builtin_detectors() {
  static const std::vector<Detector> table = finish_table(make_table());
  return table;
}

}  // namespace sy::policies::sensitivity_detail
