#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/json.h"
#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::server {

using projections::Json;
using siteledger::Result;
using siteledger::Status;

// Everything here is a pure function of its arguments: any thread.

// Base64url without padding (RFC 7515), and back (padding tolerated;
// Unauthenticated "malformed base64url" for anything else).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// A JSON Web Token split into its parts. Nothing is verified by parsing.
struct Jwt {
  Json header;
  Json claims;
  std::string signing_input;  // "<header>.<claims>" as received
  std::string signature;      // raw bytes

  std::string_view alg() const { return header.GetString("alg"); }
};

// Limits: a token is at most 8 KiB.
inline constexpr size_t kMaxJwtBytes = 8192;

// Splits and decodes a compact JWS. Unauthenticated, naming what is wrong.
Result<Jwt> ParseJwt(std::string_view token);

// Verifies an HS256 signature under `secret` in constant time.
// Unauthenticated when it does not verify (both).
Status VerifyHs256(const Jwt& jwt, std::string_view secret);
// Verifies an RS256 signature under a PEM public key.
Status VerifyRs256(const Jwt& jwt, std::string_view pem_public_key);

// Clock skew allowed on a token's times.
inline constexpr std::chrono::seconds kTokenLeeway{30};
// The longest a token may live.
inline constexpr std::chrono::hours kMaxTokenLifetime{1};

// The time claims of a token, against `now`: exp is required and not past
// (with kTokenLeeway); iat and nbf, when present, are not later than now
// plus the leeway; and the token lives at most kMaxTokenLifetime (exp - iat,
// or exp - now without iat). Each is a whole number of seconds within years
// 1970 to 5000. Returns exp; Unauthenticated naming the claim otherwise.
Result<siteledger::Timestamp> CheckTokenTimes(const Jwt& jwt,
                                              siteledger::Timestamp now);

// Signs claims with HS256 (for outbound requests and tools).
std::string SignHs256(const Json& claims, std::string_view secret);

// The administration page's tokens (GET /pages/residency): context-qsh
// tokens the server issues, signed with the installation's sharedSecret,
// iss the clientKey, sub the user, and this claim set to kAdminPageClaimValue.
// Only they may start a migration or a rollback.
inline constexpr std::string_view kAdminPageClaim = "siteledgerPage";
inline constexpr std::string_view kAdminPageClaimValue = "admin";
inline constexpr std::chrono::minutes kAdminPageTokenLifetime{15};
// Such a token, issued at `now`.
std::string AdminPageToken(std::string_view client_key, std::string_view sub,
                           std::string_view secret, siteledger::Timestamp now);

// Atlassian Connect's canonical request: UPPER(method) & canonical path &
// canonical query. `path` is the raw (still percent-encoded) path; it loses
// `base_path` (the app base URL's path) when it starts with it, '&' becomes
// %26, a trailing '/' goes and an empty path is '/'. `query` is the raw query
// string (without '?'): parameters are decoded ('+' is a space), "jwt" is
// dropped, names sorted, names and values encoded per RFC 3986 (uppercase
// hex, '*' as %2A, '~' kept), a name's repeated values sorted and joined with
// ','.
std::string CanonicalRequest(std::string_view method, std::string_view path,
                             std::string_view query,
                             std::string_view base_path = {});
// The qsh claim: lowercase hex SHA-256 of CanonicalRequest.
std::string QueryStringHash(std::string_view method, std::string_view path,
                            std::string_view query,
                            std::string_view base_path = {});

// Percent-decoding of a query component ('+' is a space); invalid escapes
// are kept as they are.
std::string DecodeQueryComponent(std::string_view s);
// RFC 3986 encoding as Atlassian's canonical query uses it.
std::string EncodeRfc3986(std::string_view s);

// The parameters of a raw query string, decoded, in order.
std::vector<std::pair<std::string, std::string>> ParseQuery(
    std::string_view query);

}  // namespace siteledger::server
