#pragma once

// The administration page (GET /pages/residency): one HTML document with its
// CSS and JavaScript inline, served from the binary. No resource comes from
// elsewhere; the Content-Security-Policy that goes with it allows scripts and
// styles only by the response's nonce, and connections only to this server
// and its peer regions.

#include <string>
#include <vector>

#include "server/config.h"
#include "server/http_server.h"

namespace siteledger::server {

struct AdminPageContext {
  std::string token;               // the page's context-qsh token
  std::string expires_at;          // RFC 3339, when it expires
  std::string now;                 // RFC 3339, the server's time
  std::string region;              // this server's region
  std::vector<std::string> peers;  // regions the site may move to
  // Origins (scheme://host[:port]) of the peer regions: the page may call
  // them once the site lives there.
  std::vector<std::string> peer_origins;
  std::string nonce;  // fresh for each response
};

// The page, with its headers (no-store, CSP, Referrer-Policy, frame
// ancestors).
HttpResponse AdminPageResponse(const AdminPageContext& context);

// A page that says why the administration page cannot be shown, with no
// data in it: for a token that does not verify, has expired or has no user.
HttpResponse AdminPageError(int status, const std::string& message);

// "scheme://host[:port]" of a URL; empty when it has no scheme.
std::string OriginOf(const std::string& url);
// The origins of the configured peers' base URLs.
std::vector<std::string> PeerOrigins(const Config& config);

}  // namespace siteledger::server
