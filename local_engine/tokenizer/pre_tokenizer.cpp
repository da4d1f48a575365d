#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "switchyard/local_engine/engine_error.h"
#include "tokenizer/unicode.h"

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

// ---- Character classes the patterns test. -------------------------------------------------

struct CodeRange {
  uint32_t first;
  uint32_t last;
};

template <size_t N>
bool in_ranges(const CodeRange (&ranges)[N], uint32_t cp) {
  const CodeRange* it = std::upper_bound(
      ranges, ranges + N, cp, [](uint32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

// A byte that is not valid UTF-8 is decoded past U+10FFFF; llama.cpp reads it as U+FFFD (a
// symbol), so the category tests do too.
unicode::Category cat(uint32_t cp) { return unicode::category(cp > 0x10FFFF ? 0xFFFD : cp); }
bool is_ws(uint32_t cp) { return unicode::is_whitespace(cp); }
bool is_l(uint32_t cp) { return cat(cp) == unicode::Category::kLetter; }
bool is_n(uint32_t cp) { return cat(cp) == unicode::Category::kNumber; }
bool is_p(uint32_t cp) { return cat(cp) == unicode::Category::kPunctuation; }
bool is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }
bool is_space(uint32_t cp) { return cp == ' '; }
bool is_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }
bool is_ascii_letter(uint32_t cp) { return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'; }
bool not_ws_l_n(uint32_t cp) { return !is_ws(cp) && !is_l(cp) && !is_n(cp); }  // [^\s\p{L}\p{N}]
bool not_crlf_l_n(uint32_t cp) { return !is_crlf(cp) && !is_l(cp) && !is_n(cp); }
bool is_l_or_m(uint32_t cp) { return is_l(cp) || cat(cp) == unicode::Category::kMark; }
bool is_p_or_s(uint32_t cp) { return is_p(cp) || cat(cp) == unicode::Category::kSymbol; }
bool not_crlf_l_p_s(uint32_t cp) { return !is_crlf(cp) && !is_l(cp) && !is_p_or_s(cp); }
// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]: every ASCII graphic that is not a letter or digit.
bool is_ascii_punct_symbol(uint32_t cp) {
  return cp > 0x20 && cp < 0x7F && !is_digit(cp) && !is_ascii_letter(cp);
}
// [\p{P}\$\+<=>\^~\|`]: punctuation and the ASCII symbols that Unicode files under S.
bool is_p_or_ascii_symbol(uint32_t cp) {
  return is_p(cp) || (cp < 0x80 && cp != 0 && std::strchr("$+<=>^~|`", static_cast<int>(cp)));
}
// llama.cpp's default list leaves the backtick out: [\p{P}\$\+<=>\^~\|]
bool is_p_or_ascii_symbol_but_backtick(uint32_t cp) {
  return cp != '`' && is_p_or_ascii_symbol(cp);
}
// [一-龥ࠀ-一가-퟿]: CJK ideographs, everything from Samaritan up to them, and Hangul
// syllables.
bool is_cjk_wide(uint32_t cp) {
  return (cp >= 0x0800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF);
}
// [一-龥぀-ゟ゠-ヿ]: CJK ideographs, hiragana and katakana.
bool is_cjk_kana(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
}

// DeepSeek-LLM's letter class, a list of the cased letters (Lu, Ll, Lt) in its tokenizer.json.
constexpr CodeRange kDeepSeekLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x376},     {0x377, 0x377},
    {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
    {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},
    {0x48A, 0x52F},     {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},
    {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},
    {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},
    {0x1FB6, 0x1FBC},   {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},
    {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},
    {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},
    {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},
    {0x213C, 0x213F},   {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2183},
    {0x2184, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF2},   {0x2CF3, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},
    {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},
    {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},
    {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2},
    {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
bool is_deepseek_letter(uint32_t cp) { return in_ranges(kDeepSeekLetters, cp); }
// DeepSeek-LLM's punctuation class [!-/:-~！-／：-～‘-‟　-。] (ASCII ':-~' spans the letters too).
constexpr CodeRange kDeepSeekPunct[] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
                                        {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
bool is_deepseek_punct(uint32_t cp) { return in_ranges(kDeepSeekPunct, cp); }
// Poro/BLOOM's [^(\s|.,!?…。，、।۔،)]: the characters that end a word there.
bool is_poro_word(uint32_t cp) {
  if (is_ws(cp)) return false;
  if (cp < 0x80) return cp == 0 || !std::strchr("(|.,!?)", static_cast<int>(cp));
  return cp != 0x2026 && cp != 0x3002 && cp != 0xFF0C && cp != 0x3001 && cp != 0x0964 &&
         cp != 0x06D4 && cp != 0x060C;
}

// ---- Patterns. ----------------------------------------------------------------------------

using CharTest = bool (*)(uint32_t);
constexpr uint16_t kMany = UINT16_MAX;

// One bracket expression with a quantifier {min,max}: `test`, or when null, the ASCII
// characters in `chars`.
struct Item {
  CharTest test;
  const char* chars;
  uint16_t min;
  uint16_t max;

  bool matches(uint32_t cp) const {
    if (test != nullptr) return test(cp);
    return cp != 0 && cp < 0x80 && std::strchr(chars, static_cast<int>(cp)) != nullptr;
  }
};
Item one(CharTest t) { return {t, nullptr, 1, 1}; }
Item opt(CharTest t) { return {t, nullptr, 0, 1}; }
Item some(CharTest t) { return {t, nullptr, 1, kMany}; }  // +
Item any(CharTest t) { return {t, nullptr, 0, kMany}; }   // *
Item lit(const char* chars) { return {nullptr, chars, 1, 1}; }

enum class Tail : uint8_t { none, no_non_space_after };  // (?!\S)

struct Alternative {
  std::vector<Item> items;
  Tail tail = Tail::none;
};

constexpr size_t kNoMatch = SIZE_MAX;

// End of the match of items[k..] at `pos`, kNoMatch if none: each quantifier takes as much as
// it can and gives back one code point at a time, as a backtracking regex engine does.
size_t match_items(const Alternative& alt, size_t k, const Cpts& c, size_t pos, size_t end) {
  if (k == alt.items.size()) {
    if (alt.tail == Tail::no_non_space_after && pos < end && !is_ws(c[pos].value)) {
      return kNoMatch;
    }
    return pos;
  }
  const Item& item = alt.items[k];
  size_t n = 0;
  while (n < item.max && pos + n < end && item.matches(c[pos + n].value)) ++n;
  for (size_t take = n + 1; take-- > item.min;) {
    const size_t r = match_items(alt, k + 1, c, pos + take, end);
    if (r != kNoMatch) return r;
  }
  return kNoMatch;
}

}  // namespace

// A stage: the GPT-2 pattern (hand-written for speed, as llama.cpp has it), the trailing run of
// whitespace (\s+$, a dedicated scan so that long runs stay linear), or a pattern: a list of
// alternatives tried in order at each position.
struct PreTokenizer::Stage {
  enum class Kind : uint8_t { gpt2, trailing_space, pattern } kind;
  std::vector<Alternative> alternatives;
};

namespace {

using Stage = PreTokenizer::Stage;
using Kind = Stage::Kind;

Stage pattern(std::vector<Alternative> alternatives) {
  return {Kind::pattern, std::move(alternatives)};
}

// (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]): English contractions, any case.
std::vector<Alternative> contractions_any_case() {
  return {{{lit("'"), lit("sS")}},
          {{lit("'"), lit("tT")}},
          {{lit("'"), lit("rR"), lit("eE")}},
          {{lit("'"), lit("vV"), lit("eE")}},
          {{lit("'"), lit("mM")}},
          {{lit("'"), lit("lL"), lit("lL")}},
          {{lit("'"), lit("dD")}}};
}

// Llama 3 and Qwen2 (from their tokenizer.json):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
Stage llama3_style(uint16_t max_digits) {
  std::vector<Alternative> alts = contractions_any_case();
  alts.push_back({{opt(not_crlf_l_n), some(is_l)}});
  alts.push_back({{Item{is_n, nullptr, 1, max_digits}}});
  alts.push_back({{opt(is_space), some(not_ws_l_n), any(is_crlf)}});
  alts.push_back({{any(is_ws), some(is_crlf)}});
  alts.push_back({{some(is_ws)}, Tail::no_non_space_after});
  alts.push_back({{some(is_ws)}});
  return pattern(std::move(alts));
}

const Stage& gpt2() {
  static const Stage s{Kind::gpt2, {}};
  return s;
}
const Stage& trailing_space() {  // \s+$
  static const Stage s{Kind::trailing_space, {}};
  return s;
}
const Stage& single_number() {  // \p{N}
  static const Stage s = pattern({{{one(is_n)}}});
  return s;
}
const Stage& numbers() {  // \p{N}+
  static const Stage s = pattern({{{some(is_n)}}});
  return s;
}
const Stage& up_to_three_numbers() {  // \p{N}{1,3}
  static const Stage s = pattern({{{Item{is_n, nullptr, 1, 3}}}});
  return s;
}
const Stage& three_digits() {  // [0-9][0-9][0-9]
  static const Stage s = pattern({{{Item{is_digit, nullptr, 3, 3}}}});
  return s;
}
const Stage& punctuation_run() {  // [\p{P}\$\+<=>\^~\|`]+ (Falcon)
  static const Stage s = pattern({{{some(is_p_or_ascii_symbol)}}});
  return s;
}
const Stage& default_punctuation_run() {  // [\p{P}\$\+<=>\^~\|]+
  static const Stage s = pattern({{{some(is_p_or_ascii_symbol_but_backtick)}}});
  return s;
}
const Stage& newline() {  // [\r\n]
  static const Stage s = pattern({{{one(is_crlf)}}});
  return s;
}
const Stage& space_letters() {  // \s?\p{L}+
  static const Stage s = pattern({{{opt(is_ws), some(is_l)}}});
  return s;
}
const Stage& space_punctuation() {  // \s?\p{P}+
  static const Stage s = pattern({{{opt(is_ws), some(is_p)}}});
  return s;
}
const Stage& cjk_wide() {  // [一-龥ࠀ-一가-퟿]+
  static const Stage s = pattern({{{some(is_cjk_wide)}}});
  return s;
}
const Stage& deepseek_letters() {  // \s?[A-Za-zµÀ-Ö...]+
  static const Stage s = pattern({{{opt(is_ws), some(is_deepseek_letter)}}});
  return s;
}
const Stage& deepseek_punctuation() {  // \s?[!-/:-~！-／：-～‘-‟　-。]+
  static const Stage s = pattern({{{opt(is_ws), some(is_deepseek_punct)}}});
  return s;
}
const Stage& cjk_kana() {  // [一-龥぀-ゟ゠-ヿ]+
  static const Stage s = pattern({{{some(is_cjk_kana)}}});
  return s;
}
// DeepSeek-V3's word pattern:
//   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//   | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
const Stage& deepseek_v3_words() {
  static const Stage s = pattern({{{one(is_ascii_punct_symbol), some(is_ascii_letter)}},
                                  {{opt(not_crlf_l_p_s), some(is_l_or_m)}},
                                  {{opt(is_space), some(is_p_or_s), any(is_crlf)}},
                                  {{any(is_ws), some(is_crlf)}},
                                  {{some(is_ws)}, Tail::no_non_space_after},
                                  {{some(is_ws)}}});
  return s;
}
const Stage& llama3_words() {
  static const Stage s = llama3_style(3);
  return s;
}
const Stage& qwen2_words() {
  static const Stage s = llama3_style(1);
  return s;
}
const Stage& poro_words() {  //  ?[^(\s|.,!?…。，、।۔،)]+
  static const Stage s = pattern({{{opt(is_space), some(is_poro_word)}}});
  return s;
}

struct Variant {
  std::vector<std::string_view> names;
  std::vector<const Stage*> (*stages)();
};

// tokenizer.ggml.pre names, grouped as llama.cpp groups them.
const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = {
      {{"default"},
       [] {
         return std::vector<const Stage*>{&default_punctuation_run(), &gpt2(), &numbers(),
                                          &three_digits()};
       }},
      {{"gpt-2", "gpt2", "mpt", "olmo", "phi-2", "roberta-bpe", "jais"},
       [] { return std::vector<const Stage*>{&gpt2()}; }},
      // SmolLM's tokenizer.json: Digits(individual_digits) then ByteLevel, as StarCoder's.
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone"},
       [] {
         return std::vector<const Stage*>{&single_number(), &gpt2()};
       }},
      {{"falcon"},
       [] {
         return std::vector<const Stage*>{&punctuation_run(), &gpt2(), &three_digits()};
       }},
      {{"deepseek-coder"},
       [] {
         return std::vector<const Stage*>{&newline(), &space_letters(), &space_punctuation(),
                                          &cjk_wide(), &single_number()};
       }},
      {{"deepseek-llm"},
       [] {
         return std::vector<const Stage*>{
             &newline(),        &deepseek_letters(), &deepseek_punctuation(),
             &trailing_space(), &cjk_wide(),         &numbers()};
       }},
      {{"deepseek-v3"},
       [] {
         return std::vector<const Stage*>{&up_to_three_numbers(), &cjk_kana(),
                                          &deepseek_v3_words()};
       }},
      {{"llama3", "llama-v3", "llama-bpe", "dbrx", "smaug-bpe", "falcon3", "pixtral",
        "chatglm-bpe"},
       [] { return std::vector<const Stage*>{&llama3_words()}; }},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"},
       [] { return std::vector<const Stage*>{&qwen2_words()}; }},
      {{"poro-chat", "bloom", "gpt3-finnish"},
       [] { return std::vector<const Stage*>{&poro_words()}; }},
      {{"viking"},
       [] {
         return std::vector<const Stage*>{&poro_words(), &single_number()};
       }},
  };
  return v;
}

void split_pattern(const Stage& stage, const Cpts& c, Range r, std::vector<Range>& out) {
  size_t gap = r.begin;
  for (size_t pos = r.begin; pos < r.end;) {
    size_t match_end = kNoMatch;
    for (const Alternative& alt : stage.alternatives) {
      match_end = match_items(alt, 0, c, pos, r.end);
      if (match_end != kNoMatch) break;
    }
    if (match_end == kNoMatch || match_end == pos) {
      ++pos;
      continue;
    }
    if (pos > gap) out.push_back({gap, pos});
    out.push_back({pos, match_end});
    pos = match_end;
    gap = pos;
  }
  if (gap < r.end) out.push_back({gap, r.end});
}

void split_trailing_space(const Cpts& c, Range r, std::vector<Range>& out) {
  size_t start = r.end;
  while (start > r.begin && is_ws(c[start - 1].value)) --start;
  if (start > r.begin) out.push_back({r.begin, start});
  if (start < r.end) out.push_back({start, r.end});
}

}  // namespace

PreTokenizer PreTokenizer::for_name(std::string_view pre) {
  for (const Variant& v : variants()) {
    if (std::find(v.names.begin(), v.names.end(), pre) != v.names.end()) {
      return PreTokenizer(v.stages());
    }
  }
  throw EngineError("BPE pre-tokenizer " + std::string(pre) + " is not supported yet");
}

std::vector<std::string_view> PreTokenizer::known_names() {
  std::vector<std::string_view> names;
  for (const Variant& v : variants()) names.insert(names.end(), v.names.begin(), v.names.end());
  return names;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  const Cpts c = unicode::decode_utf8(text);
  std::vector<Range> fragments;
  if (!c.empty()) fragments.push_back({0, c.size()});
  std::vector<Range> next;
  for (const Stage* stage : stages_) {
    next.clear();
    for (Range r : fragments) {
      switch (stage->kind) {
        case Kind::gpt2:
          split_gpt2(c, r, next);
          break;
        case Kind::trailing_space:
          split_trailing_space(c, r, next);
          break;
        case Kind::pattern:
          split_pattern(*stage, c, r, next);
          break;
      }
    }
    fragments.swap(next);
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
