#pragma once
// SensitivityClassifier: finds PII and secrets in text and maps them to a sensitivity level.
//
// Every built-in detector pattern and every tenant term/pattern is compiled once, at
// create(), into two vectorscan databases: literal-anchored patterns (secret prefixes, context
// words, tenant terms and patterns) scan the whole text in one linear-time pass; digit- and
// letter-led detectors (cards, IBANs, national IDs, phones, addresses) scan only the short
// "digit regions" a cheap pass picks out. The checksum/context validators run only on the
// candidates they report. Built once per
// tenant configuration and shared as std::shared_ptr<const SensitivityClassifier>;
// scan() and classify_request() are thread-safe (scratch space comes from an internal pool).

#include <memory>
#include <string_view>
#include <vector>

#include <expected>

#include <nlohmann/json_fwd.hpp>

#include "switchyard/policies/classify/sensitivity_types.h"

namespace sy::backends {
struct ChatRequest;
}

namespace sy::policies {

namespace sensitivity_detail {
class CompiledPatterns;
}

// What the request walk returns. level = max(detected, declared, floor).
struct SensitivityResult {
  enum class DecidedBy { detectors, label, floor };

  SensitivityLevel level = SensitivityLevel::public_;
  SensitivityLevel detected = SensitivityLevel::public_;  // from findings alone
  std::optional<SensitivityLevel> declared;               // header or metadata.sensitivity
  SensitivityLevel floor = SensitivityLevel::public_;     // the tenant's
  DecidedBy decided_by = DecidedBy::detectors;            // ties go to detectors, then label
  std::vector<Finding> findings;
};
std::string_view to_string(SensitivityResult::DecidedBy by);

// What a request declares and its tenant imposes, besides its body.
struct SensitivityContext {
  std::string_view header_label;  // x-switchyard-sensitivity; empty when absent
  SensitivityLevel tenant_floor = SensitivityLevel::public_;
};

class SensitivityClassifier {
 public:
  // Compiles the built-in detectors plus config's term lists and patterns. Errors name the
  // offending custom pattern or term list and say why vectorscan refused it. Compiling takes
  // about a second: build one classifier per distinct configuration at load time and share it.
  static std::expected<std::shared_ptr<const SensitivityClassifier>, SensitivityError> create(
      SensitivityConfig config);

  ~SensitivityClassifier();
  SensitivityClassifier(const SensitivityClassifier&) = delete;
  SensitivityClassifier& operator=(const SensitivityClassifier&) = delete;

  // Findings in one string, sorted by begin; spans are byte offsets into `text`. Arbitrary
  // bytes are fine (invalid UTF-8 included). Findings of one type never overlap; a finding
  // wholly inside a more confident one of no higher level is dropped.
  std::vector<Finding> scan(std::string_view text) const;

  // The maximum level of findings at or above config().min_confidence (public_ if none).
  SensitivityLevel level_of(const std::vector<Finding>& findings) const;

  // Walks a parsed request body: every string value and member name (numbers as their text)
  // is scanned, wherever it sits — messages, tool definitions, tool arguments and results,
  // metadata, unknown fields. JSON text inside a string that hides characters behind escapes
  // (tool arguments) is parsed and walked too. Image/audio/file parts and base64 data: URLs
  // are unscannable findings. A declared label ("x-switchyard-sensitivity" or
  // metadata.sensitivity) can only raise the level; an unknown label value is an error.
  std::expected<SensitivityResult, SensitivityError> classify_request(
      const nlohmann::json& body, const SensitivityContext& context) const;

  // The same walk (same findings, paths and errors) over a body given as JSON text, without
  // building an nlohmann::json of it: the gateway's own path. Text that is not JSON is an
  // error.
  std::expected<SensitivityResult, SensitivityError> classify_request_text(
      std::string_view body, const SensitivityContext& context) const;

  // The same walk over a parsed ChatRequest: it is encoded as the OpenAI body an upstream
  // would receive (passthrough members included) and that body is walked, so finding paths
  // are JSON pointers into it.
  // (Not an overload of classify_request: nlohmann::json converts implicitly to anything.)
  std::expected<SensitivityResult, SensitivityError> classify_chat_request(
      const backends::ChatRequest& request, const SensitivityContext& context) const;

  const SensitivityConfig& config() const { return config_; }

 private:
  SensitivityClassifier(SensitivityConfig config,
                        std::unique_ptr<sensitivity_detail::CompiledPatterns> patterns);

  SensitivityConfig config_;
  std::unique_ptr<sensitivity_detail::CompiledPatterns> patterns_;
};

}  // namespace sy::policies
