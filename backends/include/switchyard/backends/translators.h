#pragma once
// Factories for the built-in translators, one per protocol folder. make_translator() in
// translator.h looks protocols up by name; these are for code that knows what it wants.

#include <memory>

#include "switchyard/backends/translator.h"

namespace sy::backends {

std::unique_ptr<Translator> make_openai_translator();         // openai/
std::unique_ptr<Translator> make_openai_compat_translator();  // openai_compat/
std::unique_ptr<Translator> make_azure_translator();          // azure/
std::unique_ptr<Translator> make_anthropic_translator();      // anthropic/
std::unique_ptr<Translator> make_gemini_translator();         // gemini/

}  // namespace sy::backends
