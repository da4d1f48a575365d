#pragma once
// The one table that maps an ErrorKind to what a client of the OpenAI surface sees: HTTP
// status, OpenAI error type/code, and the log level of the event.

#include <string>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"

namespace sy::gateway {

struct ErrorReply {
  int status = 500;
  std::string body;  // {"error":{...}} in OpenAI's shape
  backends::Headers headers;  // content-type, Retry-After where it applies
};

struct ErrorClass {
  int status;
  const char* type;          // OpenAI error `type`
  const char* default_code;  // OpenAI error `code` when the error has none ("" = null)
  bool server_fault;         // logged as a warning (our or upstream's fault) vs info
};

ErrorClass classify(backends::ErrorKind kind);

ErrorReply openai_error_reply(const backends::Error& error);

// A vendor rejecting the gateway's own credentials is the operator's problem, not the client's:
// such an error becomes upstream_error (the client's key was fine). Every surface applies it.
backends::Error as_seen_by_client(const backends::Error& error);

// The JSON object (no framing) sent as the last SSE event when a stream fails after content.
std::string openai_stream_error(const backends::Error& error);

}  // namespace sy::gateway
