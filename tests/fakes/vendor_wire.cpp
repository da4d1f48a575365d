// The vendors' documented response shapes. References: OpenAI Chat Completions / Completions
// API reference and streaming guide; Azure OpenAI REST reference; Anthropic Messages API and
// its streaming guide (event order: message_start, content blocks, ping, message_delta,
// message_stop); Gemini API generateContent / streamGenerateContent (alt=sse) reference.

#include "fakes/vendor_wire.h"

#include <cctype>

namespace sy::fakes::wire {
namespace {

// Ordered, so bodies list their fields in the vendors' documented order (id first).
using json = nlohmann::ordered_json;

// A deterministic id body of `length` characters from [A-Za-z0-9], seeded by the serial.
std::string id_chars(uint64_t seed, std::size_t length) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  for (std::size_t i = 0; i < length; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 29;
    out.push_back(alphabet[x % alphabet.size()]);
  }
  return out;
}

std::string sse_data(const json& payload) { return "data: " + payload.dump() + "\n\n"; }

std::string sse_event(std::string_view name, const json& payload) {
  return "event: " + std::string(name) + "\ndata: " + payload.dump() + "\n\n";
}

void count_strings(const nlohmann::json& node, int& words) {
  if (node.is_string()) {
    words += count_words(node.get_ref<const std::string&>());
  } else if (node.is_array()) {
    for (const auto& item : node) count_strings(item, words);
  } else if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      // Only what a tokenizer would see: text, not ids, roles or types.
      if (key == "text" || key == "content" || key == "parts" || key == "system" ||
          key == "arguments" || key == "input" || key == "args" || key == "response" ||
          key == "output") {
        count_strings(value, words);
      } else if (value.is_array() || value.is_object()) {
        count_strings(value, words);
      }
    }
  }
}

std::string finish_for(Vendor vendor, const Reply& reply) {
  std::string neutral = reply.finish;
  if (neutral.empty()) neutral = reply.tool_calls.empty() ? "stop" : "tool_calls";
  switch (vendor) {
    case Vendor::openai:
    case Vendor::azure:
      return neutral;
    case Vendor::anthropic:
      if (neutral == "stop") return "end_turn";
      if (neutral == "length") return "max_tokens";
      if (neutral == "tool_calls") return "tool_use";
      if (neutral == "content_filter") return "refusal";
      return neutral;
    case Vendor::gemini:
      if (neutral == "stop" || neutral == "tool_calls") return "STOP";
      if (neutral == "length") return "MAX_TOKENS";
      if (neutral == "content_filter") return "SAFETY";
      return neutral;
  }
  return neutral;
}

int completion_tokens(const Reply& reply) {
  int words = count_words(reply.text);
  for (const auto& call : reply.tool_calls) {
    words += 1 + count_words(call.arguments_json);
  }
  return words;
}

json parse_arguments(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json::object() : parsed;
}

// Streamed text pieces: one word (with its leading space) per piece, like a tokenizer would
// emit; long texts in 1 KiB slices so an oversized reply does not become 100k events.
std::vector<std::string> split_text(const std::string& text) {
  std::vector<std::string> pieces;
  if (text.size() > 4096) {
    for (std::size_t i = 0; i < text.size(); i += 1024) pieces.push_back(text.substr(i, 1024));
    return pieces;
  }
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool space = std::isspace(static_cast<unsigned char>(text[i])) != 0;
    if (space && !current.empty() && !std::isspace(static_cast<unsigned char>(current.back()))) {
      pieces.push_back(current);
      current.clear();
    }
    current.push_back(text[i]);
  }
  if (!current.empty()) pieces.push_back(current);
  return pieces;
}

// Arguments JSON streamed in a few fragments, as OpenAI and Anthropic do.
std::vector<std::string> split_arguments(const std::string& text) {
  std::vector<std::string> pieces;
  const std::size_t step = text.size() < 8 ? text.size() : (text.size() + 2) / 3;
  for (std::size_t i = 0; i < text.size() && step > 0; i += step) {
    pieces.push_back(text.substr(i, step));
  }
  return pieces;
}

// ---- OpenAI and Azure ---------------------------------------------------------------------

std::string openai_call_id(uint64_t serial, std::size_t index) {
  return "call_" + id_chars(serial * 31 + index + 7, 24);
}

json openai_usage(const Exchange& ex, const Reply& reply) {
  // Reasoning tokens are part of completion_tokens; cached tokens part of prompt_tokens.
  const int completion = completion_tokens(reply) + reply.reasoning_tokens;
  json usage = {{"prompt_tokens", ex.prompt_tokens},
                {"completion_tokens", completion},
                {"total_tokens", ex.prompt_tokens + completion}};
  if (ex.endpoint == Endpoint::chat) {
    usage["prompt_tokens_details"] = {{"cached_tokens", reply.cached_tokens}, {"audio_tokens", 0}};
    usage["completion_tokens_details"] = {{"reasoning_tokens", reply.reasoning_tokens},
                                          {"audio_tokens", 0},
                                          {"accepted_prediction_tokens", 0},
                                          {"rejected_prediction_tokens", 0}};
  }
  return usage;
}

std::string openai_id(const Exchange& ex) {
  return (ex.endpoint == Endpoint::chat ? "chatcmpl-" : "cmpl-") + id_chars(ex.serial, 29);
}

json openai_chat_body(const Exchange& ex, const Reply& reply) {
  json message = {{"role", "assistant"},
                  {"content", reply.text.empty() && !reply.tool_calls.empty() ? json(nullptr)
                                                                              : json(reply.text)},
                  {"refusal", nullptr},
                  {"annotations", json::array()}};
  if (!reply.tool_calls.empty()) {
    json calls = json::array();
    for (std::size_t i = 0; i < reply.tool_calls.size(); ++i) {
      calls.push_back({{"id", openai_call_id(ex.serial, i)},
                       {"type", "function"},
                       {"function",
                        {{"name", reply.tool_calls[i].name},
                         {"arguments", reply.tool_calls[i].arguments_json}}}});
    }
    message["tool_calls"] = calls;
  }
  json choice = {{"index", 0},
                 {"message", message},
                 {"logprobs", nullptr},
                 {"finish_reason", finish_for(ex.vendor, reply)}};
  if (ex.vendor == Vendor::azure) {
    choice["content_filter_results"] = json::object();
  }
  json body = {{"id", openai_id(ex)},
               {"object", "chat.completion"},
               {"created", ex.created},
               {"model", ex.model},
               {"choices", json::array({choice})},
               {"usage", openai_usage(ex, reply)},
               {"service_tier", "default"},
               {"system_fingerprint", "fp_" + id_chars(1, 10)}};
  if (ex.vendor == Vendor::azure) body["prompt_filter_results"] = json::array();
  return body;
}

json openai_completion_body(const Exchange& ex, const Reply& reply) {
  return {{"id", openai_id(ex)},
          {"object", "text_completion"},
          {"created", ex.created},
          {"model", ex.model},
          {"choices", json::array({{{"text", reply.text},
                                    {"index", 0},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_for(ex.vendor, reply)}}})},
          {"usage", openai_usage(ex, reply)}};
}

StreamEvents openai_stream(const Exchange& ex, const Reply& reply) {
  StreamEvents out;
  const bool chat = ex.endpoint == Endpoint::chat;
  const std::string id = openai_id(ex);
  const std::string fingerprint = "fp_" + id_chars(1, 10);
  auto chunk = [&](json choice) {
    json c = {{"id", id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", ex.created},
              {"model", ex.model}};
    if (chat) {
      c["service_tier"] = "default";
      c["system_fingerprint"] = fingerprint;
    }
    c["choices"] = json::array({std::move(choice)});
    if (ex.include_usage) c["usage"] = nullptr;
    return sse_data(c);
  };
  auto chat_choice = [](json delta, json finish) {
    return json{{"index", 0},
                {"delta", std::move(delta)},
                {"logprobs", nullptr},
                {"finish_reason", std::move(finish)}};
  };
  auto text_choice = [](const std::string& text, json finish) {
    return json{
        {"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}};
  };
  if (chat) {
    out.events.push_back(chunk(
        chat_choice({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr)));
    for (const auto& piece : split_text(reply.text)) {
      out.events.push_back(chunk(chat_choice({{"content", piece}}, nullptr)));
    }
    for (std::size_t i = 0; i < reply.tool_calls.size(); ++i) {
      const auto& call = reply.tool_calls[i];
      out.events.push_back(chunk(chat_choice(
          {{"tool_calls", json::array({{{"index", i},
                                        {"id", openai_call_id(ex.serial, i)},
                                        {"type", "function"},
                                        {"function", {{"name", call.name}, {"arguments", ""}}}}})}},
          nullptr)));
      for (const auto& piece : split_arguments(call.arguments_json)) {
        out.events.push_back(chunk(chat_choice(
            {{"tool_calls", json::array({{{"index", i}, {"function", {{"arguments", piece}}}}})}},
            nullptr)));
      }
    }
    out.events.push_back(chunk(chat_choice(json::object(), finish_for(ex.vendor, reply))));
  } else {
    for (const auto& piece : split_text(reply.text)) {
      out.events.push_back(chunk(text_choice(piece, nullptr)));
    }
    out.events.push_back(chunk(text_choice("", finish_for(ex.vendor, reply))));
  }
  if (ex.include_usage) {
    json c = {{"id", id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", ex.created},
              {"model", ex.model}};
    if (chat) {
      c["service_tier"] = "default";
      c["system_fingerprint"] = fingerprint;
    }
    c["choices"] = json::array();
    c["usage"] = openai_usage(ex, reply);
    out.events.push_back(sse_data(c));
  }
  out.events.push_back("data: [DONE]\n\n");
  out.has_terminator = true;
  return out;
}

json openai_models_body() {
  json data = json::array();
  for (const char* id : {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo-instruct"}) {
    data.push_back(
        {{"id", id}, {"object", "model"}, {"created", 1715367049}, {"owned_by", "system"}});
  }
  return {{"object", "list"}, {"data", data}};
}

// ---- Anthropic ------------------------------------------------------------------------------

// `prompt` counts every prompt token; Anthropic reports the uncached part as input_tokens.
json anthropic_usage(int prompt, int output, const Reply& reply) {
  return {{"input_tokens", prompt - reply.cached_tokens - reply.cache_write_tokens},
          {"cache_creation_input_tokens", reply.cache_write_tokens},
          {"cache_read_input_tokens", reply.cached_tokens},
          {"output_tokens", output},
          {"service_tier", "standard"}};
}

std::string anthropic_tool_id(uint64_t serial, std::size_t index) {
  return "toolu_01" + id_chars(serial * 17 + index + 3, 22);
}

json anthropic_body(const Exchange& ex, const Reply& reply) {
  json content = json::array();
  if (!reply.text.empty()) content.push_back({{"type", "text"}, {"text", reply.text}});
  for (std::size_t i = 0; i < reply.tool_calls.size(); ++i) {
    content.push_back({{"type", "tool_use"},
                       {"id", anthropic_tool_id(ex.serial, i)},
                       {"name", reply.tool_calls[i].name},
                       {"input", parse_arguments(reply.tool_calls[i].arguments_json)}});
  }
  return {{"id", "msg_01" + id_chars(ex.serial, 22)},
          {"type", "message"},
          {"role", "assistant"},
          {"model", ex.model},
          {"content", content},
          {"stop_reason", finish_for(ex.vendor, reply)},
          {"stop_sequence", nullptr},
          {"usage", anthropic_usage(ex.prompt_tokens,
                                    completion_tokens(reply) + reply.reasoning_tokens, reply)}};
}

StreamEvents anthropic_stream(const Exchange& ex, const Reply& reply) {
  StreamEvents out;
  json start = anthropic_body(ex, Reply{});
  start["content"] = json::array();
  start["stop_reason"] = nullptr;
  start["usage"] = anthropic_usage(ex.prompt_tokens, 1, reply);
  out.events.push_back(sse_event("message_start", {{"type", "message_start"}, {"message", start}}));
  int index = 0;
  bool pinged = false;
  auto ping = [&] {
    if (!pinged) out.events.push_back(sse_event("ping", {{"type", "ping"}}));
    pinged = true;
  };
  if (!reply.text.empty()) {
    out.events.push_back(
        sse_event("content_block_start", {{"type", "content_block_start"},
                                          {"index", index},
                                          {"content_block", {{"type", "text"}, {"text", ""}}}}));
    ping();
    for (const auto& piece : split_text(reply.text)) {
      out.events.push_back(
          sse_event("content_block_delta", {{"type", "content_block_delta"},
                                            {"index", index},
                                            {"delta", {{"type", "text_delta"}, {"text", piece}}}}));
    }
    out.events.push_back(
        sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}));
    ++index;
  }
  for (std::size_t i = 0; i < reply.tool_calls.size(); ++i, ++index) {
    const auto& call = reply.tool_calls[i];
    out.events.push_back(
        sse_event("content_block_start", {{"type", "content_block_start"},
                                          {"index", index},
                                          {"content_block",
                                           {{"type", "tool_use"},
                                            {"id", anthropic_tool_id(ex.serial, i)},
                                            {"name", call.name},
                                            {"input", json::object()}}}}));
    ping();
    // Anthropic sends the compact JSON, starting with an empty fragment.
    const std::string compact = parse_arguments(call.arguments_json).dump();
    out.events.push_back(sse_event(
        "content_block_delta", {{"type", "content_block_delta"},
                                {"index", index},
                                {"delta", {{"type", "input_json_delta"}, {"partial_json", ""}}}}));
    for (const auto& piece : split_arguments(compact)) {
      out.events.push_back(
          sse_event("content_block_delta",
                    {{"type", "content_block_delta"},
                     {"index", index},
                     {"delta", {{"type", "input_json_delta"}, {"partial_json", piece}}}}));
    }
    out.events.push_back(
        sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}));
  }
  ping();
  out.events.push_back(sse_event(
      "message_delta",
      {{"type", "message_delta"},
       {"delta", {{"stop_reason", finish_for(ex.vendor, reply)}, {"stop_sequence", nullptr}}},
       {"usage", {{"output_tokens", completion_tokens(reply) + reply.reasoning_tokens}}}}));
  out.events.push_back(sse_event("message_stop", {{"type", "message_stop"}}));
  out.has_terminator = true;
  return out;
}

// ---- Gemini ---------------------------------------------------------------------------------

// Gemini counts cached tokens inside promptTokenCount and thoughts beside the candidates.
json gemini_usage(int prompt, int candidates, const Reply& reply) {
  json usage = {
      {"promptTokenCount", prompt},
      {"totalTokenCount", prompt + candidates + reply.reasoning_tokens},
      {"promptTokensDetails", json::array({{{"modality", "TEXT"}, {"tokenCount", prompt}}})}};
  if (candidates > 0) usage["candidatesTokenCount"] = candidates;
  if (reply.cached_tokens > 0) usage["cachedContentTokenCount"] = reply.cached_tokens;
  if (reply.reasoning_tokens > 0) usage["thoughtsTokenCount"] = reply.reasoning_tokens;
  return usage;
}

json gemini_safety_ratings(bool blocked) {
  json rating = {{"category", "HARM_CATEGORY_DANGEROUS_CONTENT"},
                 {"probability", blocked ? "HIGH" : "NEGLIGIBLE"}};
  if (blocked) rating["blocked"] = true;
  return json::array({rating});
}

json gemini_response(const Exchange& ex, json parts, const std::string* finish, int candidates,
                     const Reply& reply) {
  json candidate = json::object();
  if (!parts.empty()) candidate["content"] = {{"parts", std::move(parts)}, {"role", "model"}};
  if (finish != nullptr) {
    candidate["finishReason"] = *finish;
    if (*finish == "SAFETY") candidate["safetyRatings"] = gemini_safety_ratings(true);
  }
  candidate["index"] = 0;
  return {{"candidates", json::array({candidate})},
          {"usageMetadata", gemini_usage(ex.prompt_tokens, candidates, reply)},
          {"modelVersion", ex.model},
          {"responseId", id_chars(ex.serial, 22)}};
}

json gemini_function_parts(const Reply& reply) {
  json parts = json::array();
  for (const auto& call : reply.tool_calls) {
    parts.push_back(
        {{"functionCall", {{"name", call.name}, {"args", parse_arguments(call.arguments_json)}}}});
  }
  return parts;
}

json gemini_body(const Exchange& ex, const Reply& reply) {
  json parts = json::array();
  if (!reply.text.empty()) parts.push_back({{"text", reply.text}});
  for (auto& part : gemini_function_parts(reply)) parts.push_back(part);
  const std::string finish = finish_for(ex.vendor, reply);
  return gemini_response(ex, parts, &finish, completion_tokens(reply), reply);
}

StreamEvents gemini_stream(const Exchange& ex, const Reply& reply) {
  StreamEvents out;
  const std::string finish = finish_for(ex.vendor, reply);
  auto pieces = split_text(reply.text);
  int so_far = 0;
  // Every event carries usageMetadata; the last one the finishReason and the final counts.
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    so_far += count_words(pieces[i]);
    const bool last = i + 1 == pieces.size() && reply.tool_calls.empty();
    json parts = json::array({{{"text", pieces[i]}}});
    out.events.push_back(sse_data(gemini_response(ex, parts, last ? &finish : nullptr,
                                                  last ? completion_tokens(reply) : so_far,
                                                  reply)));
  }
  if (!reply.tool_calls.empty() || pieces.empty()) {
    out.events.push_back(sse_data(
        gemini_response(ex, gemini_function_parts(reply), &finish, completion_tokens(reply),
                        reply)));
  }
  return out;
}

}  // namespace

int count_words(std::string_view text) {
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

int count_prompt_tokens(Endpoint endpoint, const nlohmann::json& request) {
  if (!request.is_object()) return 0;
  int words = 0;
  for (const char* key :
       {"messages", "system", "prompt", "contents", "systemInstruction", "instructions"}) {
    if (request.contains(key)) count_strings(request[key], words);
  }
  return words;
}

Reply default_reply(const Exchange& ex) {
  return Reply{.text = "This is the fake " + std::string(to_string(ex.vendor)) + " model " +
                       ex.model + " answering " + std::to_string(ex.prompt_tokens) +
                       " prompt words.",
               .tool_calls = {},
               .finish = {}};
}

std::vector<std::pair<std::string, std::string>> vendor_headers(Vendor vendor, uint64_t serial) {
  switch (vendor) {
    case Vendor::openai:
      return {{"x-request-id", "req_" + id_chars(serial + 101, 32)},
              {"openai-processing-ms", "42"},
              {"openai-version", "2020-10-01"}};
    case Vendor::azure:
      return {{"apim-request-id", id_chars(serial + 102, 32)},
              {"x-request-id", id_chars(serial + 103, 32)}};
    case Vendor::anthropic:
      return {{"request-id", "req_011" + id_chars(serial + 104, 21)},
              {"anthropic-organization-id", "00000000-0000-0000-0000-000000000000"}};
    case Vendor::gemini:
      return {{"server-timing", "gfet4t7; dur=42"}};
  }
  return {};
}

HttpAnswer full_answer(const Exchange& ex, const Reply& reply) {
  json body;
  switch (ex.endpoint) {
    case Endpoint::chat:
      body = openai_chat_body(ex, reply);
      break;
    case Endpoint::completions:
      body = openai_completion_body(ex, reply);
      break;
    case Endpoint::models:
      body = openai_models_body();
      break;
    case Endpoint::messages:
      body = anthropic_body(ex, reply);
      break;
    case Endpoint::generate:
      body = gemini_body(ex, reply);
      break;
  }
  HttpAnswer answer;
  answer.headers = vendor_headers(ex.vendor, ex.serial);
  answer.headers.emplace_back("content-type", ex.vendor == Vendor::gemini
                                                  ? "application/json; charset=UTF-8"
                                                  : "application/json");
  answer.body = body.dump();
  return answer;
}

StreamEvents stream_events(const Exchange& ex, const Reply& reply) {
  switch (ex.endpoint) {
    case Endpoint::messages:
      return anthropic_stream(ex, reply);
    case Endpoint::generate:
      return gemini_stream(ex, reply);
    default:
      return openai_stream(ex, reply);
  }
}

std::string malformed_event(Vendor vendor) {
  switch (vendor) {
    case Vendor::anthropic:
      return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
             "\"delta\":{\"type\":\"text_delta\",\"text\":\n\n";
    case Vendor::gemini:
      return "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\n\n";
    default:
      return "data: {\"id\":\"chatcmpl-broken\",\"choices\":[{\"delta\":{\"content\":\n\n";
  }
}

std::string stream_error_event(Vendor vendor) {
  switch (vendor) {
    case Vendor::anthropic:
      return sse_event("error",
                       {{"type", "error"},
                        {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}});
    case Vendor::gemini:
      return sse_data({{"error",
                        {{"code", 500},
                         {"message", "An internal error has occurred. Please retry."},
                         {"status", "INTERNAL"}}}});
    default:
      return sse_data({{"error",
                        {{"message",
                          "The server had an error while processing your request. "
                          "Sorry about that!"},
                         {"type", "server_error"},
                         {"param", nullptr},
                         {"code", nullptr}}}});
  }
}

ErrorCase error_case_for_status(int status) {
  switch (status) {
    case 401:
    case 403:
      return ErrorCase::unauthorized;
    case 404:
      return ErrorCase::not_found;
    case 429:
      return ErrorCase::rate_limited;
    case 502:
      return ErrorCase::bad_gateway;
    case 503:
      return ErrorCase::unavailable;
    case 529:
      return ErrorCase::overloaded;
    default:
      return status >= 500 ? ErrorCase::server_error : ErrorCase::bad_request;
  }
}

HttpAnswer error_answer(Vendor vendor, ErrorCase error, int status) {
  HttpAnswer answer;
  answer.status = status;
  json body;
  if (vendor == Vendor::openai || vendor == Vendor::azure) {
    std::string message, type = "invalid_request_error";
    json code = nullptr, param = nullptr;
    switch (error) {
      case ErrorCase::bad_request:
        message = "We could not parse the JSON body of your request.";
        break;
      case ErrorCase::unauthorized:
        message =
            "Incorrect API key provided: sk-fake***. You can find your API key in your "
            "account settings.";
        code = "invalid_api_key";
        break;
      case ErrorCase::not_found:
        message = "The model does not exist or you do not have access to it.";
        code = "model_not_found";
        break;
      case ErrorCase::rate_limited:
        message = "Rate limit reached for requests. Please try again later.";
        type = "requests";
        code = "rate_limit_exceeded";
        break;
      case ErrorCase::context_length:
        message =
            "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130017 tokens. Please reduce the length of the messages.";
        param = "messages";
        code = "context_length_exceeded";
        break;
      case ErrorCase::unavailable:
      case ErrorCase::overloaded:
        message = "The engine is currently overloaded, please try again later.";
        type = "server_error";
        break;
      case ErrorCase::bad_gateway:
        message = "Bad gateway.";
        type = "server_error";
        break;
      case ErrorCase::server_error:
        message = "The server had an error while processing your request. Sorry about that!";
        type = "server_error";
        break;
    }
    if (vendor == Vendor::azure && error == ErrorCase::unauthorized) {
      // Azure's gateway answers bad keys in its own, shorter shape.
      body = {{"error",
               {{"code", "401"},
                {"message",
                 "Access denied due to invalid subscription key or wrong API "
                 "endpoint. Make sure to provide a valid key for an active "
                 "subscription and use a correct regional API endpoint for your "
                 "resource."}}}};
    } else {
      body = {{"error", {{"message", message}, {"type", type}, {"param", param}, {"code", code}}}};
    }
  } else if (vendor == Vendor::anthropic) {
    std::string type, message;
    switch (error) {
      case ErrorCase::bad_request:
        type = "invalid_request_error";
        message = "invalid request: could not parse the body";
        break;
      case ErrorCase::unauthorized:
        type = "authentication_error";
        message = "invalid x-api-key";
        break;
      case ErrorCase::not_found:
        type = "not_found_error";
        message = "Not found";
        break;
      case ErrorCase::rate_limited:
        type = "rate_limit_error";
        message = "Number of request tokens has exceeded your per-minute rate limit.";
        break;
      case ErrorCase::context_length:
        type = "invalid_request_error";
        message = "prompt is too long: 208310 tokens > 200000 maximum";
        break;
      case ErrorCase::overloaded:
      case ErrorCase::unavailable:
        type = "overloaded_error";
        message = "Overloaded";
        break;
      case ErrorCase::bad_gateway:
      case ErrorCase::server_error:
        type = "api_error";
        message = "Internal server error";
        break;
    }
    body = {{"type", "error"},
            {"error", {{"type", type}, {"message", message}}},
            {"request_id", "req_011" + id_chars(static_cast<uint64_t>(status), 21)}};
  } else {
    std::string grpc_status, message;
    int code = status;
    json details = nullptr;
    switch (error) {
      case ErrorCase::bad_request:
        grpc_status = "INVALID_ARGUMENT";
        message = "Invalid JSON payload received.";
        break;
      case ErrorCase::unauthorized:
        // Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
        code = 400;
        grpc_status = "INVALID_ARGUMENT";
        message = "API key not valid. Please pass a valid API key.";
        details = json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                {"reason", "API_KEY_INVALID"},
                                {"domain", "googleapis.com"},
                                {"metadata", {{"service", "generativelanguage.googleapis.com"}}}}});
        break;
      case ErrorCase::not_found:
        grpc_status = "NOT_FOUND";
        message = "models/unknown is not found for API version v1beta.";
        break;
      case ErrorCase::rate_limited:
        grpc_status = "RESOURCE_EXHAUSTED";
        message = "Resource has been exhausted (e.g. check quota).";
        break;
      case ErrorCase::context_length:
        grpc_status = "INVALID_ARGUMENT";
        message =
            "The input token count (1200000) exceeds the maximum number of tokens "
            "allowed (1048576).";
        break;
      case ErrorCase::unavailable:
      case ErrorCase::overloaded:
        grpc_status = "UNAVAILABLE";
        message = "The model is overloaded. Please try again later.";
        break;
      case ErrorCase::bad_gateway:
      case ErrorCase::server_error:
        grpc_status = "INTERNAL";
        message =
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting";
        break;
    }
    answer.status = code;
    json error_json = {{"code", code}, {"message", message}, {"status", grpc_status}};
    if (!details.is_null()) error_json["details"] = details;
    body = {{"error", error_json}};
  }
  answer.headers = vendor_headers(vendor, static_cast<uint64_t>(status));
  answer.headers.emplace_back("content-type", vendor == Vendor::gemini
                                                  ? "application/json; charset=UTF-8"
                                                  : "application/json");
  if (vendor == Vendor::anthropic && error == ErrorCase::unauthorized) {
    answer.headers.emplace_back("x-should-retry", "false");
  }
  answer.body = body.dump();
  return answer;
}

}  // namespace sy::fakes::wire
