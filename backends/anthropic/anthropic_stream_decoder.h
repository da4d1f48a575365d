#pragma once
// Decodes the Messages API event stream (message_start, content_block_start/delta/stop,
// message_delta, message_stop, ping, error) into ChatChunks. Tool calls are numbered in the
// order their tool_use blocks start; usage from message_start and message_delta is reported
// once, in a usage chunk after the finish chunk, when message_stop arrives.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "switchyard/backends/sse.h"
#include "switchyard/backends/translator.h"

namespace sy::backends::anthropic {

class AnthropicStreamDecoder final : public StreamDecoder {
 public:
  Status feed(std::string_view bytes, std::vector<ChatChunk>& out) override;
  Status finish(std::vector<ChatChunk>& out) override;

 private:
  Status on_event(const SseEvent& event, std::vector<ChatChunk>& out);
  Status on_message_start(const nlohmann::json& data, std::vector<ChatChunk>& out);
  void on_block_start(const nlohmann::json& data, std::vector<ChatChunk>& out);
  Status on_block_delta(const nlohmann::json& data, std::vector<ChatChunk>& out);
  void on_message_delta(const nlohmann::json& data);
  void on_message_stop(std::vector<ChatChunk>& out);
  Status stop_with(Error error);

  SseParser parser_;
  std::optional<Error> failed_;             // decoding stopped on this error
  bool started_ = false;                    // message_start seen
  bool done_ = false;                       // message_stop seen
  std::map<int, int> tool_index_by_block_;  // content block index -> tool-call index
  int tool_calls_ = 0;
  std::string stop_reason_;
  Usage usage_;
  int64_t input_tokens_ = 0;
};

}  // namespace sy::backends::anthropic
