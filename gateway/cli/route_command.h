#pragma once
// `switchyard route --explain FILE.json [--config FILE] [--tenant NAME] [-H "name: value"]...`:
// the policy decision for a chat-completions body, offline — the same classification, rules
// and candidate order as POST /v1/route/explain, with no server running and no backend
// called. Prints the decision JSON on stdout; exit 0 when a decision was made (whatever its
// verdict), 1 when the file, config or request is unusable.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sy::gateway {

struct RouteCommandOptions {
  std::string explain_path;  // the request body (JSON); "-" = stdin
  std::string config_path;   // "" = the embedded default config
  std::string tenant;        // as if this tenant's key had sent it
  std::vector<std::string> headers;  // "name: value"
  std::string endpoint = "/v1/chat/completions";
};

int run_route(const RouteCommandOptions& options);

void add_route_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
