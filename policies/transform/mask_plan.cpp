// MaskPlan: build (scan every string that would leave, pick values, number placeholders) and
// mask (replace every occurrence of every value in every string). See mask_plan.h.

#include "switchyard/policies/transform/mask_plan.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "transform/mask_text.h"

namespace sy::policies {

using json = nlohmann::json;
using transform_detail::dump_json;
using transform_detail::is_base64_data_url;
using transform_detail::json_escape;
using transform_detail::looks_like_json;
using transform_detail::word_byte;

namespace {

// JSON nested deeper than this is not walked for masking (nor for scanning: the classifier
// reports it as an unscannable finding, which the policy decides on).
constexpr size_t kMaxDepth = 256;

enum class StringKind { text, json_text, url };

// Every string of a request a translator may send, with what it holds. `Request` is const for
// the scan and mutable for masking; `fn(string&, StringKind)`.
template <class Request, class Fn>
void visit_strings(Request& request, Fn&& fn) {
  for (auto& message : request.messages) {
    for (auto& part : message.content) {
      switch (part.kind) {
        case backends::ContentPart::Kind::text:
          fn(part.text, StringKind::text);
          break;
        case backends::ContentPart::Kind::image_url:
          fn(part.url, StringKind::url);
          break;
        case backends::ContentPart::Kind::other:
          fn(part.raw_json, StringKind::json_text);
          break;
      }
    }
    fn(message.name, StringKind::text);
    for (auto& call : message.tool_calls) {
      fn(call.id, StringKind::text);
      fn(call.name, StringKind::text);
      fn(call.arguments, StringKind::json_text);
    }
    fn(message.tool_call_id, StringKind::text);
    fn(message.refusal, StringKind::text);
    for (auto& field : message.extra) {
      fn(field.key, StringKind::text);
      fn(field.value_json, StringKind::json_text);
    }
  }
  fn(request.prompt, StringKind::text);
  for (auto& tool : request.tools) {
    fn(tool.name, StringKind::text);
    fn(tool.description, StringKind::text);
    fn(tool.parameters_json, StringKind::json_text);
  }
  fn(request.tool_choice.function_name, StringKind::text);
  fn(request.response_format.schema_name, StringKind::text);
  fn(request.response_format.schema_json, StringKind::json_text);
  fn(request.response_format.description, StringKind::text);
  for (auto& stop : request.stop) fn(stop, StringKind::text);
  fn(request.user, StringKind::text);
  for (auto& [key, value] : request.metadata) {
    fn(key, StringKind::text);
    fn(value, StringKind::text);
  }
  for (auto& field : request.extra) {
    fn(field.key, StringKind::text);
    fn(field.value_json, StringKind::json_text);
  }
}

std::string label_of(FindingType type, std::string_view detector) {
  switch (type) {
    case FindingType::payment_card:
      return "CARD";
    case FindingType::iban:
      return "IBAN";
    case FindingType::us_ssn:
      return "SSN";
    case FindingType::national_id:
      return "NATIONAL_ID";
    case FindingType::email:
      return "EMAIL";
    case FindingType::phone:
      return "PHONE";
    case FindingType::ip_address:
      return "IP_ADDRESS";
    case FindingType::mac_address:
      return "MAC_ADDRESS";
    case FindingType::crypto_address:
      return "CRYPTO_ADDRESS";
    case FindingType::date_of_birth:
      return "DATE_OF_BIRTH";
    case FindingType::person_name:
      return "PERSON";
    case FindingType::street_address:
      return "ADDRESS";
    case FindingType::secret:
      return "SECRET";
    case FindingType::custom_term:
    case FindingType::custom_pattern: {
      // The tenant's list or pattern name, as a placeholder word: "code-names" -> CODE_NAMES.
      std::string out;
      for (char c : detector.substr(0, 24)) {
        if (c >= 'a' && c <= 'z') {
          out.push_back(static_cast<char>(c - 'a' + 'A'));
        } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
          out.push_back(c);
        } else if (!out.empty() && out.back() != '_') {
          out.push_back('_');
        }
      }
      while (!out.empty() && out.back() == '_') out.pop_back();
      if (out.empty() || (out.front() >= '0' && out.front() <= '9')) {
        return type == FindingType::custom_term ? "TERM" : "PATTERN";
      }
      return out;
    }
    case FindingType::unscannable:
      break;
  }
  return "PII";
}

}  // namespace

// Collects the values of one request: every string scanned, selected findings merged per
// overlapping cluster, values in order of first appearance.
class MaskPlanBuilder {
 public:
  MaskPlanBuilder(const SensitivityClassifier& classifier, const MaskSelection& selection)
      : classifier_(classifier), selection_(selection) {}

  void add(std::string_view text, StringKind kind) {
    if (text.empty()) return;
    corpus_.append(text);
    corpus_.push_back('\n');
    if (kind == StringKind::url && is_base64_data_url(text)) return;  // bytes, not text
    scan(text);
    if (kind == StringKind::json_text || looks_like_json(text)) {
      json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) walk(parsed, 0);
    }
  }

  std::shared_ptr<const MaskPlan> finish() {
    auto plan = std::make_shared<MaskPlan>();
    std::map<std::string, int> next;  // label -> next number to try
    for (Found& found : found_) {
      const std::string label = label_of(found.type, found.detector);
      int& n = next.try_emplace(label, 1).first->second;
      std::string placeholder;
      do {
        placeholder = "[" + label + "_" + std::to_string(n++) + "]";
      } while (corpus_.find(placeholder) != std::string::npos);
      MaskPlan::Entry entry;
      entry.escaped = json_escape(found.value);
      entry.value = std::move(found.value);
      entry.placeholder = std::move(placeholder);
      entry.type = found.type;
      entry.inside_word = found.inside_word;
      plan->entries_.push_back(std::move(entry));
    }
    plan->index();
    return plan;
  }

 private:
  struct Found {
    std::string value;
    FindingType type;
    std::string detector;
    bool inside_word;
  };

  void walk(const json& value, size_t depth) {
    if (depth > kMaxDepth) return;
    if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        scan(it.key());
        walk(it.value(), depth + 1);
      }
    } else if (value.is_array()) {
      for (const json& element : value) walk(element, depth + 1);
    } else if (value.is_string()) {
      const std::string& s = value.get_ref<const std::string&>();
      if (is_base64_data_url(s)) return;
      scan(s);
      if (looks_like_json(s)) {
        json inner = json::parse(s, nullptr, /*allow_exceptions=*/false);
        if (!inner.is_discarded()) walk(inner, depth + 1);
      }
    } else if (value.is_number()) {
      scan(value.dump());
    }
  }

  void scan(std::string_view text) {
    std::vector<Finding> picked;
    for (Finding& f : classifier_.scan(text)) {
      if (f.confidence >= classifier_.config().min_confidence && selection_.selects(f)) {
        picked.push_back(std::move(f));
      }
    }
    std::sort(picked.begin(), picked.end(),
              [](const Finding& a, const Finding& b) { return a.begin < b.begin; });
    // Overlapping findings (a name inside an address, two detectors on one run) become one
    // span, their union, named after the most confident (then longest) of them.
    for (size_t i = 0; i < picked.size();) {
      size_t begin = picked[i].begin, end = picked[i].end;
      const Finding* best = &picked[i];
      size_t j = i + 1;
      for (; j < picked.size() && picked[j].begin < end; ++j) {
        end = std::max(end, picked[j].end);
        const Finding& f = picked[j];
        if (f.confidence > best->confidence ||
            (f.confidence == best->confidence && f.end - f.begin > best->end - best->begin)) {
          best = &f;
        }
      }
      record(text, begin, end, *best);
      i = j;
    }
  }

  void record(std::string_view text, size_t begin, size_t end, const Finding& f) {
    if (end <= begin || end > text.size()) return;
    const bool inside_word =
        (begin > 0 && word_byte(text[begin - 1]) && word_byte(text[begin])) ||
        (end < text.size() && word_byte(text[end]) && word_byte(text[end - 1]));
    std::string value(text.substr(begin, end - begin));
    auto [it, fresh] = index_.try_emplace(value, found_.size());
    if (fresh) {
      found_.push_back(Found{std::move(value), f.type, f.detector, inside_word});
    } else if (inside_word) {
      found_[it->second].inside_word = true;
    }
  }

  const SensitivityClassifier& classifier_;
  const MaskSelection& selection_;
  std::vector<Found> found_;
  std::map<std::string, size_t, std::less<>> index_;  // value -> found_ index
  std::string corpus_;  // every string of the request: placeholders must not occur in it
};

std::shared_ptr<const MaskPlan> MaskPlan::build(const backends::ChatRequest& request,
                                                const SensitivityClassifier& classifier,
                                                const MaskSelection& selection) {
  MaskPlanBuilder builder(classifier, selection);
  visit_strings(request, [&](const std::string& s, StringKind kind) { builder.add(s, kind); });
  if (request.native) builder.add(request.native->body, StringKind::json_text);
  return builder.finish();
}

void MaskPlan::index() {
  longest_first_.resize(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    longest_first_[i] = i;
    by_placeholder_.emplace(entries_[i].placeholder, i);
    max_placeholder_ = std::max(max_placeholder_, entries_[i].placeholder.size());
  }
  std::stable_sort(longest_first_.begin(), longest_first_.end(), [&](size_t a, size_t b) {
    return entries_[a].value.size() > entries_[b].value.size();
  });
}

std::string MaskPlan::replace_values(std::string_view text, bool json_escaped_too) const {
  if (entries_.empty() || text.empty()) return std::string(text);
  struct Hit {
    size_t begin;
    size_t end;
    size_t entry;
  };
  std::vector<Hit> hits;
  std::map<size_t, size_t> taken;  // begin -> end of spans already replaced
  auto free = [&](size_t begin, size_t end) {
    auto next = taken.lower_bound(begin);
    if (next != taken.end() && next->first < end) return false;
    if (next != taken.begin() && std::prev(next)->second > begin) return false;
    return true;
  };
  for (size_t index : longest_first_) {
    const Entry& e = entries_[index];
    for (int form = 0; form < (json_escaped_too && e.escaped != e.value ? 2 : 1); ++form) {
      const std::string& needle = form == 0 ? e.value : e.escaped;
      for (size_t at = text.find(needle); at != std::string_view::npos;
           at = text.find(needle, at + 1)) {
        const size_t end = at + needle.size();
        if (!e.inside_word) {
          if (word_byte(needle.front()) && at > 0 && word_byte(text[at - 1])) continue;
          if (word_byte(needle.back()) && end < text.size() && word_byte(text[end])) continue;
        }
        if (!free(at, end)) continue;
        taken.emplace(at, end);
        hits.push_back({at, end, index});
      }
    }
  }
  if (hits.empty()) return std::string(text);
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const Hit& hit : hits) {
    out.append(text, at, hit.begin - at);
    out += entries_[hit.entry].placeholder;
    at = hit.end;
  }
  out.append(text, at);
  return out;
}

std::string MaskPlan::mask_text(std::string_view text) const { return replace_values(text, false); }

namespace {

// Masks a parsed JSON value in place; true if anything changed.
bool mask_tree(const MaskPlan& plan, json& value, size_t depth);

bool mask_string_value(const MaskPlan& plan, std::string& s, size_t depth) {
  if (is_base64_data_url(s)) return false;
  std::string masked;
  json inner;
  if (looks_like_json(s) &&
      !(inner = json::parse(s, nullptr, /*allow_exceptions=*/false)).is_discarded()) {
    // JSON carried in a string (tool results): masked as JSON so escapes cannot hide a value.
    if (!mask_tree(plan, inner, depth + 1)) return false;
    masked = dump_json(inner);
  } else {
    masked = plan.mask_text(s);
  }
  if (masked == s) return false;
  s = std::move(masked);
  return true;
}

bool mask_tree(const MaskPlan& plan, json& value, size_t depth) {
  if (depth > kMaxDepth) return false;
  bool changed = false;
  if (value.is_object()) {
    json renamed = json::object();
    bool keys_changed = false;
    for (auto it = value.begin(); it != value.end(); ++it) {
      changed = mask_tree(plan, it.value(), depth + 1) || changed;
      std::string key = plan.mask_text(it.key());
      keys_changed = keys_changed || key != it.key();
      renamed[std::move(key)] = std::move(it.value());
    }
    value = std::move(renamed);
    changed = changed || keys_changed;
  } else if (value.is_array()) {
    for (json& element : value) changed = mask_tree(plan, element, depth + 1) || changed;
  } else if (value.is_string()) {
    changed = mask_string_value(plan, value.get_ref<std::string&>(), depth);
  } else if (value.is_number()) {
    // A card number sent as a JSON number: it becomes the placeholder, as a string.
    const std::string text = value.dump();
    std::string masked = plan.mask_text(text);
    if (masked != text) {
      value = std::move(masked);
      changed = true;
    }
  }
  return changed;
}

}  // namespace

std::string MaskPlan::mask_json(std::string_view json_text) const {
  if (entries_.empty() || json_text.empty()) return std::string(json_text);
  json parsed = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return replace_values(json_text, /*json_escaped_too=*/true);
  if (!mask_tree(*this, parsed, 0)) return std::string(json_text);
  return dump_json(parsed);
}

backends::ChatRequest MaskPlan::mask(backends::ChatRequest request) const {
  if (entries_.empty()) return request;
  visit_strings(request, [&](std::string& s, StringKind kind) {
    if (s.empty()) return;
    switch (kind) {
      case StringKind::json_text:
        s = mask_json(s);
        break;
      case StringKind::url:
        if (is_base64_data_url(s)) break;
        s = mask_text(s);
        break;
      case StringKind::text:
        // A string that holds JSON (a tool result) is masked as JSON, like the scan walks it.
        s = looks_like_json(s) ? mask_json(s) : mask_text(s);
        break;
    }
  });
  if (request.native) {
    std::string body = mask_json(request.native->body);
    if (body != request.native->body) {
      auto native = std::make_shared<backends::NativeRequest>(*request.native);
      native->body = std::move(body);
      request.native = std::move(native);
    }
  }
  return request;
}

std::vector<std::pair<FindingType, size_t>> MaskPlan::counts() const {
  std::map<FindingType, size_t> by_type;
  for (const Entry& e : entries_) ++by_type[e.type];
  return {by_type.begin(), by_type.end()};
}

std::vector<std::string> MaskPlan::placeholders() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.placeholder);
  return out;
}

}  // namespace sy::policies
