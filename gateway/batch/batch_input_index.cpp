#include "batch/batch_input_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

namespace sy::gateway {

using backends::ErrorKind;

BatchInputIndex::Fd::~Fd() {
  if (fd >= 0) ::close(fd);
}

namespace {

// Reads up to `size` bytes at `offset`, retrying short reads; the count read (0 at the end).
backends::Result<size_t> pread_full(int fd, char* data, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return backends::fail(ErrorKind::internal,
                            std::string("reading the input file: ") + std::strerror(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

backends::Result<BatchInputIndex> BatchInputIndex::build(const std::filesystem::path& path,
                                                         Limits limits, const Visitor& visit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return backends::fail(ErrorKind::internal, "the input file is missing");
  BatchInputIndex index;
  index.fd_ = std::make_shared<const Fd>(fd);
  limits.chunk_bytes = std::max<size_t>(1, limits.chunk_bytes);
  index.limits_ = limits;

  // The upload's own validation, one line at a time: it keeps the line it is given (and the
  // custom_ids seen), handed over and dropped at once.
  BatchInputReader reader(limits.max_lines, limits.max_line_bytes, /*keep_lines=*/true);
  std::string partial;  // the current line's bytes from earlier chunks
  uint64_t line_start = 0;
  auto check = [&](std::string_view text, bool ended) -> backends::Status {
    const size_t before = reader.requests();
    // A last line without '\n' is checked by finish() (which also refuses a file without a
    // request).
    auto fed = reader.feed(text);
    if (fed && !ended) fed = reader.finish();
    if (!fed) return fed;
    if (reader.requests() == before) return {};  // a blank line
    std::vector<BatchInputLine> kept = reader.take_lines();
    if (visit) visit(index.spans_.size(), kept.front());
    const size_t length = text.size() - (ended ? 1 : 0);
    index.spans_.push_back(Span{.offset = line_start,
                                .length = static_cast<uint32_t>(std::min<size_t>(
                                    length, std::numeric_limits<uint32_t>::max()))});
    return {};
  };

  std::string chunk(limits.chunk_bytes, '\0');
  uint64_t offset = 0;
  for (;;) {
    auto n = pread_full(fd, chunk.data(), chunk.size(), offset);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    std::string_view bytes(chunk.data(), *n);
    uint64_t at = offset;  // the file offset of bytes[0]
    offset += *n;
    while (!bytes.empty()) {
      const size_t end = bytes.find('\n');
      if (end == std::string_view::npos) {
        if (partial.size() + bytes.size() > limits.max_line_bytes) {
          // The reader names the line and the limit.
          partial.append(bytes);
          if (auto fed = reader.feed(partial); !fed) return std::unexpected(fed.error());
        }
        partial.append(bytes);
        break;
      }
      backends::Status checked;
      if (partial.empty()) {
        checked = check(bytes.substr(0, end + 1), /*ended=*/true);  // no copy
      } else {
        partial.append(bytes.substr(0, end + 1));
        checked = check(partial, /*ended=*/true);
        partial.clear();
      }
      if (!checked) return std::unexpected(checked.error());
      bytes.remove_prefix(end + 1);
      at += end + 1;
      line_start = at;
    }
    index.peak_buffered_bytes_ =
        std::max(index.peak_buffered_bytes_, chunk.size() + partial.capacity());
  }
  if (!partial.empty()) {
    if (auto checked = check(partial, /*ended=*/false); !checked) {
      return std::unexpected(checked.error());
    }
  } else if (auto done = reader.finish(); !done) {
    return std::unexpected(done.error());
  }
  return index;
}

backends::Result<BatchInputLine> BatchInputIndex::read(size_t index) const {
  if (index >= spans_.size()) {
    return backends::fail(ErrorKind::internal, "no request " + std::to_string(index + 1));
  }
  const Span& span = spans_[index];
  std::string text(span.length, '\0');
  auto n = pread_full(fd_->fd, text.data(), text.size(), span.offset);
  if (!n) return std::unexpected(n.error());
  if (*n != text.size()) return backends::fail(ErrorKind::internal, "the input file shrank");
  // The upload's checks on this one line (it passed them then: this only parses it).
  BatchInputReader reader(1, limits_.max_line_bytes, /*keep_lines=*/true);
  if (auto fed = reader.feed(text); !fed) return std::unexpected(fed.error());
  if (auto done = reader.finish(); !done) return std::unexpected(done.error());
  auto lines = reader.take_lines();
  return std::move(lines.front());
}

}  // namespace sy::gateway
