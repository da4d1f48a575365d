// What vectorscan alone costs on the sensitivity bench's 1 MiB text, by thread CPU time (best
// of 15), beside the same run's one-core memory read bandwidth: a one-literal database (the
// floor of any scan), the classifier's main database (its literal-led patterns, same flags),
// the patterns now found in code (first-name gazetteer, AWS access key) both ways, and the
// region-shape databases over the text's digit regions. Like the classifier, it runs
// vectorscan's AVX2 build where the CPU has AVX-512 (scan_database.cpp says why). The gap
// between these and `bench_sensitivity`'s scan rate is the classifier's own work (region
// finding, validation).
// Usage: bench_vectorscan_ceiling [--per-pattern]  (each main pattern's cost, left out in turn)

#include <hs.h>

#include <bit>
#include <cstdio>
#include <string>
#include <vector>

#include "classify/sensitivity/anchor_finder.h"
#include "classify/sensitivity/chain_matchers.h"
#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/digit_regions.h"
#include "classify/sensitivity/name_gazetteer.h"
#include "classify/sensitivity/validators/validators.h"
#include "classify/sensitivity/vectorscan_runtime.h"
#include "mixed_text.h"

namespace {

using namespace sy::policies::sensitivity_detail;

struct Database {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  ~Database() {
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
};

bool compile(const std::vector<std::string>& patterns, const std::vector<unsigned>& flags,
             Database& out) {
  std::vector<const char*> expressions;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    expressions.push_back(patterns[i].c_str());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK,
                       vectorscan_runtime().target(), &out.db, &error) != HS_SUCCESS) {
    std::fprintf(stderr, "compile: %s\n", error ? error->message : "?");
    hs_free_compile_error(error);
    return false;
  }
  return hs_alloc_scratch(out.db, &out.scratch) == HS_SUCCESS;
}

int count_match(unsigned, unsigned long long, unsigned long long, unsigned, void* n) {
  ++*static_cast<size_t*>(n);
  return 0;
}

// Best thread CPU seconds of one scan of `text`; `matches` from the last.
double time_scan(const Database& d, const std::string& text, size_t& matches) {
  double best = 1e9;
  for (int r = 0; r < 15; ++r) {
    matches = 0;
    double c0 = sy::bench::thread_cpu_seconds();
    vectorscan_runtime().scan(d.db, text.data(), static_cast<unsigned>(text.size()), 0, d.scratch,
                              count_match, &matches);
    best = std::min(best, sy::bench::thread_cpu_seconds() - c0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool per_pattern = argc > 1 && std::string(argv[1]) == "--per-pattern";
  std::printf("vectorscan build: %s\n",
              vectorscan_runtime().avx512_avoided ? "avx2 (AVX-512 bypassed)" : "dispatched");
  const std::string text = sy::bench::mixed_text(1 << 20, 1);
  const double mb = static_cast<double>(text.size()) / 1e6;
  size_t matches = 0;

  Database literal;
  if (!compile({"zqxjzq"}, {0}, literal)) return 1;
  double t = time_scan(literal, text, matches);
  std::printf("one-literal database, whole text:          %7.0f MB/s\n", mb / t);

  std::vector<std::string> main_patterns;
  std::vector<unsigned> main_flags;
  std::vector<std::string> region_patterns[8];
  std::vector<unsigned> region_flags[8];
  for (const Detector& d : builtin_detectors()) {
    unsigned caseless = d.caseless ? HS_FLAG_CASELESS : 0u;
    if (d.region_scanned) {
      int g = std::countr_zero(static_cast<unsigned>(d.region_shape));
      region_patterns[g].push_back(std::string(d.pattern));
      region_flags[g].push_back(HS_FLAG_SOM_LEFTMOST | caseless);
      continue;
    }
    if (d.found_in_code) continue;  // gazetteer, AWS key: timed below
    bool som = d.find_start == nullptr && !d.start_by_rescan;
    main_patterns.push_back(std::string(d.pattern));
    main_flags.push_back((som ? HS_FLAG_SOM_LEFTMOST : 0u) | caseless);
  }
  Database main_db;
  if (!compile(main_patterns, main_flags, main_db)) return 1;
  double t_main = time_scan(main_db, text, matches);
  std::printf("main database (%2zu patterns), whole text:   %7.0f MB/s (%zu matches)\n",
              main_patterns.size(), mb / t_main, matches);

  const std::vector<std::string> classifier_patterns = main_patterns;
  const std::vector<unsigned> classifier_flags = main_flags;
  // The gazetteer as the classifier runs it now (code), and as it ran before (vectorscan).
  NameGazetteer gazetteer(first_name_alternation());
  double t_code = 1e9;
  std::vector<PatternMatch> names;
  for (int r = 0; r < 15; ++r) {
    names.clear();
    double c0 = sy::bench::thread_cpu_seconds();
    gazetteer.find(text, 0, names);
    t_code = std::min(t_code, sy::bench::thread_cpu_seconds() - c0);
  }
  std::printf("first-name gazetteer in code, whole text:   %7.0f MB/s (%zu matches)\n", mb / t_code,
              names.size());
  // AWS access keys as the classifier finds them (anchor_finder.h).
  double t_anchors = 1e9;
  std::vector<PatternMatch> anchored;
  for (int r = 0; r < 15; ++r) {
    anchored.clear();
    double c0 = sy::bench::thread_cpu_seconds();
    find_anchored(text, {.aws_access_key = 1}, anchored);
    t_anchors = std::min(t_anchors, sy::bench::thread_cpu_seconds() - c0);
  }
  std::printf("AWS key anchors in code, whole text:        %7.0f MB/s (%zu matches)\n",
              mb / t_anchors, anchored.size());
  t_code += t_anchors;
  for (const Detector& d : builtin_detectors()) {
    if (!d.found_in_code) continue;
    // Flags as before: the email's start was found in code, the others' tracked.
    const unsigned flags = d.find_start ? 0u : HS_FLAG_SOM_LEFTMOST;
    Database as_pattern;
    if (!compile({std::string(d.pattern)}, {flags}, as_pattern)) return 1;
    std::printf("  %-16s as one vectorscan pattern: %7.0f MB/s\n", std::string(d.name).c_str(),
                mb / time_scan(as_pattern, text, matches));
    main_patterns.push_back(std::string(d.pattern));
    main_flags.push_back(flags);
    Database with;
    if (!compile(main_patterns, main_flags, with)) return 1;
    std::printf("  main database with it (and those above):   %7.0f MB/s\n",
                mb / time_scan(with, text, matches));
  }

  // What each main-database pattern costs: the database without it, against with all.
  if (per_pattern) {
    std::printf("main database without one pattern (cost of that pattern, us per MiB):\n");
    size_t p = 0;
    t_main = time_scan(main_db, text, matches);
    for (const Detector& d : builtin_detectors()) {
      if (d.region_scanned || d.found_in_code) continue;
      std::vector<std::string> patterns = classifier_patterns;
      std::vector<unsigned> flags = classifier_flags;
      patterns.erase(patterns.begin() + static_cast<long>(p));
      flags.erase(flags.begin() + static_cast<long>(p));
      ++p;
      Database without;
      if (!compile(patterns, flags, without)) return 1;
      double t_without = time_scan(without, text, matches);
      std::printf("  %-22s %6.0f\n", std::string(d.name).c_str(), (t_main - t_without) * 1e6);
    }
  }

  // The region databases over the regions the classifier keeps, joined per shape as it does;
  // the 9+-digit chains' detectors and IBAN/NINO now run in code (chain_matchers.h), timed
  // beside.
  std::vector<ByteRange> regions;
  std::vector<uint8_t> shapes;
  find_shaped_regions(text, regions, shapes);
  {
    std::vector<ChainMatcher> chains;
    std::vector<ChainMatcher> capitals;
    for (const Detector& d : builtin_detectors()) {
      if (auto kind = chain_pattern_for(d)) {
        (d.region_shape == kShapeChain9 ? chains : capitals).push_back({*kind, 0});
      }
    }
    double best = 1e9;
    std::vector<PatternMatch> found;
    for (int r = 0; r < 15; ++r) {
      found.clear();
      double c0 = sy::bench::thread_cpu_seconds();
      for (size_t k = 0; k < regions.size(); ++k) {
        if (shapes[k] & kShapeChain9) match_chains(text, regions[k], chains, found);
        if (shapes[k] & kShapeCapitals) match_chains(text, regions[k], capitals, found);
      }
      best = std::min(best, sy::bench::thread_cpu_seconds() - c0);
    }
    std::printf(
        "region detectors in code (%zu):               %7.0f MB/s of the whole text "
        "(%zu matches)\n",
        chains.size() + capitals.size(), mb / best, found.size());
  }
  double t_regions = 0;
  size_t region_bytes = 0;
  for (int g = 0; g < 8; ++g) {
    if (region_patterns[g].empty()) continue;
    std::string joined;
    for (size_t r = 0; r < regions.size(); ++r) {
      if (!(shapes[r] & (1u << g))) continue;
      if (!joined.empty()) joined.push_back('\n');
      joined.append(text, regions[r].begin, regions[r].end - regions[r].begin);
    }
    if (joined.empty()) continue;
    Database db;
    if (!compile(region_patterns[g], region_flags[g], db)) return 1;
    double t_group = time_scan(db, joined, matches);
    std::printf("  region database, shape %3u (%zu patterns, %6zu B): %7.0f MB/s of the text%s\n",
                1u << g, region_patterns[g].size(), joined.size(), mb / t_group,
                g == 0 || g == 2 ? " (now code)" : "");
    if (g == 0 || g == 2) continue;  // kShapeChain9, kShapeCapitals: matched in code now
    t_regions += t_group;
    region_bytes += joined.size();
  }
  std::printf("region databases left over %zu regions (%zu B): %7.0f MB/s of the whole text\n",
              regions.size(), region_bytes, mb / t_regions);
  std::printf("all vectorscan work of one scan (+ code finders): %7.0f MB/s of the whole text\n",
              mb / (t_main + t_regions + t_code));
  std::printf("memory read bandwidth, one core, same run:  %7.1f GB/s\n",
              sy::bench::memory_read_gbps());
  return 0;
}
