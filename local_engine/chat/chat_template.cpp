#include "switchyard/local_engine/chat_template.h"

#include <array>
#include <ctime>
#include <utility>

#include "switchyard/local_engine/engine_error.h"
#include "tokenizer/unicode.h"

namespace sy::engine {
namespace {

constexpr std::array<std::pair<ChatFamily, std::string_view>, 7> kFamilyNames = {{
    {ChatFamily::chatml, "chatml"},
    {ChatFamily::llama3, "llama3"},
    {ChatFamily::llama2, "llama2"},
    {ChatFamily::mistral, "mistral"},
    {ChatFamily::gemma, "gemma"},
    {ChatFamily::phi3, "phi3"},
    {ChatFamily::plain, "plain"},
}};

bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Jinja's `trim` filter and Python's str.strip(): whitespace off both ends.
std::string trim(std::string_view s) {
  const auto cps = unicode::decode_utf8(s);
  size_t first = 0;
  size_t last = cps.size();
  while (first < last && unicode::is_whitespace(cps[first].value)) ++first;
  while (last > first && unicode::is_whitespace(cps[last - 1].value)) --last;
  if (first == last) return {};
  const size_t from = cps[first].offset;
  const size_t to = cps[last - 1].offset + cps[last - 1].length;
  return std::string(s.substr(from, to - from));
}

// The value of a Jinja string literal's body (the escapes templates use).
std::string unescape(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char next = body[++i];
    switch (next) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        out += next;  // \\ \' \"
    }
  }
  return out;
}

// A ChatML template's fallback system prompt: a string literal that spells a whole system turn,
// '<|im_start|>system\n...<|im_end|>'. A literal that stops after "system\n" (followed by
// + messages[0]['content']) is the template copying the caller's system turn, not a default.
std::string chatml_default_system(std::string_view text) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kClose = "<|im_end|>";
  for (size_t at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    size_t body = at + kOpen.size();
    if (text.substr(body, 1) == "\n") {
      body += 1;
    } else if (text.substr(body, 2) == "\\n") {
      body += 2;
    } else {
      continue;
    }
    const size_t close = text.find(kClose, body);
    if (close == std::string_view::npos) break;
    const std::string_view inside = text.substr(body, close - body);
    if (inside.find_first_of("'\"") != std::string_view::npos) continue;  // left the literal
    return unescape(inside);
  }
  return {};
}

[[noreturn]] void alternation_error() {
  throw EngineError(
      "chat template: Conversation roles must alternate "
      "user/assistant/user/assistant/...");
}

// Templates that check (role == 'user') != (index is even).
void check_alternates(const std::vector<ChatMessage>& messages, size_t first) {
  for (size_t i = first; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != ((i - first) % 2 == 0)) alternation_error();
  }
}

std::string render_chatml(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                          const ChatRenderOptions& o) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0 && !t.default_system.empty() && messages[0].role != "system") {
      out += "<|im_start|>system\n" + t.default_system + "<|im_end|>\n";
    }
    out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
  }
  if (o.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// strftime("%d %b %Y") of today (UTC), as transformers' strftime_now gives it.
std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%d %b %Y", &tm);
  return buf;
}

std::string render_llama3(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                          const ChatRenderOptions& o) {
  if (!t.llama3_dated_system) {
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += o.bos_token;
      out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
             trim(messages[i].content) + "<|eot_id|>";
    }
    if (o.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }
  const bool has_system = !messages.empty() && messages[0].role == "system";
  std::string date = o.date_string;
  if (date.empty()) date = t.llama3_date_from_clock ? today() : "26 Jul 2024";
  std::string out = o.bos_token + "<|start_header_id|>system<|end_header_id|>\n\n" +
                    "Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n" +
                    (has_system ? trim(messages[0].content) : std::string()) + "<|eot_id|>";
  for (size_t i = has_system ? 1 : 0; i < messages.size(); ++i) {
    if (messages[i].role == "tool" || messages[i].role == "ipython") {
      throw EngineError("chat template: tool messages are not supported by this renderer");
    }
    out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
           trim(messages[i].content) + "<|eot_id|>";
  }
  if (o.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_llama2(const std::vector<ChatMessage>& messages, const ChatRenderOptions& o) {
  const bool has_system = !messages.empty() && messages[0].role == "system";
  const size_t first = has_system ? 1 : 0;
  // An empty system prompt adds no <<SYS>> block: the template tests `system_message != false`,
  // which @huggingface/jinja, like JavaScript, answers false for "".
  const std::string system = has_system ? messages[0].content : std::string();
  check_alternates(messages, first);
  std::string out;
  for (size_t i = first; i < messages.size(); ++i) {
    std::string content = messages[i].content;
    if (i == first && !system.empty()) {
      content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
    }
    if (messages[i].role == "user") {
      out += o.bos_token + "[INST] " + trim(content) + " [/INST]";
    } else if (messages[i].role == "assistant") {
      out += " " + trim(content) + " " + o.eos_token;
    }
  }
  return out;  // the template has no generation prompt: [/INST] already opens the answer
}

std::string render_mistral(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                           const ChatRenderOptions& o) {
  std::string out = o.bos_token;
  for (size_t i = 0; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != (i % 2 == 0)) alternation_error();
    if (messages[i].role == "user") {
      out += "[INST] " + messages[i].content + " [/INST]";
    } else if (messages[i].role == "assistant") {
      out += messages[i].content + o.eos_token + t.eos_suffix;
    } else {
      throw EngineError("chat template: Only user and assistant roles are supported!");
    }
  }
  return out;
}

std::string render_gemma(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                         const ChatRenderOptions& o) {
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system && !t.system_in_first_user) {
    throw EngineError("chat template: System role not supported");
  }
  const size_t first = has_system ? 1 : 0;
  const std::string prefix = has_system ? messages[0].content + "\n\n" : std::string();
  check_alternates(messages, first);
  std::string out = o.bos_token;
  for (size_t i = first; i < messages.size(); ++i) {
    const std::string& role = messages[i].role == "assistant" ? "model" : messages[i].role;
    out += "<start_of_turn>" + role + "\n" + (i == first ? prefix : std::string()) +
           trim(messages[i].content) + "<end_of_turn>\n";
  }
  if (o.add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

std::string render_phi3(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                        const ChatRenderOptions& o) {
  std::string out;
  if (t.phi3_legacy) {
    out += o.bos_token;
    for (const ChatMessage& m : messages) {
      if (m.role == "user") {
        out += "<|user|>\n" + m.content + "<|end|>\n<|assistant|>\n";
      } else if (m.role == "assistant") {
        out += m.content + "<|end|>\n";
      }
    }
    return out;
  }
  for (const ChatMessage& m : messages) {
    if (m.role == "system" && !(t.skip_empty_system && m.content.empty())) {
      out += "<|system|>\n" + m.content + "<|end|>\n";
    } else if (m.role == "user" || m.role == "assistant") {
      out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    }
  }
  out += o.add_generation_prompt ? "<|assistant|>\n" : o.eos_token;
  return out;
}

std::string render_plain(const std::vector<ChatMessage>& messages, const ChatRenderOptions& o) {
  std::string out;
  for (const ChatMessage& m : messages) out += m.role + ": " + m.content + "\n";
  if (o.add_generation_prompt) out += "assistant:";
  return out;
}

}  // namespace

std::string_view chat_family_name(ChatFamily family) {
  for (const auto& [f, name] : kFamilyNames) {
    if (f == family) return name;
  }
  return "?";
}

ChatFamily chat_family_from_name(std::string_view name) {
  for (const auto& [f, n] : kFamilyNames) {
    if (n == name) return f;
  }
  throw EngineError("chat template family '" + std::string(name) +
                    "' is unknown; use chatml, llama3, llama2, mistral, gemma, phi3 or plain");
}

ChatTemplate ChatTemplate::detect(std::string_view text) {
  ChatTemplate t;
  if (has(text, "<|im_start|>")) {
    t.family = ChatFamily::chatml;
    t.default_system = chatml_default_system(text);
    return t;
  }
  if (has(text, "<|start_header_id|>")) {
    t.family = ChatFamily::llama3;
    t.llama3_dated_system = has(text, "Cutting Knowledge Date");
    t.llama3_date_from_clock = has(text, "strftime_now");
    return t;
  }
  if (has(text, "[INST]")) {
    t.family = has(text, "<<SYS>>") ? ChatFamily::llama2 : ChatFamily::mistral;
    if (has(text, "eos_token + ' '")) t.eos_suffix = " ";
    return t;
  }
  if (has(text, "<start_of_turn>")) {
    t.family = ChatFamily::gemma;
    t.system_in_first_user = has(text, "first_user_prefix");
    return t;
  }
  if (has(text, "<|user|>") && has(text, "<|end|>")) {
    t.family = ChatFamily::phi3;
    t.phi3_legacy = !has(text, "add_generation_prompt");
    t.skip_empty_system = has(text, "message['role'] == 'system' and message['content']");
    return t;
  }
  const std::string head(text.substr(0, 80));
  throw EngineError("chat template not recognised (it begins \"" + head +
                    "\"); set the model's chat_template to one of chatml, llama3, llama2, "
                    "mistral, gemma, phi3, plain");
}

ChatTemplate ChatTemplate::for_family(ChatFamily family) {
  ChatTemplate t;
  t.family = family;
  return t;
}

std::string render_chat_template(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                                 const ChatRenderOptions& options) {
  switch (t.family) {
    case ChatFamily::chatml:
      return render_chatml(t, messages, options);
    case ChatFamily::llama3:
      return render_llama3(t, messages, options);
    case ChatFamily::llama2:
      return render_llama2(messages, options);
    case ChatFamily::mistral:
      return render_mistral(t, messages, options);
    case ChatFamily::gemma:
      return render_gemma(t, messages, options);
    case ChatFamily::phi3:
      return render_phi3(t, messages, options);
    case ChatFamily::plain:
      return render_plain(messages, options);
  }
  throw EngineError("chat template: unknown family");
}

}  // namespace sy::engine
