// Secrets: vendor tokens with fixed prefixes (accepted when random-looking enough), JWTs
// (the header must decode to JSON naming an algorithm), PEM private keys (the span runs to
// its own END line), AWS access key ids (random enough) and password-style assignments whose
// value has high Shannon entropy.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

bool mixed_classes(std::string_view s) {
  bool letter = false, digit = false;
  for (char c : s) {
    if (is_digit(c)) digit = true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letter = true;
  }
  return letter && digit;
}

std::string base64url_decode(std::string_view in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else
      break;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

// Placeholders people paste instead of a real secret.
bool looks_like_placeholder(std::string_view value) {
  std::string lower;
  for (char c : value) lower.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  for (std::string_view p : {"xxxx", "****", "....", "<", "${", "{{", "%s", "example", "changeme",
                             "password", "your_", "your-", "placeholder", "redacted", "secret"}) {
    if (lower.find(p) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::optional<Hit> validate_token_entropy(std::string_view text, size_t begin, size_t end) {
  // The random part follows the vendor prefix; test it alone.
  std::string_view token = text.substr(begin, end - begin);
  size_t cut = token.find_last_of("_-");
  std::string_view body =
      (cut != std::string_view::npos && token.size() - cut > 16) ? token.substr(cut + 1) : token;
  if (shannon_entropy(body) < 3.0 || !mixed_classes(body)) return std::nullopt;
  return Hit{begin, end, 0.95};
}

std::optional<Hit> validate_aws_secret_key(std::string_view text, size_t begin, size_t end) {
  if (end - begin < 40) return std::nullopt;
  size_t start = end - 40;
  if (shannon_entropy(text.substr(start, 40)) < 3.5) return std::nullopt;
  return Hit{start, end, 0.95};
}

std::optional<Hit> validate_jwt(std::string_view text, size_t begin, size_t end) {
  while (end > begin && text[end - 1] == '.') --end;
  std::string_view token = text.substr(begin, end - begin);
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot < 10) return std::nullopt;
  size_t second = token.find('.', dot + 1);
  if (second == std::string_view::npos || second - dot - 1 < 8) return std::nullopt;
  if (token.substr(dot + 1, 3) != "eyJ" || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string header = base64url_decode(token.substr(0, dot));
  if (header.empty() || header.front() != '{' || header.find("\"alg\"") == std::string::npos)
    return std::nullopt;
  return Hit{begin, end, 0.97};
}

std::optional<Hit> validate_private_key(std::string_view text, size_t begin, size_t end) {
  // Cover the key body up to and including its own END line ("-----END RSA PRIVATE KEY-----"
  // for "-----BEGIN RSA PRIVATE KEY-----") when it follows within a key's size with no other
  // armour line between; else the BEGIN line alone (an END far away or of another block is not
  // this key's, and masking must not swallow the text up to it).
  constexpr size_t kMaxArmouredBytes = 64 * 1024;
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kDashes = "-----";
  const std::string_view head = text.substr(begin, end - begin);
  if (!head.starts_with(kBegin) || !head.ends_with(kDashes)) return Hit{begin, end, 0.99};
  const std::string_view label = head.substr(kBegin.size(), head.size() - kBegin.size() - 5);
  const std::string end_line = "-----END " + std::string(label) + "-----";
  const std::string_view after = text.substr(end, kMaxArmouredBytes);
  const size_t at = after.find(end_line);
  if (at != std::string_view::npos && after.substr(0, at).find(kDashes) == std::string_view::npos) {
    end += at + end_line.size();
  }
  return Hit{begin, end, 0.99};
}

std::optional<Hit> validate_aws_access_key(std::string_view text, size_t begin, size_t end) {
  // The 16 characters after the 4-character prefix are random (base32, ~12 distinct on
  // average): a run like "AKIAAAAAAAAAAAAAAAAA" or "AKIAABABABABABABABAB" is filler, not a key.
  // Distinct characters by a bit set, not shannon_entropy: this runs on every candidate.
  if (end - begin != 20) return std::nullopt;
  uint64_t seen = 0;
  for (char c : text.substr(begin + 4, 16)) {
    seen |= uint64_t{1} << (c >= 'A' && c <= 'Z'   ? c - 'A'
                            : c >= '0' && c <= '9' ? 26 + (c - '0')
                                                   : 63);
  }
  if (std::popcount(seen) < 6) return std::nullopt;
  return Hit{begin, end, 0.95};
}

std::optional<Hit> validate_password_assignment(std::string_view text, size_t begin, size_t end) {
  // The value: after the last ':' or '=' of the assignment, quotes dropped.
  size_t op = text.substr(begin, end - begin).find_first_of(":=");
  if (op == std::string_view::npos) return std::nullopt;
  size_t start = begin + op + 1;
  while (start < end && (text[start] == ' ' || text[start] == '\t' || text[start] == '"' ||
                         text[start] == '\'' || text[start] == '=')) {
    ++start;
  }
  size_t stop = end;
  while (stop > start && (text[stop - 1] == '"' || text[stop - 1] == '\'')) --stop;
  std::string_view value = text.substr(start, stop - start);
  if (value.size() < 8 || value.size() > 256 || looks_like_placeholder(value)) {
    return std::nullopt;
  }
  // Short values cannot reach 3 bits/byte; ask for all but half a bit of the maximum.
  double needed = std::min(3.0, std::log2(static_cast<double>(value.size())) - 0.5);
  if (shannon_entropy(value) < needed) return std::nullopt;
  return Hit{start, stop, 0.85};
}

}  // namespace sy::policies::sensitivity_detail
