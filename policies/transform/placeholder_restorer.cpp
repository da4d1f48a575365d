// The restoring half of MaskPlan: placeholders back to values, whole texts and streamed
// pieces. See mask_plan.h.

#include <nlohmann/json.hpp>

#include "switchyard/policies/transform/mask_plan.h"
#include "transform/mask_text.h"

namespace sy::policies {

namespace transform_detail {

bool looks_like_json(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

bool is_base64_data_url(std::string_view text) {
  return text.starts_with("data:") && text.substr(0, 256).find(";base64,") != std::string_view::npos;
}

std::string json_escape(std::string_view value) {
  std::string quoted = dump_json(nlohmann::json(std::string(value)));
  return quoted.substr(1, quoted.size() - 2);
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace transform_detail

namespace {

// Placeholders are '[' + [A-Z0-9_]+ + ']'.
bool placeholder_byte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

const std::string* MaskPlan::match(std::string_view text, size_t at, size_t* length,
                                   bool* prefix) const {
  *prefix = false;
  if (at >= text.size() || text[at] != '[' || entries_.empty()) return nullptr;
  size_t j = at + 1;
  while (j < text.size() && j - at < max_placeholder_ && placeholder_byte(text[j])) ++j;
  if (j < text.size() && text[j] == ']') {
    auto it = by_placeholder_.find(text.substr(at, j + 1 - at));
    if (it == by_placeholder_.end()) return nullptr;
    *length = j + 1 - at;
    return &entries_[it->second].value;
  }
  if (j == text.size()) {
    // The text ends inside what may be a placeholder: is it the start of a known one?
    const std::string_view rest = text.substr(at);
    auto it = by_placeholder_.lower_bound(rest);
    *prefix = it != by_placeholder_.end() && std::string_view(it->first).starts_with(rest);
  }
  return nullptr;
}

namespace {

// Restores every complete placeholder of `text` into `out`; returns where a trailing possible
// placeholder prefix starts (text.size() if none).
size_t restore_into(const MaskPlan& plan, std::string_view text, bool json_mode,
                    std::string& out) {
  size_t at = 0;
  for (size_t open = text.find('['); open != std::string_view::npos; open = text.find('[', at)) {
    out.append(text, at, open - at);
    size_t length = 0;
    bool prefix = false;
    if (const std::string* value = plan.match(text, open, &length, &prefix)) {
      out += json_mode ? transform_detail::json_escape(*value) : *value;
      at = open + length;
      continue;
    }
    if (prefix) return open;
    out.push_back('[');
    at = open + 1;
  }
  out.append(text, at);
  return text.size();
}

}  // namespace

std::string MaskPlan::restore_text(std::string_view text) const {
  if (entries_.empty()) return std::string(text);
  std::string out;
  size_t held = restore_into(*this, text, false, out);
  out.append(text, held);  // a whole text has no next piece: a prefix stays as it is
  return out;
}

std::string MaskPlan::restore_json(std::string_view json_text) const {
  if (entries_.empty()) return std::string(json_text);
  std::string out;
  size_t held = restore_into(*this, json_text, true, out);
  out.append(json_text, held);
  return out;
}

std::string StreamRestorer::feed(std::string_view piece) {
  if (!plan_ || plan_->empty()) return std::string(piece);
  std::string text = std::move(held_);
  held_.clear();
  text.append(piece);
  std::string out;
  size_t held = restore_into(*plan_, text, mode_ == Mode::json, out);
  held_.assign(text, held);
  return out;
}

std::string StreamRestorer::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace sy::policies
