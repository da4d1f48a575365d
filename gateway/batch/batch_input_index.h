#pragma once
// Where each request of a Batch API input file starts, found by streaming the file once in
// bounded chunks through BatchInputReader (the upload's own validation): a running job reads a
// line back by its offset when it runs it, instead of holding the file or its parsed lines.
//
// Memory: 12 bytes per request (offset and length), one chunk and one line while building,
// one line per read(); never the file. The file stays open (a descriptor) for the index's
// life, so a file deleted under a running job still reads.
// Thread-safe once built: read() is a pread plus a parse.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "batch/batch_input.h"
#include "switchyard/backends/error.h"

namespace sy::gateway {

class BatchInputIndex {
 public:
  struct Limits {
    size_t max_lines = 50'000;
    size_t max_line_bytes = 8 * 1024 * 1024;
    size_t chunk_bytes = 64 * 1024;  // what one read takes from the file
  };
  // Called for each request while the index is built (0-based request number, the line).
  using Visitor = std::function<void(size_t index, const BatchInputLine& line)>;

  // Streams `path`; errors are the reader's ("line N: ..."), or internal when it cannot be read.
  static backends::Result<BatchInputIndex> build(const std::filesystem::path& path, Limits limits,
                                                 const Visitor& visit = {});

  size_t size() const { return spans_.size(); }
  // Request `index` (< size()), read back and parsed.
  backends::Result<BatchInputLine> read(size_t index) const;

  // Instrumentation (tests): the most bytes the build held at once (its chunk plus the part
  // of a line that crossed chunks).
  size_t peak_buffered_bytes() const { return peak_buffered_bytes_; }

 private:
  struct Span {
    uint64_t offset = 0;
    uint32_t length = 0;  // without the '\n'
  };
  struct Fd {
    explicit Fd(int fd) : fd(fd) {}
    ~Fd();
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int fd;
  };

  BatchInputIndex() = default;

  std::shared_ptr<const Fd> fd_;
  Limits limits_;
  std::vector<Span> spans_;
  size_t peak_buffered_bytes_ = 0;
};

}  // namespace sy::gateway
