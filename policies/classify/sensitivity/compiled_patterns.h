#pragma once
// What SensitivityClassifier keeps behind its pimpl: the vectorscan database and, for each
// pattern id in it, where the pattern came from (a built-in detector or a tenant's list).

#include <memory>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

struct PatternSource {
  enum class Kind { builtin, term_list, pattern };
  Kind kind;
  size_t index;  // into builtin_detectors(), config.term_lists or config.patterns
};

class CompiledPatterns {
 public:
  std::unique_ptr<ScanDatabase> database;
  std::vector<PatternSource> sources;  // by pattern id
};

}  // namespace sy::policies::sensitivity_detail
