#pragma once
// ResponseRestorer: puts a MaskPlan's values back into one backend call's answer.
//
// - Streamed chunks: content and refusal per choice (text), tool-call arguments per call
//   (JSON text: values are written JSON-escaped), tool-call names; a possible placeholder
//   prefix at a chunk's end is held until the next chunk of the same field decides it, and
//   released when the field ends (a new tool call, the choice's finish chunk) or at flush().
// - Native Anthropic streams (ChatChunk::native, whole SSE events): text_delta and
//   input_json_delta events per content block, held back the same way; what a block still holds
//   is sent as one more delta before its content_block_stop. Thinking blocks are left as the
//   vendor signed them (their signatures cover the text the vendor saw).
// - The final ChatResponse (buffered calls, and the accumulated response of a stream), its
//   native body included.
// Log-probability tokens are left as generated. Not thread-safe: one per call (a backend's
// handlers of one call are serialized).

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/policies/transform/mask_plan.h"

namespace sy::policies {

class ResponseRestorer {
 public:
  explicit ResponseRestorer(MaskPlanPtr plan) : plan_(std::move(plan)) {}

  // Restores `chunk` in place. False when nothing is left to send (all of it is held back).
  bool restore(backends::ChatChunk& chunk);
  // What is still held when the stream ends without finishing its fields: one chunk per
  // choice that holds something (none if nothing is held).
  std::vector<backends::ChatChunk> flush();
  void restore(backends::ChatResponse& response) const;

 private:
  struct Choice {
    std::optional<StreamRestorer> content;
    std::optional<StreamRestorer> refusal;
    std::map<int, StreamRestorer> tools;  // tool-call index -> its arguments
    int open_tool = -1;                   // the call whose fragments came last
  };
  struct NativeBlock {
    std::string delta_type;  // "text_delta" | "input_json_delta" | "" (left alone)
    std::optional<StreamRestorer> restorer;
  };

  StreamRestorer& restorer(std::optional<StreamRestorer>& slot, StreamRestorer::Mode mode);
  std::string restore_native(std::string_view events);

  MaskPlanPtr plan_;
  std::map<int, Choice> choices_;
  std::map<int, NativeBlock> native_blocks_;  // Anthropic content block index -> state
};

}  // namespace sy::policies
