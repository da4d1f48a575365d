#include "cli/generate_command.h"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/model_loading.h"
#include "switchyard/local_engine/chat_template.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::gateway {

int run_generate(const GenerateCommandOptions& options) {
  std::unique_ptr<engine::Model> model;
  try {
    model = load_cli_model(options.model_path, options.tokenizer_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard generate: loading model: %s\n", e.what());
    return 1;
  }

  engine::GenerateOptions generate_options;
  generate_options.max_tokens = options.max_tokens;
  generate_options.ignore_eos = options.ignore_eos;
  generate_options.threads = options.threads;
  generate_options.measure_weights_read = options.stats_json;
  if (options.device == "cuda") generate_options.device = engine::GenerateOptions::Device::cuda;
  if (options.gpu_layers != "all") generate_options.gpu_layers = std::stoul(options.gpu_layers);
  generate_options.stop = options.stop;
  generate_options.sampling.temperature = options.temperature;
  generate_options.sampling.top_k = options.top_k;
  generate_options.sampling.top_p = options.top_p;
  generate_options.sampling.min_p = options.min_p;
  generate_options.sampling.repetition_penalty = options.repetition_penalty;
  generate_options.sampling.frequency_penalty = options.frequency_penalty;
  generate_options.sampling.presence_penalty = options.presence_penalty;
  generate_options.sampling.seed = options.seed;

  if (options.json || !options.json_schema_path.empty()) {
    std::string schema;  // empty: any JSON object
    if (!options.json_schema_path.empty()) {
      std::ifstream in(options.json_schema_path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        std::fprintf(stderr, "switchyard generate: cannot read %s\n",
                     options.json_schema_path.c_str());
        return 1;
      }
      schema = text.str();
    }
    try {
      generate_options.grammar = engine::compile_json_grammar(model->tokenizer(), schema);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "switchyard generate: %s\n", e.what());
      return 1;
    }
  }

  std::string prompt = options.prompt;
  if (options.chat) {
    std::vector<engine::ChatMessage> messages;
    if (!options.system.empty()) messages.push_back({"system", options.system});
    messages.push_back({"user", options.prompt});
    engine::ChatOptions chat_options;
    chat_options.configured_family = options.chat_template;
    try {
      engine::ChatPrompt rendered = engine::render_chat(*model, messages, chat_options);
      if (!rendered.notice.empty()) std::fprintf(stderr, "%s\n", rendered.notice.c_str());
      prompt = std::move(rendered.text);
      // The template spells its control tokens (and BOS, when it writes one) as text.
      generate_options.parse_special = true;
      generate_options.add_special = !rendered.has_bos;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "switchyard generate: chat template: %s\n", e.what());
      return 1;
    }
  }

  engine::GenerateResult result;
  try {
    result = engine::generate(*model, prompt, generate_options, [&](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard generate: %s\n", e.what());
    return 1;
  }
  if (::isatty(STDOUT_FILENO) == 1) std::fputc('\n', stdout);
  std::fflush(stdout);

  // generate() times its own phases (prefill vs decode, the streaming callback left out).
  const size_t prompt_tokens = result.prompt_tokens.size();
  const size_t gen_tokens = result.tokens.size();
  const double prompt_tok_s = result.timings.prompt_tokens_per_second();
  const double gen_tok_s = result.timings.generation_tokens_per_second();
  const double rss = peak_rss_mib();
  std::fprintf(stderr,
               "prompt: %zu tokens, %.2f tok/s | generation: %zu tokens, %.2f tok/s | peak RSS "
               "%.1f MiB\n",
               prompt_tokens, prompt_tok_s, gen_tokens, gen_tok_s, rss);
  if (options.stats_json) {
    nlohmann::ordered_json stats = {{"prompt_tokens", prompt_tokens},
                                    {"prompt_tok_s", prompt_tok_s},
                                    {"gen_tokens", gen_tokens},
                                    {"gen_tok_s", gen_tok_s},
                                    {"peak_rss_mb", rss}};
    // The pass's own memory-bandwidth ceiling: its threads reading its weights where they lie.
    if (result.timings.weights_read_gbs > 0) {
      stats["weights_read_gbs"] = result.timings.weights_read_gbs;
    }
    // The generated ids and their log-probabilities, for comparing engines token by token.
    stats["tokens"] = result.tokens;
    stats["logprobs"] = result.logprobs;
    std::fprintf(stderr, "%s\n", stats.dump().c_str());
  }
  return 0;
}

void add_generate_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<GenerateCommandOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text with the embedded engine");
  cmd->add_option("-m,--model", options->model_path, "Model: .gguf, or llama2.c .bin")->required();
  cmd->add_option("-p,--prompt", options->prompt, "Prompt text (empty: start from BOS)");
  cmd->add_flag("--chat", options->chat,
                "Render the prompt as a user turn with the model's chat template");
  cmd->add_option("--system", options->system, "--chat: a system turn before the prompt");
  cmd->add_option("--chat-template", options->chat_template,
                  "--chat: template family when the model has none "
                  "(chatml, llama3, llama2, mistral, gemma, phi3, plain)");
  cmd->add_option("--tokenizer", options->tokenizer_path,
                  "llama2.c tokenizer.bin for a .bin model (default: tokenizer.bin beside it)");
  cmd->add_option("-n,--max-tokens", options->max_tokens, "Tokens to generate at most")
      ->capture_default_str();
  cmd->add_option("--temp", options->temperature, "Temperature (0: greedy)")
      ->check(CLI::Range(0.0f, 100.0f))
      ->capture_default_str();
  cmd->add_option("--top-k", options->top_k, "Keep the K most likely tokens (0: all)");
  cmd->add_option("--top-p", options->top_p, "Nucleus sampling threshold")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", options->min_p,
                  "Drop tokens below min-p times the most likely token's probability")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", options->repetition_penalty,
                  "Repetition penalty over the last 64 tokens (1: off)")
      ->check(CLI::Range(0.0f, 10.0f));
  cmd->add_option("--frequency-penalty", options->frequency_penalty, "Frequency penalty")
      ->check(CLI::Range(-2.0f, 2.0f));
  cmd->add_option("--presence-penalty", options->presence_penalty, "Presence penalty")
      ->check(CLI::Range(-2.0f, 2.0f));
  cmd->add_option("--stop", options->stop, "Stop before this text (repeatable)");
  cmd->add_option("--seed", options->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "CPU threads (0: one per core)")
      ->check(CLI::Range(size_t{0}, size_t{1024}));
  cmd->add_option("--device", options->device,
                  "Where the forward pass runs: cpu, or cuda (GPU 0, GGUF models)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--gpu-layers", options->gpu_layers,
                  "With --device cuda: all, or how many leading layers run on the GPU (the rest "
                  "on the CPU)")
      ->check(CLI::IsMember({"all"}) | CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", options->ignore_eos, "Keep generating to -n after EOS");
  cmd->add_flag("--stats-json", options->stats_json,
                "End with one JSON line of speed and memory figures on stderr (and how fast "
                "the CPU pass reads its weights, measured after generating)");
  auto* schema = cmd->add_option("--json-schema", options->json_schema_path,
                                 "Constrain the output to this JSON Schema file's instances");
  cmd->add_flag("--json", options->json, "Constrain the output to a JSON object")->excludes(schema);
  cmd->callback([options, &exit_code] { exit_code = run_generate(*options); });
}

}  // namespace sy::gateway
