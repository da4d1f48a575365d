#include "switchyard/local_engine/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "local_engine/tokenizer/node_fixture.h"
#include "local_engine/tokenizer/vocab_vectors.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

using testing::models_dir;
using testing::read_all;

const std::filesystem::path kFixtures =
    std::filesystem::path(SWITCHYARD_FIXTURES_DIR) / "chat_templates";

std::string template_text(const std::string& name) {
  return read_all(kFixtures / (name + ".jinja"));
}

std::vector<ChatMessage> to_messages(const nlohmann::json& conversation) {
  std::vector<ChatMessage> messages;
  for (const auto& m : conversation) {
    messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  }
  return messages;
}

TEST(ChatTemplate, RendersWhatJinjaRendersForEveryPublishedTemplate) {
  const auto doc = nlohmann::json::parse(read_all(kFixtures / "renders.json"));
  const auto& conversations = doc.at("conversations");
  size_t outputs = 0;
  size_t errors = 0;
  for (const auto& r : doc.at("renders")) {
    const std::string name = r.at("template").get<std::string>();
    const auto& tokens = doc.at("templates").at(name);
    const ChatTemplate t = ChatTemplate::detect(template_text(name));
    const ChatRenderOptions options{r.at("add_generation_prompt").get<bool>(),
                                    tokens.at("bos").get<std::string>(),
                                    tokens.at("eos").get<std::string>(), "26 Jul 2024"};
    const auto messages = to_messages(conversations.at(r.at("conversation").get<size_t>()));
    const std::string label = name + " conversation " + r.at("conversation").dump() +
                              " generation prompt " + r.at("add_generation_prompt").dump();
    if (r.contains("error")) {
      try {
        render_chat_template(t, messages, options);
        ADD_FAILURE() << label << ": expected the template's error "
                      << r.at("error").get<std::string>();
      } catch (const EngineError& e) {
        EXPECT_NE(std::string(e.what()).find(r.at("error").get<std::string>()), std::string::npos)
            << label << ": " << e.what();
      }
      ++errors;
    } else {
      EXPECT_EQ(render_chat_template(t, messages, options), r.at("output").get<std::string>())
          << label;
      ++outputs;
    }
  }
  EXPECT_GE(outputs, 150u);
  EXPECT_GE(errors, 20u);
}

TEST(ChatTemplate, DetectsTheFamilyAndItsVariantFromTheText) {
  const std::pair<const char*, ChatFamily> cases[] = {
      {"smollm2", ChatFamily::chatml},       {"chatml-openhermes", ChatFamily::chatml},
      {"qwen2", ChatFamily::chatml},         {"llama3", ChatFamily::llama3},
      {"llama3.2", ChatFamily::llama3},      {"llama2", ChatFamily::llama2},
      {"mistral-v0.1", ChatFamily::mistral}, {"mixtral", ChatFamily::mistral},
      {"gemma", ChatFamily::gemma},          {"gemma3", ChatFamily::gemma},
      {"phi3-mini-4k", ChatFamily::phi3},    {"phi3.5-mini", ChatFamily::phi3},
      {"phi3-gguf-vocab", ChatFamily::phi3},
  };
  for (const auto& [name, family] : cases) {
    EXPECT_EQ(ChatTemplate::detect(template_text(name)).family, family) << name;
  }
  EXPECT_EQ(ChatTemplate::detect(template_text("smollm2")).default_system,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(ChatTemplate::detect(template_text("qwen2")).default_system,
            "You are a helpful assistant.");
  EXPECT_EQ(ChatTemplate::detect(template_text("chatml-openhermes")).default_system, "");
  EXPECT_EQ(ChatTemplate::detect(template_text("mistral-v0.1")).eos_suffix, " ");
  EXPECT_FALSE(ChatTemplate::detect(template_text("gemma")).system_in_first_user);
  EXPECT_TRUE(ChatTemplate::detect(template_text("gemma3")).system_in_first_user);
  EXPECT_TRUE(ChatTemplate::detect(template_text("phi3-gguf-vocab")).phi3_legacy);
  EXPECT_FALSE(ChatTemplate::detect(template_text("llama3")).llama3_dated_system);
  EXPECT_TRUE(ChatTemplate::detect(template_text("llama3.2")).llama3_dated_system);
  EXPECT_TRUE(ChatTemplate::detect(template_text("llama3.2")).llama3_date_from_clock);
}

TEST(ChatTemplate, ReadsThePhi3TemplateStraightFromItsGguf) {
  auto file = GgufFile::open(models_dir() / "vocab/ggml-vocab-phi-3.gguf");
  const ChatTemplate t = ChatTemplate::detect(file->get_string("tokenizer.chat_template"));
  EXPECT_EQ(t.family, ChatFamily::phi3);
  EXPECT_EQ(render_chat_template(t, {{"user", "Hi"}}, {true, "<s>", "<|endoftext|>"}),
            "<s><|user|>\nHi<|end|>\n<|assistant|>\n");
}

TEST(ChatTemplate, UnknownTemplatesAndFamiliesAreClearErrors) {
  try {
    ChatTemplate::detect("{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}");
    ADD_FAILURE() << "expected EngineError";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("not recognised"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chatml"), std::string::npos) << e.what();
  }
  // Llama 3.2's tool turns are not rendered: an error rather than a wrong prompt.
  const ChatTemplate llama32 = ChatTemplate::detect(template_text("llama3.2"));
  EXPECT_THROW(render_chat_template(llama32, {{"tool", "{}"}}, {}), EngineError);
  EXPECT_THROW(chat_family_from_name("vicuna"), EngineError);
  for (auto family :
       {ChatFamily::chatml, ChatFamily::llama3, ChatFamily::llama2, ChatFamily::mistral,
        ChatFamily::gemma, ChatFamily::phi3, ChatFamily::plain}) {
    EXPECT_EQ(chat_family_from_name(chat_family_name(family)), family);
  }
}

TEST(ChatTemplate, Llama32WithoutADateUsesTodayAndLlama31ItsFixedDate) {
  ChatTemplate t = ChatTemplate::detect(template_text("llama3.2"));
  std::string text = render_chat_template(t, {{"user", "Hi"}}, {});
  const size_t at = text.find("Today Date: ");
  ASSERT_NE(at, std::string::npos);
  const std::string date = text.substr(at + 12, text.find('\n', at) - at - 12);
  EXPECT_EQ(date.size(), 11u) << date;  // "23 Nov 2026"
  EXPECT_NE(date, "26 Jul 2024");
  t.llama3_date_from_clock = false;  // the 3.1 template has no strftime_now
  text = render_chat_template(t, {{"user", "Hi"}}, {});
  EXPECT_NE(text.find("Today Date: 26 Jul 2024\n\n"), std::string::npos);
}

TEST(ChatTemplate, PlainLayoutIsOneRoleLinePerMessage) {
  const auto t = ChatTemplate::for_family(ChatFamily::plain);
  EXPECT_EQ(render_chat_template(t, {{"system", "Be brief."}, {"user", "Hi"}}, {}),
            "system: Be brief.\nuser: Hi\nassistant:");
  EXPECT_EQ(render_chat_template(t, {{"user", "Hi"}}, {.add_generation_prompt = false}),
            "user: Hi\n");
}

TEST(RenderChat, ModelWithoutTemplateUsesTheConfiguredFamilyAndSaysSo) {
  auto model = Model::load(models_dir() / "stories260K/stories260K.gguf");
  const std::vector<ChatMessage> messages = {{"user", "Tell me a story"}};
  const ChatPrompt prompt = render_chat(*model, messages, {.configured_family = "chatml"});
  EXPECT_EQ(prompt.text, "<|im_start|>user\nTell me a story<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_NE(prompt.notice.find("no chat template"), std::string::npos);
  EXPECT_FALSE(prompt.has_bos);

  const ChatPrompt llama2 = render_chat(*model, messages, {.configured_family = "llama2"});
  EXPECT_EQ(llama2.text, "<s>[INST] Tell me a story [/INST]");
  EXPECT_TRUE(llama2.has_bos);

  try {
    render_chat(*model, messages);
    ADD_FAILURE() << "expected EngineError";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template"), std::string::npos) << e.what();
  }
  EXPECT_THROW(render_chat(*model, messages, {.configured_family = "vicuna"}), EngineError);
}

TEST(ResolveChatTemplate, ConfiguredFamilyCoversMissingAndUnknownTemplates) {
  const std::string unknown = "{% for m in messages %}### {{ m.content }}{% endfor %}";
  // Recognised template: used as is, no notice.
  ChatPrompt p = resolve_chat_template(template_text("gemma"), {.configured_family = "chatml"});
  EXPECT_EQ(p.chat_template.family, ChatFamily::gemma);
  EXPECT_TRUE(p.notice.empty());
  // Unknown template with a configured family: the family, and a notice that says why.
  p = resolve_chat_template(unknown, {.configured_family = "llama3"});
  EXPECT_EQ(p.chat_template.family, ChatFamily::llama3);
  EXPECT_NE(p.notice.find("not recognised"), std::string::npos) << p.notice;
  // Forced: the configured family even over a recognised template.
  p = resolve_chat_template(template_text("gemma"),
                            {.configured_family = "phi3", .force_configured = true});
  EXPECT_EQ(p.chat_template.family, ChatFamily::phi3);
  // Unknown or missing template and nothing configured: a clear error.
  EXPECT_THROW(resolve_chat_template(unknown, {}), EngineError);
  EXPECT_THROW(resolve_chat_template("", {}), EngineError);
}

TEST(ChatTemplateFixture, IsWhatTheGeneratorWritesToday) {
  auto fresh = testing::regenerate_fixture(
      "tests/fixtures/chat_templates/gen_chat_template_renders.mjs", "@huggingface/jinja");
  if (!fresh) GTEST_SKIP() << "node or @huggingface/jinja not installed";
  EXPECT_EQ(*fresh, read_all(kFixtures / "renders.json"))
      << "run: node tests/fixtures/chat_templates/gen_chat_template_renders.mjs";
}

}  // namespace
}  // namespace sy::engine
