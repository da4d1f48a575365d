#pragma once
// The one translator for every vendor that speaks OpenAI's chat-completions wire format
// (OpenAI itself, Azure OpenAI, vLLM, llama.cpp server, Ollama, ...). Vendors differ only in
// URL layout, credential header, whether the body names the model, and what they can do;
// those differences are data (OpenAiShape), not copies of this code.

#include <memory>
#include <string>

#include "switchyard/backends/translator.h"

namespace sy::backends::openai {

struct OpenAiShape {
  enum class Url {
    openai,  // {base_url}/chat/completions, {base_url}/completions
    azure,   // {base_url}/openai/deployments/{model}/chat/completions?api-version=...
  };
  enum class Auth {
    bearer,   // Authorization: Bearer <key>, only when a key is configured
    api_key,  // api-key: <key> (Azure)
  };
  std::string protocol;
  Url url = Url::openai;
  Auth auth = Auth::bearer;
  bool model_in_body = true;
  std::string default_api_version;  // Url::azure when the endpoint names none
  Capabilities capabilities;
};

std::unique_ptr<Translator> make_openai_shaped_translator(OpenAiShape shape);

// Streams of every OpenAI-shaped vendor: SSE `data:` chunks ended by `data: [DONE]`.
std::unique_ptr<StreamDecoder> make_openai_stream_decoder();

}  // namespace sy::backends::openai
