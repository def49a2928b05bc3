#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace siteledger::server {

// Who may call a route.
enum class Access : uint8_t {
  kPublic,         // no credential
  kTenant,         // Atlassian Connect JWT (HS256, the tenant's secret)
  kInstallSigned,  // lifecycle: RS256 JWT from Atlassian's install keys
  kTenantSigned,   // lifecycle: HS256 JWT, real qsh only
  kOperator,       // operator bearer token
  kSignedUrl,      // the URL's own signature is the credential
  kPeer,           // another region: HS256 JWT under the peer secret
};

struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/sites/{id}"
  int handler = 0;      // the caller's handler number
  Access access = Access::kPublic;
  size_t index = 0;  // position in Router::routes()
  // The pattern split once: literal segments, and parameter names (with
  // `param` set).
  struct Segment {
    std::string text;
    bool param = false;
  };
  std::vector<Segment> segments;
};

struct RouteMatch {
  const Route* route = nullptr;  // null: no route for this method and path
  bool path_known = false;       // some method serves this path (405)
  std::string allow;             // e.g. "GET, HEAD, PUT" when path_known
  std::map<std::string, std::string> params;  // decoded path parameters
};

// Router matches a method and path against route patterns made of literal
// segments and {name} parameters. Immutable after the routes are added.
class Router {
 public:
  void Add(std::string method, std::string pattern, int handler, Access access);
  // HEAD matches GET routes. Parameters are percent-decoded. A path no
  // route knows has route == nullptr and path_known == false; a path known
  // for other methods has path_known and `allow`. Any thread once the routes
  // are added (Add is not safe alongside Match).
  RouteMatch Match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Percent-decodes a path segment (no '+' handling). Fails (returns false) on
// a malformed escape, an encoded '/', or a control character (NUL, the other
// C0 controls, DEL), raw or encoded.
bool DecodePathSegment(std::string_view in, std::string& out);

}  // namespace siteledger::server
