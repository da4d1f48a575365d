#pragma once
// Turns generated tokens into the text a caller may stream: whole UTF-8 characters only (bytes of
// an incomplete character wait for the rest), a tail that could still be the start of a stop
// string held back, and the text cut before the first stop string. generate() and the serving
// engine share it, so both stop on the same text in the same way.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine {

class TextStreamer {
 public:
  // `tokenizer` must outlive the streamer. Empty stop strings are ignored.
  TextStreamer(const Tokenizer& tokenizer, std::span<const std::string> stop);

  // Appends the token's text and returns what became safe to release (possibly empty); valid
  // until the next call. Once stopped(), the text ends before the stop string and nothing more
  // may be pushed.
  std::string_view push(TokenId token);

  // Generation ended without a stop string: returns the held-back text and the bytes of an
  // incomplete character, cut before a stop string if they complete one (then stopped()).
  std::string_view finish();

  bool stopped() const { return stopped_; }
  // Everything decoded so far, released or not, cut before a stop string.
  const std::string& text() const { return text_; }

 private:
  // Cuts at a stop string and releases what can no longer start one (everything when `final`).
  std::string_view advance(bool final);

  Utf8StreamDecoder decoder_;
  std::vector<std::string> stop_;
  size_t longest_stop_ = 0;
  std::string text_;
  size_t released_ = 0;  // bytes of text_ already returned
  bool stopped_ = false;
};

}  // namespace sy::engine
