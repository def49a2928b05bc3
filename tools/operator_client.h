#pragma once

#include <string>
#include <utility>
#include <vector>

#include "server/http_client.h"
#include "storage/base/status.h"
#include "tools/flags.h"

namespace siteledger::tools {

// How a subcommand reaches a running siteledgerd as an operator.
struct ServerFlags {
  std::string server;  // base URL, no trailing slash
  std::string token;   // the operator's bearer token
  std::string reason;  // X-Access-Reason; empty: not sent
};

// Reads --server (default http://127.0.0.1:8080), --token-file PATH (else
// $SITELEDGER_TOKEN) and --reason. InvalidArgument, saying what to pass,
// when the server is not an http:// or https:// URL, the token file cannot
// be read, or no token is given either way.
Result<ServerFlags> LoadServerFlags(const Flags& f);

// Sends `method` `path` (already percent-encoded) to the server with the
// token, the reason when there is one, `body` as application/json when not
// empty, and `headers`. Every HTTP answer is returned, error statuses and
// redirects (never followed) included; Unavailable when the server cannot be
// reached or answers too slowly (the message names the URL tried and says
// to check the server and --server), TooLarge past 256 MiB.
Result<server::OutboundResponse> SendRequest(
    const ServerFlags& s, const std::string& method, const std::string& path,
    const std::string& body = "",
    std::vector<std::pair<std::string, std::string>> headers = {});

// The `detail` of a problem+json answer, or its body as it is.
std::string ProblemDetail(const server::OutboundResponse& response);

// What an error answer to `method` `path` means to the operator, and what to
// do: "the server answered 403 to GET /admin/usage: this route needs the
// scope 'usage'; use an operator token that has it (...)". A 401 says to
// pass a known token, a 307 names the region to ask with --server.
std::string Refusal(const std::string& method, const std::string& path,
                    const server::OutboundResponse& response);

// `s` as one percent-encoded path segment (dot segments too, so that no
// client drops them).
std::string PathSegment(const std::string& s);

}  // namespace siteledger::tools
