#include <functional>
#include <string>

#include "switchyard/backends/translator.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {

namespace {

struct Entry {
  std::string_view protocol;
  std::unique_ptr<Translator> (*make)();
};

constexpr Entry kTranslators[] = {
    {"openai", &make_openai_translator},
    {"openai_compat", &make_openai_compat_translator},
    {"azure", &make_azure_translator},
    {"anthropic", &make_anthropic_translator},
    {"gemini", &make_gemini_translator},
};

}  // namespace

Result<std::unique_ptr<Translator>> make_translator(std::string_view protocol) {
  for (const auto& entry : kTranslators) {
    if (entry.protocol == protocol) return entry.make();
  }
  return fail(ErrorKind::not_found, "unknown protocol '" + std::string(protocol) + "'");
}

std::vector<std::string> known_protocols() {
  std::vector<std::string> out;
  for (const auto& entry : kTranslators) out.emplace_back(entry.protocol);
  return out;
}

}  // namespace sy::backends
