#pragma once
// The command line: `switchyard serve | generate | route | usage | model | bench`.

namespace sy::gateway {

int run_cli(int argc, char** argv);

}  // namespace sy::gateway
