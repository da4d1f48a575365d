// Servers that imitate OpenAI's API (vLLM, llama.cpp server, Ollama, LM Studio, ...). The key
// is optional: local servers usually run without one. `n` > 1 is not claimed: llama.cpp
// server and Ollama ignore it and would silently return one choice.

#include "openai/openai_shaped_translator.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {

std::unique_ptr<Translator> make_openai_compat_translator() {
  return openai::make_openai_shaped_translator(openai::OpenAiShape{
      .protocol = "openai_compat",
      .capabilities = {.multiple_choices = false,
                       .completions_api = true,
                       .passthrough_fields = true},
  });
}

}  // namespace sy::backends
