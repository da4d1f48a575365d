// Vectorscan (Hyperscan API) behind a pimpl. Block mode, leftmost start of match: a pattern
// reports every end offset it can stop at with the leftmost start for that end; the
// classifier resolves overlaps after validation.
//
// Scans run the vectorscan build that vectorscan_runtime.cpp chooses (not the AVX-512 one:
// it misses matches) and databases are compiled for its platform.

#include "classify/sensitivity/scan_database.h"

#include <hs.h>

#include <algorithm>
#include <mutex>

#include "classify/sensitivity/vectorscan_runtime.h"

namespace sy::policies::sensitivity_detail {

namespace {

struct DatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
struct ScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
struct CompileErrorDeleter {
  void operator()(hs_compile_error_t* e) const { hs_free_compile_error(e); }
};
using ScratchPtr = std::unique_ptr<hs_scratch_t, ScratchDeleter>;

}  // namespace

struct ScanDatabase::Impl {
  std::unique_ptr<hs_database_t, DatabaseDeleter> database;
  ScratchPtr prototype;  // cloned for each concurrent scan
  mutable std::mutex mutex;
  mutable std::vector<ScratchPtr> free_scratch;

  ScratchPtr acquire() const {
    {
      std::lock_guard lock(mutex);
      if (!free_scratch.empty()) {
        ScratchPtr s = std::move(free_scratch.back());
        free_scratch.pop_back();
        return s;
      }
    }
    hs_scratch_t* clone = nullptr;
    if (hs_clone_scratch(prototype.get(), &clone) != HS_SUCCESS) return nullptr;
    return ScratchPtr(clone);
  }
  void release(ScratchPtr s) const {
    std::lock_guard lock(mutex);
    free_scratch.push_back(std::move(s));
  }
};

const char* ScanDatabase::scanner_build() {
  return vectorscan_runtime().avx512_avoided ? "avx2" : "dispatched";
}

ScanDatabase::ScanDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanDatabase::~ScanDatabase() = default;

std::expected<std::unique_ptr<ScanDatabase>, CompileFailure> ScanDatabase::compile(
    const std::vector<PatternSpec>& patterns) {
  if (patterns.empty()) return std::unexpected(CompileFailure{-1, "no patterns"});
  std::vector<const char*> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    expressions.push_back(patterns[i].regex.c_str());
    flags.push_back((patterns[i].som ? HS_FLAG_SOM_LEFTMOST : 0u) |
                    (patterns[i].caseless ? HS_FLAG_CASELESS : 0u));
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* raw_db = nullptr;
  hs_compile_error_t* raw_error = nullptr;
  hs_error_t rc = hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                                   static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK,
                                   vectorscan_runtime().target(), &raw_db, &raw_error);
  if (rc != HS_SUCCESS) {
    std::unique_ptr<hs_compile_error_t, CompileErrorDeleter> error(raw_error);
    CompileFailure failure{-1, "vectorscan compile failed"};
    if (error) {
      failure.index = error->expression;
      if (error->message) failure.message = error->message;
    }
    return std::unexpected(std::move(failure));
  }
  auto impl = std::make_unique<Impl>();
  impl->database.reset(raw_db);
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(raw_db, &scratch) != HS_SUCCESS) {
    return std::unexpected(CompileFailure{-1, "vectorscan could not allocate scratch"});
  }
  impl->prototype.reset(scratch);
  return std::unique_ptr<ScanDatabase>(new ScanDatabase(std::move(impl)));
}

bool ScanDatabase::scan(std::string_view text, std::vector<PatternMatch>& out) const {
  if (text.empty()) return true;
  ScratchPtr scratch = impl_->acquire();
  if (!scratch) return false;
  // Matches go straight into `out` (no per-call vector: the classifier scans a short text with
  // several databases, and a request is many short texts).
  struct Context {
    std::vector<PatternMatch>* out;
    size_t offset;
  };
  auto on_match = [](unsigned id, unsigned long long from, unsigned long long to, unsigned,
                     void* raw) -> int {
    auto* c = static_cast<Context*>(raw);
    c->out->push_back(
        {id, static_cast<size_t>(from) + c->offset, static_cast<size_t>(to) + c->offset});
    return 0;  // keep scanning
  };
  // Block mode takes a 32-bit length; longer text is scanned in overlapping windows.
  constexpr size_t kWindow = size_t{1} << 30;
  constexpr size_t kOverlap = 4096;
  for (size_t offset = 0; offset < text.size();) {
    size_t length = std::min(kWindow, text.size() - offset);
    Context context{&out, offset};
    if (vectorscan_runtime().scan(impl_->database.get(), text.data() + offset,
                                  static_cast<unsigned>(length), 0, scratch.get(), on_match,
                                  &context) != HS_SUCCESS) {
      impl_->release(std::move(scratch));
      return false;
    }
    if (offset + length >= text.size()) break;
    offset += length - kOverlap;
  }
  impl_->release(std::move(scratch));
  return true;
}

bool ScanDatabase::scan_ranges(std::string_view text,
                               std::span<const std::pair<size_t, size_t>> ranges,
                               std::vector<PatternMatch>& out) const {
  if (ranges.empty()) return true;
  ScratchPtr scratch = impl_->acquire();
  if (!scratch) return false;
  struct Context {
    std::vector<PatternMatch>* out;
    size_t offset;
  };
  auto on_match = [](unsigned id, unsigned long long from, unsigned long long to, unsigned,
                     void* raw) -> int {
    auto* c = static_cast<Context*>(raw);
    c->out->push_back(
        {id, static_cast<size_t>(from) + c->offset, static_cast<size_t>(to) + c->offset});
    return 0;
  };
  bool ok = true;
  for (const auto& [begin, end] : ranges) {
    if (end <= begin) continue;
    std::string_view part = text.substr(begin, end - begin);
    if (part.size() >= (size_t{1} << 31)) {
      std::vector<PatternMatch> local;
      // Oversized range (hostile input): the windowed whole-text path handles it.
      if (!ScanDatabase::scan(part, local)) {
        ok = false;
        break;
      }
      for (PatternMatch& m : local) out.push_back({m.id, m.begin + begin, m.end + begin});
      continue;
    }
    Context context{&out, begin};
    if (vectorscan_runtime().scan(impl_->database.get(), part.data(),
                                  static_cast<unsigned>(part.size()), 0, scratch.get(), on_match,
                                  &context) != HS_SUCCESS) {
      ok = false;
      break;
    }
  }
  impl_->release(std::move(scratch));
  return ok;
}

}  // namespace sy::policies::sensitivity_detail
