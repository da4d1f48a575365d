#include "batch/batch_input.h"

#include <unordered_set>

#include <nlohmann/json.hpp>

namespace sy::gateway {

using backends::ErrorKind;

bool is_batch_endpoint(std::string_view url) {
  return url == "/v1/chat/completions" || url == "/v1/completions";
}

backends::Result<std::vector<BatchInputLine>> parse_batch_input(std::string_view content,
                                                                size_t max_lines) {
  std::vector<BatchInputLine> lines;
  std::unordered_set<std::string> seen;
  size_t number = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view text = content.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto bad = [&](const std::string& why) {
      return backends::fail(ErrorKind::invalid_request,
                            "line " + std::to_string(number) + ": " + why);
    };
    if (lines.size() >= max_lines) {
      return backends::fail(ErrorKind::payload_too_large,
                            "line " + std::to_string(number) + ": the file has more than " +
                                std::to_string(max_lines) + " requests");
    }
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad("not valid JSON");
    if (!j.is_object()) return bad("must be a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (key != "custom_id" && key != "method" && key != "url" && key != "body") {
        return bad("unknown field '" + key.substr(0, 64) + "'");
      }
    }
    auto custom_id = j.find("custom_id");
    if (custom_id == j.end() || !custom_id->is_string() ||
        custom_id->get_ref<const std::string&>().empty()) {
      return bad("custom_id must be a non-empty string");
    }
    const std::string& id = custom_id->get_ref<const std::string&>();
    if (id.size() > 512) return bad("custom_id is longer than 512 characters");
    if (!seen.insert(id).second) return bad("duplicate custom_id '" + id.substr(0, 64) + "'");
    auto method = j.find("method");
    if (method == j.end() || !method->is_string() || *method != "POST") {
      return bad("method must be \"POST\"");
    }
    auto url = j.find("url");
    if (url == j.end() || !url->is_string() ||
        !is_batch_endpoint(url->get_ref<const std::string&>())) {
      return bad("url must be \"/v1/chat/completions\" or \"/v1/completions\"");
    }
    auto body = j.find("body");
    if (body == j.end() || !body->is_object()) return bad("body must be a JSON object");
    if (!body->contains("model") || !(*body)["model"].is_string()) {
      return bad("body.model must be a string");
    }
    lines.push_back(
        BatchInputLine{.custom_id = id, .url = url->get<std::string>(), .body = body->dump()});
  }
  if (lines.empty()) {
    return backends::fail(ErrorKind::invalid_request, "the file has no requests");
  }
  return lines;
}

}  // namespace sy::gateway
