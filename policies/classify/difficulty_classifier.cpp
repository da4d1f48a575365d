// DifficultyClassifier: features of a request -> logistic score -> class. See
// difficulty_classifier.h for the contract and difficulty_types.h for the features.

#include "switchyard/policies/classify/difficulty_classifier.h"

#include <algorithm>
#include <cmath>

#include "classify/difficulty/difficulty_text_stats.h"

namespace sy::policies {

namespace {

using backends::ChatRequest;
using backends::ContentPart;
using backends::Message;
using backends::Role;

void scan_message(const Message& m, size_t& budget, DifficultyTextStats& s) {
  for (const ContentPart& part : m.content) {
    if (part.kind == ContentPart::Kind::text) s.scan(part.text, budget);
  }
  for (const auto& call : m.tool_calls) s.scan(call.arguments, budget);
}

double log1p_count(size_t n) { return std::log1p(static_cast<double>(n)); }

}  // namespace

std::string_view to_string(DifficultyClass difficulty) {
  switch (difficulty) {
    case DifficultyClass::easy:
      return "easy";
    case DifficultyClass::medium:
      return "medium";
    case DifficultyClass::hard:
      return "hard";
  }
  return "easy";
}

std::optional<DifficultyClass> parse_difficulty_class(std::string_view text) {
  if (text == "easy") return DifficultyClass::easy;
  if (text == "medium") return DifficultyClass::medium;
  if (text == "hard") return DifficultyClass::hard;
  return std::nullopt;
}

std::optional<DifficultyFeature> parse_difficulty_feature(std::string_view name) {
  for (size_t i = 0; i < kDifficultyFeatureNames.size(); ++i) {
    if (kDifficultyFeatureNames[i] == name) return static_cast<DifficultyFeature>(i);
  }
  return std::nullopt;
}

DifficultyVector extract_difficulty_features(const ChatRequest& request) {
  // The last user message is scanned first so that its cues are always counted, whatever the
  // length of the history before it.
  size_t last_user = request.messages.size();
  size_t users = 0;
  bool system = false;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Role role = request.messages[i].role;
    if (role == Role::user) {
      ++users;
      last_user = i;
    }
    if (role == Role::system || role == Role::developer) system = true;
  }

  size_t budget = kCueScanBytes;
  DifficultyTextStats all;
  DifficultyTextStats last;
  if (last_user < request.messages.size()) {
    scan_message(request.messages[last_user], budget, last);
  } else if (!request.prompt.empty()) {
    last.scan(request.prompt, budget);
    users = 1;
  }
  all = last;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    if (i != last_user) scan_message(request.messages[i], budget, all);
  }

  // Words of the last message beyond the scanned part, estimated from its average word length.
  double last_words = static_cast<double>(last.words);
  if (last.scanned > 0 && last.chars > last.scanned) {
    last_words *= static_cast<double>(last.chars) / static_cast<double>(last.scanned);
  }
  const double scanned = std::max<double>(1.0, static_cast<double>(all.scanned));
  const double words = std::max<double>(1.0, static_cast<double>(all.words));
  const auto cue = [&](DifficultyCue c) { return all.cues[static_cast<size_t>(c)]; };

  DifficultyVector f{};
  auto set = [&](DifficultyFeature feature, double value) {
    f[static_cast<size_t>(feature)] = value;
  };
  set(DifficultyFeature::log_chars, log1p_count(all.chars));
  set(DifficultyFeature::log_words_last, std::log1p(last_words));
  set(DifficultyFeature::turns, log1p_count(users > 1 ? users - 1 : 0));
  set(DifficultyFeature::system_prompt, system ? 1.0 : 0.0);
  set(DifficultyFeature::math_cues, log1p_count(cue(DifficultyCue::math) + all.math_symbols));
  set(DifficultyFeature::numbers, log1p_count(all.numbers));
  set(DifficultyFeature::reasoning_cues, log1p_count(cue(DifficultyCue::reasoning)));
  set(DifficultyFeature::code_cues, log1p_count(cue(DifficultyCue::code) + all.code_symbols));
  set(DifficultyFeature::constraint_cues, log1p_count(cue(DifficultyCue::constraint)));
  set(DifficultyFeature::negation_cues, log1p_count(cue(DifficultyCue::negation)));
  set(DifficultyFeature::long_words, static_cast<double>(all.long_words) / words);
  set(DifficultyFeature::non_ascii, static_cast<double>(all.non_ascii) / scanned);
  set(DifficultyFeature::questions, log1p_count(all.questions));
  set(DifficultyFeature::max_tokens,
      std::log1p(static_cast<double>(std::max<int64_t>(0, request.max_tokens.value_or(0)))));
  set(DifficultyFeature::tools, log1p_count(request.tools.size()));
  using Format = backends::ResponseFormat::Type;
  const Format format = request.response_format.type;
  set(DifficultyFeature::structured_output,
      format == Format::json_object || format == Format::json_schema ? 1.0 : 0.0);
  set(DifficultyFeature::options, log1p_count(all.options));
  return f;
}

DifficultyResult DifficultyClassifier::score(const DifficultyVector& features) const {
  DifficultyResult r;
  r.logit = config_.bias;
  r.contributions.reserve(kDifficultyFeatureCount);
  for (size_t i = 0; i < kDifficultyFeatureCount; ++i) {
    const double contribution = config_.weights[i] * features[i];
    r.logit += contribution;
    r.contributions.push_back({static_cast<DifficultyFeature>(i), features[i], contribution});
  }
  // Largest |contribution| first, ties in feature order: an insertion sort (stable) of 17
  // items, where std::stable_sort would allocate a buffer on every call.
  auto& c = r.contributions;
  for (size_t i = 1; i < c.size(); ++i) {
    const DifficultyContribution item = c[i];
    size_t j = i;
    for (; j > 0 && std::abs(c[j - 1].contribution) < std::abs(item.contribution); --j) {
      c[j] = c[j - 1];
    }
    c[j] = item;
  }
  r.score = 1.0 / (1.0 + std::exp(-r.logit));
  if (r.score >= config_.hard_threshold) {
    r.difficulty = DifficultyClass::hard;
  } else if (r.score >= config_.medium_threshold) {
    r.difficulty = DifficultyClass::medium;
  } else {
    r.difficulty = DifficultyClass::easy;
  }
  return r;
}

DifficultyResult DifficultyClassifier::classify(const ChatRequest& request) const {
  return score(extract_difficulty_features(request));
}

}  // namespace sy::policies
