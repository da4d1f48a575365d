#include "tokenizer/pre_tokenizer.h"

#include <string>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

using unicode::CodePoint;
using Cpts = std::vector<CodePoint>;

bool ws(const Cpts& c, size_t i, size_t end) {
  return i < end && unicode::is_whitespace(c[i].value);
}
bool letter(const Cpts& c, size_t i, size_t end) {
  return i < end && unicode::is_letter(c[i].value);
}
bool number(const Cpts& c, size_t i, size_t end) {
  return i < end && unicode::is_number(c[i].value);
}
bool punct(const Cpts& c, size_t i, size_t end) {
  return i < end && unicode::is_punctuation(c[i].value);
}

// Fragments are [begin, end) ranges of code points.
struct Range {
  size_t begin;
  size_t end;
};

// The GPT-2 pattern over one fragment, as llama.cpp's hand-written version runs it: outside the
// fragment nothing matches, so (?!\S) succeeds at the fragment's end.
void split_gpt2(const Cpts& c, Range r, std::vector<Range>& out) {
  size_t pos = r.begin;
  const size_t end = r.end;
  auto emit = [&](size_t to) {
    out.push_back({pos, to});
    pos = to;
  };
  auto cp = [&](size_t i) { return i < end ? c[i].value : 0xFFFFFFFFu; };
  while (pos < end) {
    const uint32_t ch = cp(pos);
    if (ch == '\'' && pos + 1 < end) {
      const uint32_t n1 = cp(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        emit(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t n2 = cp(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          emit(pos + 3);
          continue;
        }
      }
    }
    // The class of the character after an optional leading space.
    const size_t at = (ch == ' ' && pos + 1 < end) ? pos + 1 : pos;
    if (letter(c, at, end)) {
      size_t i = at;
      while (letter(c, i, end)) ++i;
      emit(i);
      continue;
    }
    if (number(c, at, end)) {
      size_t i = at;
      while (number(c, i, end)) ++i;
      emit(i);
      continue;
    }
    auto other = [&](size_t i) {
      return i < end && !ws(c, i, end) && !letter(c, i, end) && !number(c, i, end);
    };
    if (other(at)) {
      size_t i = at;
      while (other(i)) ++i;
      emit(i);
      continue;
    }
    size_t spaces = 0;
    while (ws(c, pos + spaces, end)) ++spaces;
    if (spaces > 1 && pos + spaces < end) {  // \s+(?!\S): leave the last space to the next word
      emit(pos + spaces - 1);
      continue;
    }
    if (spaces > 0) {
      emit(pos + spaces);
      continue;
    }
    emit(pos + 1);
  }
}

// Length of the match of `stage` at `pos`, 0 when it does not match there.
size_t match_at(PreTokenizer::Stage stage, const Cpts& c, size_t pos, size_t end) {
  using S = PreTokenizer::Stage;
  auto run = [&](size_t i, auto pred) {
    while (i < end && pred(i)) ++i;
    return i;
  };
  switch (stage) {
    case S::number:
      return number(c, pos, end) ? 1 : 0;
    case S::numbers:
      return run(pos, [&](size_t i) { return number(c, i, end); }) - pos;
    case S::three_digits: {
      for (size_t k = 0; k < 3; ++k) {
        if (pos + k >= end || c[pos + k].value < '0' || c[pos + k].value > '9') return 0;
      }
      return 3;
    }
    case S::punctuation: {
      auto p = [&](size_t i) {
        const uint32_t v = c[i].value;
        return punct(c, i, end) || v == '$' || v == '+' || v == '<' || v == '=' || v == '>' ||
               v == '^' || v == '~' || v == '|' || v == '`';
      };
      return run(pos, p) - pos;
    }
    case S::newline:
      return (c[pos].value == '\r' || c[pos].value == '\n') ? 1 : 0;
    case S::space_letters:
    case S::space_punct: {
      auto cls = [&](size_t i) {
        return stage == S::space_letters ? letter(c, i, end) : punct(c, i, end);
      };
      size_t start = pos;
      if (ws(c, pos, end) && cls(pos + 1)) start = pos + 1;
      if (!cls(start)) return 0;
      return run(start, cls) - pos;
    }
    case S::cjk: {
      auto p = [&](size_t i) {
        const uint32_t v = c[i].value;
        return (v >= 0x4E00 && v <= 0x9FA5) || (v >= 0x0800 && v <= 0x4E00) ||
               (v >= 0xAC00 && v <= 0xD7FF);
      };
      return run(pos, p) - pos;
    }
    case S::gpt2:
      break;
  }
  return 0;
}

}  // namespace

PreTokenizer PreTokenizer::for_name(std::string_view pre) {
  using S = Stage;
  if (pre == "gpt-2" || pre == "gpt2" || pre == "mpt" || pre == "olmo" || pre == "phi-2") {
    return PreTokenizer({S::gpt2});
  }
  // SmolLM's tokenizer.json: Digits(individual_digits) then ByteLevel, as StarCoder's.
  if (pre == "starcoder" || pre == "refact" || pre == "smollm") {
    return PreTokenizer({S::number, S::gpt2});
  }
  if (pre == "falcon") return PreTokenizer({S::punctuation, S::gpt2, S::three_digits});
  if (pre == "default") {
    return PreTokenizer({S::punctuation, S::gpt2, S::numbers, S::three_digits});
  }
  if (pre == "deepseek-coder") {
    return PreTokenizer({S::newline, S::space_letters, S::space_punct, S::cjk, S::number});
  }
  throw EngineError("BPE pre-tokenizer " + std::string(pre) + " is not supported yet");
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  const Cpts c = unicode::decode_utf8(text);
  std::vector<Range> fragments;
  if (!c.empty()) fragments.push_back({0, c.size()});
  for (Stage stage : stages_) {
    std::vector<Range> next;
    for (Range r : fragments) {
      if (stage == Stage::gpt2) {
        split_gpt2(c, r, next);
        continue;
      }
      size_t gap = r.begin;
      for (size_t pos = r.begin; pos < r.end;) {
        size_t n = match_at(stage, c, pos, r.end);
        if (n == 0) {
          ++pos;
          continue;
        }
        if (pos > gap) next.push_back({gap, pos});
        next.push_back({pos, pos + n});
        pos += n;
        gap = pos;
      }
      if (gap < r.end) next.push_back({gap, r.end});
    }
    fragments = std::move(next);
  }
  std::vector<std::string_view> pieces;
  pieces.reserve(fragments.size());
  for (Range r : fragments) {
    const size_t from = c[r.begin].offset;
    const size_t to = c[r.end - 1].offset + c[r.end - 1].length;
    pieces.push_back(text.substr(from, to - from));
  }
  return pieces;
}

}  // namespace sy::engine
