#pragma once
// Writes `switchyard bench`'s figures into the user's config file without disturbing anything
// else in it.
//
// Why an in-place edit and not a separate bench file the config references: the config stays
// the one file a user reads and versions (DESIGN: "one YAML file"), the throughput sits next to
// the cost_per_hour it divides, and there is no second file that can go missing or stale. What
// makes this safe is that yaml-cpp reports every node's exact byte offset: only the bytes of
// the value are replaced (a plain, quoted or flow-style scalar), or, when the key is missing,
// one `key: value` line is inserted at the map's indentation (one `, key: value` in a flow
// map). Comments, order, quoting of other values and blank lines stay byte for byte. The
// result is parsed again and checked before it is returned.

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace sy::gateway {

struct ThroughputFigures {
  int64_t tokens_per_second = 0;                    // decode: hardware.tokens_per_second
  std::optional<int64_t> prompt_tokens_per_second;  // prefill: hardware.prompt_tokens_per_second
};

// `yaml` with backends[name == `backend`].hardware's throughput keys set to `figures`; an
// error message when there is no such backend, it has no `hardware:` mapping (bench cannot
// invent the machine's cost_per_hour), or the text cannot be edited safely.
std::expected<std::string, std::string> set_hardware_throughput(std::string_view yaml,
                                                                std::string_view backend,
                                                                const ThroughputFigures& figures);

// `yaml` with `tokens_per_second: 1` added to every backend's hardware mapping that lacks it,
// so that a config waiting for its first bench loads (the loader requires the key); the text
// unchanged when none lacks it.
std::string with_placeholder_throughput(std::string_view yaml);

}  // namespace sy::gateway
