#pragma once
// The built-in HTTP/1.1 client's strands, for backends/http/ only: kept out of the public
// http_client.h so that its includers do not compile Asio's strand and io_context headers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <optional>
#include <string_view>

#include "switchyard/backends/http_client.h"

namespace sy::backends {

struct HttpClientStrands {
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  // The strand that runs the handlers of every call to `url` started on `context`'s thread,
  // when one strand runs them all (the built-in HTTP/1.1 client); nullopt for calls through
  // curl, or a context `client` does not run on. A caller that runs its own work for the call
  // on this strand gets the handlers without a strand hop per event.
  static std::optional<Strand> call_strand(const HttpClient& client, std::string_view url,
                                           const boost::asio::io_context& context);
};

}  // namespace sy::backends
