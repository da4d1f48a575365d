#pragma once
// MaskPlan: the `mask_pii` transform's reversible substitution for one request.
//
// Built once per request (MaskPlan::build) from every string that would leave the gateway:
// message parts, names, tool definitions, tool-call arguments, tool results, metadata, unknown
// members and the native body a backend may forward verbatim. Each string is scanned with the
// policy's SensitivityClassifier; every finding the selection picks (at or above the
// classifier's min_confidence; overlapping ones merged into one span) becomes a value with a
// stable placeholder: the same value gets the same placeholder everywhere in the request.
//
// Placeholders look like `[EMAIL_1]`, `[PHONE_2]`, `[PERSON_1]`: short, upper-case ASCII in
// brackets, which models copy verbatim. Values are numbered per type in order of first
// appearance; a number whose placeholder already occurs anywhere in the request is skipped, so
// a placeholder never collides with the client's own text and restoring cannot invent values.
//
// mask() replaces every occurrence of every value (not only the scanned spans: a name found
// once next to a context word is masked where it stands alone too), longest value first; a
// value that begins or ends with a word character is replaced only at word boundaries unless it
// was itself found inside a word. JSON carried as text (tool arguments and parameters, unknown
// members, the native body) is parsed, its decoded strings, member names and numbers masked,
// and re-serialized only when something changed; text that does not parse is masked as text,
// the values' JSON-escaped forms included.
//
// restore_text()/restore_json() put the values back in a response; StreamRestorer does it for
// text arriving in pieces, holding back a possible placeholder prefix at a piece's end.
// Immutable after build: share it as std::shared_ptr<const MaskPlan>; every method is const and
// thread-safe. Values never appear in summaries (counts() gives types and counts only).

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/policies/classify/sensitivity_classifier.h"
#include "switchyard/policies/rules/policy.h"

namespace sy::policies {

class MaskPlan {
 public:
  // Empty plan (nothing detected that the selection picks): mask() returns its input.
  static std::shared_ptr<const MaskPlan> build(const backends::ChatRequest& request,
                                               const SensitivityClassifier& classifier,
                                               const MaskSelection& selection);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // The request as a closed backend may see it. A NativeRequest is replaced by one whose body
  // is masked (no longer byte-identical) when anything in it changed.
  backends::ChatRequest mask(backends::ChatRequest request) const;
  // One string, as plain text / as JSON text.
  std::string mask_text(std::string_view text) const;
  std::string mask_json(std::string_view json_text) const;

  // Every known placeholder in `text` replaced by its value; unknown bracketed words are left.
  std::string restore_text(std::string_view text) const;
  // The same in JSON text (tool-call arguments): the value is written JSON-escaped, as it must
  // be inside a JSON string.
  std::string restore_json(std::string_view json_text) const;

  // Placeholder lookup for streaming: the value of the placeholder that starts at `at` and is
  // complete in `text` (its length in *length), nullptr if none; `*prefix` is set when the
  // rest of `text` from `at` is a proper prefix of some placeholder (more may arrive).
  const std::string* match(std::string_view text, size_t at, size_t* length, bool* prefix) const;

  // (type, distinct values) in type order: what explain shows. Never the values.
  std::vector<std::pair<FindingType, size_t>> counts() const;
  // The placeholders in order of first appearance (tests, diagnostics).
  std::vector<std::string> placeholders() const;

 private:
  struct Entry {
    std::string value;
    std::string escaped;  // the value as it is written inside a JSON string (no quotes)
    std::string placeholder;
    FindingType type = FindingType::email;
    bool inside_word = false;  // found with a word character right before or after it
  };
  friend class MaskPlanBuilder;

  void index();
  std::string replace_values(std::string_view text, bool json_escaped_too) const;

  std::vector<Entry> entries_;                               // by first appearance
  std::vector<size_t> longest_first_;                        // entries_ by value length, desc
  std::map<std::string, size_t, std::less<>> by_placeholder_;  // placeholder -> entries_ index
  size_t max_placeholder_ = 0;
};

using MaskPlanPtr = std::shared_ptr<const MaskPlan>;

// Restores placeholders in text that arrives in pieces (one streamed field: a choice's content,
// one tool call's arguments, one Anthropic content block). A piece ending in what may be the
// start of a placeholder keeps that tail until the next piece decides it; flush() gives back
// whatever is held when the field ends. Not thread-safe (one per field of one call).
class StreamRestorer {
 public:
  enum class Mode { text, json };
  StreamRestorer(MaskPlanPtr plan, Mode mode) : plan_(std::move(plan)), mode_(mode) {}

  std::string feed(std::string_view piece);
  std::string flush();
  bool holding() const { return !held_.empty(); }

 private:
  MaskPlanPtr plan_;
  Mode mode_;
  std::string held_;
};

}  // namespace sy::policies
