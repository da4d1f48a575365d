#pragma once
// `switchyard batch submit FILE.jsonl [--wait] [--output OUT.jsonl] [--errors ERR.jsonl]
//  [--url URL] [--api-key KEY]` against a running gateway: uploads the file (purpose batch),
// creates the batch and prints its id; with --wait, shows progress (lines done/total, failed,
// tokens/s, cost so far, ETA) as one updating line on a terminal or plain lines otherwise,
// then writes the output file (and the error file when there is one).
// URL and key default to $SWITCHYARD_URL (else http://127.0.0.1:8080) and $SWITCHYARD_API_KEY.
// Exit 0 when the batch was created (without --wait) or completed; 1 otherwise.

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct BatchSubmitOptions {
  std::string file;
  bool wait = false;
  std::string output;  // "" = FILE's name with .output.jsonl
  std::string errors;  // "" = OUTPUT's name with .errors.jsonl
  std::string url;
  std::string api_key;
  int poll_ms = 500;
};

int run_batch_submit(const BatchSubmitOptions& options);

void add_batch_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
