#include "cli/serve_command.h"

#include <cstdio>
#include <exception>

#include <spdlog/spdlog.h>

#include "cli/default_model.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/gateway/event_loop.h"
#include "switchyard/gateway/gateway.h"
#include "switchyard/policies/router.h"

namespace sy::gateway {

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

int run_serve(const ServeOptions& options) {
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  ConfigPtr config;
  try {
    config = options.config_path.empty() ? default_config() : load_config_file(options.config_path);
    if (!options.listen.empty() || !options.data_dir.empty()) {
      auto copy = std::make_shared<GatewayConfig>(*config);
      if (!options.listen.empty()) {
        auto listen = parse_listen_address(options.listen);
        if (!listen) throw ConfigError("--listen " + options.listen + ": " + listen.error());
        copy->listen = *listen;
      }
      if (!options.data_dir.empty()) copy->data_dir = options.data_dir;
      config = std::move(copy);
    }
    if (options.config_path.empty()) {
      auto model = find_default_model(options.model_path, config->data_dir);
      if (!model) throw ConfigError(model.error());
      config = default_model_config(*config, *model);
    } else if (!options.model_path.empty()) {
      throw ConfigError("--model is for serving without a config; list the model under a "
                        "`protocol: local` backend in " + options.config_path + " instead");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard: %s\n", e.what());
    return 1;
  }
  if (options.check_only) {
    // Custom sensitivity patterns compile only here (the loader checks their syntax as text).
    if (auto router = policies::Router::create(config->policy); !router) {
      std::fprintf(stderr, "switchyard: policies: %s\n", router.error().c_str());
      return 1;
    }
    std::printf("config OK: %s (%zu backends, %zu model aliases, %zu keys)\n",
                config->source.empty() ? "embedded default" : config->source.c_str(),
                config->backends.size(), config->models.size(), config->keys.size());
    return 0;
  }
  if (!config->requires_keys() && !is_loopback(config->listen.host)) {
    std::fprintf(stderr,
                 "switchyard: refusing to listen on %s without API keys; define tenants and keys "
                 "in a config, or listen on 127.0.0.1\n",
                 config->listen.host.c_str());
    return 1;
  }
  raise_open_file_limit();
  try {
    Gateway gateway(config);
    uint16_t port = gateway.start();
    std::string host = config->listen.host.find(':') != std::string::npos
                           ? "[" + config->listen.host + "]"
                           : config->listen.host;
    std::printf("listening on http://%s:%u\n", host.c_str(), static_cast<unsigned>(port));
    std::fflush(stdout);
    if (gateway.backend_count() == 0) {
      spdlog::warn("no backend configured: requests to models will fail until a config defines "
                   "backends");
    }
    gateway.wait(/*handle_signals=*/true);
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace sy::gateway
