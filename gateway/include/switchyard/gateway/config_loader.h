#pragma once
// YAML -> GatewayConfig, once at start-up. Loading may throw (it is load time, not the data
// plane): every problem is a ConfigError naming the file, line, column and key path, e.g.
//   switchyard.yaml:14:7: backends[1].base_url: must be an http(s) URL
// Messages never contain secret values (api keys, header values, substituted variables).
// The schema is documented by examples/switchyard.yaml.

#include <filesystem>
#include <expected>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "switchyard/gateway/config.h"

namespace sy::gateway {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable for `${NAME}` / `${NAME:-default}` substitution.
// nullopt = not set. A null function reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads and validates `path`; errors name the path as given.
ConfigPtr load_config_file(const std::filesystem::path& path, const EnvLookup& env = {});

// Validates YAML text; `source_name` stands for the file in error messages and in
// GatewayConfig::source.
ConfigPtr load_config_string(std::string_view text, std::string source_name,
                             const EnvLookup& env = {});

// The embedded default: listen 127.0.0.1:8080, no backends, tenants or keys (anonymous
// access), data_dir = default_data_dir().
ConfigPtr default_config(const EnvLookup& env = {});

// "host:port" (IPv6 in brackets: "[::1]:8080"; port 0 = any free port) -> address, or why not.
std::expected<ListenConfig, std::string> parse_listen_address(std::string_view text);

// A price catalog in the format of backends/pricing/default_prices.yaml; errors are located
// ConfigErrors like the config's.
std::shared_ptr<const backends::PriceCatalog> load_price_catalog_string(std::string_view text,
                                                                        std::string source_name);
// The shipped catalog (compiled in), parsed.
std::shared_ptr<const backends::PriceCatalog> default_price_catalog();

// $XDG_DATA_HOME/switchyard when that is an absolute path, else ~/.local/share/switchyard.
std::string default_data_dir(const EnvLookup& env = {});

}  // namespace sy::gateway
