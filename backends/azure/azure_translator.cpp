// Azure OpenAI: OpenAI's bodies and error shapes, but the deployment (our model name) is in
// the URL, the version in `api-version`, and the key in an `api-key` header.

#include "openai/openai_shaped_translator.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {
// The current GA data-plane version; config can pin another per endpoint.
constexpr const char* kDefaultAzureApiVersion = "2024-10-21";
}  // namespace

std::unique_ptr<Translator> make_azure_translator() {
  return openai::make_openai_shaped_translator(openai::OpenAiShape{
      .protocol = "azure",
      .url = openai::OpenAiShape::Url::azure,
      .auth = openai::OpenAiShape::Auth::api_key,
      .model_in_body = false,
      .default_api_version = kDefaultAzureApiVersion,
      .capabilities = {.multiple_choices = true,
                       .completions_api = true,
                       .passthrough_fields = true},
  });
}

}  // namespace sy::backends
