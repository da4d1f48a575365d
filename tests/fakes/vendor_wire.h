#pragma once
// Each vendor's documented wire shapes, as pure functions of (request, reply): response bodies,
// SSE event sequences and error bodies. Private to the fake (the server decides when and how
// the bytes go out; this file decides what they are).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_vendor.h"

namespace sy::fakes::wire {

enum class Endpoint { chat, completions, models, messages, generate };

// One request to a vendor route, with what the answer needs to know about it.
struct Exchange {
  Vendor vendor = Vendor::openai;
  Endpoint endpoint = Endpoint::chat;
  nlohmann::json request;  // the parsed body (null for GET)
  std::string model;       // from the body, the Azure deployment or the Gemini path
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  int prompt_tokens = 0;
  uint64_t serial = 0;  // makes ids unique and deterministic per fake
  int64_t created = 0;  // unix seconds
};

enum class ErrorCase {
  bad_request,
  unauthorized,
  not_found,
  rate_limited,
  server_error,
  bad_gateway,
  unavailable,
  overloaded,
  context_length,
};

struct HttpAnswer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct StreamEvents {
  std::vector<std::string> events;  // each a complete SSE event, blank line included
  bool has_terminator = false;      // the last event is [DONE] / message_stop
};

// Words in every prompt string of the request (messages, system, contents, prompt).
int count_prompt_tokens(Endpoint endpoint, const nlohmann::json& request);
int count_words(std::string_view text);

// The built-in reply when neither the script nor the test set one.
Reply default_reply(const Exchange& exchange);

HttpAnswer full_answer(const Exchange& exchange, const Reply& reply);
StreamEvents stream_events(const Exchange& exchange, const Reply& reply);
std::string malformed_event(Vendor vendor);
// The event a vendor sends when it fails after the stream started.
std::string stream_error_event(Vendor vendor);
HttpAnswer error_answer(Vendor vendor, ErrorCase error, int status);
ErrorCase error_case_for_status(int status);
// Response headers every answer from this vendor carries (request ids).
std::vector<std::pair<std::string, std::string>> vendor_headers(Vendor vendor, uint64_t serial);

}  // namespace sy::fakes::wire
