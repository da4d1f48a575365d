// Contact and network identifiers: email, phone numbers, IPv4/IPv6, MAC addresses.

#include <arpa/inet.h>

#include <string>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

bool phone_context(std::string_view text, size_t begin, size_t end) {
  return has_context(text, begin, end,
                     {"phone", "tel", "telephone", "mobile", "cell", "call", "fax", "whatsapp",
                      "sms", "telefon", "handy", "telefono", "contact", "ring"});
}

}  // namespace

std::optional<Hit> validate_email(std::string_view text, size_t begin, size_t end) {
  // Leftmost start may include dots that cannot begin a local part; the extended domain may
  // run into a sentence's full stop.
  while (begin < end && (text[begin] == '.' || text[begin] == '-')) ++begin;
  while (end > begin && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
  std::string_view address = text.substr(begin, end - begin);
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || address.size() > 254) {
    return std::nullopt;
  }
  if (address.find("..") != std::string_view::npos) return std::nullopt;
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  if (local.back() == '.') return std::nullopt;
  size_t last_dot = domain.rfind('.');
  if (last_dot == std::string_view::npos || domain.size() - last_dot - 1 < 2) return std::nullopt;
  for (char c : domain.substr(last_dot + 1)) {
    if (is_digit(c) || c == '-') return std::nullopt;  // top-level domains are letters
  }
  size_t label_start = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      std::string_view label = domain.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return std::nullopt;
      }
      label_start = i + 1;
    }
  }
  return Hit{begin, end, 0.95};
}

std::optional<Hit> validate_phone_international(std::string_view text, size_t begin, size_t end) {
  std::string digits = digits_in(text, begin, end);
  bool plus = text[begin] == '+';
  // E.164 allows at most 15 digits; "00" is the international prefix, not part of them.
  size_t significant = plus ? digits.size() : digits.size() - 2;
  if (significant < 8 || significant > 15) return std::nullopt;
  if (!plus && (digits.size() < 3 || digits[2] == '0')) return std::nullopt;
  if (begin > 0 && (is_alnum(text[begin - 1]) || text[begin - 1] == '+')) return std::nullopt;
  if (plus) return Hit{begin, end, 0.9};  // the context words would not change it
  return Hit{begin, end, phone_context(text, begin, end) ? 0.85 : 0.7};
}

std::optional<Hit> validate_phone_nanp(std::string_view text, size_t begin, size_t end) {
  std::string d = digits_in(text, begin, end);
  if (d.size() != 10) return std::nullopt;
  // Area code and exchange start 2-9; N11 codes (411, 911) are services, not area codes.
  if (d[0] < '2' || d[3] < '2') return std::nullopt;
  if (d[1] == '1' && d[2] == '1') return std::nullopt;
  if (begin > 0 && (is_alnum(text[begin - 1]) || text[begin - 1] == '.')) return std::nullopt;
  bool context = phone_context(text, begin, end);
  return Hit{begin, end, context ? 0.9 : 0.75};
}

std::optional<Hit> validate_phone_national(std::string_view text, size_t begin, size_t end) {
  std::string d = digits_in(text, begin, end);
  if (d.size() < 9 || d.size() > 11 || d[1] == '0') return std::nullopt;
  if (begin > 0 && (is_alnum(text[begin - 1]) || text[begin - 1] == '+' || text[begin - 1] == '.' ||
                    text[begin - 1] == '-')) {
    return std::nullopt;
  }
  bool context = phone_context(text, begin, end);
  return Hit{begin, end, context ? 0.85 : 0.6};
}

std::optional<Hit> validate_ipv4(std::string_view text, size_t begin, size_t end) {
  // Part of a longer dotted run (a version or OID like 1.2.3.4.5)?
  if (begin > 0 && text[begin - 1] == '.') return std::nullopt;
  if (end + 1 < text.size() && text[end] == '.' && is_digit(text[end + 1])) return std::nullopt;
  if (begin > 0 && (text[begin - 1] == 'v' || text[begin - 1] == 'V')) return std::nullopt;
  if (has_context(text, begin, end, {"version", "ver", "release", "build"}, 16)) {
    return std::nullopt;
  }
  int octets = 0;
  size_t i = begin;
  while (i < end) {
    size_t j = i;
    while (j < end && is_digit(text[j])) ++j;
    size_t len = j - i;
    if (len == 0 || len > 3 || (len > 1 && text[i] == '0')) return std::nullopt;
    int octet = 0;  // 1-3 digits
    for (size_t k = i; k < j; ++k) octet = octet * 10 + (text[k] - '0');
    if (octet > 255) return std::nullopt;
    ++octets;
    i = j + 1;  // skip the dot
  }
  if (octets != 4) return std::nullopt;
  return Hit{begin, end, 0.85};
}

std::optional<Hit> validate_ipv6(std::string_view text, size_t begin, size_t end) {
  auto hexish = [](char c) { return is_alnum(c) || c == ':' || c == '.'; };
  // Must stand alone: "std::string" and "Foo::bar" are code, not addresses.
  if (begin > 0 && hexish(text[begin - 1])) return std::nullopt;
  if (end < text.size() && (hexish(text[end]) || text[end] == '_')) return std::nullopt;
  std::string candidate(text.substr(begin, end - begin));
  if (candidate.size() < 3 || candidate.size() > 45) return std::nullopt;
  in6_addr address{};
  if (inet_pton(AF_INET6, candidate.c_str(), &address) != 1) return std::nullopt;
  return Hit{begin, end, candidate.find("::") == std::string::npos ? 0.9 : 0.8};
}

std::optional<Hit> validate_mac(std::string_view text, size_t begin, size_t end) {
  char separator = 0;
  bool all_zero = true;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == ':' || c == '-' || c == '.') {
      if (separator != 0 && separator != c) return std::nullopt;
      separator = c;
    } else if (c != '0') {
      all_zero = false;
    }
  }
  if (all_zero) return std::nullopt;
  if (begin > 0 && (text[begin - 1] == ':' || text[begin - 1] == '-')) return std::nullopt;
  if (end < text.size() && (text[end] == ':' || text[end] == '-')) return std::nullopt;
  return Hit{begin, end, 0.85};
}

}  // namespace sy::policies::sensitivity_detail
