#pragma once
// The shared vocabulary -> what a client of the Anthropic surface receives: a `message` object
// for a buffered answer, or Anthropic's exact SSE event sequence for a stream:
//
//   message_start, ping,
//   per content block: content_block_start, content_block_delta* (text_delta for text,
//                      input_json_delta for tool_use), content_block_stop,
//   message_delta (stop_reason, stop_sequence, usage), message_stop
//
// and an `error` event when a stream fails after content. Pure: no I/O, no clock.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/backends/chat.h"

namespace sy::gateway {

struct MessageIdentity {
  std::string id;     // "msg_..."
  std::string model;  // the model name reported to the client
};

// end_turn (stop), max_tokens (length), tool_use (tool_calls), refusal (content_filter). The
// vocabulary does not say which stop sequence matched, so a translated answer never reports
// stop_sequence; an Anthropic backend's own answers pass through natively with theirs.
std::string_view anthropic_stop_reason(backends::FinishReason reason);

// Anthropic's usage object: input_tokens is the uncached part of the prompt; cache reads and
// writes are reported beside it, as Anthropic does.
std::string anthropic_usage_json(const backends::Usage& usage);

// A buffered answer (choice 0) -> a `message` object. Tool-call arguments that are not a JSON
// object are sent as {} (Anthropic's `input` is always an object). `extra_json`, if set, is a
// serialized object added as member "x_switchyard".
std::string encode_anthropic_message(const backends::ChatResponse& response,
                                     const MessageIdentity& who,
                                     std::string_view extra_json = {});

// Turns one stream of chunks (choice 0) into Anthropic SSE text. Call start() once, add() per
// chunk, then finish() (or error()). Each returns the bytes to write (possibly empty).
class AnthropicStreamEncoder {
 public:
  explicit AnthropicStreamEncoder(MessageIdentity who) : who_(std::move(who)) {}

  // message_start (usage so far: `input_tokens` when the upstream reported it early) and ping.
  std::string start(const backends::Usage& usage_so_far = {});
  std::string add(const backends::ChatChunk& chunk);
  // Closes the open block, then message_delta and message_stop. `extra_json` as above, added
  // to message_delta.
  std::string finish(backends::FinishReason reason, const backends::Usage& usage,
                     std::string_view extra_json = {});
  // The `error` event: `error_json` is the whole {"type":"error",...} object.
  static std::string error(std::string_view error_json);

 private:
  std::string close_open_block();
  std::string open_block(std::string block_json);

  MessageIdentity who_;
  int next_index_ = 0;
  std::optional<int> open_;            // the block index open now
  bool open_is_text_ = false;
  std::map<int, int> tool_blocks_;     // tool-call index -> block index
};

}  // namespace sy::gateway
