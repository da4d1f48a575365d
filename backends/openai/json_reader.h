#pragma once
// A pull reader over JSON text, for the codec's fast paths: the common request and answer
// shapes are read straight into the vocabulary, with no DOM to build and free per request.
//
// Contract: it accepts exactly what the JSON library accepts (RFC 8259; strings strictly
// UTF-8, surrogate escapes paired) and decodes strings and numbers to the same values. It never
// reports *why* something failed: the first invalid, unsupported or too deeply nested input
// makes it `failed()`, every later call returns false, and the caller then parses the same
// text with the DOM, which gives the error (or the result, for shapes the fast path leaves to
// it). So a fast path is only ever a shortcut to the DOM's own answer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sy::backends::openai::detail {

class JsonReader {
 public:
  enum class Type { object, array, string, number, boolean, null, invalid };

  // `max_depth`: deeper nesting fails (the DOM path then reports it as the limit says).
  JsonReader(std::string_view text, size_t max_depth);

  bool failed() const { return failed_; }
  // Marks the input as one the fast path does not take; returns false for `return fail();`.
  bool fail() {
    failed_ = true;
    return false;
  }

  // The type of the next value (after whitespace), without consuming it.
  Type peek();

  // Objects: begin_object() consumes '{'; then next_member() yields each key in document order
  // (valid until the next call) and returns false once the closing '}' is consumed (or on
  // failure: check failed()). The member's value must be read or skipped before the next call.
  bool begin_object();
  bool next_member(std::string_view& key);
  // Arrays, the same way: next_element() is true while a value follows.
  bool begin_array();
  bool next_element();

  // Scalars; each fails (and consumes nothing useful) when the next value is of another type.
  bool read_string(std::string& out);  // decoded, replacing `out`
  bool read_bool(bool& out);
  bool read_null();
  // An integer literal (no fraction or exponent) that fits int64_t.
  bool read_int(int64_t& out);
  // Any number: `integer` tells an integer literal (in `i`; beyond int64_t fails) from one
  // with a fraction or exponent (in `d`), the distinction the JSON library makes.
  bool read_number(bool& integer, int64_t& i, double& d);
  // Any number, as the JSON library converts it to double (integer literals included).
  bool read_double(double& out);
  // Validates and skips one value of any type.
  bool skip_value();

  // True when only whitespace is left (call after the root value).
  bool at_end();

 private:
  void skip_ws();
  bool expect(char c);
  bool enter();
  bool scan_string(std::string* out);
  bool scan_number(bool& integer, std::string_view& literal);
  bool literal(std::string_view word);

  const char* p_;
  const char* end_;
  size_t depth_ = 0;
  const size_t max_depth_;
  bool failed_ = false;
  bool first_ = false;  // the next member/element is the first of its container
  std::string key_;     // the last key, when it had escapes
};

}  // namespace sy::backends::openai::detail
