#pragma once
// The one place vectorscan is seen: a compiled multi-pattern database, scanned in one pass,
// with a pool of scratch spaces so that concurrent scans need no lock while scanning.

#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <expected>

namespace sy::policies::sensitivity_detail {

struct PatternSpec {
  std::string regex;  // vectorscan syntax
  bool caseless = false;
  // Without start-of-match tracking a match's begin is reported as 0 and the caller finds
  // the start itself (tracking is what makes a leading unbounded class expensive).
  bool som = true;
};

struct PatternMatch {
  unsigned id;   // index into the compiled PatternSpec list
  size_t begin;  // leftmost start of a match ending at `end`
  size_t end;
};

struct CompileFailure {
  int index;  // the offending pattern, or -1 when not attributable to one
  std::string message;
};

class ScanDatabase {
 public:
  // Compiles all patterns with leftmost start-of-match reporting.
  static std::expected<std::unique_ptr<ScanDatabase>, CompileFailure> compile(
      const std::vector<PatternSpec>& patterns);
  ~ScanDatabase();

  // Which of vectorscan's builds scans: "avx2" where the library's AVX-512 build, which misses
  // matches depending on the text's address, is bypassed (scan_database.cpp says why);
  // "dispatched" where hs_scan picks the build for this CPU (no AVX-512, or no avx2 entry).
  static const char* scanner_build();

  // Appends every match in `text` to `out` (order of reports: by end offset). False if the
  // scan could not run (no scratch space): the caller must treat the text as unscanned.
  bool scan(std::string_view text, std::vector<PatternMatch>& out) const;
  // The same over each range of `text` (each scanned as if it were the whole text); match
  // offsets are into `text`. Ranges must lie within `text`.
  bool scan_ranges(std::string_view text, std::span<const std::pair<size_t, size_t>> ranges,
                   std::vector<PatternMatch>& out) const;

 private:
  struct Impl;
  explicit ScanDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sy::policies::sensitivity_detail
