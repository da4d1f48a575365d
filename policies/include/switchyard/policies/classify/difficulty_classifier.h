#pragma once
// DifficultyClassifier: how hard is a request for a small open model? An explainable logistic
// score over cheap features of the request (difficulty_types.h), never a model call.
//
// extract_difficulty_features() is the single source of the feature vector: the gateway scores
// with it and the fitting script (scripts/fit_difficulty.py) reads the same vectors through
// bench/classifiers' `bench_difficulty features`, so the two cannot disagree.
//
// Cost: one pass over the request's text; cue matching looks at the first kCueScanBytes of it
// (length features count everything), so a megabyte prompt costs the same as a 64 KB one.
// Thread-safe: classify() is const and allocation-light.

#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/policies/classify/difficulty_types.h"

namespace sy::policies {

struct DifficultyContribution {
  DifficultyFeature feature;
  double value = 0;         // the feature's value for this request
  double contribution = 0;  // weight * value, logit units
};

struct DifficultyResult {
  DifficultyClass difficulty = DifficultyClass::easy;
  double score = 0;  // in [0, 1]
  double logit = 0;  // bias + sum of contributions
  // Every feature, largest |contribution| first.
  std::vector<DifficultyContribution> contributions;
};

inline constexpr size_t kCueScanBytes = 64 * 1024;

DifficultyVector extract_difficulty_features(const backends::ChatRequest& request);

class DifficultyClassifier {
 public:
  explicit DifficultyClassifier(DifficultyConfig config = DifficultyConfig::defaults())
      : config_(config) {}

  DifficultyResult classify(const backends::ChatRequest& request) const;
  DifficultyResult score(const DifficultyVector& features) const;

  const DifficultyConfig& config() const { return config_; }

 private:
  DifficultyConfig config_;
};

}  // namespace sy::policies
