#include "cli/route_command.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "routing/model_catalog.h"
#include "routing/policy_gate.h"
#include "switchyard/backends/openai_json.h"
#include "switchyard/backends/translator.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

namespace {

// Stands for a configured backend offline: what it is, never a connection. Explaining
// calls no backend, so chat() is unreachable; it answers an error all the same.
class OfflineBackend final : public backends::Backend {
 public:
  OfflineBackend(const BackendConfig& config, backends::Capabilities capabilities)
      : info_{.name = config.name,
              .protocol = config.protocol,
              .kind = config.kind,
              .region = config.region,
              .retains_data = config.retains_data,
              .capability_tier = config.capability_tier,
              .prices = config.prices},
        capabilities_(capabilities) {}
  const backends::BackendInfo& info() const override { return info_; }
  backends::Capabilities capabilities() const override { return capabilities_; }
  std::shared_ptr<backends::ChatCall> chat(backends::ChatRequest, bool,
                                           backends::ChatHandlers handlers) override {
    if (handlers.on_complete) {
      handlers.on_complete(backends::fail(backends::ErrorKind::internal, "offline backend"),
                           false);
    }
    return nullptr;
  }

 private:
  backends::BackendInfo info_;
  backends::Capabilities capabilities_;
};

std::string read_input(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int run_route(const RouteCommandOptions& options) {
  try {
    ConfigPtr config =
        options.config_path.empty() ? default_config() : load_config_file(options.config_path);
    ModelCatalog::BackendMap backends;
    for (const BackendConfig& b : config->backends) {
      auto translator = backends::make_translator(b.protocol);
      backends[b.name] = std::make_shared<OfflineBackend>(
          b, translator ? (*translator)->capabilities() : backends::Capabilities{});
    }
    auto catalog = std::make_shared<const ModelCatalog>(*config, std::move(backends));
    PolicyGate gate(*config, catalog);

    backends::Headers headers;
    for (const std::string& h : options.headers) {
      const size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0) {
        std::fprintf(stderr, "route: --header must be \"name: value\"\n");
        return 1;
      }
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      headers.emplace_back(std::move(name), std::move(value));
    }
    auto request = backends::openai::parse_chat_request(read_input(options.explain_path));
    if (!request) {
      std::fprintf(stderr, "route: %s: %s\n", options.explain_path.c_str(),
                   request.error().message.c_str());
      return 1;
    }
    auto routed = gate.route(*request, headers,
                             RouteOptions{.endpoint = options.endpoint,
                                          .tenant = options.tenant,
                                          .count = false});
    if (!routed) {
      std::fprintf(stderr, "route: %s\n", routed.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", decision_json(routed->decision).dump(2).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "route: %s\n", e.what());
    return 1;
  }
}

void add_route_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<RouteCommandOptions>();
  CLI::App* cmd = app.add_subcommand("route", "Explain the policy decision for a request");
  cmd->add_option("--explain", options->explain_path,
                  "Chat-completions request body (JSON file, - for stdin)")
      ->required();
  cmd->add_option("--config", options->config_path, "YAML config file (none: embedded default)");
  cmd->add_option("--tenant", options->tenant, "Decide as this tenant's key would");
  cmd->add_option("-H,--header", options->headers, "Request header \"name: value\" (repeatable)");
  cmd->add_option("--endpoint", options->endpoint, "Request path rules see");
  cmd->callback([options, &exit_code] { exit_code = run_route(*options); });
}

}  // namespace sy::gateway
