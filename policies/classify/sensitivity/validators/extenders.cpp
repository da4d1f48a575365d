// Extenders: run a candidate's end over the rest of its value (see Detector::extend). Each is
// capped so that a megabyte-long "token" costs a bounded amount of work per candidate.

#include <algorithm>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

template <typename Pred>
size_t extend_while(std::string_view text, size_t end, size_t cap, Pred pred) {
  size_t limit = std::min(text.size(), end + cap);
  while (end < limit && pred(text[end])) ++end;
  return end;
}

}  // namespace

size_t extend_token(std::string_view text, size_t end) {
  return extend_while(text, end, 512, [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

size_t extend_alnum(std::string_view text, size_t end) {
  return extend_while(text, end, 512, [](char c) { return is_alnum(c); });
}

size_t extend_secret_value(std::string_view text, size_t end) {
  return extend_while(text, end, 512, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '"' && c != '\'' && c != ',' && c != ';' && c != '<' &&
           c != '>';
  });
}

size_t extend_domain(std::string_view text, size_t end) {
  return extend_while(text, end, 255, [](char c) { return is_alnum(c) || c == '.' || c == '-'; });
}

size_t extend_jwt(std::string_view text, size_t end) {
  return extend_while(text, end, 16384,
                      [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

size_t extend_base58(std::string_view text, size_t end) {
  return extend_while(text, end, 16, [](char c) {
    return is_alnum(c) && c != '0' && c != 'O' && c != 'I' && c != 'l';
  });
}

size_t extend_lower(std::string_view text, size_t end) {
  return extend_while(text, end, 24, [](char c) { return c >= 'a' && c <= 'z'; });
}

size_t extend_date(std::string_view text, size_t end) {
  return extend_while(text, end, 24, [](char c) {
    return is_alnum(c) || c == ' ' || c == '/' || c == '.' || c == ',' || c == '-';
  });
}

size_t extend_url_path(std::string_view text, size_t end) {
  return extend_while(text, end, 256,
                      [](char c) { return is_alnum(c) || c == '/' || c == '_' || c == '-'; });
}

size_t extend_name(std::string_view text, size_t end) {
  auto lower_run = [&](size_t at) {
    return extend_while(text, at, 20, [](char c) { return c >= 'a' && c <= 'z'; });
  };
  end = lower_run(end);
  for (int words = 0; words < 2; ++words) {
    bool next_word = end + 2 < text.size() && (text[end] == ' ' || text[end] == '-') &&
                     text[end + 1] >= 'A' && text[end + 1] <= 'Z' && text[end + 2] >= 'a' &&
                     text[end + 2] <= 'z';
    if (!next_word) break;
    end = lower_run(end + 2);
  }
  return end;
}

}  // namespace sy::policies::sensitivity_detail
