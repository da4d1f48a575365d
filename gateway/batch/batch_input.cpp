#include "batch/batch_input.h"

#include <nlohmann/json.hpp>

namespace sy::gateway {

using backends::ErrorKind;

bool is_batch_endpoint(std::string_view url) {
  return url == "/v1/chat/completions" || url == "/v1/completions";
}

BatchInputReader::BatchInputReader(size_t max_lines, size_t max_line_bytes, bool keep_lines)
    : max_lines_(max_lines), max_line_bytes_(max_line_bytes), keep_lines_(keep_lines) {}

backends::Status BatchInputReader::feed(std::string_view bytes) {
  if (failed_) return std::unexpected(*failed_);
  while (!bytes.empty()) {
    const size_t end = bytes.find('\n');
    if (end == std::string_view::npos) {
      if (partial_.size() + bytes.size() > max_line_bytes_) {
        failed_ =
            backends::Error{.kind = ErrorKind::invalid_request,
                            .message = "line " + std::to_string(number_ + 1) + ": longer than " +
                                       std::to_string(max_line_bytes_) + " bytes"};
        return std::unexpected(*failed_);
      }
      partial_.append(bytes);
      return {};
    }
    backends::Status checked;
    if (partial_.empty()) {
      checked = check_line(bytes.substr(0, end));  // the common case: no copy
    } else {
      partial_.append(bytes.substr(0, end));
      checked = check_line(partial_);
      partial_.clear();
    }
    if (!checked) return checked;
    bytes.remove_prefix(end + 1);
  }
  return {};
}

backends::Status BatchInputReader::finish() {
  if (failed_) return std::unexpected(*failed_);
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    if (auto checked = check_line(last); !checked) return checked;
  }
  if (requests_ == 0) {
    failed_ =
        backends::Error{.kind = ErrorKind::invalid_request, .message = "the file has no requests"};
    return std::unexpected(*failed_);
  }
  return {};
}

backends::Status BatchInputReader::check_line(std::string_view text) {
  ++number_;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.find_first_not_of(" \t") == std::string_view::npos) return {};
  auto bad = [&](ErrorKind kind, const std::string& why) -> backends::Status {
    failed_ =
        backends::Error{.kind = kind, .message = "line " + std::to_string(number_) + ": " + why};
    return std::unexpected(*failed_);
  };
  if (text.size() > max_line_bytes_) {
    return bad(ErrorKind::invalid_request,
               "longer than " + std::to_string(max_line_bytes_) + " bytes");
  }
  if (requests_ >= max_lines_) {
    return bad(ErrorKind::payload_too_large,
               "the file has more than " + std::to_string(max_lines_) + " requests");
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad(ErrorKind::invalid_request, "not valid JSON");
  if (!j.is_object()) return bad(ErrorKind::invalid_request, "must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "custom_id" && key != "method" && key != "url" && key != "body") {
      return bad(ErrorKind::invalid_request, "unknown field '" + key.substr(0, 64) + "'");
    }
  }
  auto custom_id = j.find("custom_id");
  if (custom_id == j.end() || !custom_id->is_string() ||
      custom_id->get_ref<const std::string&>().empty()) {
    return bad(ErrorKind::invalid_request, "custom_id must be a non-empty string");
  }
  const std::string& id = custom_id->get_ref<const std::string&>();
  if (id.size() > 512)
    return bad(ErrorKind::invalid_request, "custom_id is longer than 512 characters");
  if (!seen_.insert(id).second) {
    return bad(ErrorKind::invalid_request, "duplicate custom_id '" + id.substr(0, 64) + "'");
  }
  auto method = j.find("method");
  if (method == j.end() || !method->is_string() || *method != "POST") {
    return bad(ErrorKind::invalid_request, "method must be \"POST\"");
  }
  auto url = j.find("url");
  if (url == j.end() || !url->is_string() ||
      !is_batch_endpoint(url->get_ref<const std::string&>())) {
    return bad(ErrorKind::invalid_request,
               "url must be \"/v1/chat/completions\" or \"/v1/completions\"");
  }
  auto body = j.find("body");
  if (body == j.end() || !body->is_object()) {
    return bad(ErrorKind::invalid_request, "body must be a JSON object");
  }
  if (!body->contains("model") || !(*body)["model"].is_string()) {
    return bad(ErrorKind::invalid_request, "body.model must be a string");
  }
  ++requests_;
  if (keep_lines_) {
    lines_.push_back(
        BatchInputLine{.custom_id = id, .url = url->get<std::string>(), .body = body->dump()});
  }
  return {};
}

backends::Result<std::vector<BatchInputLine>> parse_batch_input(std::string_view content,
                                                                size_t max_lines) {
  BatchInputReader reader(max_lines, std::numeric_limits<size_t>::max(), /*keep_lines=*/true);
  if (auto fed = reader.feed(content); !fed) return std::unexpected(fed.error());
  if (auto done = reader.finish(); !done) return std::unexpected(done.error());
  return reader.take_lines();
}

}  // namespace sy::gateway
