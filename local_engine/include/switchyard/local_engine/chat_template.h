#pragma once
// Chat prompts without a Jinja engine: the family of a model's tokenizer.chat_template is
// recognised from its text (ChatML, Llama 3, Llama 2, Mistral [INST], Gemma, Phi-3), together
// with the details that vary inside a family (a default system prompt, how a system turn is
// placed), and rendered by hand-written code that produces what the Jinja template produces
// (tests compare with @huggingface/jinja over the published templates).
//
// Contract: detection and rendering are pure functions; they throw EngineError for a template
// text no family matches, for an unknown configured family name, and for a conversation the
// template itself would reject (roles that do not alternate, a system turn it refuses), with
// the template's own message.

#include <string>
#include <string_view>
#include <vector>

namespace sy::engine {

class Model;

enum class ChatFamily { chatml, llama3, llama2, mistral, gemma, phi3, plain };

// "chatml", "llama3", "llama2", "mistral", "gemma", "phi3", "plain".
std::string_view chat_family_name(ChatFamily family);
// Throws EngineError naming the accepted names.
ChatFamily chat_family_from_name(std::string_view name);

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (ChatML and Llama 3 pass any role through)
  std::string content;
};

// A recognised template: its family and the variations seen in published templates.
struct ChatTemplate {
  ChatFamily family = ChatFamily::chatml;
  // ChatML: the system turn inserted when the conversation does not start with one (SmolLM2,
  // Qwen2); empty for none.
  std::string default_system;
  // Mistral: text after eos_token closing an assistant turn (" " in Mistral-7B v0.1).
  std::string eos_suffix;
  // Gemma: true, a system message prefixes the first user turn (Gemma 3); false, a system
  // message is an error (Gemma 1 and 2).
  bool system_in_first_user = true;
  // Phi-3: the GGUF-era template, which drops system turns, opens an assistant turn after every
  // user turn and ignores add_generation_prompt.
  bool phi3_legacy = false;
  // Phi-3.5: an empty system message is left out.
  bool skip_empty_system = false;
  // Llama 3.1+: a system turn always opens the prompt, with "Cutting Knowledge Date" and
  // "Today Date" lines before the (trimmed) system prompt. Tool calls are not rendered.
  bool llama3_dated_system = false;
  // Llama 3.2+: without ChatRenderOptions::date_string the date is today's (strftime_now);
  // 3.1 falls back to its fixed "26 Jul 2024".
  bool llama3_date_from_clock = false;

  // Recognises `template_text` (tokenizer.chat_template); throws EngineError when no family
  // matches.
  static ChatTemplate detect(std::string_view template_text);
  // The family's canonical layout, for a model without a template (config `chat_template:`).
  static ChatTemplate for_family(ChatFamily family);
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;  // end with the opening of an assistant turn
  std::string bos_token;              // the texts the template writes for bos_token / eos_token
  std::string eos_token;
  // Llama 3.1+ "Today Date" ("26 Jul 2024"); empty: today for 3.2+, 3.1's fixed date for 3.1.
  std::string date_string;
};

// The prompt text, to be tokenized with parse_special = true. Families whose template writes
// bos_token (Llama 2/3, Mistral, Gemma, legacy Phi-3) include it as text: encode that prompt
// without adding another BOS.
//
// `plain` is a documented layout for models that have no chat training: one line per message,
// "role: content\n", and with add_generation_prompt a final "assistant:".
std::string render_chat_template(const ChatTemplate& chat_template,
                                 const std::vector<ChatMessage>& messages,
                                 const ChatRenderOptions& options);

struct ChatOptions {
  bool add_generation_prompt = true;
  // The model config's `chat_template:` family name, used when the model file has no template
  // (or always, when `force_configured` is set). Empty: none configured.
  std::string configured_family;
  bool force_configured = false;
  std::string date_string;  // see ChatRenderOptions
};

struct ChatPrompt {
  std::string text;      // tokenize with parse_special = true
  bool has_bos = false;  // `text` starts with the BOS token's text: do not add another
  ChatTemplate chat_template;
  // Set when the configured family was used instead of the model's template (none, or one not
  // recognised); the caller logs it once ("model has no chat template; using the configured
  // family 'chatml'").
  std::string notice;
};

// The template to use for a model whose tokenizer.chat_template is `template_text` (empty:
// none): the detected one, else options.configured_family with `notice` saying why. Throws
// EngineError when neither gives a template, saying how to configure one. `text` and
// `has_bos` are left empty.
ChatPrompt resolve_chat_template(std::string_view template_text, const ChatOptions& options);

// The model's tokenizer.chat_template (GGUF) rendered for `messages`, with the tokenizer's BOS
// and EOS texts; see resolve_chat_template for the fallback to the configured family.
ChatPrompt render_chat(const Model& model, const std::vector<ChatMessage>& messages,
                       const ChatOptions& options = {});

}  // namespace sy::engine
