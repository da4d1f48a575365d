// OpenAI's own API: the reference shape, with every capability.

#include "openai_shaped_translator.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {

std::unique_ptr<Translator> make_openai_translator() {
  return openai::make_openai_shaped_translator(openai::OpenAiShape{
      .protocol = "openai",
      .capabilities = {.multiple_choices = true,
                       .completions_api = true,
                       .passthrough_fields = true},
  });
}

}  // namespace sy::backends
