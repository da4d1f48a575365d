// The `switchyard` binary. See gateway/cli/ for the verbs.
#include "switchyard/gateway/cli.h"

int main(int argc, char** argv) { return sy::gateway::run_cli(argc, argv); }
