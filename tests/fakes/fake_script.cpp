// Names of vendors and faults, and the control API's script JSON. Kept apart from the server
// so that editing a script field does not recompile Beast.

#include <cctype>

#include <nlohmann/json.hpp>

#include "fakes/fake_vendor.h"

namespace sy::fakes {

using nlohmann::json;

std::string_view to_string(Vendor vendor) {
  switch (vendor) {
    case Vendor::openai:
      return "openai";
    case Vendor::anthropic:
      return "anthropic";
    case Vendor::gemini:
      return "gemini";
    case Vendor::azure:
      return "azure";
  }
  return "unknown";
}

namespace {

constexpr std::pair<Fault, std::string_view> kFaultNames[] = {
    {Fault::none, "none"},
    {Fault::status, "status"},
    {Fault::unauthorized, "unauthorized"},
    {Fault::reset_before_headers, "reset_before_headers"},
    {Fault::reset_after_headers, "reset_after_headers"},
    {Fault::silent, "silent"},
    {Fault::slow_first_token, "slow_first_token"},
    {Fault::stream_cut, "stream_cut"},
    {Fault::stalled_stream, "stalled_stream"},
    {Fault::malformed_chunk, "malformed_chunk"},
    {Fault::stream_error, "stream_error"},
    {Fault::missing_done, "missing_done"},
    {Fault::context_length, "context_length"},
    {Fault::content_filter, "content_filter"},
    {Fault::oversized, "oversized"},
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view to_string(Fault fault) {
  for (const auto& [value, name] : kFaultNames) {
    if (value == fault) return name;
  }
  return "none";
}

std::optional<Fault> fault_from_string(std::string_view name) {
  for (const auto& [value, fault_name] : kFaultNames) {
    if (fault_name == name) return value;
  }
  return std::nullopt;
}

std::expected<std::vector<Script>, std::string> parse_scripts(std::string_view text) {
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return std::unexpected("scripts: not JSON");
  if (parsed.is_object()) parsed = json::array({parsed});
  if (!parsed.is_array()) return std::unexpected("scripts: expected an object or a list");
  std::vector<Script> scripts;
  for (const auto& item : parsed) {
    if (!item.is_object()) return std::unexpected("scripts: each script is an object");
    Script script;
    try {
      if (item.contains("fault")) {
        auto fault = fault_from_string(item["fault"].get<std::string>());
        if (!fault) return std::unexpected("scripts: unknown fault " + item["fault"].dump());
        script.fault = *fault;
      }
      script.status = item.value("status", 0);
      if (item.contains("retry_after")) {
        const auto& value = item["retry_after"];
        script.retry_after = value.is_string() ? value.get<std::string>() : value.dump();
      }
      script.delay_ms = item.value("delay_ms", 0);
      script.chunk_delay_ms = item.value("chunk_delay_ms", 0);
      script.chunks_before = item.value("chunks_before", 2);
      script.bytes = item.value("bytes", std::size_t{0});
      const json extra_headers = item.value("headers", json::object());
      for (const auto& [name, value] : extra_headers.items()) {
        script.headers.emplace_back(lower(name), value.get<std::string>());
      }
      if (item.contains("reply")) {
        const auto& r = item["reply"];
        Reply reply{.text = r.value("text", std::string{}),
                    .tool_calls = {},
                    .finish = r.value("finish", std::string{}),
                    .cached_tokens = r.value("cached_tokens", 0),
                    .cache_write_tokens = r.value("cache_write_tokens", 0),
                    .reasoning_tokens = r.value("reasoning_tokens", 0)};
        const json calls = r.value("tool_calls", json::array());
        for (const auto& call : calls) {
          const auto& arguments = call.contains("arguments") ? call["arguments"] : json::object();
          reply.tool_calls.push_back({.name = call.value("name", std::string{}),
                                      .arguments_json = arguments.is_string()
                                                            ? arguments.get<std::string>()
                                                            : arguments.dump()});
        }
        script.reply = std::move(reply);
      }
    } catch (const json::exception& e) {
      return std::unexpected(std::string("scripts: ") + e.what());
    }
    if (script.fault == Fault::status && (script.status < 100 || script.status > 599)) {
      return std::unexpected("scripts: fault status needs a status in 100..599");
    }
    scripts.push_back(std::move(script));
  }
  return scripts;
}

}  // namespace sy::fakes
