// render_chat: the chat template of a loaded model, or the configured family when it has none.

#include "switchyard/local_engine/chat_template.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

std::string token_text(const Tokenizer& tokenizer, TokenId id) {
  const auto& tokens = tokenizer.vocabulary().tokens;
  if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return {};
  return tokens[id];
}

}  // namespace

ChatPrompt resolve_chat_template(std::string_view template_text, const ChatOptions& options) {
  ChatPrompt prompt;
  const std::string& configured = options.configured_family;
  if (!template_text.empty() && !options.force_configured) {
    try {
      prompt.chat_template = ChatTemplate::detect(template_text);
      return prompt;
    } catch (const EngineError& e) {
      if (configured.empty()) throw;
      prompt.notice = std::string(e.what()) + "; using the configured family '" + configured + "'";
    }
  } else if (template_text.empty() && !configured.empty()) {
    prompt.notice = "model has no chat template; using the configured family '" + configured + "'";
  }
  if (configured.empty()) {
    throw EngineError(
        "model has no chat template (tokenizer.chat_template); set chat_template to one of "
        "chatml, llama3, llama2, mistral, gemma, phi3, plain in the model's config");
  }
  prompt.chat_template = ChatTemplate::for_family(chat_family_from_name(configured));
  return prompt;
}

ChatPrompt render_chat(const Model& model, const std::vector<ChatMessage>& messages,
                       const ChatOptions& options) {
  std::string template_text;
  if (model.file() != nullptr) {
    template_text = model.file()->get_string_or("tokenizer.chat_template", "");
  }
  ChatPrompt prompt = resolve_chat_template(template_text, options);
  const Tokenizer& tokenizer = model.tokenizer();
  ChatRenderOptions render_options;
  render_options.add_generation_prompt = options.add_generation_prompt;
  render_options.bos_token = token_text(tokenizer, tokenizer.bos());
  render_options.eos_token = token_text(tokenizer, tokenizer.eos());
  render_options.date_string = options.date_string;
  prompt.text = render_chat_template(prompt.chat_template, messages, render_options);
  prompt.has_bos =
      !render_options.bos_token.empty() && prompt.text.starts_with(render_options.bos_token);
  return prompt;
}

}  // namespace sy::engine
