#include "switchyard/gateway/cli.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/batch_command.h"
#include "cli/generate_command.h"
#include "cli/model_info_command.h"
#include "cli/model_pull_command.h"
#include "cli/model_quantize_command.h"
#include "cli/model_synth_command.h"
#include "cli/model_tokenize_command.h"
#include "cli/route_command.h"
#include "cli/serve_command.h"
#include "cli/usage_command.h"

namespace sy::gateway {

int run_cli(int argc, char** argv) {
  // Logs go to stderr; stdout carries what scripts read (e.g. "listening on ...").
  spdlog::set_default_logger(spdlog::stderr_color_mt("switchyard"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Switchyard: one endpoint for closed vendor APIs and local open-weights models"};
  app.require_subcommand(1);
  ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible endpoint");
  serve_cmd->add_option("--config", serve.config_path, "YAML config file (none: embedded default)");
  serve_cmd->add_flag("--check", serve.check_only, "Validate the config and exit");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free port)");
  serve_cmd->add_option("--data-dir", serve.data_dir, "Data directory");
  serve_cmd->add_option("--model", serve.model_path, "No config: the GGUF model to serve");
  serve_cmd->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error");

  // Engine verbs: each registration stores its verb's exit code when that verb runs.
  int exit_code = 2;
  add_generate_command(app, exit_code);
  CLI::App* model_cmd = app.add_subcommand("model", "Inspect, tokenize, quantize, fetch models");
  model_cmd->require_subcommand(1);
  add_model_info_command(*model_cmd, exit_code);
  add_model_tokenize_command(*model_cmd, exit_code);
  add_model_quantize_command(*model_cmd, exit_code);
  add_model_pull_command(*model_cmd, exit_code);
  add_model_synth_command(*model_cmd, exit_code);
  add_route_command(app, exit_code);
  add_usage_command(app, exit_code);
  add_batch_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve_cmd->parsed()) return run_serve(serve);
  return exit_code;
}

}  // namespace sy::gateway
