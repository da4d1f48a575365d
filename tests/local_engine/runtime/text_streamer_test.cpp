// TextStreamer: what is released token by token, and where a stop string cuts, over the
// stories260K SentencePiece vocabulary (byte fallback gives multi-token characters).

#include "runtime/text_streamer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine {
namespace {

std::unique_ptr<Tokenizer> stories_tokenizer() {
  return Tokenizer::create(vocabulary_from_llama2c(
      std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/tok512.bin", 512));
}

struct Streamed {
  std::vector<std::string> chunks;  // one per pushed token
  std::string final;
  std::string all;
  bool stopped = false;
};

Streamed stream(const Tokenizer& tok, std::string_view text, std::vector<std::string> stop) {
  TextStreamer streamer(tok, stop);
  Streamed out;
  for (TokenId t : tok.encode(text, {.add_special = false})) {
    out.chunks.emplace_back(streamer.push(t));
    out.all += out.chunks.back();
    if (streamer.stopped()) break;
  }
  if (!streamer.stopped()) out.final = streamer.finish();
  out.all += out.final;
  out.stopped = streamer.stopped();
  EXPECT_EQ(out.all, streamer.text());
  return out;
}

TEST(TextStreamer, ReleasesEverythingWithoutStopStrings) {
  auto tok = stories_tokenizer();
  auto out = stream(*tok, "Once upon a time", {});
  EXPECT_EQ(out.all, "Once upon a time");
  EXPECT_FALSE(out.stopped);
  EXPECT_EQ(out.final, "");
}

TEST(TextStreamer, CutsBeforeTheFirstStopStringAndNeverReleasesIt) {
  auto tok = stories_tokenizer();
  auto out = stream(*tok, "Once upon a time there was a dog", {"there", "dog"});
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.all, "Once upon a time ");
}

TEST(TextStreamer, HoldsBackAPossibleStartOfAStopString) {
  auto tok = stories_tokenizer();
  // "ti" of "time" could begin "tiger": held until it cannot.
  auto out = stream(*tok, "Once upon a time", {"tiger"});
  EXPECT_FALSE(out.stopped);
  EXPECT_EQ(out.all, "Once upon a time");
  for (const auto& c : out.chunks) EXPECT_EQ(c.find("tig"), std::string::npos);
}

TEST(TextStreamer, ReleasesHeldTextAtTheEnd) {
  auto tok = stories_tokenizer();
  auto out = stream(*tok, "Once upon a ti", {"time"});
  EXPECT_FALSE(out.stopped);
  EXPECT_EQ(out.final, "ti");
  EXPECT_EQ(out.all, "Once upon a ti");
}

TEST(TextStreamer, ReleasesOnlyWholeUtf8Characters) {
  auto tok = stories_tokenizer();
  // Not in the 512-token vocabulary: byte fallback, one token per byte.
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac";
  auto out = stream(*tok, text, {});
  EXPECT_EQ(out.all, text);
  for (const auto& c : out.chunks) {
    // Every chunk ends on a character boundary: its last lead byte starts a complete sequence.
    for (size_t i = 0; i < c.size(); ++i) {
      const auto b = static_cast<unsigned char>(c[i]);
      const size_t len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
      if (len > 0) {
        EXPECT_LE(i + len, c.size()) << c;
      }
    }
  }
}

TEST(TextStreamer, FindsAStopStringSpanningTokens) {
  auto tok = stories_tokenizer();
  auto out = stream(*tok, "She said hello and left", {"o and l"});
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.all, "She said hell");
}

}  // namespace
}  // namespace sy::engine
