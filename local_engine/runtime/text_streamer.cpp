#include "runtime/text_streamer.h"

#include <algorithm>

namespace sy::engine {

TextStreamer::TextStreamer(const Tokenizer& tokenizer, std::span<const std::string> stop)
    : decoder_(tokenizer) {
  for (const auto& s : stop) {
    if (s.empty()) continue;
    stop_.push_back(s);
    longest_stop_ = std::max(longest_stop_, s.size());
  }
}

std::string_view TextStreamer::push(TokenId token) {
  text_ += decoder_.push(token);
  return advance(false);
}

std::string_view TextStreamer::finish() {
  text_ += decoder_.finish();
  return advance(true);
}

std::string_view TextStreamer::advance(bool final) {
  // A stop string can only newly appear in text that overlaps the unreleased tail.
  size_t cut = std::string::npos;
  const size_t from = released_ > longest_stop_ ? released_ - longest_stop_ : 0;
  for (const auto& s : stop_) {
    const size_t at = text_.find(s, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    stopped_ = true;
    text_.resize(cut);
  }
  size_t ready = text_.size();
  if (!stopped_ && !final) {
    // Hold back a tail that is a proper prefix of some stop string.
    for (const auto& s : stop_) {
      for (size_t len = std::min(s.size() - 1, text_.size()); len > 0; --len) {
        if (text_.compare(text_.size() - len, len, s, 0, len) == 0) {
          ready = std::min(ready, text_.size() - len);
          break;
        }
      }
    }
  }
  if (ready <= released_) return {};
  const size_t from_released = released_;
  released_ = ready;
  return std::string_view(text_).substr(from_released, ready - from_released);
}

}  // namespace sy::engine
