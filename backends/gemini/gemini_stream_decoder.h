#pragma once
// Decodes streamGenerateContent?alt=sse: every `data:` is a whole GenerateContentResponse
// holding the next increment of each candidate. Gemini sends no terminator: the stream is
// complete once every candidate it mentioned carried a finishReason. The last usageMetadata
// seen is reported once, in a usage chunk, when the body ends.

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "switchyard/backends/sse.h"
#include "switchyard/backends/translator.h"

namespace sy::backends::gemini {

struct CandidateView;

class GeminiStreamDecoder final : public StreamDecoder {
 public:
  Status feed(std::string_view bytes, std::vector<ChatChunk>& out) override;
  Status finish(std::vector<ChatChunk>& out) override;

 private:
  struct ChoiceState {
    int calls = 0;
    bool finished = false;
  };
  Status on_event(const SseEvent& event, std::vector<ChatChunk>& out);
  void on_candidate(CandidateView& candidate, std::vector<ChatChunk>& out);
  Status stop_with(Error error);

  SseParser parser_;
  std::optional<Error> failed_;
  std::map<int, ChoiceState> choices_;
  std::optional<Usage> usage_;
  std::string model_;
  bool model_sent_ = false;
  bool finished_ = false;  // finish() already ran successfully
};

}  // namespace sy::backends::gemini
